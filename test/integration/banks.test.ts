/** Hash banks in Redis: import formats, provenance, versions, allow banks, disable, hot reload under a running worker. */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBankStore } from '../../src/adapters/redis-bank-store.js';
import type { Flag } from '../../src/core/contracts.js';
import { exactHashes } from '../../src/core/exact-hashes.js';
import { versionsOf } from '../../src/core/scan.js';
import { createLogger } from '../../src/logger.js';
import { createPublisher } from '../../src/publisher.js';
import { startScanService } from '../../src/services/scan-service.js';
import { sampleEvents } from '../../src/demo/sample-events.js';
import { runCli } from '../helpers/cli.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function tmpFile(name: string, content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vigil-bank-')), name);
  writeFileSync(file, content);
  return file;
}

const h = (seed: string) => exactHashes(Buffer.from(seed));
const pdqA = 'f8f8f0cee0f4a84f06370a2a038f63f0b36e26d596621e1d33e6b39c4e9c9b22';

async function prefixed(label: string): Promise<{ prefix: string; store: RedisBankStore; env: Record<string, string> }> {
  const prefix = uniquePrefix(label);
  const redis = new Redis(REDIS_URL);
  cleanups.push(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  return { prefix, store: new RedisBankStore(redis, prefix), env: { VIGIL_QUEUE_PREFIX: prefix } };
}

describe('vigil bank (Redis bank store)', () => {
  it('imports the python-threatexchange format, lists, reports stats and exports with provenance', async () => {
    const { store, env } = await prefixed('bank-te');
    const file = tmpFile(
      'list.txt',
      `# benign test hashes\nmd5 ${h('a').md5}\nMD5 ${h('b').md5.toUpperCase()} entry-b\npdq ${pdqA}\nsha256 ${h('c').sha256}\n`,
    );
    const imp = await runCli(['bank', 'import', 'partner', file, '--source', 'partner-x', '--list-version', '2026-11', '--json'], { env });
    expect(imp.code).toBe(0);
    expect(JSON.parse(imp.stdout)).toMatchObject({ bank: 'partner', written: 4, entries: 4, revision: 1, badLines: 0 });
    const [meta] = await store.list();
    expect(meta).toMatchObject({ id: 'partner', type: 'hash', kind: 'block', enabled: true, revision: 1, entries: 4 });
    const stats = await runCli(['bank', 'stats', 'partner', '--json'], { env });
    expect(JSON.parse(stats.stdout)).toMatchObject({ byType: { md5: 2, pdq: 1, sha256: 1 }, bySource: { 'partner-x': 4 }, listVersions: { '2026-11': 4 } });
    const exp = await runCli(['bank', 'export', 'partner'], { env });
    expect(exp.stdout.trim().split('\n').sort()).toEqual(
      [
        `md5 ${h('a').md5} md5:${h('a').md5.slice(0, 16)}`,
        `md5 ${h('b').md5} entry-b`,
        `pdq ${pdqA} pdq:${pdqA.slice(0, 16)}`,
        `sha256 ${h('c').sha256} sha256:${h('c').sha256.slice(0, 16)}`,
      ].sort(),
    );
    const csv = await runCli(['bank', 'export', 'partner', '--format', 'csv'], { env });
    expect(csv.stdout.split('\n')[0]).toBe('type,hash,id,source,list_version,imported_at');
    expect(csv.stdout).toContain(`md5,${h('b').md5},entry-b,partner-x,2026-11,`);
  });

  it('imports plain hex with --type and CSV with a hash column; bad lines are reported by number and skipped', async () => {
    const { store, env } = await prefixed('bank-fmt');
    const hex = tmpFile('hex.txt', `${h('a').sha1}\nnot-a-hash\n${h('b').sha1}\n`);
    const r1 = await runCli(['bank', 'import', 'hexbank', hex, '--format', 'hex', '--type', 'sha1'], { env });
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain('"line":2');
    expect(r1.stderr).not.toContain('not-a-hash');
    expect((await store.get('hexbank'))?.entries).toBe(2);
    const csv = tmpFile('x.csv', `name,hash,kind\none,${h('x').md5},md5\n"two, quoted",${h('y').md5},md5\n`);
    const r2 = await runCli(['bank', 'import', 'csvbank', csv, '--format', 'csv', '--type-column', 'kind'], { env });
    expect(r2.code).toBe(0);
    expect((await store.get('csvbank'))?.entries).toBe(2);
    const noColumn = await runCli(['bank', 'import', 'csvbank', csv, '--format', 'csv', '--type', 'md5', '--column', 'digest'], { env });
    expect(noColumn.code).toBe(2);
    expect(noColumn.stderr).toContain('no column "digest"');
    const usage = await runCli(['bank', 'import', 'x', hex, '--format', 'hex'], { env });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--type');
  });

  it('append adds, replace swaps atomically, remove --entries drops hashes; each change bumps the revision', async () => {
    const { store, env } = await prefixed('bank-rev');
    await runCli(['bank', 'import', 'b', tmpFile('1.txt', `md5 ${h('1').md5}\nmd5 ${h('2').md5}\n`)], { env });
    await runCli(['bank', 'import', 'b', tmpFile('2.txt', `md5 ${h('3').md5}\n`)], { env });
    expect(await store.get('b')).toMatchObject({ revision: 2, entries: 3 });
    await runCli(['bank', 'import', 'b', tmpFile('3.txt', `md5 ${h('4').md5}\n`), '--replace'], { env });
    expect(await store.get('b')).toMatchObject({ revision: 3, entries: 1 });
    const rm = await runCli(['bank', 'remove', 'b', '--entries', tmpFile('rm.txt', `md5 ${h('4').md5}\n`)], { env });
    expect(rm.code).toBe(0);
    expect(await store.get('b')).toMatchObject({ revision: 4, entries: 0 });
    expect((await runCli(['bank', 'remove', 'b'], { env })).code).toBe(0);
    expect(await store.list()).toEqual([]);
    const missing = await runCli(['bank', 'remove', 'b'], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no bank "b"');
  });

  it('hot reload under a running worker: a bank imported, disabled, allow-listed takes effect within seconds, without dropping jobs', async () => {
    const { prefix, env } = await prefixed('bank-hot');
    const config = testConfig(prefix, { bankReloadMs: 200 });
    const service = await startScanService(config, createLogger('silent'));
    cleanups.push(() => service.stop());
    const publisher = createPublisher({ connection: REDIS_URL, prefix });
    const moderation = new Queue(config.moderationQueue, { connection: { url: REDIS_URL }, prefix });
    const scan = new Queue(config.scanQueue, { connection: { url: REDIS_URL }, prefix });
    cleanups.push(async () => {
      await publisher.close();
      await moderation.close();
      await scan.close();
    });
    const garden = sampleEvents().find((s) => s.event.eventId === 'demo-evt-005')?.event as Record<string, unknown>;
    const image = Buffer.from(((garden.media as { bytes: string }[])[0] as { bytes: string }).bytes, 'base64');
    let n = 0;
    const publish = () => publisher.publish({ ...garden, eventId: `hot-${++n}`, text: 'hi' });
    const flags = async () => (await moderation.getJobs(['prioritized'])).map((j) => j.data as Flag);
    const drained = async () => Object.values(await scan.getJobCounts('wait', 'active', 'prioritized', 'delayed')).every((c) => c === 0);

    await publish();
    await waitFor('drain', async () => ((await drained()) ? true : undefined));
    expect(await flags()).toEqual([]);

    // Keep traffic flowing while the bank changes underneath: one event at a time, each scanned before the next.
    let importing = true;
    const background = (async () => {
      for (let i = 0; i < 30 && importing; i++) {
        await publisher.publish({ ...garden, eventId: `bg-${i}`, media: [], text: 'just chatting' });
        await waitFor('background event scanned', async () => ((await drained()) ? true : undefined));
      }
    })();
    const imp = await runCli(['bank', 'import', 'hot-bank', tmpFile('hot.txt', `md5 ${exactHashes(image).md5} garden-md5\n`)], { env });
    importing = false;
    expect(imp.code).toBe(0);
    const flaggedEvent = await waitFor(
      'a flag after the bank change',
      async () => {
        const id = `hot-${n}`;
        const f = (await flags()).find((x) => x.eventId === id);
        if (f) return f;
        if (await drained()) await publish();
        return undefined;
      },
      15_000,
    );
    expect(flaggedEvent.signals[0]).toMatchObject({ type: 'md5', sourceId: 'hot-bank', sourceVersion: expect.stringMatching(/^r1\./), entryId: 'garden-md5' });
    await background;

    // Disable: matches stop.
    await runCli(['bank', 'disable', 'hot-bank'], { env });
    // Check for the change now rather than sleeping past the next poll.
    await service.runtime.reload();
    expect(Object.keys(versionsOf(service.runtime.scanner.sources()).banks)).not.toContain('hot-bank');
    const before = (await flags()).length;
    await publish();
    await waitFor('drain', async () => ((await drained()) ? true : undefined));
    expect((await flags()).length).toBe(before);

    // Enable again, plus an allow bank listing the same image as a known false positive: suppressed.
    await runCli(['bank', 'enable', 'hot-bank'], { env });
    await runCli(['bank', 'import', 'fp', tmpFile('fp.txt', `sha256 ${exactHashes(image).sha256}\n`), '--allow'], { env });
    await service.runtime.reload();
    expect(Object.keys(versionsOf(service.runtime.scanner.sources()).banks)).toContain('hot-bank');
    await publish();
    await waitFor('drain', async () => ((await drained()) ? true : undefined));
    expect((await flags()).length).toBe(before);
    // Every background job was processed, none lost during reloads.
    expect(await scan.getJobCounts('failed')).toEqual({ failed: 0 });
  }, 60_000);

  it('term banks imported with `vigil terms import --redis` are versioned, listed, and hot-reloaded by a running worker', async () => {
    const { prefix, store, env } = await prefixed('terms-hot');
    const config = testConfig(prefix, { bankReloadMs: 200 });
    const service = await startScanService(config, createLogger('silent'));
    cleanups.push(() => service.stop());
    const publisher = createPublisher({ connection: REDIS_URL, prefix });
    const moderation = new Queue(config.moderationQueue, { connection: { url: REDIS_URL }, prefix });
    cleanups.push(async () => {
      await publisher.close();
      await moderation.close();
    });
    const base = sampleEvents().find((e) => e.event.eventId === 'demo-evt-001')?.event as Record<string, unknown>;
    const text = 'is the p u r p l e  k3ttle still for sale?';
    await publisher.publish({ ...base, eventId: 'terms-0', text });
    const file = tmpFile('kettles.jsonl', '{"id":"pk","phrase":"purple kettle","category":"sample_trade","severity":"high","mode":"joined"}\n');
    const imp = await runCli(['terms', 'import', file, '--redis', '--json'], { env });
    expect(imp.code).toBe(0);
    expect(JSON.parse(imp.stdout)).toMatchObject({ bankId: 'kettles', entries: 1, redisRevision: 1 });
    expect(await store.get('kettles')).toMatchObject({ type: 'term', revision: 1, entries: 1, enabled: true });
    // The worker picks the new bank up at its next poll; check now instead of waiting for it.
    await service.runtime.reload();
    expect(versionsOf(service.runtime.scanner.sources()).banks).toMatchObject({ kettles: expect.stringMatching(/^r1\./) });
    await publisher.publish({ ...base, eventId: 'terms-1', text });
    const flag = await waitFor(
      'a term flag after the import',
      async () => (await moderation.getJobs(['prioritized'])).map((j) => j.data as Flag).find((x) => x.category === 'sample_trade'),
      15_000,
    );
    expect(flag.eventId).not.toBe('terms-0');
    expect(flag.signals[0]).toMatchObject({
      type: 'term',
      sourceId: 'kettles',
      sourceVersion: expect.stringMatching(/^r1\./),
      entryId: 'pk',
      span: { start: 7, end: 26 },
    });
    const list = await runCli(['bank', 'list', '--json'], { env });
    expect(JSON.parse(list.stdout.trim())).toMatchObject({ id: 'kettles', type: 'term' });
    // The same content again: nothing to reload, the revision stays.
    const again = await runCli(['terms', 'import', file, '--redis', '--json'], { env });
    expect(JSON.parse(again.stdout)).toMatchObject({ redisRevision: 1, redisUnchanged: true });
    expect(await store.get('kettles')).toMatchObject({ revision: 1 });
    // Term banks in the store are first-class for stats and export.
    const stats = await runCli(['bank', 'stats', 'kettles', '--json'], { env });
    expect(JSON.parse(stats.stdout)).toMatchObject({
      id: 'kettles',
      type: 'term',
      byMode: { joined: 1 },
      byCategory: { sample_trade: 1 },
      bySeverity: { high: 1 },
    });
    const exported = await runCli(['bank', 'export', 'kettles'], { env });
    expect(exported.code).toBe(0);
    expect(
      exported.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string; phrase: string }),
    ).toEqual([expect.objectContaining({ id: 'pk', phrase: 'purple kettle' })]);
    expect((await runCli(['bank', 'export', 'kettles', '--format', 'csv'], { env })).code).toBe(2);
  }, 60_000);
});

it('sample bank file hashes the committed sample media (keeps the demo honest)', () => {
  const bank = readFileSync('config/samples/banks/sample-known-bad.txt', 'utf8');
  expect(bank).toContain(exactHashes(readFileSync('config/samples/media/teapot-still-life.png')).md5);
  expect(bank).toContain(exactHashes(readFileSync('config/samples/media/harbour-sunset.png')).sha256);
});
