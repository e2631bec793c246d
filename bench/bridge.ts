/**
 * `npm run bench -- bridge [--records N] [--events N]`: records/s from a Kafka topic to the scan queue
 * through the KafkaBridge (parse + validate + BullMQ addBulk), committing on outcome (the default:
 * outcome tracking sweeps) and, as the baseline of that tracking's cost, committing on enqueue; next
 * to a bare KafkaJS consume loop on the same topic, and the scan worker's text-only throughput, all
 * measured in this run. Broker: librdkafka's mock cluster (kcat, 3 brokers, 4 partitions); Redis:
 * REDIS_URL or 127.0.0.1:6379, on throwaway prefixes deleted afterwards. Bridge rates are timed from
 * the first enqueue to the last, so group-join time is excluded.
 */
import { built, intArg } from './_shared.js';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { defaultScanConcurrency as scanConcurrency, vigilTextRate } from './pipeline.js';
import type { Kafka } from 'kafkajs';
import type * as Connection from '../src/adapters/bullmq/connection.js';
import type * as Queues from '../src/adapters/bullmq/queues.js';
import type * as BridgeModule from '../src/adapters/kafka/bridge.js';
import type { BatchScanQueue } from '../src/adapters/kafka/bridge.js';
import type * as KafkaClient from '../src/adapters/kafka/client.js';
import type { MessageEvent } from '../src/core/contracts.js';
import type * as LoggerModule from '../src/logger.js';
import { startKafkaMock } from '../test/helpers/kafka-mock.js';
import { deletePrefix } from '../test/helpers/redis.js';
const { createLogger } = await built<typeof LoggerModule>('logger.js');
const { createKafka, createProducer } = await built<typeof KafkaClient>('adapters/kafka/client.js');
const { KafkaBridge } = await built<typeof BridgeModule>('adapters/kafka/bridge.js');
const { BullDeadLetterSink, BullScanQueue } = await built<typeof Queues>('adapters/bullmq/queues.js');
const { createRedis } = await built<typeof Connection>('adapters/bullmq/connection.js');

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger('silent');

function record(i: number): { key: string; value: string } {
  const conversationId = `conv_${i % 997}`;
  return {
    key: conversationId,
    value: JSON.stringify({
      schema: 'vigil.message.v1',
      eventId: `evt_bench_${i}`,
      messageId: `msg_bench_${i}`,
      conversationId,
      senderId: `user_${i % 101}`,
      recipientIds: [`user_${(i + 1) % 101}`],
      sentAt: '2024-05-01T12:00:00Z',
      text: `benchmark message ${i}: are we still on for lunch tomorrow at the usual place?`,
    }),
  };
}

async function produceAll(kafka: Kafka, topic: string, n: number): Promise<number> {
  const producer = createProducer(kafka);
  await producer.connect();
  const t0 = performance.now();
  const batch = 5000;
  for (let i = 0; i < n; i += batch) {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: Math.min(batch, n - i) }, (_, j) => record(i + j)) });
  }
  const s = (performance.now() - t0) / 1000;
  await producer.disconnect();
  return n / s;
}

/** The baseline: a consumer group that only counts records (auto-resolve, auto-commit). */
async function bareConsume(kafka: Kafka, topic: string, n: number): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-bare-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let seen = 0;
  let first = 0;
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        if (first === 0) first = performance.now();
        seen += batch.messages.length;
        if (seen >= n) resolve(performance.now());
      },
    });
  });
  const last = await done;
  await consumer.disconnect();
  return n / ((last - first) / 1000);
}

/** Times the bridge from its first enqueue to the Nth; the real queue does the work. */
class TimedQueue implements BatchScanQueue {
  first = 0;
  last = 0;
  count = 0;
  constructor(
    private readonly inner: InstanceType<typeof BullScanQueue>,
    private readonly n: number,
    private readonly onDone: () => void,
  ) {}
  publish(event: MessageEvent): Promise<void> {
    return this.publishBatch([event]);
  }
  async publishBatch(events: readonly MessageEvent[]): Promise<void> {
    if (this.first === 0) this.first = performance.now();
    await this.inner.publishBatch(events);
    this.count += events.length;
    if (this.count >= this.n && this.last === 0) {
      this.last = performance.now();
      this.onDone();
    }
  }
  backlog(): Promise<number> {
    return this.inner.backlog();
  }
  jobKey(jobId: string): string {
    return this.inner.jobKey(jobId);
  }
}

async function bridgeRate(
  kafka: Kafka,
  topic: string,
  n: number,
  prefix: string,
  commitOn: 'outcome' | 'enqueue',
): Promise<{ rate: number; jobs: number; unsettled: number }> {
  const redis = createRedis(REDIS_URL, 'producer');
  const settings = { connection: redis, prefix, dedupeTtlMs: 3_600_000 };
  const scan = new BullScanQueue({ ...settings, name: 'scan', failedRetentionS: 60 });
  const dead = new BullDeadLetterSink('dead', settings);
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const timed = new TimedQueue(scan, n, finished);
  // Watermarks out of the way: this measures throughput; backpressure is covered by the tests.
  // No worker drains the queue, so with commitOn 'outcome' every record stays open and every sweep
  // checks the oldest 5000 per partition: the tracking's worst case.
  const bridge = new KafkaBridge({
    kafka,
    topic,
    groupId: `bench-bridge-${randomBytes(4).toString('hex')}`,
    scanQueue: timed,
    deadLetters: dead,
    logger,
    highWatermark: 10 * n,
    lowWatermark: n,
    commitOn,
    queueRedis: redis,
  });
  await bridge.start();
  await done;
  const unsettled = bridge.stats().unsettled;
  await bridge.close();
  const jobs = await scan.backlog();
  await Promise.all([scan.close(), dead.close()]);
  redis.disconnect();
  await deletePrefix(prefix);
  return { rate: n / ((timed.last - timed.first) / 1000), jobs, unsettled };
}

