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
import { RetroScheduler, RetroWorker, type RetroJobData } from './retro.js';
import { Queue } from 'bullmq';
import type { RedisClient as Redis } from '../adapters/bullmq/connection.js';
import { RedisRetroWindow } from '../adapters/retro-window.js';
import { retainedItems } from '../core/retro.js';
import { toVigilError } from '../core/errors.js';
import type { MessageEvent } from '../core/contracts.js';
import type { ScanReport } from '../core/policy.js';
import type { FlagSink } from '../core/ports.js';
import { flagLedger } from '../adapters/flag-ledger.js';
import { DecisionWorker } from '../adapters/bullmq/decision-worker.js';
import { createDecisionHandler } from './decision-job.js';

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
  // Flag records (replay dedupe, decision attribution) live with the banks: persistent, ids only.
  const ledger = flagLedger(bankRedis, config);
  metrics.sources.precision = async () => (await ledger.precision(['rule', 'bank', 'label'])).map((r) => ({ ...r, kind: r.kind as 'rule' | 'bank' | 'label' }));
  const opsServer = await startProcessOps(config, { metrics, redis, logger, checks: [redisCheck(redis), runtimeCheck(scanRuntimeHealth(runtime))] });
  if (opsServer) ctx.use('ops server', opsServer);
  const flags = mirror ? mirror.decorate(moderation) : moderation;
  // Retroactive flags are recorded in the flag ledger as live ones are, so reviewers' decisions on them count too.
  const retroFlags: FlagSink = {
    emit: async (emitted) => {
      await flags.emit(emitted);
      if (emitted.length) await ledger.record(emitted).catch((err: unknown) => logger.error({ err }, 'could not record retroactive flags in the flag ledger'));
    },
  };
  const retro = config.retroWindow ? await openRetro(config, logger, ctx, { redis, bankRedis, runtime, flags: retroFlags, metrics }) : undefined;
  const handle = createScanJobHandler({
    scanner: runtime.scanner,
    policy: runtime.policy,
    policySource: runtime.policySource,
    hooks: runtime.hooks,
    limits: contractLimits(config),
    flags,
    ledger,
    deadLetters,
    retain: retro?.retain,
    logger,
    metrics,
    retry: { maxAttempts: config.maxAttempts, backoffMs: config.backoffMs },
  });
  let onFatal: (err: Error) => void = () => undefined;
  const fatal = new Promise<Error>((resolve) => (onFatal = resolve));
  void outage.fatal.then(onFatal);
  // Decision consumers start before the scan worker takes jobs: once the scan worker runs, start-up is over.
  // Reviewer decisions are consumed by every worker (VIGIL_DECISIONS_QUEUE; empty: none): small jobs,
  // idempotent per flag, so no separate service to deploy.
  if (config.decisionsQueue) {
    const decisions = ctx.use(
      'decision worker',
      new DecisionWorker({
        connection: redis,
        prefix: config.queuePrefix,
        queue: config.decisionsQueue,
        handle: createDecisionHandler({ ledger, deadLetters, logger, metrics }),
        logger,
        maxAttempts: config.maxAttempts,
        backoffMs: config.backoffMs,
      }),
      // Decisions are one Lua call each: a drain that takes longer is waiting on a dead Redis.
      { timeoutMs: 3000 },
    );
    void decisions.run().catch((err: unknown) => {
      logger.fatal({ err }, 'decision worker stopped');
      onFatal(err instanceof Error ? err : new Error(String(err)));
    });
    await decisions.worker.waitUntilReady();
  }
  if (config.decisionsKafkaTopic) {
    const [{ createKafka }, { KafkaDecisionConsumer }] = await Promise.all([
      import('../adapters/kafka/client.js'),
      import('../adapters/kafka/decision-consumer.js'),
    ]);
    const consumer = ctx.use(
      'kafka decision consumer',
      new KafkaDecisionConsumer({
        kafka: createKafka(config, logger),
        topic: config.decisionsKafkaTopic,
        groupId: `${config.kafkaGroupId}-decisions`,
        handle: createDecisionHandler({ ledger, deadLetters, logger, metrics }),
        logger,
        onFatal,
      }),
    );
    await consumer.start();
  }
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

/**
 * Retro-matching (VIGIL_RETRO_WINDOW): the window in the bank store, the scheduler polling bank
 * revisions, and the retro queue's consumer. The scheduler runs once before the worker takes jobs,
 * so the first worker ever started records the banks as they stand before anything is scanned.
 */
async function openRetro(
  config: Config,
  logger: Logger,
  ctx: ServiceContext,
  parts: { redis: Redis; bankRedis: Redis; runtime: ScanRuntime; flags: FlagSink; metrics: Metrics },
): Promise<{ retain: (event: MessageEvent, report: ScanReport) => Promise<void> }> {
  const windowMs = config.retroWindow as number;
  const window = new RedisRetroWindow(parts.bankRedis, config.queuePrefix, windowMs);
  const store = new RedisBankStore(parts.bankRedis, config.queuePrefix);
  const queue = ctx.use('retro queue', new Queue<RetroJobData>(config.retroQueue, { connection: parts.redis, prefix: config.queuePrefix }));
  queue.on('error', () => undefined);
  const scheduler = new RetroScheduler({ store, redis: parts.bankRedis, prefix: config.queuePrefix, queue, logger });
  await scheduler.poll();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void scheduler
      .poll()
      .catch((err: unknown) => logger.error({ err: toVigilError(err) }, 'retro-match scheduling failed; will try again'))
      .finally(() => (busy = false));
  }, config.bankReloadMs);
  timer.unref();
  ctx.use('retro scheduler', { close: () => clearInterval(timer) });
  const worker = ctx.use(
    'retro worker',
    new RetroWorker({
      connection: parts.redis,
      prefix: config.queuePrefix,
      queue: config.retroQueue,
      lockDurationMs: config.lockDurationMs,
      store,
      window,
      runtime: parts.runtime,
      flags: parts.flags,
      metrics: parts.metrics,
      logger,
      holdWaitMs: Math.max(10_000, 3 * config.bankReloadMs),
    }),
    { timeoutMs: config.lockDurationMs + 5000 },
  );
  await worker.worker.waitUntilReady();
  logger.info({ windowS: windowMs / 1000, bucketMs: window.bucketMs, queue: config.retroQueue }, 'retro-matching on');
  return {
    retain: async (event, report) => {
      if (!report.hashes) return;
      const items = retainedItems(event, report.hashes, Date.now());
      await window.retain(items);
      parts.metrics.retroRetained.inc(items.length);
    },
  };
}

/** `vigil worker` and `node dist/workers/scan.js`: runs until SIGTERM/SIGINT; see runService for exit codes. */
export function runScanWorker(config: Config, logger: Logger): Promise<number> {
  return runService('worker', logger, (ctx) => startScanService(config, logger, ctx));
}
