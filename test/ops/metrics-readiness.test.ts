/**
 * The ops server inside a scan worker, on the real Redis: /metrics after a known set of jobs, label
 * values that never carry ids or content, and /readyz following Redis away and back (a redis-server
 * of this test's own).
 */
import { Queue } from 'bullmq';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { flagIdFor } from '../../src/core/flags.js';
import { sampleEvents } from '../../src/demo/sample-events.js';
import { createLogger } from '../../src/logger.js';
import { createPublisher } from '../../src/publisher.js';
import { startScanService } from '../../src/services/scan-service.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';
import { freePort, OwnRedis, parseExposition, seriesValue } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function banksDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ops-banks-'));
  cpSync('config/samples/banks', dir, { recursive: true });
  return dir;
}

const sample = (id: string) => {
  const s = sampleEvents().find((x) => x.event.eventId === id);
  if (!s) throw new Error(`no sample ${id}`);
  return s.event as Record<string, unknown>;
};

/** Fields whose values are bounded enums of the contract, which labels may carry. */
const ENUM_FIELDS = new Set(['priority', 'schema', 'mimeType']);

/** Every other string in an event, ids and text alike: none may appear as a label value. */
function stringsOf(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string') out.add(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) if (!ENUM_FIELDS.has(k)) stringsOf(v, out);
  return out;
}