export async function run(args: string[]): Promise<string> {
  const n = intArg(args, 'records', 40_000);
  const load = loadavg()[0] ?? 0;
  const mock = await startKafkaMock({ brokers: 3 });
  const prefix = `bench-bridge-${randomBytes(4).toString('hex')}`;
  try {
    const kafka = createKafka(
      {
        kafkaBrokers: mock.brokers.join(','),
        kafkaClientId: 'vigil-bench',
        kafkaSsl: false,
        kafkaSaslMechanism: undefined,
        kafkaSaslUsername: undefined,
        kafkaSaslPassword: undefined,
      },
      logger,
    );
    const topic = `bench.messages.${randomBytes(4).toString('hex')}`;
    const produced = await produceAll(kafka, topic, n);
    // The mock keeps only a few MB per partition and silently drops the oldest records beyond that;
    // a run whose records were trimmed would measure nothing meaningful.
    const admin = kafka.admin();
    await admin.connect();
    const trimmed = (await admin.fetchTopicOffsets(topic)).filter((p) => p.low !== '0');
    await admin.disconnect();
    if (trimmed.length)
      throw new Error(
        `the mock cluster trimmed partition(s) ${trimmed.map((p) => p.partition).join(', ')} (it keeps a few MB per partition); use fewer --records`,
      );
    const rounds = intArg(args, 'rounds', 2);
    const bare = await bareConsume(kafka, topic, n);
    const outcome: number[] = [];
    const enqueue: number[] = [];
    let unsettled = 0;
    for (let r = 0; r < rounds; r++) {
      // Interleaved, each on a fresh group and prefix, so load drifts hit both alike.
      // The order alternates per round, so neither mode always runs first.
      const run = async (mode: 'outcome' | 'enqueue') => {
        const m = await bridgeRate(kafka, topic, n, `${prefix}-${mode}${r}`, mode);
        if (m.jobs !== n) throw new Error(`bridge left ${m.jobs} scan jobs for ${n} records`);
        return m;
      };
      const [first, second] = r % 2 === 0 ? (['outcome', 'enqueue'] as const) : (['enqueue', 'outcome'] as const);
      const a = await run(first);
      const b = await run(second);
      const o = first === 'outcome' ? a : b;
      const e = first === 'outcome' ? b : a;
      unsettled = o.unsettled;
      outcome.push(o.rate);
      enqueue.push(e.rate);
      process.stderr.write(`round ${r + 1}: outcome ${o.rate.toFixed(0)}/s, enqueue ${e.rate.toFixed(0)}/s\n`);
    }
    // The target's reference, measured here too: the scan worker on text-only events.
    const workerEvents = intArg(args, 'events', 10_000);
    const worker = await vigilTextRate(workerEvents, scanConcurrency);
    const best = (xs: number[]) => Math.max(...xs);
    const k = (x: number) => `${(x / 1000).toFixed(1)}k`;
    const ratio = best(outcome) / worker;
    return `## Kafka bridge (\`npm run bench -- bridge --records ${n} --rounds ${rounds} --events ${workerEvents}\`)

${n.toLocaleString('en-US')} \`vigil.message.v1\` events (~330 bytes, text only) on a 4-partition topic of librdkafka's mock
cluster (3 brokers, via kcat), default settings, one consumer each; bridge rates timed from the first enqueue to the last,
best of ${rounds} interleaved rounds (the two modes' order alternates per round). 1-minute load average when the run started: ${load.toFixed(1)} on ${cpus().length} cores
(a machine shared with other work: absolute figures move with it; the ratios are measured side by side).

| path | records/s | all rounds |
|---|---|---|
| produce (KafkaJS, acks=all, batches of 5000) | ${k(produced)} | |
| bare KafkaJS consume loop (baseline, same run) | ${k(bare)} | |
| KafkaBridge, commit on enqueue (the old behaviour; baseline for the tracking's cost) | ${k(best(enqueue))} | ${enqueue.map(k).join(', ')} |
| **KafkaBridge, commit on outcome** (default: parse, validate, addBulk with jobId + dedupe key, outcome sweeps) | **${k(best(outcome))}** | ${outcome.map(k).join(', ')} |
| Vigil scan worker, text only (\`bench/pipeline.ts\` on its private redis-server, ${workerEvents.toLocaleString('en-US')} events, concurrency ${scanConcurrency} (the default), same run) | ${k(worker)} | |

Cost of tracking outcomes: commit on outcome runs at ${(best(outcome) / best(enqueue)).toFixed(2)}× the rate of commit on enqueue. No worker drains
the queue during the bridge rounds, so every record stays open (${unsettled.toLocaleString('en-US')} unsettled at the end of the last round) and every
sweep (every 200 ms) reads, in one MULTI with \`INFO server\`, the job hashes of the oldest open records of each partition
(a window that shrinks to 64 while the oldest is pending and doubles up to 5,000 while whole windows are settled). Bridge / bare consume: ${(best(outcome) / bare).toFixed(2)}×.
Target: bridge ≥ 2× the scan worker's text-only throughput measured in this run: ${ratio.toFixed(1)}× — ${ratio >= 2 ? 'met' : '**not met**'}.
Most of the bridge's time is BullMQ's per-job add script in Redis; more bridge processes in the group scale it out.`;
  } finally {
    await mock.stop();
    await deletePrefix(prefix);
  }
}
