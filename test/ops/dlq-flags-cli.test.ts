/**
 * `vigil dlq` and `vigil flags` as ops run them, against a real scan worker on the real Redis (own
 * prefix). The media store is an in-memory port that is "down" until the test repairs it, so an
 * event exhausts its retries, is dead-lettered RETRIES_EXHAUSTED and kept in the failed set; after
 * the repair `dlq retry` re-enqueues it and the worker flags it.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createScanRuntime } from '../../src/app.js';
import { contractLimits } from '../../src/config.js';
import { RedisAuditLog } from '../../src/adapters/audit-log.js';
import { BullDeadLetterSink, BullFlagSink } from '../../src/adapters/bullmq/queues.js';
import { createScanJobHandler } from '../../src/services/scan-job.js';
import { ScanWorker } from '../../src/adapters/bullmq/scan-worker.js';
import { VigilError } from '../../src/core/errors.js';
import { flagIdFor } from '../../src/core/flags.js';
import type { MediaStore } from '../../src/core/ports.js';
import { createLogger } from '../../src/logger.js';
import { createPublisher } from '../../src/publisher.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';
import { cliInProcess } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const teapot = readFileSync('config/samples/media/teapot-still-life.png');
const event = (eventId: string, extra: Record<string, unknown>) => ({
  schema: 'vigil.message.v1',
  eventId,
  messageId: `m-${eventId}`,
  conversationId: 'c-1',
  senderId: 's-1',
  recipientIds: ['r-1'],
  sentAt: new Date().toISOString(),
  ...extra,
});

describe('vigil dlq and vigil flags', () => {
  it('lists and shows entries, retries the kept event once its cause is fixed (re-scanned and flagged), explains the rest, purges; all audited', async () => {
    const prefix = uniquePrefix('ops-dlq');
    const banks = mkdtempSync(join(tmpdir(), 'vigil-ops-banks-'));
    cpSync('config/samples/banks', banks, { recursive: true });
    const config = testConfig(prefix, { banksDir: banks });
    cleanups.push(() => deletePrefix(prefix));
    const logger = createLogger('silent');
    const runtime = await createScanRuntime(config, logger, { watch: false });
    cleanups.push(() => runtime.close());
    let storeUp = false;
    const store: MediaStore = {
      fetch: async (ref) => {
        if (!storeUp) throw new VigilError('MEDIA_STORE_UNAVAILABLE', 'media store read failed (EIO)');
        if (ref !== 'teapot.png') throw new VigilError('MEDIA_REF_UNRESOLVED', 'media ref not found (ENOENT)');
        return teapot;
      },
    };
    const settings = { connection: { url: REDIS_URL }, prefix, dedupeTtlMs: config.dedupeTtlMs };
    const moderation = new BullFlagSink(config.moderationQueue, settings);
    const deadLetters = new BullDeadLetterSink(config.deadLetterQueue, settings);
    const handle = createScanJobHandler({
      scanner: { ...runtime.scanner, mediaStore: store },
      policy: runtime.policy,
      limits: contractLimits(config),
      flags: moderation,
      deadLetters,
      logger,
      retry: { maxAttempts: 2, backoffMs: 20 },
    });
    const worker = new ScanWorker({
      connection: { url: REDIS_URL },
      prefix,
      queue: config.scanQueue,
      concurrency: 2,
      lockDurationMs: 5000,
      handle,
      deadLetters,
      logger,
    });
    void worker.run();
    cleanups.push(async () => {
      await worker.close();
      await Promise.all([moderation.close(), deadLetters.close()]);
    });
    const publisher = createPublisher({ connection: REDIS_URL, prefix, dedupeTtlMs: config.dedupeTtlMs });
    cleanups.push(() => publisher.close());
    await publisher.publish(event('evt-dlq-kept', { media: [{ id: 'm1', mimeType: 'image/png', ref: 'teapot.png' }] }));
    const scan = new Queue(config.scanQueue, { connection: { url: REDIS_URL }, prefix });
    cleanups.push(() => scan.close());
    await scan.add('scan', { ...event('evt-dlq-bad', {}), text: 42 }, { jobId: 'evt-dlq-bad', removeOnComplete: true });
    await waitFor('two dead letters and the kept job in the failed set', async () =>
      (await deadLetters.queue.getJobCounts('waiting')).waiting === 2 && (await scan.getJobCounts('failed')).failed === 1 ? true : undefined,
    );

    const cli = (args: string[]) => cliInProcess([...args, '--redis-url', REDIS_URL, '--prefix', prefix]);
    type Listed = { id: string; eventId?: string; code: string };
    const listed = await cli(['dlq', 'list', '--json']);
    expect(listed.code).toBe(0);
    const entries = listed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Listed);
    expect(entries.map((e) => [e.eventId, e.code]).sort()).toEqual([
      ['evt-dlq-bad', 'EVENT_INVALID'],
      ['evt-dlq-kept', 'RETRIES_EXHAUSTED'],
    ]);
    const kept = entries.find((e) => e.code === 'RETRIES_EXHAUSTED') as Listed;
    const bad = entries.find((e) => e.code === 'EVENT_INVALID') as Listed;
    // The old command name still works, with the same filters.
    const old = await cli(['dead-letters', '--json', '--code', 'EVENT_INVALID']);
    expect(
      old.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Listed).id),
    ).toEqual([bad.id]);
    const future = await cli(['dlq', 'list', '--since', '2999-01-01T00:00:00Z', '--json']);
    expect(future.stdout).toBe('');

    const shown = await cli(['dlq', 'show', kept.id, '--json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id: kept.id,
      eventId: 'evt-dlq-kept',
      code: 'RETRIES_EXHAUSTED',
      retry: { status: 'would_requeue', scanJobId: 'evt-dlq-kept' },
    });

    // The cause is fixed; retry re-enqueues the kept event and the worker flags the banked image.
    storeUp = true;
    const retried = await cli(['dlq', 'retry', '--code', 'RETRIES_EXHAUSTED', '--actor', 'alice', '--json']);
    expect(retried.code).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({ id: kept.id, status: 'requeued', scanJobId: 'evt-dlq-kept' });
    await waitFor('the retried event flagged', async () =>
      (await moderation.queue.getJob(flagIdFor('evt-dlq-kept', 'sample_known_image'))) ? true : undefined,
    );
    expect(await deadLetters.queue.getJob(kept.id)).toBeUndefined();

    // The invalid event was not kept: retry says why and exits 1.
    const refused = await cli(['dlq', 'retry', bad.id]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('not_kept: EVENT_INVALID is not retriable');
    // State-changing commands never act on everything by accident.
    const unscoped = await cli(['dlq', 'purge']);
    expect(unscoped.code).toBe(2);
    expect(unscoped.stderr).toContain('--all');

    const purged = await cli(['dlq', 'purge', '--code', 'EVENT_INVALID', '--actor', 'bob', '--json']);
    expect(JSON.parse(purged.stdout)).toEqual({ removed: [bad.id], missing: [], dryRun: false });
    expect(await deadLetters.queue.getJobCounts('waiting')).toEqual({ waiting: 0 });

    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => void redis.disconnect());
    const audit = await new RedisAuditLog(redis, prefix).list();
    expect(audit.map((a) => [a.actor, a.action, a.target])).toEqual([
      ['alice', 'dlq.retry', `${kept.id} event=evt-dlq-kept job=${config.scanQueue}/evt-dlq-kept`],
      ['bob', 'dlq.purge', `${bad.id} event=evt-dlq-bad code=EVENT_INVALID`],
    ]);

    // What reaches reviewers.
    const flags = await cli(['flags', 'list', '--severity', 'critical', '--json']);
    expect(flags.code).toBe(0);
    expect(
      flags.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { eventId: string; category: string }).eventId),
    ).toEqual(['evt-dlq-kept']);
    expect((await cli(['flags', 'list', '--severity', 'low', '--json'])).stdout).toBe('');
    expect((await cli(['flags', 'list', '--severity', 'extreme'])).code).toBe(2);

    // tail: started first, it prints the next flag that arrives (and only matching ones), then exits.
    let following: () => void = () => undefined;
    const ready = new Promise<void>((r) => (following = r));
    const tail = cliInProcess(
      ['flags', 'tail', '--category', 'sample_grooming', '--max', '1', '--json', '--redis-url', REDIS_URL, '--prefix', prefix],
      (_o, e) => e.includes('following flags') && following(),
    );
    await ready;
    await publisher.publish(event('evt-tail-image', { media: [{ id: 'm1', mimeType: 'image/png', ref: 'teapot.png' }] }));
    await publisher.publish(event('evt-tail-term', { text: 'bring the velvet teapot' }));
    const { code, stdout: out } = await tail;
    expect(code).toBe(0);
    expect(JSON.parse(out.trim()) as { eventId: string; category: string }).toMatchObject({ eventId: 'evt-tail-term', category: 'sample_grooming' });
  });
});
