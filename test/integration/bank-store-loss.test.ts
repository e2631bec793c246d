/**
 * The bank store is lost under a running worker (its own redis-server, killed and started empty):
 * the worker keeps flagging with its last good snapshot, reports not ready, logs an error and sets
 * vigil_bank_store_lost, until an operator restores the store (`bank import --all`) or accepts it
 * (`bank accept`). Also: the export → import round trip keeps ids, provenance and term banks.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanRuntime, type ScanRuntime } from '../../src/app.js';
import { createRedis } from '../../src/adapters/bullmq/connection.js';
import { createMediaHasher } from '../../src/adapters/media-hasher.js';
import { createMetrics, type Metrics } from '../../src/adapters/metrics.js';
import { RedisBankStore, type StoredHashEntry } from '../../src/adapters/redis-bank-store.js';
import { contractLimits } from '../../src/config.js';
import { exactHashes } from '../../src/core/exact-hashes.js';
import { processPayload } from '../../src/core/pipeline.js';
import type { Flag } from '../../src/core/contracts.js';
import { createLogger } from '../../src/logger.js';
import { runCli } from '../helpers/cli.js';
import { testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const teapot = readFileSync('config/samples/media/teapot-still-life.png');
const garden = readFileSync('config/samples/media/garden-checker.png');

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

function imageEvent(n: number, bytes: Buffer): Record<string, unknown> {
  return {
    schema: 'vigil.message.v1',
    eventId: `evt_loss_${n}`,
    messageId: `msg_loss_${n}`,
    conversationId: 'conv_loss',
    senderId: 'user_1',
    recipientIds: ['user_2'],
    sentAt: '2026-11-27T12:00:00Z',
    text: 'please bring the velvet teapot',
    media: [{ id: 'm1', mimeType: 'image/png', bytes: bytes.toString('base64') }],
  };
}

async function gauge(metrics: Metrics): Promise<number | undefined> {
  return (await metrics.bankStoreLost.get()).values[0]?.value;
}

async function* once<T>(items: T[]): AsyncGenerator<T[]> {
  yield items;
}

const sorted = <T>(items: T[]) => [...items].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe('bank store lost under a running worker', () => {
  let runtime: ScanRuntime | undefined;
  afterAll(async () => {
    await runtime?.close();
  });

  it('keeps flagging with the last good snapshot, reports not ready until restored or accepted, and the export round trip keeps ids and provenance', async () => {
    const prefix = uniquePrefix('bankloss');
    const redis = createRedis(server.url, 'producer');
    const store = new RedisBankStore(redis, prefix);
    const logs: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void logs.push(line) });
    const metrics = createMetrics();
    const config = testConfig(prefix, { redisUrl: server.url });
    runtime = await createScanRuntime(config, logger, { watch: false, store, metrics });
    expect(runtime.health()).toEqual({ ready: false, reasons: [expect.stringMatching(/no banks loaded/)] });

    // A banked image: its MD5 and its PDQ hash, with ids and provenance; plus a term bank.
    const hasher = createMediaHasher({ threads: 0 });
    const pdq = (await hasher.hash(teapot, 'image/png', { dihedral: false })).pdq?.hash;
    await hasher.close();
    expect(pdq).toMatch(/^[0-9a-f]{64}$/);
    const entries: StoredHashEntry[] = [
      { type: 'md5', value: exactHashes(teapot).md5, id: 'teapot-md5', source: 'partner-x', listVersion: '2026-11', importedAt: '2026-11-27T10:00:00.000Z' },
      { type: 'pdq', value: pdq as string, id: 'teapot-pdq', source: 'partner-x', importedAt: '2026-11-27T10:00:00.000Z' },
      { type: 'sha256', value: exactHashes(Buffer.from('benign stand-in')).sha256, id: 'stand-in', importedAt: '2026-11-27T10:00:00.000Z' },
    ];
    await store.importHashEntries('known', once(entries), { description: 'stand-in known images' });
    await store.importTermEntries('kettles', [{ id: 'vt', phrase: 'velvet teapot', category: 'test_term', severity: 'low' }]);
    expect(await runtime.reload()).toBe(true);
    expect(runtime.health()).toEqual({ ready: true, reasons: [] });
    const versions = { known: (await store.get('known'))?.revision, kettles: (await store.get('kettles'))?.revision };
    expect(versions).toEqual({ known: 1, kettles: 1 });

    const scan = async (n: number, bytes = teapot): Promise<Flag[]> =>
      (await processPayload(imageEvent(n, bytes), runtime!.scanner, runtime!.policy(), contractLimits(config))).flags;
    const before = await scan(1);
    const knownBefore = before.find((f) => f.category === 'known_media');
    expect(knownBefore?.signals.map((s) => [s.type, s.entryId]).sort()).toEqual([
      ['md5', 'teapot-md5'],
      ['pdq', 'teapot-pdq'],
    ]);
    const heldVersion = knownBefore?.bankVersions.known;
    expect(heldVersion).toMatch(/^r1\.[0-9a-f]{8}$/);

    // The operator's backup, through the CLI as a user would run it.
    const env = { VIGIL_QUEUE_PREFIX: prefix, VIGIL_BANK_REDIS_URL: server.url };
    const exported = await runCli(['bank', 'export', '--all'], { env });
    expect(exported.code, exported.stderr).toBe(0);
    const backup = join(mkdtempSync(join(tmpdir(), 'vigil-backup-')), 'banks.jsonl');
    writeFileSync(backup, exported.stdout);

    // The bank store's Redis restarts empty.
    await server.restart();
    // The worker polls; the first polls may find the connection still reconnecting.
    const poll = (what: string, ready: boolean) => waitFor(what, async () => (await runtime!.reload(), runtime!.health().ready === ready ? true : undefined));
    await poll('the worker to notice the loss', false);
    const lost = runtime.health();
    expect(lost.ready).toBe(false);
    expect(lost.reasons.join(' ')).toMatch(/bank store lost: .*no epoch/);
    expect(await gauge(metrics)).toBe(1);
    const errorLine = logs
      .map((l) => JSON.parse(l) as { level: number; msg: string; keeping?: Record<string, string> })
      .find((l) => l.level === 50 && /bank store lost/.test(l.msg));
    expect(errorLine?.keeping).toMatchObject({ known: heldVersion });
    // Still flags the banked image, with the evidence of the snapshot it kept.
    const during = (await scan(2)).find((f) => f.category === 'known_media');
    expect(during?.signals.map((s) => [s.type, s.sourceVersion]).sort()).toEqual([
      ['md5', heldVersion],
      ['pdq', heldVersion],
    ]);

    // Importing one bank into the emptied store is not a restore: still lost, still the old snapshot.
    await store.importHashEntries('other', once([{ type: 'md5', value: exactHashes(garden).md5, id: 'garden', importedAt: '2026-11-27T10:00:00.000Z' }]));
    await runtime.reload();
    expect(runtime.health().ready).toBe(false);
    expect(runtime.health().reasons.join(' ')).toMatch(/neither restored nor accepted/);
    expect((await scan(3)).find((f) => f.category === 'known_media')?.bankVersions.known).toBe(heldVersion);

    // The operator restores the backup: the worker serves it again, under new generations.
    const restored = await runCli(['bank', 'import', '--all', backup], { env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toMatch(/restored 2 bank\(s\)/);
    await poll('the worker to serve the restored store', true);
    expect(runtime.health()).toEqual({ ready: true, reasons: [] });
    expect(await gauge(metrics)).toBe(0);
    const after = (await scan(4)).find((f) => f.category === 'known_media');
    expect(after?.signals.map((s) => [s.type, s.entryId]).sort()).toEqual([
      ['md5', 'teapot-md5'],
      ['pdq', 'teapot-pdq'],
    ]);
    expect(after?.bankVersions.known).not.toBe(heldVersion);
    expect(logs.some((l) => /restored or accepted by an operator/.test(l))).toBe(true);

    // Round trip: entry ids, provenance, kind, description and the term bank all came back.
    const back: StoredHashEntry[] = [];
    for await (const batch of store.hashEntries('known')) back.push(...batch);
    expect(sorted(back)).toEqual(sorted(entries));
    expect(await store.get('known')).toMatchObject({ kind: 'block', enabled: true, description: 'stand-in known images', restoredFrom: heldVersion });
    expect(await store.termEntries('kettles')).toEqual([{ id: 'vt', phrase: 'velvet teapot', category: 'test_term', severity: 'low', mode: 'whole-word' }]);
    // The stray bank imported after the loss is left alone (the restore replaces only what it holds).
    expect((await store.get('other'))?.entries).toBe(1);

    // Lost again (this time accepted as it is, empty): the worker then matches what the store holds.
    await server.restart();
    await waitFor(
      'the second loss',
      async () => (await runtime!.reload(), runtime!.health().reasons.some((r) => r.startsWith('bank store lost')) ? true : undefined),
    );
    const accepted = await runCli(['bank', 'accept', '--reason', 'drill'], { env });
    expect(accepted.code, accepted.stderr).toBe(0);
    await runtime.reload();
    expect(runtime.health()).toEqual({ ready: false, reasons: [expect.stringMatching(/no banks loaded/)] });
    expect(await gauge(metrics)).toBe(0);
    expect((await scan(5)).find((f) => f.category === 'known_media')).toBeUndefined();
    // No log line carries the message text.
    expect(logs.join('')).not.toContain('velvet teapot');
    redis.disconnect();
  }, 90_000);
});
