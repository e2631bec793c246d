/**
 * Retro-matching (VIGIL_RETRO_WINDOW): a message scanned clean is flagged, retroactively and once,
 * when a hash of one of its images is banked later; nothing is flagged once the window has expired;
 * without the setting nothing is retained at all.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBankStore, type StoredHashEntry } from '../../src/adapters/redis-bank-store.js';
import type { Flag } from '../../src/core/contracts.js';
import { createLogger } from '../../src/logger.js';
import { createPublisher } from '../../src/publisher.js';
import { startScanService, type ScanService } from '../../src/services/scan-service.js';
import { RetroScheduler, type RetroJobData } from '../../src/services/retro.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** The shared reference vectors (one level above the checkout, as test/classify/helpers.ts finds them). */
const VECTORS = fileURLToPath(new URL('../../../shared/vectors/pdq/', import.meta.url));
const garden = readFileSync('config/samples/media/garden-checker.png');
const harbour = readFileSync('config/samples/media/harbour-sunset.png');
const bridge = readFileSync(join(VECTORS, 'data/bridge-mods/blur-a-little.jpg'));
/** The reference implementation's PDQ of `bridge` (vectors/pdq/expected.tsv), 5 bits flipped: a near-duplicate. */
const bridgePdq = (() => {
  const line = readFileSync(join(VECTORS, 'expected.tsv'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('data/bridge-mods/blur-a-little.jpg\t'));
  const hex = (line ?? '').split('\t')[1] ?? '';
  return hex
    .split('')
    .map((c, i) => (i < 5 ? (parseInt(c, 16) ^ 1).toString(16) : c))
    .join('');
})();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function event(eventId: string, image: Buffer, mimeType: string) {
  return {
    schema: 'vigil.message.v1' as const,
    eventId,
    messageId: `msg-${eventId}`,
    conversationId: 'conv-retro',
    senderId: 'user-retro',
    recipientIds: ['user-other'],
    sentAt: '2026-12-01T10:00:00Z',
    media: [{ id: 'm1', mimeType, bytes: image.toString('base64') }],
  };
}

const entry = (type: 'sha256' | 'pdq', value: string, id: string): StoredHashEntry => ({ type, value, id, importedAt: '2026-12-03T00:00:00Z', source: 'test' });
async function* batches<T>(items: T[]): AsyncGenerator<T[]> {
  yield items;
}

async function setup(label: string, overrides: Record<string, unknown>, workers = 1, logs?: Writable) {
  const prefix = uniquePrefix(label);
  const redis = new Redis(REDIS_URL);
  cleanups.push(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const config = testConfig(prefix, { bankReloadMs: 200, ...overrides });
  const services: ScanService[] = [];
  for (let i = 0; i < workers; i++) {
    const service = await startScanService(config, logs ? createLogger('trace', logs) : createLogger('silent'));
    cleanups.push(() => service.stop());
    services.push(service);
  }
  const publisher = createPublisher({ connection: REDIS_URL, prefix });
  const moderation = new Queue(config.moderationQueue, { connection: { url: REDIS_URL }, prefix });
  const scan = new Queue(config.scanQueue, { connection: { url: REDIS_URL }, prefix });
  // Opened only when read: a Queue handle writes its own meta key, which the off-by-default test looks for.
  let retroQueue: Queue | undefined;
  const retro = () => (retroQueue ??= new Queue(config.retroQueue, { connection: { url: REDIS_URL }, prefix }));
  cleanups.push(async () => {
    await publisher.close();
    await moderation.close();
    await scan.close();
    await retroQueue?.close();
  });
  const keys = async (pattern: string) => {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:${pattern}`, 'COUNT', 1000);
      cursor = next;
      out.push(...found);
    } while (cursor !== '0');
    return out;
  };
  return {
    prefix,
    services,
    store: new RedisBankStore(redis, prefix),
    publish: (e: ReturnType<typeof event>) => publisher.publish(e),
    flags: async () => (await moderation.getJobs(['prioritized', 'wait'])).map((j) => j.data as Flag),
    drained: async () => Object.values(await scan.getJobCounts('wait', 'active', 'prioritized', 'delayed')).every((c) => c === 0),
    retroCompleted: async () => (await retro().getJobCounts('completed')).completed ?? 0,
    retroFailed: async () => (await retro().getJobCounts('failed')).failed ?? 0,
    /** Bytes of retained records in the window's keys. */
    retainedBytes: async () => {
      let n = 0;
      for (const key of await keys('retro:w:*')) n += await redis.strlen(key);
      return n;
    },
    keys,
  };
}

async function runsOf(services: ScanService[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of services)
    for (const v of (await s.metrics.retroRuns.get()).values) out[String(v.labels.outcome)] = (out[String(v.labels.outcome)] ?? 0) + v.value;
  return out;
}

describe('retro-matching', () => {
  it('flags a message scanned before its hash was banked, marked retroactive, once, by one of two workers', { timeout: 90_000 }, async () => {
    const chunks: string[] = [];
    const logs = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) });
    const t = await setup('retro', { retroWindow: '30d' }, 2, logs);
    await t.publish(event('evt-exact', garden, 'image/png'));
    await t.publish(event('evt-pdq', bridge, 'image/jpeg'));
    await t.publish(event('evt-other', harbour, 'image/png'));
    await waitFor('scans', async () => ((await t.drained()) && (await t.retainedBytes()) > 0 ? true : undefined), 40_000);
    await waitFor('three items retained', async () => (Number(await sumRetained(t.services)) === 3 ? true : undefined));
    expect(await t.flags()).toEqual([]);
    // Hashes, not content: the retained records are far smaller than the images.
    expect(await t.retainedBytes()).toBeLessThan(3 * 400);

    // A new bank (every entry is new), then an append (the recorded delta: a near-duplicate PDQ).
    await t.store.importHashEntries('retro-test', batches([entry('sha256', sha256(garden), 'garden-exact')]));
    const first = await waitFor('retro flag for evt-exact', async () => (await t.flags()).find((f) => f.eventId === 'evt-exact'), 40_000);
    expect(first).toMatchObject({
      retroactive: true,
      category: 'known_media',
      messageId: 'msg-evt-exact',
      conversationId: 'conv-retro',
      senderId: 'user-retro',
    });
    expect(first.signals).toEqual([expect.objectContaining({ type: 'sha256', sourceId: 'retro-test', entryId: 'garden-exact', mediaId: 'm1' })]);
    await t.store.importHashEntries('retro-test', batches([entry('pdq', bridgePdq, 'bridge-near')]));
    const second = await waitFor('retro flag for evt-pdq', async () => (await t.flags()).find((f) => f.eventId === 'evt-pdq'), 40_000);
    expect(second.retroactive).toBe(true);
    expect(second.signals[0]).toMatchObject({ type: 'pdq', sourceId: 'retro-test', entryId: 'bridge-near', mediaId: 'm1' });
    expect(second.signals[0]?.distance).toBeLessThanOrEqual(31);

    // The same hash banked again: matched again, the same flagId, so no second flag.
    await t.store.importHashEntries('retro-test', batches([entry('sha256', sha256(garden), 'garden-exact')]));
    await waitFor('three retro runs', async () => ((await t.retroCompleted()) === 3 ? true : undefined), 40_000);
    const flags = await t.flags();
    expect(flags.map((f) => f.eventId).sort()).toEqual(['evt-exact', 'evt-pdq']);
    expect(new Set(flags.map((f) => f.flagId)).size).toBe(2);
    // One run per revision in all, whichever worker took it.
    expect(await runsOf(t.services)).toEqual({ flagged: 3 });
    expect(await t.retroFailed()).toBe(0);
    // The retained hashes never reach a flag (the bank entries' own ids are the evidence), a log line
    // (trace level) or a metric.
    const md5 = createHash('md5').update(garden).digest('hex');
    const everything = JSON.stringify({ flags, logs: chunks, metrics: await Promise.all(t.services.map((x) => x.metrics.registry.metrics())) });
    expect(chunks.some((l) => l.includes('retro-match run'))).toBe(true);
    for (const digest of [sha256(garden), md5, sha256(harbour), garden.toString('base64').slice(0, 64)]) expect(everything).not.toContain(digest);
  });

  it('a bank change made while no worker runs is matched by the next worker to start', { timeout: 90_000 }, async () => {
    const t = await setup('retro-down', { retroWindow: '30d' });
    await t.publish(event('evt-down', garden, 'image/png'));
    await waitFor('retained', async () => (Number(await sumRetained(t.services)) === 1 ? true : undefined), 40_000);
    await t.services[0]?.stop();
    await t.store.importHashEntries('retro-down', batches([entry('sha256', sha256(garden), 'garden-exact')]));
    const next = await startScanService(testConfig(t.prefix, { bankReloadMs: 200, retroWindow: '30d' }), createLogger('silent'));
    cleanups.push(() => next.stop());
    const flag = await waitFor('retro flag', async () => (await t.flags()).find((f) => f.eventId === 'evt-down'), 40_000);
    expect(flag.retroactive).toBe(true);
    // The run is counted as it finishes, just after its flags are out.
    await waitFor('run counted', async () => ((await runsOf([next])).flagged === 1 ? true : undefined));
    expect(await runsOf([next])).toEqual({ flagged: 1 });
  });

  it('a run whose worker died holding it is taken over by another worker', { timeout: 90_000 }, async () => {
    const t = await setup('retro-crash', { retroWindow: '30d' });
    await t.publish(event('evt-crash', garden, 'image/png'));
    await waitFor('retained', async () => (Number(await sumRetained(t.services)) === 1 ? true : undefined), 40_000);
    const config = testConfig(t.prefix, { bankReloadMs: 200, retroWindow: '30d' });
    await t.services[0]?.stop();
    // A worker that takes the run and dies (its lock is never renewed, never released).
    let taken!: () => void;
    const tookIt = new Promise<void>((resolve) => (taken = resolve));
    const doomed = new Worker(config.retroQueue, () => (taken(), new Promise(() => undefined)), {
      connection: { url: REDIS_URL },
      prefix: t.prefix,
      lockDuration: 2000,
    });
    await t.store.importHashEntries('retro-crash', batches([entry('sha256', sha256(garden), 'garden-exact')]));
    const redis = new Redis(REDIS_URL);
    const queue = new Queue<RetroJobData>(config.retroQueue, { connection: { url: REDIS_URL }, prefix: t.prefix });
    cleanups.push(async () => {
      await queue.close();
      redis.disconnect();
    });
    await new RetroScheduler({ store: t.store, redis, prefix: t.prefix, queue, logger: createLogger('silent') }).poll();
    await tookIt;
    await doomed.close(true);
    const next = await startScanService(config, createLogger('silent'));
    cleanups.push(() => next.stop());
    const flag = await waitFor('retro flag after the takeover', async () => (await t.flags()).find((f) => f.eventId === 'evt-crash'), 60_000);
    expect(flag.retroactive).toBe(true);
  });

  it('flags nothing once the window has expired', { timeout: 90_000 }, async () => {
    const t = await setup('retro-exp', { retroWindow: '2s' });
    await t.publish(event('evt-old', garden, 'image/png'));
    await waitFor('retained', async () => (Number(await sumRetained(t.services)) === 1 ? true : undefined), 40_000);
    // Poll until the window's keys have expired (no fixed sleep).
    await waitFor('window expired', async () => ((await t.keys('retro:w:*')).length === 0 ? true : undefined), 40_000);
    await t.store.importHashEntries('retro-exp', batches([entry('sha256', sha256(garden), 'garden-exact')]));
    await waitFor('retro run', async () => ((await t.retroCompleted()) === 1 ? true : undefined), 40_000);
    expect(await runsOf(t.services)).toEqual({ clean: 1 });
    expect(await t.flags()).toEqual([]);
  });

  it('is off by default: nothing is retained and no retro run is scheduled', { timeout: 60_000 }, async () => {
    const t = await setup('retro-off', {});
    expect(t.services[0]?.runtime).toBeDefined();
    await t.publish(event('evt-off', garden, 'image/png'));
    await waitFor('scanned', async () => ((await t.drained()) ? true : undefined), 40_000);
    await t.store.importHashEntries('retro-off', batches([entry('sha256', sha256(garden), 'garden-exact')]));
    // The worker reloads the bank (so a scheduler, if any, would have seen it) …
    await waitFor('bank loaded', async () => (t.services[0]?.runtime.hashBanks().versions()['retro-off'] ? true : undefined));
    await t.services[0]?.runtime.reload();
    // … and still nothing of the retro-match exists.
    expect(await t.keys('retro:*')).toEqual([]);
    expect(await t.keys('vigil-retro:*')).toEqual([]);
    expect(Number(await sumRetained(t.services))).toBe(0);
    expect(await t.flags()).toEqual([]);
  });
});

async function sumRetained(services: ScanService[]): Promise<number> {
  let n = 0;
  for (const s of services) for (const v of (await s.metrics.retroRetained.get()).values) n += v.value;
  return n;
}
