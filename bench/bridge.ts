/**
 * `npm run bench -- bridge [--records N]`: records/s from a Kafka topic to the scan queue through the
 * KafkaBridge (parse + validate + BullMQ addBulk + offset commit), next to a bare KafkaJS consume loop
 * on the same topic in the same run. Broker: librdkafka's mock cluster (kcat, 3 brokers, 4 partitions);
 * Redis: REDIS_URL or 127.0.0.1:6379, on a throwaway prefix that is deleted afterwards.
 * Both rates are timed from the first record received to the last, so group-join time is excluded.
 */
import { built, intArg } from './_shared.js';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
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

async function bridgeRate(kafka: Kafka, topic: string, n: number, prefix: string): Promise<{ rate: number; jobs: number }> {
  const redis = createRedis(REDIS_URL, 'producer');
  const settings = { connection: redis, prefix, dedupeTtlMs: 3_600_000 };
  const scan = new BullScanQueue({ ...settings, name: 'scan', attempts: 3, backoffMs: 1000, failedRetentionS: 60 });
  const dead = new BullDeadLetterSink('dead', settings);
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const timed = new TimedQueue(scan, n, finished);
  // Watermarks out of the way: this measures throughput; backpressure is covered by the tests.
  const bridge = new KafkaBridge({ kafka, topic, groupId: `bench-bridge-${randomBytes(4).toString('hex')}`, scanQueue: timed, deadLetters: dead, logger, highWatermark: 10 * n, lowWatermark: n });
  await bridge.start();
  await done;
  await bridge.close();
  const jobs = await scan.backlog();
  await Promise.all([scan.close(), dead.close()]);
  redis.disconnect();
  return { rate: n / ((timed.last - timed.first) / 1000), jobs };
}


const BENCHMARKS = new URL('../BENCHMARKS.md', import.meta.url);

/**
 * The target is relative to the scan worker's text-only throughput, which the pipeline benchmark
 * measures; read its latest figure from BENCHMARKS.md rather than re-measuring it here.
 */
function workerVerdict(bridgeRate: number): string {
  const doc = existsSync(BENCHMARKS) ? readFileSync(BENCHMARKS, 'utf8') : '';
  const m = /\| Vigil scan worker \| (\d+) \|/.exec(doc);
  if (!m) return 'Target: ≥ 2× the scan worker\'s text-only throughput; run `npm run bench -- pipeline` first to measure that.';
  const worker = Number(m[1]);
  const ratio = bridgeRate / worker;
  return `Target: ≥ 2× the scan worker's text-only throughput (${worker} events/s, the pipeline section): ${ratio.toFixed(1)}× — ${ratio >= 2 ? 'met' : '**not met**'}.`;
}

export async function run(args: string[]): Promise<string> {
  const n = intArg(args, 'records', 40_000);
  const mock = await startKafkaMock({ brokers: 3 });
  const prefix = `bench-bridge-${randomBytes(4).toString('hex')}`;
  try {
    const kafka = createKafka({ kafkaBrokers: mock.brokers.join(','), kafkaClientId: 'vigil-bench', kafkaSsl: false, kafkaSaslMechanism: undefined, kafkaSaslUsername: undefined, kafkaSaslPassword: undefined }, logger);
    const topic = `bench.messages.${randomBytes(4).toString('hex')}`;
    const produced = await produceAll(kafka, topic, n);
    // The mock keeps only a few MB per partition and silently drops the oldest records beyond that;
    // a run whose records were trimmed would measure nothing meaningful.
    const admin = kafka.admin();
    await admin.connect();
    const trimmed = (await admin.fetchTopicOffsets(topic)).filter((p) => p.low !== '0');
    await admin.disconnect();
    if (trimmed.length) throw new Error(`the mock cluster trimmed partition(s) ${trimmed.map((p) => p.partition).join(', ')} (it keeps a few MB per partition); use fewer --records`);
    const bare = await bareConsume(kafka, topic, n);
    const bridge = await bridgeRate(kafka, topic, n, prefix);
    if (bridge.jobs !== n) throw new Error(`bridge left ${bridge.jobs} scan jobs for ${n} records`);
    const k = (x: number) => `${(x / 1000).toFixed(1)}k`;
    return `## Kafka bridge (\`npm run bench -- bridge --records ${n}\`)

${n.toLocaleString('en-US')} \`vigil.message.v1\` events (~330 bytes, text only) on a 4-partition topic of librdkafka's mock
cluster (3 brokers, via kcat), default settings, one consumer each, timed from the first record received to the last.

| path | records/s |
|---|---|
| produce (KafkaJS, acks=all, batches of 5000) | ${k(produced)} |
| bare KafkaJS consume loop (baseline, same run) | ${k(bare)} |
| **KafkaBridge → BullMQ scan queue** (parse, validate, addBulk with jobId + dedupe key, commit after enqueue) | **${k(bridge.rate)}** |

Bridge / bare consume: ${(bridge.rate / bare).toFixed(2)}×. Scan jobs created: ${bridge.jobs.toLocaleString('en-US')} (exactly one per event).
${workerVerdict(bridge.rate)}
The bridge handles 4 partitions at once in chunks of 1000; most of its time is BullMQ's per-job add
script in Redis (\`addBulk\` with jobId and dedupe key). More bridge processes in the group scale it out.`;
  } finally {
    await mock.stop();
    await deletePrefix(prefix);
  }
}