describe('ops server in a scan worker', () => {
  it('/metrics has queue depths, latencies, stage durations, matches, flags, errors and versions after a known set of jobs', async () => {
    const prefix = uniquePrefix('ops-metrics');
    const port = await freePort();
    const config = testConfig(prefix, { banksDir: banksDir(), opsPort: port });
    cleanups.push(() => deletePrefix(prefix));
    const service = await startScanService(config, createLogger('silent'));
    cleanups.push(() => service.stop());
    const publisher = createPublisher({ connection: REDIS_URL, prefix, dedupeTtlMs: config.dedupeTtlMs });
    cleanups.push(() => publisher.close());
    const events = ['demo-evt-001', 'demo-evt-002', 'demo-evt-004', 'demo-evt-006', 'demo-evt-008'].map(sample);
    // sentAt an hour ago: the end-to-end histogram must put these flags in the 3600 s bucket, not below.
    const hourAgo = new Date(Date.now() - 3_590_000).toISOString();
    for (const e of events) await publisher.publish({ ...e, sentAt: hourAgo });
    const moderation = new Queue(config.moderationQueue, { connection: { url: REDIS_URL }, prefix });
    const scan = new Queue(config.scanQueue, { connection: { url: REDIS_URL }, prefix });
    cleanups.push(async () => void (await Promise.all([moderation.close(), scan.close()])));
    await waitFor('five events scanned', async () => {
      const done = await service.metrics.eventsScanned.get();
      return done.values.reduce((s, v) => s + v.value, 0) === 5 ? true : undefined;
    });

    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const body = await res.text();
    const series = parseExposition(body);
    const v = (name: string, labels: Record<string, string> = {}) => seriesValue(series, name, labels);

    // Outcomes, flags by category/severity/action, matches by signal type and bank.
    expect(v('vigil_events_scanned_total', { outcome: 'flagged' })).toBe(3);
    expect(v('vigil_flags_emitted_total', { category: 'sample_known_image', severity: 'critical', action: 'remove_and_report' })).toBe(2);
    expect(v('vigil_flags_emitted_total', { category: 'sample_grooming', severity: 'high', action: 'review' })).toBe(1);
    expect(v('vigil_matches_total', { type: 'md5', source: 'sample-known-bad' })).toBe(1);
    expect(v('vigil_matches_total', { type: 'sha256', source: 'sample-known-bad' })).toBe(1);
    expect(v('vigil_matches_total', { type: 'term', source: 'sample-terms' })).toBe(1);
    // Errors and dead letters by code.
    expect(v('vigil_dead_lettered_total', { code: 'MEDIA_UNSUPPORTED' })).toBe(1);
    expect(v('vigil_errors_total', { code: 'MEDIA_UNSUPPORTED' })).toBe(1);
    // End to end: three flagged events, each about an hour old (report and normal priority).
    expect(v('vigil_end_to_end_seconds_count', { priority: 'normal' })).toBe(2);
    expect(v('vigil_end_to_end_seconds_count', { priority: 'report' })).toBe(1);
    expect(v('vigil_end_to_end_seconds_bucket', { priority: 'normal', le: '900' })).toBe(0);
    expect(v('vigil_end_to_end_seconds_bucket', { priority: 'normal', le: '3600' })).toBe(2);
    // Stages: every event parsed, decided and emitted; three media items through the hash source (hash +
    // bank match); the two decodable images decoded once each; the two texts through the term source.
    for (const stage of ['parse', 'decide', 'emit']) expect(v('vigil_stage_seconds_count', { stage })).toBe(5);
    expect(v('vigil_stage_seconds_count', { stage: 'hash' })).toBe(3);
    expect(v('vigil_stage_seconds_count', { stage: 'decode' })).toBe(2);
    expect(v('vigil_stage_seconds_count', { stage: 'match' })).toBe(2);
    expect(v('vigil_stage_seconds_count', { stage: 'classify' })).toBe(0);
    // Queue depths, read at scrape time: three flags wait for reviewers, one dead letter, nothing to scan.
    expect(v('vigil_queue_jobs', { queue: 'moderation', state: 'prioritized' })).toBe(3);
    expect(v('vigil_queue_jobs', { queue: 'dead_letter', state: 'waiting' })).toBe(1);
    expect(v('vigil_queue_jobs', { queue: 'scan', state: 'waiting' })).toBe(0);
    expect(v('vigil_queue_jobs', { queue: 'scan', state: 'active' })).toBe(0);
    // Versions as info metrics: the banks and the policy the flags name.
    const flag = (await moderation.getJob(flagIdFor('demo-evt-002', 'sample_known_image')))?.data as {
      policyVersion: string;
      bankVersions: Record<string, string>;
    };
    expect(v('vigil_policy_info', { version: flag.policyVersion })).toBe(1);
    expect(v('vigil_bank_info', { bank: 'sample-known-bad', version: flag.bankVersions['sample-known-bad'] ?? '' })).toBe(1);
    expect(v('vigil_bank_info', { bank: 'sample-terms', version: flag.bankVersions['sample-terms'] ?? '' })).toBe(1);
    // Default process metrics.
    expect(series.some((s) => s.name === 'vigil_process_cpu_seconds_total')).toBe(true);
    expect(series.some((s) => s.name === 'vigil_nodejs_heap_size_used_bytes')).toBe(true);

    // No label value is an id or any other string from the events (text, media, sender, conversation).
    const fromEvents = stringsOf(events);
    const leaked = series.flatMap((s) => Object.values(s.labels)).filter((l) => fromEvents.has(l));
    expect(leaked).toEqual([]);
    expect(body).not.toContain('demo-evt');
    expect(body).not.toContain('velvet');
    expect(body).not.toContain('sample-convo');
  });

  it('/healthz answers while /readyz turns 503 with the reason when Redis goes away, and 200 when it is back', async () => {
    const redis = new OwnRedis(await freePort());
    await redis.start();
    cleanups.push(() => redis.stop());
    const port = await freePort();
    const config = testConfig(uniquePrefix('ops-ready'), { redisUrl: redis.url, banksDir: banksDir(), opsPort: port });
    const service = await startScanService(config, createLogger('silent'));
    cleanups.push(() => service.stop());
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: r.status, body: (await r.json()) as { ready?: boolean; reasons?: string[]; status?: string } };
    };

    expect(await get('/readyz')).toMatchObject({ status: 200, body: { ready: true, reasons: [] } });
    await redis.stop();
    const down = await waitFor('readyz 503', async () => {
      const r = await get('/readyz');
      return r.status === 503 ? r : undefined;
    });
    expect(down.body.ready).toBe(false);
    expect(down.body.reasons?.some((r) => r.startsWith('redis: '))).toBe(true);
    expect(await get('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });

    await redis.start();
    const up = await waitFor(
      'readyz 200 again',
      async () => {
        const r = await get('/readyz');
        return r.status === 200 ? r : undefined;
      },
      30_000,
    );
    expect(up.body).toMatchObject({ ready: true, reasons: [] });
    // Ready means working: an event published now is scanned and flagged. (It also lets the worker's
    // blocking connection finish reconnecting: BullMQ's Worker.close() can hang on one that has not.)
    const publisher = createPublisher({ connection: redis.url, prefix: config.queuePrefix, dedupeTtlMs: config.dedupeTtlMs });
    cleanups.push(() => publisher.close());
    await publisher.publish(sample('demo-evt-004'));
    const moderation = new Queue(config.moderationQueue, { connection: { url: redis.url }, prefix: config.queuePrefix });
    cleanups.push(() => moderation.close());
    await waitFor(
      'flag after Redis came back',
      async () => ((await moderation.getJob(flagIdFor('demo-evt-004', 'sample_grooming'))) ? true : undefined),
      30_000,
    );
  });
});
