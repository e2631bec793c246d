/** The Kafka flag mirror against the mock cluster and the real Redis moderation queue. */
import type { Kafka, ProducerRecord, RecordMetadata } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/adapters/bullmq/connection.js';
import { BullFlagSink } from '../../src/adapters/bullmq/queues.js';
import { createProducer } from '../../src/adapters/kafka/client.js';
import { MirroredFlagSink, connectFlagMirror, type FlagProducer } from '../../src/adapters/kafka/flag-mirror.js';
import { createMetrics } from '../../src/adapters/metrics.js';
import { flagSchema, type Flag } from '../../src/core/contracts.js';
import { VigilError } from '../../src/core/errors.js';
import type { FlagSink } from '../../src/core/ports.js';
import { MemFlagSink } from '../helpers/mem-ports.js';
import { messageEvent, silentLogger, testKafka, uniqueName } from '../helpers/kafka.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { REDIS_URL, deletePrefix, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';
import { createPublisher } from '../../src/publisher.js';
import { startScanService } from '../../src/services/scan-service.js';

let mock: KafkaMock;
let kafka: Kafka;

beforeAll(async () => {
  mock = await startKafkaMock();
  kafka = testKafka(mock.brokers);
});

afterAll(async () => {
  await mock?.stop();
});

function flag(i: number, conversationId: string): Flag {
  return {
    schema: 'vigil.flag.v1',
    flagId: `flg_${i}`,
    eventId: `evt_${i}`,
    messageId: `msg_${i}`,
    conversationId,
    senderId: 'user_1',
    sentAt: '2024-05-01T12:00:00Z',
    eventPriority: 'normal',
    category: 'spam',
    severity: 'medium',
    action: 'review',
    signals: [{ type: 'term', sourceId: 'bank-a', sourceVersion: 'v1', entryId: 't1', span: { start: 0, end: 4 } }],
    policyVersion: 'p1',
    bankVersions: { 'bank-a': 'v1' },
    modelVersions: {},
  };
}

async function readTopic(topic: string, count: number): Promise<{ key: string; flagId: string; flag: Flag; partition: number }[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 200 });
  const out: { key: string; flagId: string; flag: Flag; partition: number }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        out.push({
          key: message.key?.toString() ?? '',
          flagId: message.headers?.flagId?.toString() ?? '',
          flag: flagSchema.parse(JSON.parse(message.value?.toString() ?? 'null')),
          partition,
        });
      },
    });
    await waitFor(`${count} records on ${topic}`, async () => (out.length >= count ? true : undefined), 25_000);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

class RecordingProducer implements FlagProducer {
  readonly records: ProducerRecord[] = [];
  constructor(private readonly fail = false) {}
  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    if (this.fail) throw new Error('broker unreachable');
    this.records.push(record);
    return [];
  }
}

describe('MirroredFlagSink', () => {
  it('puts flags on the moderation queue, then produces them keyed by conversationId; re-emits are deduped by flagId downstream', async () => {
    const prefix = uniquePrefix('kmirror');
    const redis = createRedis(REDIS_URL, 'producer');
    const moderation = new BullFlagSink('moderation', { connection: redis, prefix, dedupeTtlMs: 60_000 });
    const producer = createProducer(kafka);
    await producer.connect();
    const topic = uniqueName('vigil.flags');
    const metrics = createMetrics();
    try {
      const sink = new MirroredFlagSink(moderation, producer, topic, metrics);
      const flags = [flag(1, 'conv_a'), flag(2, 'conv_b'), flag(3, 'conv_a')];
      await sink.emit(flags);
      // A retried scan job emits the same flags again: at-least-once on Kafka, once on the queue.
      await sink.emit(flags);
      await sink.emit([]);

      expect((await moderation.queue.getRanges(['wait', 'prioritized'], 0, -1)).sort()).toEqual(['flg_1', 'flg_2', 'flg_3']);
      const records = await readTopic(topic, 6);
      expect(records).toHaveLength(6);
      for (const r of records) {
        expect(r.key).toBe(r.flag.conversationId);
        expect(r.flagId).toBe(r.flag.flagId);
      }
      expect(new Map(records.map((r) => [r.flagId, r.flag]))).toEqual(new Map(flags.map((f) => [f.flagId, f])));
      // Keyed by conversation: one conversation's flags share a partition.
      const convA = records.filter((r) => r.key === 'conv_a').map((r) => r.partition);
      expect(new Set(convA).size).toBe(1);
      expect(await metrics.flagsMirrored.get().then((m) => m.values[0]?.value)).toBe(6);
    } finally {
      await producer.disconnect();
      await moderation.close();
      redis.disconnect();
      await deletePrefix(prefix);
    }
  });

  it('produces nothing when the moderation queue refused the flags', async () => {
    const failing: FlagSink = {
      emit: () => Promise.reject(new VigilError('QUEUE_UNAVAILABLE', 'enqueue flags on the moderation queue failed')),
    };
    const producer = new RecordingProducer();
    await expect(new MirroredFlagSink(failing, producer, 'flags').emit([flag(1, 'conv_a')])).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE' });
    expect(producer.records).toEqual([]);
  });

  it('fails the emit (so the scan job is retried) when Kafka refuses, after the moderation queue has the flag', async () => {
    const inner = new MemFlagSink();
    const err = await new MirroredFlagSink(inner, new RecordingProducer(true), 'flags').emit([flag(7, 'conv_a')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VigilError);
    expect(err).toMatchObject({ code: 'QUEUE_UNAVAILABLE', retriable: true });
    expect([...inner.flags.keys()]).toEqual(['flg_7']);
  });

  it('connectFlagMirror is off without KAFKA_FLAG_TOPIC and wraps the sink with it', async () => {
    const base = {
      kafkaBrokers: mock.brokers.join(','),
      kafkaClientId: 'vigil-test',
      kafkaSsl: false,
      kafkaSaslMechanism: undefined,
      kafkaSaslUsername: undefined,
      kafkaSaslPassword: undefined,
    };
    expect(await connectFlagMirror({ ...base, kafkaFlagTopic: undefined }, silentLogger)).toBeUndefined();
    const mirror = await connectFlagMirror({ ...base, kafkaFlagTopic: uniqueName('vigil.flags') }, silentLogger);
    expect(mirror).toBeDefined();
    const inner = new MemFlagSink();
    await mirror!.decorate(inner).emit([flag(9, 'conv_c')]);
    expect([...inner.flags.keys()]).toEqual(['flg_9']);
    await mirror!.close();
    await mirror!.close();
  });

  it('a scan worker with KAFKA_FLAG_TOPIC set mirrors its flags to Kafka, keyed by conversation', async () => {
    const prefix = uniquePrefix('mirror-worker');
    const topic = uniqueName('vigil.flags');
    const config = testConfig(prefix, { banksDir: 'config/samples/banks', kafkaBrokers: mock.brokers.join(','), kafkaFlagTopic: topic });
    const service = await startScanService(config, silentLogger);
    const publisher = createPublisher({ connection: REDIS_URL, prefix });
    try {
      await publisher.publish(messageEvent('mirror', 1, { conversationId: 'conv-mirror', text: 'bring the velvet teapot' }));
      const [record] = await readTopic(topic, 1);
      expect(record?.key).toBe('conv-mirror');
      expect(record?.flag).toMatchObject({ eventId: expect.stringContaining('mirror'), category: 'sample_grooming' });
      expect(record?.flagId).toBe(record?.flag.flagId);
    } finally {
      await publisher.close();
      await service.stop();
      await deletePrefix(prefix);
    }
  });
});
