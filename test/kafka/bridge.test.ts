/**
 * The Kafka bridge against a real Kafka-protocol broker (librdkafka's mock cluster, via kcat) and the
 * real Redis. Each test has its own topic, consumer group and BullMQ prefix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/adapters/bullmq/connection.js';
import { BullDeadLetterSink, BullScanQueue } from '../../src/adapters/bullmq/queues.js';
import { KafkaBridge, type KafkaBridgeOptions } from '../../src/adapters/kafka/bridge.js';
import { createMetrics, type Metrics } from '../../src/adapters/metrics.js';
import type { DeadLetter } from '../../src/core/ports.js';
import { createLogger } from '../../src/logger.js';
import { committedTotal, endOffsets, eventRecords, messageEvent, produce, testKafka, uniqueName, type TestRecord } from '../helpers/kafka.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { REDIS_URL, deletePrefix, uniquePrefix, waitFor } from '../helpers/redis.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCAN = 'scan';
const DLQ = 'dead';

let mock: KafkaMock;
let kafka: Kafka;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 3 });
  kafka = testKafka(mock.brokers);
});

afterEach(async () => {
  // Reverse order: bridges before the queues and connections they use.
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

afterAll(async () => {
  await mock?.stop();
});

interface Harness {
  prefix: string;
  topic: string;
  groupId: string;
  redis: Redis;
  scanQueue: BullScanQueue;
  deadLetters: BullDeadLetterSink;
  metrics: Metrics;
  logs: string[];
  bridge(options?: Partial<KafkaBridgeOptions>): KafkaBridge;
  scanJobIds(): Promise<string[]>;
  deadLetterEntries(): Promise<DeadLetter[]>;
}

function harness(label: string): Harness {
  const prefix = uniquePrefix(label);
  const redis = createRedis(REDIS_URL, 'producer');
  const settings = { connection: redis, prefix, dedupeTtlMs: 60_000 };
  const scanQueue = new BullScanQueue({ ...settings, name: SCAN, failedRetentionS: 60 });
  const deadLetters = new BullDeadLetterSink(DLQ, settings);
  const metrics = createMetrics();
  const logs: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void logs.push(line) });
  cleanups.push(async () => {
    await Promise.all([scanQueue.close(), deadLetters.close()]);
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const h: Harness = {
    prefix,
    topic: uniqueName(`vigil.${label}`),
    groupId: uniqueName(`g-${label}`),
    redis,
    scanQueue,
    deadLetters,
    metrics,
    logs,
    bridge(options = {}) {
      // Most cases here test the enqueue path, so they commit on enqueue; commit on outcome has its own cases.
      const bridge = new KafkaBridge({
        kafka,
        topic: h.topic,
        groupId: h.groupId,
        scanQueue,
        deadLetters,
        logger,
        metrics,
        highWatermark: 100_000,
        lowWatermark: 1000,
        pollMs: 100,
        commitOn: 'enqueue',
        queueRedis: redis,
        outcomeSweepMs: 100,
        ...options,
      });
      cleanups.push(() => bridge.close());
      return bridge;
    },
    scanJobIds: () => scanQueue.queue.getRanges(['wait', 'prioritized', 'delayed', 'active'], 0, -1),
    async deadLetterEntries() {
      const jobs = await deadLetters.queue.getJobs(['wait', 'prioritized'], 0, -1);
      return jobs.map((j) => j.data as DeadLetter);
    },
  };
  return h;
}

const ids = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `evt_${tag}_${i}`).sort();

async function allCommitted(h: Harness): Promise<boolean> {
  const end = [...(await endOffsets(kafka, h.topic)).values()].reduce((a, b) => a + b, 0);
  return (await committedTotal(kafka, h.groupId, h.topic)) === end;
}

function spawnBridge(h: Harness, env: Record<string, string>): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  let stderr = '';
  const child = spawn(process.execPath, ['dist/workers/kafka-bridge.js'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      KAFKA_BROKERS: mock.brokers.join(','),
      KAFKA_TOPIC: h.topic,
      KAFKA_GROUP_ID: h.groupId,
      // A SIGKILLed member keeps its partitions until its session expires; keep that short in tests.
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      REDIS_URL,
      VIGIL_QUEUE_PREFIX: h.prefix,
      VIGIL_SCAN_QUEUE: SCAN,
      VIGIL_DEAD_LETTER_QUEUE: DLQ,
      VIGIL_LOG_LEVEL: 'info',
      ...env,
    },
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr = (stderr + s).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return { child, exited, stderr: () => stderr };
}

describe('KafkaBridge', () => {
  it('turns 10k records produced before its first start into exactly 10k scan jobs, and commits them', async () => {
    const h = harness('kbulk');
    // Produced before the group exists: a new group must start from the earliest offset.
    await produce(kafka, h.topic, eventRecords('bulk', 10_000));
    const bridge = h.bridge();
    await bridge.start();
    await bridge.start(); // idempotent
    await waitFor('all records enqueued and committed', async () => ((await allCommitted(h)) ? true : undefined), 45_000);
    expect(bridge.stats().enqueued).toBe(10_000);
    expect(await h.scanJobIds().then((j) => j.sort())).toEqual(ids('bulk', 10_000));
    expect(await h.deadLetterEntries()).toEqual([]);
    const job = await h.scanQueue.queue.getJob('evt_bulk_42');
    expect(job?.data).toMatchObject({ eventId: 'evt_bulk_42', schema: 'vigil.message.v1', priority: 'normal' });
    await bridge.close();
    await bridge.close(); // idempotent
  });

  it('dead-letters poison records with their coordinates and a typed reason, never their content, and keeps the partition flowing', async () => {
    const h = harness('kpoison');
    const SECRET = 'PRIVATE-MESSAGE-CONTENT-7f3a';
    const tooLongText = JSON.stringify(messageEvent('poison', 900, { text: `${SECRET} ${'x'.repeat(300)}` }));
    const wrongSchema = JSON.stringify({ ...messageEvent('poison', 901), schema: 'vigil.message.v0', text: SECRET });
    const records: TestRecord[] = [
      { value: JSON.stringify(messageEvent('poison', 0)) },
      { value: `{"text": "${SECRET}", not json` },
      { value: wrongSchema },
      { value: tooLongText },
      { value: `${SECRET}${'y'.repeat(5000)}` },
      { value: null },
      ...eventRecords('poison', 49, 1),
    ].map((r) => ({ ...r, partition: 2 }));
    await produce(kafka, h.topic, records);
    const bridge = h.bridge({ limits: { maxTextBytes: 200, maxMediaItems: 2, maxMediaBytes: 1024 }, maxRecordBytes: 4096 });
    await bridge.start();
    await waitFor('partition 2 committed to its end', async () => ((await allCommitted(h)) ? true : undefined));

    expect(await h.scanJobIds().then((j) => j.sort())).toEqual(ids('poison', 50));
    const dead = (await h.deadLetterEntries()).sort(
      (a, b) => Number((a.origin as { offset: string }).offset) - Number((b.origin as { offset: string }).offset),
    );
    expect(dead.map((d) => [d.code, d.origin, d.eventId])).toEqual([
      ['EVENT_NOT_JSON', { kind: 'kafka', topic: h.topic, partition: 2, offset: '1' }, undefined],
      ['EVENT_INVALID', { kind: 'kafka', topic: h.topic, partition: 2, offset: '2' }, 'evt_poison_901'],
      ['TEXT_TOO_LARGE', { kind: 'kafka', topic: h.topic, partition: 2, offset: '3' }, 'evt_poison_900'],
      ['EVENT_TOO_LARGE', { kind: 'kafka', topic: h.topic, partition: 2, offset: '4' }, undefined],
      ['EVENT_INVALID', { kind: 'kafka', topic: h.topic, partition: 2, offset: '5' }, undefined],
    ]);
    expect(dead[3]?.message).toMatch(/over the 4096-byte limit/);
    expect(dead[4]?.message).toMatch(/no value/);
    expect(bridge.stats()).toMatchObject({ enqueued: 50, deadLettered: 5 });
    expect(await h.metrics.deadLettered.get().then((m) => m.values.reduce((s, v) => s + v.value, 0))).toBe(5);
    // Neither the dead-letter entries nor the logs carry the records' content.
    expect(JSON.stringify(dead)).not.toContain(SECRET);
    expect(h.logs.join('')).not.toContain(SECRET);
    expect(h.logs.join('')).toContain('poison record dead-lettered');
  });

  it('two bridges in one group split the partitions and together deliver every event once', async () => {
    const h = harness('kpair');
    // Create the topic (4 partitions on the mock) before the group forms, so both members get some.
    await endOffsets(kafka, h.topic);
    const assignments = new Map<KafkaBridge, number[]>();
    // A short session: should a member leave or stall, the mock reassigns its partitions quickly.
    const a = h.bridge({ sessionTimeoutMs: 6000 });
    const b = h.bridge({ sessionTimeoutMs: 6000 });
    for (const bridge of [a, b])
      bridge.consumer.on(bridge.consumer.events.GROUP_JOIN, ({ payload }) => assignments.set(bridge, payload.memberAssignment[h.topic] ?? []));
    await Promise.all([a.start(), b.start()]);
    await waitFor(
      'the two bridges to split the 4 partitions',
      async () => {
        const [x = [], y = []] = [assignments.get(a), assignments.get(b)];
        const union = [...x, ...y].sort();
        return x.length > 0 && y.length > 0 && union.join() === '0,1,2,3' ? true : undefined;
      },
      45_000,
    );

    await produce(kafka, h.topic, eventRecords('pair', 10_000));
    await waitFor('all records enqueued and committed', async () => ((await allCommitted(h)) ? true : undefined), 45_000);
    expect(a.stats().enqueued).toBeGreaterThan(0);
    expect(b.stats().enqueued).toBeGreaterThan(0);
    expect(a.stats().enqueued + b.stats().enqueued).toBe(10_000);
    expect(await h.scanJobIds().then((j) => j.sort())).toEqual(ids('pair', 10_000));
    // Together: one member leaving alone would make the other wait for a rebalance.
    await Promise.all([a.close(), b.close()]);
  });

  it('pauses its partitions at the high watermark while no worker drains the queue, and resumes after the drain', async () => {
    const h = harness('kpress');
    const HIGH = 1000;
    const LOW = 200;
    await produce(kafka, h.topic, eventRecords('press', 5000));
    const bridge = h.bridge({ highWatermark: HIGH, lowWatermark: LOW });
    await bridge.start();
    await waitFor('the bridge to pause', async () => (bridge.stats().paused ? true : undefined), 45_000);
    expect(await h.scanQueue.backlog()).toBeLessThanOrEqual(HIGH);
    expect(bridge.stats().enqueued).toBeLessThan(5000);
    expect(await h.metrics.bridgePausedNow.get().then((m) => m.values[0]?.value)).toBe(1);
    expect(h.logs.join('')).toContain('partitions paused');

    // Workers come back: drain the queue, and watch the backlog never pass the high watermark.
    const seen = new Set<string>();
    let maxBacklog = 0;
    const worker = new Worker(SCAN, async (job) => void seen.add(job.id!), { connection: createRedis(REDIS_URL, 'worker'), prefix: h.prefix, concurrency: 50 });
    cleanups.push(() => worker.close());
    await waitFor(
      'every event scanned',
      async () => {
        maxBacklog = Math.max(maxBacklog, await h.scanQueue.backlog());
        return seen.size === 5000 ? true : undefined;
      },
      45_000,
    );
    expect(maxBacklog).toBeLessThanOrEqual(HIGH);
    expect([...seen].sort()).toEqual(ids('press', 5000));
    const stats = bridge.stats();
    expect(stats.pauses).toBeGreaterThanOrEqual(1);
    expect(stats.resumes).toBeGreaterThanOrEqual(1);
    expect(stats.enqueued).toBe(5000);
    expect(await h.metrics.bridgePaused.get().then((m) => m.values[0]?.value)).toBe(stats.pauses);
    expect(h.logs.join('')).toContain('partitions resumed');
  });

  it('loses nothing when the bridge process is SIGKILLed halfway: a restart replays, the queue absorbs duplicates', async () => {
    const h = harness('kkill');
    await produce(kafka, h.topic, eventRecords('kill', 10_000));
    // The high watermark guarantees the first bridge is killed before it is done, without timing.
    const first = spawnBridge(h, { VIGIL_BRIDGE_HIGH_WATERMARK: '6000', VIGIL_BRIDGE_LOW_WATERMARK: '1000' });
    await waitFor('a third of the events enqueued', async () => ((await h.scanQueue.backlog()) >= 3000 ? true : undefined), 45_000).catch((err: Error) => {
      throw new Error(`${err.message}; bridge stderr: ${first.stderr().slice(-2000)}`);
    });
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    const enqueuedBeforeKill = await h.scanQueue.backlog();
    expect(enqueuedBeforeKill).toBeLessThan(10_000);

    // The service commits on outcome: with no worker nothing is final, so nothing was committed and
    // the second bridge replays everything; the queue's jobIds absorb what the first one enqueued.
    expect(await committedTotal(kafka, h.groupId, h.topic)).toBeLessThanOrEqual(0);
    const second = spawnBridge(h, { VIGIL_BRIDGE_HIGH_WATERMARK: '100000', VIGIL_BRIDGE_LOW_WATERMARK: '1000' });
    await waitFor('all records enqueued', async () => ((await h.scanQueue.backlog()) === 10_000 ? true : undefined), 50_000).catch((err: Error) => {
      throw new Error(`${err.message}; bridge stderr: ${second.stderr().slice(-2000)}`);
    });
    expect(await h.scanJobIds().then((j) => j.sort())).toEqual(ids('kill', 10_000));

    // SIGTERM: graceful stop, exit 0.
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.stderr()).toContain('"msg":"stopped"');
  }, 120_000);

  it('commits on outcome: nothing while the scan jobs wait, everything once a worker has finished them', async () => {
    const h = harness('koutcome');
    const records: TestRecord[] = [...eventRecords('outcome', 600), { value: '{not json' }].map((r, i) => ({ ...r, partition: i % 2 }));
    await produce(kafka, h.topic, records);
    const bridge = h.bridge({ commitOn: 'outcome' });
    await bridge.start();
    await waitFor('all enqueued', async () => ((await h.scanQueue.backlog()) === 600 ? true : undefined), 45_000);
    // Nothing is final yet: the offsets stay where they were (a tracker sweep has run since).
    await waitFor('a sweep to see 600 unsettled', async () => (bridge.stats().unsettled === 601 || bridge.stats().unsettled === 600 ? true : undefined));
    expect(await committedTotal(kafka, h.groupId, h.topic)).toBeLessThanOrEqual(0);
    const worker = new Worker(SCAN, async () => undefined, { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix: h.prefix, concurrency: 50 });
    cleanups.push(() => worker.close());
    await waitFor('all committed once the jobs finished', async () => ((await allCommitted(h)) ? true : undefined), 45_000);
    expect(bridge.stats()).toMatchObject({ unsettled: 0, queueRestarts: 0 });
  });
});
