/**
 * A scan worker with everything it owns, opened through a ServiceContext: Redis connection, policy
 * and banks (with their watcher), moderation and dead-letter queues, optional Kafka flag mirror, the
 * BullMQ worker, the metrics server. Closing the context stops the worker first (jobs in flight
 * finish), then releases the rest, each independently.
 */
import { contractLimits, describeConfig, type Config } from '../config.js';
import { createScanRuntime } from '../app.js';
import { closeRedis, createRedis, waitForRedis, watchRedisOutage } from '../adapters/bullmq/connection.js';
import { BullDeadLetterSink, BullFlagSink } from '../adapters/bullmq/queues.js';
import { ScanWorker } from '../adapters/bullmq/scan-worker.js';
import { RedisBankStore } from '../adapters/redis-bank-store.js';
import { bankStoreRedisUrl, openBankStoreRedis } from '../adapters/bank-redis.js';
import { RedisPolicyStore } from '../adapters/policy-store.js';
import { RedisBrakes } from '../adapters/brakes.js';
import { RedisShadowLog } from '../adapters/shadow-log.js';
import { createDecisionHooks } from '../adapters/decision-hooks.js';
import { createMetrics, serveMetrics, type Metrics } from '../adapters/metrics.js';
import { connectFlagMirror } from '../adapters/kafka/flag-mirror.js';
import type { Logger } from '../logger.js';
import { runService, ServiceContext } from './context.js';
import { createScanJobHandler } from './scan-job.js';

export interface ScanService {
  worker: ScanWorker;
  metrics: Metrics;
  context: ServiceContext;
  /** Settles when Redis has been unreachable past VIGIL_REDIS_OUTAGE_GRACE_MS. */
  fatal: Promise<Error>;
  stop(): Promise<void>;
}

/**
 * Opens everything in `ctx` (a fresh context by default). If any step fails, what was opened is
 * closed again before the error is rethrown, so a failed start leaves no connection, no registered
 * worker and no listening port behind.
 */
export async function startScanService(config: Config, logger: Logger, ctx = new ServiceContext(logger)): Promise<ScanService> {
  try {
    return await openScanService(config, logger, ctx);
  } catch (err) {
    await ctx.close();
    throw err;
  }
}

async function openScanService(config: Config, logger: Logger, ctx: ServiceContext): Promise<ScanService> {
  logger.info({ config: describeConfig(config) }, 'starting scan worker');
  const redis = await ctx.open('redis', () => createRedis(config.redisUrl, 'worker'), closeRedis);
  await waitForRedis(redis, config.redisConnectTimeoutMs, config.redisUrl);
  const outage = ctx.use('redis outage watch', watchRedisOutage(redis, { url: config.redisUrl, graceMs: config.redisOutageGraceMs, logger }));
  const metrics = createMetrics();
  // Policy versions, brakes counters and the shadow log live in the bank store, beside the banks.
  const bankRedis = await ctx.open('bank-store redis', () => openBankStoreRedis(config), closeRedis);
  await waitForRedis(bankRedis, config.redisConnectTimeoutMs, bankStoreRedisUrl(config));
  const hooks = createDecisionHooks({ brakes: new RedisBrakes(bankRedis, config.queuePrefix), shadowLog: new RedisShadowLog(bankRedis, config.queuePrefix), logger, metrics });
  const runtime = ctx.use(
    'policy and banks',
    await createScanRuntime(config, logger, { watch: true, store: new RedisBankStore(redis, config.queuePrefix), policyStore: new RedisPolicyStore(bankRedis, config.queuePrefix), hooks }),
  );
  const settings = { connection: redis, prefix: config.queuePrefix, dedupeTtlMs: config.dedupeTtlMs };
  const moderation = ctx.use('moderation queue', new BullFlagSink(config.moderationQueue, settings));
  const deadLetters = ctx.use('dead-letter queue', new BullDeadLetterSink(config.deadLetterQueue, { ...settings, retentionS: config.deadLetterRetentionS, maxEntries: config.deadLetterMaxEntries }));
  // With KAFKA_FLAG_TOPIC set, flags are also produced to Kafka, after they are on the moderation queue.
  const mirror = await connectFlagMirror(config, logger, metrics);
  if (mirror) ctx.use('kafka flag mirror', mirror);
  // The metrics port is claimed before the worker registers with the queue: a port in use must not
  // leave a worker counted as connected.
  const metricsServer = await serveMetrics(metrics, config.metricsPort, config.metricsHost);
  if (metricsServer) ctx.use('metrics server', metricsServer);
  const handle = createScanJobHandler({
    scanner: runtime.scanner,
    policy: runtime.policy,
    policySource: runtime.policySource,
    hooks: runtime.hooks,
    limits: contractLimits(config),
    flags: mirror ? mirror.decorate(moderation) : moderation,
    deadLetters,
    logger,
    metrics,
    retry: { maxAttempts: config.maxAttempts, backoffMs: config.backoffMs },
  });
  const worker = ctx.use(
    'scan worker',
    new ScanWorker({ connection: redis, prefix: config.queuePrefix, queue: config.scanQueue, concurrency: config.concurrency, lockDurationMs: config.lockDurationMs, handle, deadLetters, logger, metrics }),
    // Jobs in flight finish within their lock; past that their lock lapses and another worker retries them.
    { timeoutMs: config.lockDurationMs + 5000 },
  );
  let onFatal: (err: Error) => void = () => undefined;
  const fatal = new Promise<Error>((resolve) => (onFatal = resolve));
  void outage.fatal.then(onFatal);
  void worker.run().catch((err: unknown) => {
    logger.fatal({ err }, 'scan worker stopped');
    onFatal(err instanceof Error ? err : new Error(String(err)));
  });
  await worker.worker.waitUntilReady();
  logger.info({ queue: config.scanQueue, concurrency: config.concurrency, metricsPort: metricsServer?.port }, 'scan worker ready');
  return { worker, metrics, context: ctx, fatal, stop: async () => void (await ctx.close()) };
}

/** `vigil worker` and `node dist/workers/scan.js`: runs until SIGTERM/SIGINT; see runService for exit codes. */
export function runScanWorker(config: Config, logger: Logger): Promise<number> {
  return runService('worker', logger, (ctx) => startScanService(config, logger, ctx));
}
