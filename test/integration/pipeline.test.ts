/**
 * The pipeline end to end on the real Redis: publisher → scan queue → worker → moderation queue /
 * dead-letter queue. Each test has its own key prefix.
 */
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createScanRuntime } from '../../src/app.js';
import { contractLimits, type Config } from '../../src/config.js';
import type { Flag } from '../../src/core/contracts.js';
import { processPayload } from '../../src/core/pipeline.js';
import type { DeadLetter } from '../../src/core/ports.js';
import { sampleEvents } from '../../src/demo/sample-events.js';
import { createLogger } from '../../src/logger.js';
import { createPublisher, type Publisher } from '../../src/publisher.js';
import { startScanService, type ScanService } from '../../src/services/scan-service.js';
import { runCli } from '../helpers/cli.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function banksDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-banks-'));
  cpSync('config/samples/banks', dir, { recursive: true });
  return dir;
}

interface Harness {
  config: Config;
  publisher: Publisher;
  scan: Queue;
  moderation: Queue;
  dead: Queue;
  flags(): Promise<Flag[]>;
  deadLetters(): Promise<DeadLetter[]>;
  drained(): Promise<boolean>;
}

async function harness(label: string, overrides: Partial<Record<keyof Config, unknown>> = {}): Promise<Harness> {
  const prefix = uniquePrefix(label);
  const config = testConfig(prefix, { banksDir: banksDir(), ...overrides });
  const publisher = createPublisher({ connection: REDIS_URL, prefix, dedupeTtlMs: config.dedupeTtlMs });
  const q = (name: string) => new Queue(name, { connection: { url: REDIS_URL }, prefix });
  const scan = q(config.scanQueue);
  const moderation = q(config.moderationQueue);
  const dead = q(config.deadLetterQueue);
  cleanups.push(async () => {
    await publisher.close();
    await Promise.all([scan.close(), moderation.close(), dead.close()]);
    await deletePrefix(prefix);
  });
  return {
    config,
    publisher,
    scan,
    moderation,
    dead,
    flags: async () => (await moderation.getJobs(['prioritized', 'waiting'])).map((j) => j.data as Flag).sort((a, b) => a.flagId.localeCompare(b.flagId)),
    deadLetters: async () => (await dead.getJobs(['waiting'])).map((j) => j.data as DeadLetter),
    drained: async () => Object.values(await scan.getJobCounts('wait', 'active', 'prioritized', 'delayed')).every((n) => n === 0),
  };
}

async function startWorker(config: Config, logs?: Writable): Promise<ScanService> {
  const service = await startScanService(config, createLogger(logs ? 'trace' : 'silent', logs));
  cleanups.push(() => service.stop());
  return service;
}

const samples = () => sampleEvents();
const sample = (id: string) => {
  const s = samples().find((x) => x.event.eventId === id);
  if (!s) throw new Error(`no sample ${id}`);
  return s.event;
};

