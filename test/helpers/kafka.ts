/** Small Kafka helpers for tests: a client on the mock cluster, a batch producer, offsets, fixtures. */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { MessageEventInput } from '../../src/core/contracts.js';
import { createKafka, createProducer } from '../../src/adapters/kafka/client.js';
import { createLogger } from '../../src/logger.js';

export const silentLogger = createLogger('silent');

export function testKafka(brokers: string[], clientId = 'vigil-test'): Kafka {
  return createKafka(
    {
      kafkaBrokers: brokers.join(','),
      kafkaClientId: clientId,
      kafkaSsl: false,
      kafkaSaslMechanism: undefined,
      kafkaSaslUsername: undefined,
      kafkaSaslPassword: undefined,
    },
    silentLogger,
  );
}

export function uniqueName(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/** A valid, benign vigil.message.v1 event; ids are deterministic from `tag` and `i`. */
export function messageEvent(tag: string, i: number, extra: Partial<MessageEventInput> = {}): MessageEventInput {
  return {
    schema: 'vigil.message.v1',
    eventId: `evt_${tag}_${i}`,
    messageId: `msg_${tag}_${i}`,
    conversationId: `conv_${i % 97}`,
    senderId: `user_${i % 13}`,
    recipientIds: [`user_${(i + 1) % 13}`],
    sentAt: '2024-05-01T12:00:00Z',
    text: `hello number ${i}, see you at the park`,
    ...extra,
  };
}

export interface TestRecord {
  value: string | Buffer | null;
  key?: string;
  partition?: number;
}

/** Produces in big batches (acks from all replicas), without idempotence: the mock refuses it. */
export async function produce(kafka: Kafka, topic: string, records: readonly TestRecord[], batchSize = 2000): Promise<void> {
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += batchSize) {
      await producer.send({ topic, acks: -1, messages: records.slice(i, i + batchSize).map((r) => ({ ...r })) });
    }
  } finally {
    await producer.disconnect();
  }
}

export function eventRecords(tag: string, count: number, from = 0): TestRecord[] {
  return Array.from({ length: count }, (_, j) => {
    const e = messageEvent(tag, from + j);
    return { key: e.conversationId, value: JSON.stringify(e) };
  });
}

/** Sum over partitions of the group's committed offsets (uncommitted partitions count 0). */
export async function committedTotal(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (t?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Per-partition end offsets (high watermarks). */
export async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  } finally {
    await admin.disconnect();
  }
}
