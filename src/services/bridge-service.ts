/**
 * A running Kafka bridge with everything it owns: Redis connection, scan and dead-letter queues,
 * KafkaJS consumer, metrics server. `stop()` finishes the chunk in hand, commits what was enqueued,
 * leaves the group, then releases the rest. Idempotent.
 */
import { contractLimits, describeConfig, type Config } from '../config.js';
import { createRedis, waitForRedis } from '../adapters/bullmq/connection.js';
import { BullDeadLetterSink, BullScanQueue } from '../adapters/bullmq/queues.js';
import { KafkaBridge } from '../adapters/kafka/bridge.js';
import { createKafka } from '../adapters/kafka/client.js';
import { createMetrics, serveMetrics, type Metrics } from '../adapters/metrics.js';
import type { Logger } from '../logger.js';
import { stopOnSignals } from './signals.js';

export interface BridgeService {
  bridge: KafkaBridge;
  metrics: Metrics;
  stop(): Promise<void>;
  /** Settles when the consumer crashed for good; the entry point should then exit non-zero. */
  fatal: Promise<Error>;
}

export async function startBridgeService(config: Config, logger: Logger): Promise<BridgeService> {
  logger.info({ config: describeConfig(config) }, 'starting kafka bridge');
  const kafka = createKafka(config, logger);
  // Producer role: an enqueue that cannot happen must fail fast, so its offset is not committed.
  const redis = createRedis(config.redisUrl, 'producer');
  await waitForRedis(redis, 10_000);
  const metrics = createMetrics();
  const settings = { connection: redis, prefix: config.queuePrefix, dedupeTtlMs: config.dedupeTtlMs };
  const scanQueue = new BullScanQueue({
    ...settings,
    name: config.scanQueue,
    attempts: config.maxAttempts,
    backoffMs: config.backoffMs,
    failedRetentionS: config.failedRetentionS,
  });
  const deadLetters = new BullDeadLetterSink(config.deadLetterQueue, settings);
  let onFatal: (err: Error) => void = () => undefined;
  const fatal = new Promise<Error>((resolve) => (onFatal = resolve));
  const bridge = new KafkaBridge({
    kafka,
    topic: config.kafkaTopic,
    groupId: config.kafkaGroupId,
    scanQueue,
    deadLetters,
    logger,
    metrics,
    limits: contractLimits(config),
    highWatermark: config.bridgeHighWatermark,
    lowWatermark: config.bridgeLowWatermark,
    sessionTimeoutMs: config.kafkaSessionTimeoutMs,
    // Offsets are committed once outcomes are final, learnt from the queue Redis.
    queueRedis: redis,
    onFatal,
  });
  const release = async () => {
    await Promise.all([scanQueue.close(), deadLetters.close()]);
    await redis.quit().catch(() => redis.disconnect());
  };
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>>;
  try {
    metricsServer = await serveMetrics(metrics, config.metricsPort, config.metricsHost);
    await bridge.start();
  } catch (err) {
    // Brokers unreachable, bad credentials, port taken: release what is open so the process can exit.
    await bridge.close().catch(() => undefined);
    await release();
    throw err;
  }
  logger.info({ topic: config.kafkaTopic, groupId: config.kafkaGroupId, scanQueue: config.scanQueue, metricsPort: metricsServer?.port }, 'kafka bridge ready');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('stopping: finishing the chunk in hand');
      await bridge.close();
      await Promise.all([release(), metricsServer?.close()]);
      logger.info('stopped');
    })());
  return { bridge, metrics, stop, fatal };
}

/**
 * Runs the bridge until SIGTERM/SIGINT (exit code 0) or a fatal consumer crash (1). Start-up failures
 * (brokers or Redis unreachable, bad config) are logged and give 1.
 */
export async function runBridge(config: Config, logger: Logger): Promise<number> {
  let service: BridgeService;
  try {
    service = await startBridgeService(config, logger);
  } catch (err) {
    logger.fatal({ err }, 'kafka bridge failed to start');
    return 1;
  }
  const stopped = stopOnSignals(service.stop, logger).then(() => (typeof process.exitCode === 'number' ? process.exitCode : 0));
  const crashed = service.fatal.then(async () => {
    await service.stop().catch((err: unknown) => logger.error({ err }, 'error while stopping'));
    return 1;
  });
  return Promise.race([stopped, crashed]);
}
