/**
 * On the real queue: the worker's config owns the retry budget whatever the producer's job options
 * say; a job whose worker died MAX_WORKER_DEATHS times is dead-lettered; the dead-letter queue keeps
 * within its bounds.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { MemHashBankSet } from '../../src/core/banks/hash-bank-set.js';
import { VigilError } from '../../src/core/errors.js';
import { compilePolicy } from '../../src/core/policy.js';
import type { DeadLetter, FlagSink } from '../../src/core/ports.js';
import type { Scanner } from '../../src/core/scan.js';
import { standardSources } from '../../src/core/sources.js';
import { BullDeadLetterSink } from '../../src/adapters/bullmq/queues.js';
import { MAX_WORKER_DEATHS, ScanWorker } from '../../src/adapters/bullmq/scan-worker.js';
import { createLogger } from '../../src/logger.js';
import { createScanJobHandler, type ScanJobHandler } from '../../src/services/scan-job.js';
import { MemDecoder, MemPdqHasher, MemTextScanner } from '../helpers/mem-ports.js';
import { deletePrefix, REDIS_URL, uniquePrefix, waitFor } from '../helpers/redis.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const scanner: Scanner = {
  sources: () =>
    standardSources({
      hashBanks: new MemHashBankSet([]),
      textScanner: new MemTextScanner([{ id: 'vt', phrase: 'velvet teapot', category: 'grooming', severity: 'high' }]),
      pdqHasher: new MemPdqHasher(),
    }),
  // Any accepted raster signature "decodes"... and fails, as a broken image would.
  decoder: new MemDecoder(new VigilError('MEDIA_UNDECODABLE', 'test image is broken')),
  maxMediaBytes: 1024,
};
const policy = compilePolicy({ version: 1, rules: [{ id: 'text', match: { types: ['term'] }, action: 'review' }] });
const event = (id: string) => ({
  schema: 'vigil.message.v1',
  eventId: id,
  messageId: 'm',
  conversationId: 'c',
  senderId: 's',
  recipientIds: ['r'],
  sentAt: '2026-01-01T00:00:00Z',
  text: 'a velvet teapot',
});

function setup(label: string) {
  const prefix = uniquePrefix(label);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const scan = new Queue('scan', { connection: redis, prefix });
  const deadLetters = new BullDeadLetterSink('dead', { connection: redis, prefix, dedupeTtlMs: 60_000 });
  const entries = async () => (await deadLetters.queue.getJobs(['waiting'])).map((j) => j.data as DeadLetter);
  const workers: ScanWorker[] = [];
  const worker = (handle: ScanJobHandler) => {
    const w = new ScanWorker({
      connection: redis,
      prefix,
      queue: 'scan',
      concurrency: 1,
      lockDurationMs: 1000,
      handle,
      deadLetters,
      logger: createLogger('silent'),
    });
    workers.push(w);
    void w.run();
    return w;
  };
  cleanups.push(async () => {
    for (const w of workers) await w.worker.close(true);
    await scan.close();
    await deadLetters.close();
    redis.disconnect();
    await deletePrefix(prefix);
  });
  return { prefix, redis, scan, deadLetters, entries, worker };
}

describe('retries owned by the worker', () => {
  for (const producerAttempts of [1, 10]) {
    it(`producer job options say attempts: ${producerAttempts}; the worker's VIGIL_MAX_ATTEMPTS=3 decides`, async () => {
      const s = setup('retries');
      let emits = 0;
      const failing: FlagSink = { emit: () => (emits++, Promise.reject(new VigilError('QUEUE_UNAVAILABLE', 'moderation queue down'))) };
      s.worker(
        createScanJobHandler({
          scanner,
          policy: () => policy,
          limits: { maxTextBytes: 1024, maxMediaItems: 4, maxMediaBytes: 1024 },
          flags: failing,
          deadLetters: s.deadLetters,
          logger: createLogger('silent'),
          retry: { maxAttempts: 3, backoffMs: 20 },
        }),
      );
      await s.scan.add('scan', event('r-1'), { jobId: 'r-1', attempts: producerAttempts, removeOnComplete: true });
      const [entry] = await waitFor('dead letter', async () => ((await s.entries()).length ? s.entries() : undefined));
      expect(entry).toMatchObject({
        eventId: 'r-1',
        code: 'RETRIES_EXHAUSTED',
        message: 'gave up after 3 attempt(s): QUEUE_UNAVAILABLE: moderation queue down',
      });
      expect(emits).toBe(3);
      // Out of retries on a transient failure: the event is kept in the failed set for `vigil dlq retry`.
      await waitFor('job kept in the failed set', async () =>
        (await s.scan.getJob('r-1'))?.failedReason !== undefined && (await (await s.scan.getJob('r-1'))?.getState()) === 'failed' ? true : undefined,
      );
    });
  }

  it(`a job whose worker died ${MAX_WORKER_DEATHS} times while holding it is dead-lettered (RETRIES_EXHAUSTED)`, async () => {
    const s = setup('deaths');
    const never: ScanJobHandler = () => new Promise(() => undefined);
    await s.scan.add('scan', event('d-1'), { jobId: 'd-1' });
    let taken = 0;
    for (let death = 1; death <= MAX_WORKER_DEATHS; death++) {
      // A worker takes the job and dies holding it (its lock is no longer renewed).
      const w = s.worker(never);
      await waitFor(`taken by worker ${death}`, async () =>
        (await s.scan.getActiveCount()) === 1 && (await s.scan.getJob('d-1'))?.attemptsStarted === death ? true : undefined,
      );
      taken++;
      await w.worker.close(true);
    }
    expect(taken).toBe(MAX_WORKER_DEATHS);
    // The next worker's stalled-job check finds the job a last time and gives up on it.
    s.worker(never);
    const [entry] = await waitFor('dead letter', async () => ((await s.entries()).length ? s.entries() : undefined));
    expect(entry).toMatchObject({ eventId: 'd-1', code: 'RETRIES_EXHAUSTED', origin: { kind: 'bullmq', queue: 'scan', jobId: 'd-1' } });
  });
});

describe('dead-letter queue bounds', () => {
  it('keeps at most maxEntries (the newest) and drops entries past the retention age', async () => {
    const prefix = uniquePrefix('dlq-bounds');
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const sink = new BullDeadLetterSink('dead', { connection: redis, prefix, dedupeTtlMs: 60_000, maxEntries: 10, retentionS: 3600 });
    cleanups.push(async () => {
      await sink.close();
      redis.disconnect();
      await deletePrefix(prefix);
    });
    const at = new Date().toISOString();
    for (let i = 0; i < 25; i++)
      await sink.deadLetter({ eventId: `e-${i}`, code: 'EVENT_INVALID', message: 'x', origin: { kind: 'cli', file: 'f', line: i }, at });
    await sink.trim();
    const kept = (await sink.queue.getJobs(['waiting'])).map((j) => (j.data as DeadLetter).eventId).sort();
    expect(kept).toEqual(Array.from({ length: 10 }, (_, i) => `e-${i + 15}`).sort());
    // An entry older than the retention: backdate one and trim.
    const old = (await sink.queue.getJobs(['waiting']))[0];
    await redis.hset(`${prefix}:dead:${old?.id}`, 'timestamp', String(Date.now() - 2 * 3600 * 1000));
    await sink.trim();
    expect(await sink.queue.getWaitingCount()).toBe(9);
  });
});
