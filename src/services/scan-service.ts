/**
 * A running scan worker with everything it owns: Redis connection, queues, bank watcher, metrics
 * server. `stop()` finishes jobs in flight, then releases everything, in that order. Idempotent.
 */
import { contractLimits, describeConfig, type Config } from '../config.js';
import { createScanRuntime } from '../app.js';
import { createRedis, waitForRedis } from '../adapters/bullmq/connection.js';
import { BullDeadLetterSink, BullFlagSink } from '../adapters/bullmq/queues.js';
import { ScanWorker } from '../adapters/bullmq/scan-worker.js';
import { RedisBankStore } from '../adapters/redis-bank-store.js';
import { createMetrics, type Metrics } from '../adapters/metrics.js';
import { redisCheck, runtimeCheck } from '../ops/checks.js';
import { startProcessOps } from '../ops/from-config.js';
import { instrumentScanner, runtimeVersions, scanRuntimeHealth } from '../ops/instrument.js';
import { connectFlagMirror } from '../adapters/kafka/flag-mirror.js';
import type { Logger } from '../logger.js';

export interface ScanService {
  worker: ScanWorker;
  metrics: Metrics;
  stop(): Promise<void>;
}

export async function startScanService(config: Config, logger: Logger): Promise<ScanService> {
  logger.info({ config: describeConfig(config) }, 'starting scan worker');
  const redis = createRedis(config.redisUrl, 'worker');
  await waitForRedis(redis, 10_000);
  const runtime = await createScanRuntime(config, logger, { watch: true, store: new RedisBankStore(redis, config.queuePrefix) });
  const metrics = createMetrics();
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
    scanner: instrumentScanner(runtime.scanner, metrics),
    policy: runtime.policy,
    limits: contractLimits(config),
    flags: mirror ? mirror.decorate(moderation) : moderation,
    deadLetters,
    logger,
    metrics,
  });
  metrics.sources.versions = () => runtimeVersions(runtime);
  const metricsServer = await startProcessOps(config, { metrics, redis, logger, checks: [redisCheck(redis), runtimeCheck(scanRuntimeHealth(runtime))] });
  void worker.run().catch((err: unknown) => logger.fatal({ err }, 'scan worker stopped'));
  await worker.worker.waitUntilReady();
  logger.info({ queue: config.scanQueue, concurrency: config.concurrency, opsPort: metricsServer?.port }, 'scan worker ready');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('stopping: finishing jobs in flight');
      await worker.close();
      await mirror?.close();
      await runtime.close();
      await Promise.all([moderation.close(), deadLetters.close(), metricsServer?.close()]);
      await redis.quit().catch(() => redis.disconnect());
      logger.info('stopped');
    })());
  return { worker, metrics, stop };
}
