/**
 * Mirrors flags to a Kafka topic for consumers that live on Kafka (analytics, other trust & safety
 * tooling). The moderation queue stays the system of record: a flag is produced to Kafka only after it
 * is on the moderation queue, and a failed produce fails the emit, so the scan job is retried and both
 * sinks see the flag again. Delivery to Kafka is therefore at-least-once; consumers dedupe by `flagId`
 * (also sent as a header so they can without parsing the value).
 */
import type { Producer, ProducerRecord, RecordMetadata } from 'kafkajs';
import type { Config } from '../../config.js';
import type { Flag } from '../../core/contracts.js';
import { VigilError } from '../../core/errors.js';
import type { FlagSink } from '../../core/ports.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../metrics.js';
import { createKafka, createProducer, type KafkaClientConfig } from './client.js';

/** The part of a KafkaJS producer the mirror uses. */
export interface FlagProducer {
  send(record: ProducerRecord): Promise<RecordMetadata[]>;
}

export class MirroredFlagSink implements FlagSink {
  readonly #inner: FlagSink;
  readonly #producer: FlagProducer;
  readonly #topic: string;
  readonly #metrics: Metrics | undefined;

  constructor(inner: FlagSink, producer: FlagProducer, topic: string, metrics?: Metrics) {
    this.#inner = inner;
    this.#producer = producer;
    this.#topic = topic;
    this.#metrics = metrics;
  }

  async emit(flags: readonly Flag[]): Promise<void> {
    if (flags.length === 0) return;
    await this.#inner.emit(flags);
    try {
      await this.#producer.send({
        topic: this.#topic,
        // All in-sync replicas: a flag acknowledged here survives a broker loss.
        acks: -1,
        // Keyed by conversation so one conversation's flags stay ordered on one partition. Flags carry no content.
        messages: flags.map((f) => ({ key: f.conversationId, value: JSON.stringify(f), headers: { schema: f.schema, flagId: f.flagId } })),
      });
    } catch (err) {
      throw new VigilError('QUEUE_UNAVAILABLE', `produce ${flags.length} flag(s) to Kafka topic ${this.#topic} failed`, { cause: err });
    }
    this.#metrics?.flagsMirrored.inc(flags.length);
  }
}

export interface FlagMirror {
  /** Wraps the moderation-queue sink (the scan service does this when KAFKA_FLAG_TOPIC is set). */
  decorate(inner: FlagSink): FlagSink;
  /** Disconnects the producer. Idempotent. */
  close(): Promise<void>;
}

/** Connects a producer when `kafkaFlagTopic` is set; undefined when mirroring is off. */
export async function connectFlagMirror(
  config: KafkaClientConfig & Pick<Config, 'kafkaFlagTopic'>,
  logger: Logger,
  metrics?: Metrics,
): Promise<FlagMirror | undefined> {
  const topic = config.kafkaFlagTopic;
  if (topic === undefined) return undefined;
  const producer: Producer = createProducer(createKafka(config, logger));
  await producer.connect();
  logger.info({ topic }, 'mirroring flags to Kafka');
  let closing: Promise<void> | undefined;
  return {
    decorate: (inner) => new MirroredFlagSink(inner, producer, topic, metrics),
    close: () => (closing ??= producer.disconnect()),
  };
}
