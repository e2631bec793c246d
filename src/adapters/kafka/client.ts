/**
 * KafkaJS client from the validated config: brokers, TLS and SASL passed through. KafkaJS's own logs
 * are routed into pino at warn level and reduced to an allow-list of fields, because KafkaJS log
 * entries can carry arbitrary objects (stack traces, request payloads) and record values must never
 * reach a log.
 */
import { Kafka, Partitioners, logLevel, type KafkaConfig, type LogEntry, type Producer, type SASLOptions } from 'kafkajs';
import type { Config } from '../../config.js';
import { VigilError } from '../../core/errors.js';
import type { Logger } from '../../logger.js';

export type KafkaClientConfig = Pick<Config, 'kafkaBrokers' | 'kafkaClientId' | 'kafkaSsl' | 'kafkaSaslMechanism' | 'kafkaSaslUsername' | 'kafkaSaslPassword'>;

/** Fields of a KafkaJS log entry that are ids, coordinates or counters: safe to keep. */
const SAFE_LOG_FIELDS = [
  'groupId',
  'memberId',
  'topic',
  'partition',
  'offset',
  'broker',
  'clientId',
  'retryCount',
  'retryTime',
  'nodeId',
  'generationId',
] as const;

export function parseBrokers(list: string | undefined): string[] {
  const brokers = (list ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) throw new VigilError('CONFIG_INVALID', 'KAFKA_BROKERS is not set (comma-separated host:port list)');
  const bad = brokers.find((b) => !/^[^\s:/]+:\d{1,5}$/.test(b) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(b));
  if (bad !== undefined) throw new VigilError('CONFIG_INVALID', `KAFKA_BROKERS: "${bad}" is not host:port`);
  return brokers;
}

function saslOptions(config: KafkaClientConfig): SASLOptions | undefined {
  const mechanism = config.kafkaSaslMechanism;
  if (mechanism === undefined) return undefined;
  const username = config.kafkaSaslUsername;
  const password = config.kafkaSaslPassword;
  if (username === undefined || password === undefined)
    throw new VigilError('CONFIG_INVALID', `KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`);
  return { mechanism, username, password };
}

/** KafkaJS log level → pino, keeping only safe fields. */
export function kafkaLogCreator(logger: Logger): () => (entry: LogEntry) => void {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const fields: Record<string, unknown> = { namespace };
      const source = log as unknown as Record<string, unknown>;
      for (const key of SAFE_LOG_FIELDS) if (source[key] !== undefined) fields[key] = source[key];
      // KafkaJS puts the error's message in `error`; ours never quote content, and broker errors are protocol text.
      if (typeof source.error === 'string') fields.error = source.error;
      const message = typeof log.message === 'string' ? log.message : 'kafkajs';
      if (level === logLevel.ERROR) child.error(fields, message);
      else if (level === logLevel.WARN) child.warn(fields, message);
      else if (level === logLevel.INFO) child.info(fields, message);
      else child.debug(fields, message);
    };
}

export function createKafka(config: KafkaClientConfig, logger: Logger, extra: Partial<KafkaConfig> = {}): Kafka {
  const sasl = saslOptions(config);
  return new Kafka({
    clientId: config.kafkaClientId,
    brokers: parseBrokers(config.kafkaBrokers),
    ...(config.kafkaSsl ? { ssl: true } : {}),
    ...(sasl ? { sasl } : {}),
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    ...extra,
  });
}

/**
 * A plain (non-idempotent) producer: librdkafka's mock cluster and some managed offerings refuse
 * idempotent producers, and every consumer of ours dedupes by id anyway. The partitioner is named
 * explicitly so KafkaJS does not warn about its v2 default change.
 */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: false, allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
}