describe('scan pipeline on the real Redis', () => {
  it('publish → exactly one flag with the right evidence for a known-bad image and a known-bad phrase; benign → no flag', async () => {
    const h = await harness('flags');
    await startWorker(h.config);
    await h.publisher.publish(sample('demo-evt-002')); // banked image (md5)
    await h.publisher.publish(sample('demo-evt-004')); // "velvet teapot"
    await h.publisher.publish(sample('demo-evt-001')); // benign text
    await h.publisher.publish(sample('demo-evt-005')); // benign image + text
    await waitFor('drain', async () => ((await h.drained()) && (await h.flags()).length >= 2 ? true : undefined));
    const flags = await h.flags();
    expect(flags.map((f) => f.eventId).sort()).toEqual(['demo-evt-002', 'demo-evt-004']);
    const image = flags.find((f) => f.eventId === 'demo-evt-002');
    expect(image).toMatchObject({ category: 'sample_known_image', severity: 'critical', action: 'remove_and_report' });
    expect(
      image?.signals.some((s) => s.type === 'md5' && s.sourceId === 'sample-known-bad' && s.entryId === 'teapot-md5' && s.mediaId === 'm1' && s.distance === 0),
    ).toBe(true);
    const phrase = flags.find((f) => f.eventId === 'demo-evt-004');
    expect(phrase?.signals).toEqual([
      expect.objectContaining({ type: 'term', sourceId: 'sample-terms', entryId: 'velvet-teapot', span: { start: 18, end: 31 } }),
    ]);
    expect(phrase?.policyVersion).toMatch(/^sha256:/);
    expect(Object.keys(phrase?.bankVersions ?? {})).toEqual(expect.arrayContaining(['sample-known-bad', 'sample-terms']));
    // Moderation jobs are addressed by flagId and prioritised by severity.
    const job = await h.moderation.getJob(image?.flagId ?? '');
    expect(job?.opts.priority).toBe(1);
    expect(await h.deadLetters()).toEqual([]);
  });

  it('serves Prometheus metrics: outcomes, flags by category and severity, dead letters by code — no ids, no content', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const h = await harness('metrics', { metricsPort: port });
    await startWorker(h.config);
    await h.publisher.publish(sample('demo-evt-004'));
    await h.publisher.publish(sample('demo-evt-001'));
    await h.publisher.publish(sample('demo-evt-008'));
    await waitFor('drain', async () => ((await h.drained()) && (await h.flags()).length >= 1 ? true : undefined));
    const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(body).toMatch(/vigil_events_scanned_total\{outcome="flagged"\} 1/);
    expect(body).toMatch(/vigil_events_scanned_total\{outcome="clean"\} 1/);
    // An event whose only image could not be decoded was not scanned clean.
    expect(body).toMatch(/vigil_events_scanned_total\{outcome="incomplete"\} 1/);
    expect(body).toMatch(/vigil_flags_emitted_total\{category="sample_grooming",severity="high",action="review"\} 1/);
    expect(body).toMatch(/vigil_dead_lettered_total\{code="MEDIA_UNSUPPORTED"\} 1/);
    expect(body).toMatch(/vigil_scan_seconds_count 3/);
    expect(body).not.toContain('demo-evt');
    expect(body).not.toContain('velvet');
  });

  it('the same event twice → one job and one flag, also when the copy arrives after the first was scanned and removed', async () => {
    const h = await harness('dedupe');
    const event = sample('demo-evt-004');
    await h.publisher.publish(event);
    await h.publisher.publish(event);
    expect(await h.scan.getJobCounts('prioritized', 'wait')).toEqual({ prioritized: 0, wait: 1 });
    const service = await startWorker(h.config);
    await waitFor('first flag', async () => ((await h.flags()).length === 1 && (await h.drained()) ? true : undefined));
    expect(await h.scan.getJob(String(event.eventId))).toBeUndefined(); // completed and removed: no content left behind
    const completed: string[] = [];
    service.worker.worker.on('completed', (job) => completed.push(String(job.id)));
    const late = await h.publisher.publishBatch([event, event]);
    expect(late.duplicates.map((d) => d.index)).toEqual([0, 1]);
    // A sentinel behind the copies: once it is scanned, anything enqueued before it was too.
    await h.publisher.publish({ ...(sample('demo-evt-001') as object), eventId: 'dedupe-sentinel' });
    await waitFor('the sentinel scanned', async () => (completed.includes('dedupe-sentinel') ? true : undefined));
    expect(completed).toEqual(['dedupe-sentinel']);
    expect(await h.drained()).toBe(true);
    expect(await h.scan.getJobCounts('completed', 'failed', 'prioritized', 'wait', 'active')).toEqual({
      completed: 0,
      failed: 0,
      prioritized: 0,
      wait: 0,
      active: 0,
    });
    expect(await h.flags()).toHaveLength(1);
    // The dedupe key holds the id only, never content, and expires with the window.
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => void redis.disconnect());
    const keys = await redis.keys(`${h.config.queuePrefix}:${h.config.scanQueue}:de:*`);
    expect(keys).toHaveLength(2); // the event's and the sentinel's
    keys.sort((a, b) => Number(a.endsWith('dedupe-sentinel')) - Number(b.endsWith('dedupe-sentinel')));
    expect(await redis.get(keys[0] ?? '')).toBe(event.eventId);
    expect(await redis.pttl(keys[0] ?? '')).toBeGreaterThan(23 * 3600 * 1000);
  });

  it('user reports are scanned before normal events, backfills only when nothing else waits', async () => {
    const h = await harness('priority', { concurrency: 1 });
    const base = sample('demo-evt-001') as Record<string, unknown>;
    const ev = (id: string, priority: string) => ({ ...base, eventId: id, priority });
    for (const e of [ev('b-1', 'backfill'), ev('n-1', 'normal'), ev('b-2', 'backfill'), ev('n-2', 'normal'), ev('r-1', 'report'), ev('n-3', 'normal')])
      await h.publisher.publish(e);
    // Completions are read from the queue's event stream from its start (lastEventId 0-0), so the
    // first job cannot finish before anyone listens (the stream keeps the order: concurrency is 1).
    const order: string[] = [];
    const events = new QueueEvents(h.config.scanQueue, { connection: { url: REDIS_URL }, prefix: h.config.queuePrefix, lastEventId: '0-0' });
    cleanups.push(() => events.close());
    events.on('completed', ({ jobId }) => order.push(jobId));
    await events.waitUntilReady();
    await startWorker(h.config);
    await waitFor('all six', async () => (order.length === 6 ? true : undefined));
    expect(order).toEqual(['r-1', 'n-1', 'n-2', 'n-3', 'b-1', 'b-2']);
  });

  it('a malformed event, an oversized and an undecodable media item are dead-lettered with their codes, and the worker keeps going', async () => {
    const h = await harness('dlq', { maxMediaBytes: 4096 });
    await startWorker(h.config);
    await h.scan.add('scan', { ...(sample('demo-evt-001') as object), eventId: 'bad-evt-1', text: 42 }, { jobId: 'bad-evt-1' });
    await h.scan.add('scan', 'not json at all {', { jobId: 'bad-evt-2' });
    // Larger than this worker's VIGIL_MAX_MEDIA_BYTES (a producer that skipped validation, or other limits).
    await h.scan.add('scan', sample('demo-evt-002'), { jobId: 'demo-evt-002' });
    await h.publisher.publish(sample('demo-evt-008')); // image/png that is not an image
    await h.publisher.publish(sample('demo-evt-007')); // a good event after the bad ones
    await waitFor('drain', async () => ((await h.drained()) && (await h.deadLetters()).length >= 4 && (await h.flags()).length >= 1 ? true : undefined));
    const dead = (await h.deadLetters()).sort((a, b) => (a.eventId ?? a.code).localeCompare(b.eventId ?? b.code));
    expect(dead.map((d) => [d.eventId, d.code, d.mediaId])).toEqual([
      ['bad-evt-1', 'EVENT_INVALID', undefined],
      ['demo-evt-002', 'MEDIA_TOO_LARGE', undefined],
      ['demo-evt-008', 'MEDIA_UNSUPPORTED', 'm1'],
      [undefined, 'EVENT_NOT_JSON', undefined],
    ]);
    expect(dead[0]?.message).toBe('invalid vigil.message.v1 event: text: Invalid input: expected string, received number');
    expect(dead[0]?.origin).toEqual({ kind: 'bullmq', queue: h.config.scanQueue, jobId: 'bad-evt-1' });
    expect((await h.flags()).map((f) => f.eventId)).toEqual(['demo-evt-007']);
    // What ops see from the command line.
    const env = { VIGIL_QUEUE_PREFIX: h.config.queuePrefix };
    const listed = await runCli(['dead-letters', '--json', '--code', 'MEDIA_UNSUPPORTED'], { env });
    expect(listed.code).toBe(0);
    expect(
      listed.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as DeadLetter).eventId),
    ).toEqual(['demo-evt-008']);
    const counts = await runCli(['queues', '--json'], { env });
    expect(JSON.parse(counts.stdout)).toMatchObject({
      [h.config.scanQueue]: { wait: 0, active: 0, failed: 0, workers: 1 },
      [h.config.moderationQueue]: { prioritized: 1 },
      [h.config.deadLetterQueue]: { wait: 4 },
    });
  });

  it('message text and media bytes never reach logs, dead-letter entries, flags or failure reasons', async () => {
    const marker = 'zebra-quartz-7391';
    const chunks: string[] = [];
    const logs = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) });
    const h = await harness('privacy');
    await startWorker(h.config, logs);
    const secretBytes = Buffer.from(`${marker} pretend pixels`);
    const base = sample('demo-evt-004') as Record<string, unknown>;
    await h.publisher.publish({ ...base, eventId: 'priv-1', text: `velvet teapot ${marker}` });
    await h.publisher.publish({
      ...base,
      eventId: 'priv-2',
      text: marker,
      media: [{ id: 'm1', mimeType: 'image/png', bytes: secretBytes.toString('base64') }],
    });
    await h.scan.add('scan', { ...base, eventId: 'priv-3', text: marker, surprise: marker }, { jobId: 'priv-3' });
    await waitFor('drain', async () => ((await h.drained()) && (await h.deadLetters()).length >= 2 ? true : undefined));
    const everything = JSON.stringify({ logs: chunks, flags: await h.flags(), dead: await h.deadLetters(), failed: await h.scan.getJobs(['failed']) });
    expect(chunks.length).toBeGreaterThan(3);
    for (const needle of [marker, secretBytes.toString('base64').slice(0, 16)]) expect(everything).not.toContain(needle);
  });

  it('offline `vigil scan` and the queue path produce identical flags for the same events', async () => {
    const h = await harness('offline');
    const events = samples()
      .filter((s) => s.expect !== 'duplicate' && s.expect !== 'dead-letter')
      .map((s) => s.event);
    const runtime = await createScanRuntime(h.config, createLogger('silent'), { watch: false });
    const offline: Flag[] = [];
    for (const e of events) offline.push(...(await processPayload(JSON.stringify(e), runtime.scanner, runtime.policy(), contractLimits(h.config))).flags);
    // And the CLI itself, as a user would run it.
    const file = join(mkdtempSync(join(tmpdir(), 'vigil-events-')), 'events.jsonl');
    writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n'));
    const cli = await runCli(['scan', '--events', file, '--banks', String(h.config.banksDir), '--policy', 'config/policy.yaml']);
    expect(cli.code).toBe(0);
    const cliFlags = cli.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Flag);

    await startWorker(h.config);
    await h.publisher.publishBatch(events);
    await waitFor('all flags', async () => ((await h.drained()) && (await h.flags()).length >= offline.length ? true : undefined));
    const queued = await h.flags();
    const byId = (a: Flag, b: Flag) => a.flagId.localeCompare(b.flagId);
    expect(offline.length).toBeGreaterThanOrEqual(4);
    expect(queued).toEqual([...offline].sort(byId));
    expect([...cliFlags].sort(byId)).toEqual(queued);
  });

  it('media refs are resolved under VIGIL_MEDIA_DIR, and a policy edit is picked up by a running worker', async () => {
    const policyDir = mkdtempSync(join(tmpdir(), 'vigil-policy-'));
    const policyFile = join(policyDir, 'policy.yaml');
    const original = readFileSync('config/policy.yaml', 'utf8');
    writeFileSync(policyFile, original);
    const h = await harness('refs', { mediaDir: 'config/samples/media', policyFile, bankReloadMs: 200 });
    const service = await startWorker(h.config);
    const base = sample('demo-evt-001') as Record<string, unknown>;
    await h.publisher.publish({ ...base, eventId: 'ref-1', text: undefined, media: [{ id: 'm1', mimeType: 'image/png', ref: 'teapot-still-life.png' }] });
    const first = await waitFor('flag for the ref', async () => (await h.flags()).find((f) => f.eventId === 'ref-1'));
    expect(first).toMatchObject({ category: 'sample_known_image', action: 'remove_and_report' });
    // The safety team softens the action; the next flag carries the new policy version.
    writeFileSync(policyFile, original.replace('action: remove_and_report', 'action: escalate'));
    let i = 1;
    const second = await waitFor('a flag under the new policy', async () => {
      const f = (await h.flags()).find((x) => x.eventId !== 'ref-1' && x.action === 'escalate');
      if (f) return f;
      if (await h.drained())
        await h.publisher.publish({
          ...base,
          eventId: `ref-${++i}`,
          text: undefined,
          media: [{ id: 'm1', mimeType: 'image/png', ref: 'teapot-still-life.png' }],
        });
      return undefined;
    });
    expect(second.policyVersion).not.toBe(first.policyVersion);
    // A broken edit is refused and the last good policy stays in force (checked now, not at the next poll).
    writeFileSync(policyFile, 'version: 1\nrules: []\n');
    expect(await service.runtime.reload()).toBe(false);
    await h.publisher.publish({
      ...base,
      eventId: 'ref-after-bad-edit',
      text: undefined,
      media: [{ id: 'm1', mimeType: 'image/png', ref: 'teapot-still-life.png' }],
    });
    const third = await waitFor('a flag after the bad edit', async () => (await h.flags()).find((f) => f.eventId === 'ref-after-bad-edit'));
    expect(third.policyVersion).toBe(second.policyVersion);
  });

  it('a worker killed with SIGKILL mid-job: its jobs are retried by a new worker and each event has exactly one flag', async () => {
    const h = await harness('sigkill', { concurrency: 16 });
    const n = 3000;
    const base = sample('demo-evt-004') as Record<string, unknown>;
    const events = Array.from({ length: n }, (_, i) => ({ ...base, eventId: `kill-${i}`, messageId: `kill-msg-${i}` }));
    for (let i = 0; i < n; i += 500) await h.publisher.publishBatch(events.slice(i, i + 500));
    const env = {
      ...process.env,
      REDIS_URL,
      VIGIL_QUEUE_PREFIX: h.config.queuePrefix,
      VIGIL_BANKS_DIR: String(h.config.banksDir),
      VIGIL_POLICY_FILE: 'config/policy.yaml',
      VIGIL_LOG_LEVEL: 'warn',
      VIGIL_LOCK_MS: '2000',
      VIGIL_CONCURRENCY: '16',
    };
    const first = spawn(process.execPath, ['dist/workers/scan.js'], { env, stdio: 'ignore' });
    await waitFor('first flags', async () => (((await h.moderation.getJobCounts('prioritized')).prioritized ?? 0) > 100 ? true : undefined), 60_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const orphaned = await h.scan.getActiveCount();
    const flaggedBefore = (await h.moderation.getJobCounts('prioritized')).prioritized ?? 0;
    expect(flaggedBefore).toBeLessThan(n); // killed halfway, not after the end
    const second = spawn(process.execPath, ['dist/workers/scan.js'], { env, stdio: 'ignore' });
    cleanups.push(async () => void second.kill('SIGKILL'));
    await waitFor(
      'all flags',
      async () => (((await h.moderation.getJobCounts('prioritized')).prioritized ?? 0) >= n && (await h.drained()) ? true : undefined),
      90_000,
    );
    const flags = await h.flags();
    expect(flags).toHaveLength(n);
    expect(new Set(flags.map((f) => f.eventId)).size).toBe(n);
    expect(await h.deadLetters()).toEqual([]);
    // Jobs the dead worker held were really in flight when it died (else this test proves nothing).
    expect(orphaned).toBeGreaterThan(0);
    second.kill('SIGTERM');
    expect(await new Promise((r) => second.once('exit', r))).toBe(0);
  }, 180_000);
});
