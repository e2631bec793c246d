/**
 * Reviewer decisions from a Kafka topic (VIGIL_DECISIONS_KAFKA_TOPIC), for moderation tooling that
 * speaks Kafka rather than BullMQ. Consumer group KAFKA_GROUP_ID + "-decisions" (its own offsets,
 * never the bridge's). A record's offset is committed once its decision is counted or dead-lettered;
 * a ledger that does not answer throws, so KafkaJS retries the record (counting is idempotent per flag).
 */
import type { Consumer, Kafka } from 'kafkajs';
import type { DecisionHandler } from '../../services/decision-job.js';
import type { Logger } from '../../logger.js';

export interface KafkaDecisionConsumerOptions {
  kafka: Kafka;
  topic: string;
  groupId: string;
  handle: DecisionHandler;
  logger: Logger;
  onFatal?: (err: Error) => void;
}

export class KafkaDecisionConsumer {
  readonly consumer: Consumer;
  readonly #o: KafkaDecisionConsumerOptions;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: KafkaDecisionConsumerOptions) {
    this.#o = options;
    this.consumer = options.kafka.consumer({ groupId: options.groupId, maxWaitTimeInMs: 1000 });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) options.logger.warn({ err: payload.error }, 'decision consumer crashed; KafkaJS restarts it');
      else {
        options.logger.fatal({ err: payload.error }, 'decision consumer crashed and will not restart');
        options.onFatal?.(payload.error);
      }
    });
  }

  start(): Promise<void> {
    return (this.#starting ??= (async () => {
      await this.consumer.connect();
      // A new group starts at the earliest offset: decisions sent before the first start are counted.
      await this.consumer.subscribe({ topics: [this.#o.topic], fromBeginning: true });
      await this.consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          await this.#o.handle(message.value ?? '', { kind: 'kafka', topic, partition, offset: message.offset });
        },
      });
    })());
  }

  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      await this.#starting?.catch(() => undefined);
      await this.consumer.disconnect();
    })());
  }
}
