/**
 * A scan worker with everything it owns, opened through a ServiceContext: Redis connection, policy
 * and banks (with their watcher), moderation and dead-letter queues, optional Kafka flag mirror, the
 * BullMQ worker, the metrics server. Closing the context stops the worker first (jobs in flight
 * finish), then releases the rest, each independently.
 */
import { consumedShards, contractLimits, describeConfig, type Config } from '../config.js';
import { shardPrefix } from '../core/shards.js';
import { createScanRuntime, type RuntimeHealth, type ScanRuntime } from '../app.js';
import { closeRedis, createRedis, waitForRedis, watchRedisOutage } from '../adapters/bullmq/connection.js';
import { BullDeadLetterSink, BullFlagSink } from '../adapters/bullmq/queues.js';
import { ScanWorker } from '../adapters/bullmq/scan-worker.js';
import { RedisBankStore } from '../adapters/redis-bank-store.js';
import { bankStoreRedisUrl, openBankStoreRedis } from '../adapters/bank-redis.js';
import { RedisPolicyStore } from '../adapters/policy-store.js';
import { RedisBrakes } from '../adapters/brakes.js';
import { RedisShadowLog } from '../adapters/shadow-log.js';
import { createDecisionHooks } from '../adapters/decision-hooks.js';
import { createMetrics, type Metrics } from '../adapters/metrics.js';
import { redisCheck, runtimeCheck } from '../ops/checks.js';
import { startProcessOps } from '../ops/from-config.js';
import { runtimeVersions, scanRuntimeHealth } from '../ops/instrument.js';
import { connectFlagMirror } from '../adapters/kafka/flag-mirror.js';
import type { Logger } from '../logger.js';
import { runService, ServiceContext } from './context.js';
import { createScanJobHandler } from './scan-job.js';

export interface ScanService {
  /** The worker of the first consumed shard (the only one unless VIGIL_SCAN_SHARDS > 1). */
  worker: ScanWorker;
  /** One worker per consumed scan-queue shard (VIGIL_SCAN_SHARDS_CONSUMED), in shard order. */
  workers: ScanWorker[];
  /** Readiness: see ScanRuntime.health (bank store lost, no banks loaded). */
  health(): RuntimeHealth;
  metrics: Metrics;
  context: ServiceContext;
  /** Policy and banks in force; `reload()` checks for changes now instead of at the next poll. */
  runtime: ScanRuntime;
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
  const redis = await ctx.open('redis', () => createRedis(config.redisUrl, 'worker', { cluster: config.redisCluster }), closeRedis);
  await waitForRedis(redis, config.redisConnectTimeoutMs, config.redisUrl);
  const outage = ctx.use('redis outage watch', watchRedisOutage(redis, { url: config.redisUrl, graceMs: config.redisOutageGraceMs, logger }));
  const metrics = createMetrics();
  // Banks, policy versions, brakes counters and the shadow log live in the bank store (VIGIL_BANK_REDIS_URL,
  // may be another, persistent Redis). Fail-fast role: a bank poll against an unreachable store errors
  // (the worker keeps its snapshot) instead of hanging.
  const bankRedis = await ctx.open('bank-store redis', () => openBankStoreRedis(config, 'producer'), closeRedis);
  await waitForRedis(bankRedis, config.redisConnectTimeoutMs, bankStoreRedisUrl(config));
  const hooks = createDecisionHooks({
    brakes: new RedisBrakes(bankRedis, config.queuePrefix),
    shadowLog: new RedisShadowLog(bankRedis, config.queuePrefix),
    logger,
    metrics,
  });
  const runtime = ctx.use(
    'policy and banks',
    await createScanRuntime(config, logger, {
      watch: true,
      store: new RedisBankStore(bankRedis, config.queuePrefix),
      policyStore: new RedisPolicyStore(bankRedis, config.queuePrefix),
      hooks,
      metrics,
    }),
  );
  const settings = { connection: redis, prefix: config.queuePrefix, dedupeTtlMs: config.dedupeTtlMs };
  const moderation = ctx.use('moderation queue', new BullFlagSink(config.moderationQueue, settings));
  const deadLetters = ctx.use(
    'dead-letter queue',
    new BullDeadLetterSink(config.deadLetterQueue, { ...settings, retentionS: config.deadLetterRetentionS, maxEntries: config.deadLetterMaxEntries }),
  );
  // With KAFKA_FLAG_TOPIC set, flags are also produced to Kafka, after they are on the moderation queue.
  const mirror = await connectFlagMirror(config, logger, metrics);
  if (mirror) ctx.use('kafka flag mirror', mirror);
  // The ops port is claimed before the worker registers with the queue: a port in use must not
  // leave a worker counted as connected.
  metrics.sources.versions = () => runtimeVersions(runtime);
  const opsServer = await startProcessOps(config, { metrics, redis, logger, checks: [redisCheck(redis), runtimeCheck(scanRuntimeHealth(runtime))] });
  if (opsServer) ctx.use('ops server', opsServer);
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
  // One BullMQ worker per consumed shard (one shard: the plain scan queue), all sharing the handler.
  const shards = consumedShards(config);
  const workers = shards.map((shard) =>
    ctx.use(
      config.scanShards > 1 ? `scan worker (shard ${shard})` : 'scan worker',
      new ScanWorker({
        connection: redis,
        prefix: shardPrefix(config.queuePrefix, shard, config.scanShards),
        queue: config.scanQueue,
        shard,
        concurrency: config.concurrency,
        lockDurationMs: config.lockDurationMs,
        handle,
        deadLetters,
        logger,
        metrics,
      }),
      // Jobs in flight finish within their lock; past that their lock lapses and another worker retries them.
      { timeoutMs: config.lockDurationMs + 5000 },
    ),
  );
  let onFatal: (err: Error) => void = () => undefined;
  const fatal = new Promise<Error>((resolve) => (onFatal = resolve));
  void outage.fatal.then(onFatal);
  for (const worker of workers)
    void worker.run().catch((err: unknown) => {
      logger.fatal({ err }, 'scan worker stopped');
      onFatal(err instanceof Error ? err : new Error(String(err)));
    });
  await Promise.all(workers.map((w) => w.worker.waitUntilReady()));
  logger.info(
    { queue: config.scanQueue, shards: config.scanShards, consumed: shards, concurrency: config.concurrency, opsPort: opsServer?.port },
    'scan worker ready',
  );
  return { worker: workers[0]!, workers, metrics, context: ctx, runtime, health: () => runtime.health(), fatal, stop: async () => void (await ctx.close()) };
}

/** `vigil worker` and `node dist/workers/scan.js`: runs until SIGTERM/SIGINT; see runService for exit codes. */
export function runScanWorker(config: Config, logger: Logger): Promise<number> {
  return runService('worker', logger, (ctx) => startScanService(config, logger, ctx));
}
