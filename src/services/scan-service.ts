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
import { createMetrics, serveMetrics, type Metrics } from '../adapters/metrics.js';
import type { FlagSink } from '../core/ports.js';
import type { Logger } from '../logger.js';

export interface ScanService {
  worker: ScanWorker;
  metrics: Metrics;
  stop(): Promise<void>;
}

export interface ScanServiceOptions {
  /** Wraps the moderation-queue sink, e.g. to mirror flags to Kafka. */
  decorateFlagSink?: (sink: FlagSink) => FlagSink;
}

export async function startScanService(config: Config, logger: Logger, options: ScanServiceOptions = {}): Promise<ScanService> {
  logger.info({ config: describeConfig(config) }, 'starting scan worker');
  const redis = createRedis(config.redisUrl, 'worker');
  await waitForRedis(redis, 10_000);
  const runtime = await createScanRuntime(config, logger, { watch: true, store: new RedisBankStore(redis, config.queuePrefix) });
  const metrics = createMetrics();
  const settings = { connection: redis, prefix: config.queuePrefix, dedupeTtlMs: config.dedupeTtlMs };
  const moderation = new BullFlagSink(config.moderationQueue, settings);
  const deadLetters = new BullDeadLetterSink(config.deadLetterQueue, settings);
  const worker = new ScanWorker({
    connection: redis,
    prefix: config.queuePrefix,
    queue: config.scanQueue,
    concurrency: config.concurrency,
    lockDurationMs: config.lockDurationMs,
    scanner: runtime.scanner,
    policy: runtime.policy,
    limits: contractLimits(config),
    flags: options.decorateFlagSink ? options.decorateFlagSink(moderation) : moderation,
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
      await runtime.close();
      await Promise.all([moderation.close(), deadLetters.close(), metricsServer?.close()]);
      await redis.quit().catch(() => redis.disconnect());
      logger.info('stopped');
    })());
  return { worker, metrics, stop };
}

/** SIGTERM/SIGINT → graceful stop → exit 0; a second signal exits at once. */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      signalled = true;
      logger.info({ signal }, 'signal received');
      stop().then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exitCode = 1;
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
