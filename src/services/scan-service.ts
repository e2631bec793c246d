/**
 * A running scan worker with everything it owns: Redis connection, queues, bank watcher, metrics
 * server. `stop()` finishes jobs in flight, then releases everything, in that order. Idempotent.
 */
import { contractLimits, describeConfig, type Config } from '../config.js';
import { createScanRuntime, type RuntimeHealth } from '../app.js';
import { createRedis, waitForRedis } from '../adapters/bullmq/connection.js';
import { BullDeadLetterSink, BullFlagSink } from '../adapters/bullmq/queues.js';
import { ScanWorker } from '../adapters/bullmq/scan-worker.js';
import { RedisBankStore } from '../adapters/redis-bank-store.js';
import { createMetrics, serveMetrics, type Metrics } from '../adapters/metrics.js';
import { connectFlagMirror } from '../adapters/kafka/flag-mirror.js';
import type { Logger } from '../logger.js';

export interface ScanService {
  worker: ScanWorker;
  /** Readiness: see ScanRuntime.health (bank store lost, no banks loaded). */
  health(): RuntimeHealth;
  metrics: Metrics;
  stop(): Promise<void>;
}

export async function startScanService(config: Config, logger: Logger): Promise<ScanService> {
  logger.info({ config: describeConfig(config) }, 'starting scan worker');
  const redis = createRedis(config.redisUrl, 'worker');
  await waitForRedis(redis, 10_000);
  // Banks on their own connection (the bank store may be another, persistent Redis). Fail-fast role: a
  // bank poll against an unreachable store errors (the worker keeps its snapshot) instead of hanging.
  const bankRedis = createRedis(config.bankRedisUrl, 'producer');
  await waitForRedis(bankRedis, 10_000);
  const metrics = createMetrics();
  const runtime = await createScanRuntime(config, logger, { watch: true, store: new RedisBankStore(bankRedis, config.queuePrefix), metrics });
  const settings = { connection: redis, prefix: config.queuePrefix, dedupeTtlMs: config.dedupeTtlMs };
  const moderation = new BullFlagSink(config.moderationQueue, settings);
  const deadLetters = new BullDeadLetterSink(config.deadLetterQueue, settings);
  // With KAFKA_FLAG_TOPIC set, flags are also produced to Kafka, after they are on the moderation queue.
  const mirror = await connectFlagMirror(config, logger, metrics);
  const worker = new ScanWorker({
    connection: redis,
    prefix: config.queuePrefix,
    queue: config.scanQueue,
    concurrency: config.concurrency,
    lockDurationMs: config.lockDurationMs,
    scanner: runtime.scanner,
    policy: runtime.policy,
    limits: contractLimits(config),
    flags: mirror ? mirror.decorate(moderation) : moderation,
    deadLetters,
    logger,
    metrics,
  });
  const metricsServer = await serveMetrics(metrics, config.metricsPort, config.metricsHost);
  void worker.run().catch((err: unknown) => logger.fatal({ err }, 'scan worker stopped'));
  await worker.worker.waitUntilReady();
  logger.info({ queue: config.scanQueue, concurrency: config.concurrency, metricsPort: metricsServer?.port }, 'scan worker ready');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('stopping: finishing jobs in flight');
      await worker.close();
      await mirror?.close();
      await runtime.close();
      await Promise.all([moderation.close(), deadLetters.close(), metricsServer?.close()]);
      await redis.quit().catch(() => redis.disconnect());
      await bankRedis.quit().catch(() => bankRedis.disconnect());
      logger.info('stopped');
    })());
  return { worker, metrics, stop, health: runtime.health };
}
