/**
 * A running Kafka bridge with everything it owns, opened through a ServiceContext: Redis connection,
 * scan and dead-letter queues, KafkaJS consumer, metrics server. Closing the context finishes the
 * chunk in hand, commits what was enqueued, leaves the group, then releases the rest, each
 * independently.
 */
import { contractLimits, describeConfig, type Config } from '../config.js';
import { closeRedis, createRedis, waitForRedis, watchRedisOutage } from '../adapters/bullmq/connection.js';
import { BullDeadLetterSink, ShardedScanQueue } from '../adapters/bullmq/queues.js';
import { KafkaBridge } from '../adapters/kafka/bridge.js';
import { createKafka } from '../adapters/kafka/client.js';
import { createMetrics, type Metrics } from '../adapters/metrics.js';
import { redisCheck } from '../ops/checks.js';
import { startProcessOps } from '../ops/from-config.js';
import type { Logger } from '../logger.js';
import { runService, ServiceContext } from './context.js';

export interface BridgeService {
  bridge: KafkaBridge;
  metrics: Metrics;
  context: ServiceContext;
  stop(): Promise<void>;
  /** Settles when the consumer crashed for good, or Redis stayed away past its grace; the entry point then exits 1. */
  fatal: Promise<Error>;
}

export async function startBridgeService(config: Config, logger: Logger, ctx = new ServiceContext(logger)): Promise<BridgeService> {
  try {
    return await openBridgeService(config, logger, ctx);
  } catch (err) {
    // Brokers unreachable, bad credentials, port taken: release what is open so the process can exit.
    await ctx.close();
    throw err;
  }
}

async function openBridgeService(config: Config, logger: Logger, ctx: ServiceContext): Promise<BridgeService> {
  logger.info({ config: describeConfig(config) }, 'starting kafka bridge');
  const kafka = createKafka(config, logger);
  // Producer role: an enqueue that cannot happen must fail fast, so its offset is not committed.
  const redis = await ctx.open('redis', () => createRedis(config.redisUrl, 'producer', { cluster: config.redisCluster }), closeRedis);
  await waitForRedis(redis, config.redisConnectTimeoutMs, config.redisUrl);
  const outage = ctx.use('redis outage watch', watchRedisOutage(redis, { url: config.redisUrl, graceMs: config.redisOutageGraceMs, logger }));
  const metrics = createMetrics();
  const settings = { connection: redis, prefix: config.queuePrefix, dedupeTtlMs: config.dedupeTtlMs };
  // Events are routed to their conversation's shard (VIGIL_SCAN_SHARDS); one shard is the plain scan queue.
  const scanQueue = ctx.use(
    'scan queue',
    new ShardedScanQueue({ ...settings, name: config.scanQueue, failedRetentionS: config.failedRetentionS, shards: config.scanShards }),
  );
  const deadLetters = ctx.use(
    'dead-letter queue',
    new BullDeadLetterSink(config.deadLetterQueue, { ...settings, retentionS: config.deadLetterRetentionS, maxEntries: config.deadLetterMaxEntries }),
  );
  let consuming = false;
  const kafkaCheck = async () => ({ name: 'kafka', ok: consuming, ...(consuming ? {} : { reason: 'consumer not started' }) });
  const opsServer = await startProcessOps(config, { metrics, redis, logger, checks: [redisCheck(redis), kafkaCheck] });
  if (opsServer) ctx.use('ops server', opsServer);
  let onFatal: (err: Error) => void = () => undefined;
  const fatal = new Promise<Error>((resolve) => (onFatal = resolve));
  void outage.fatal.then(onFatal);
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
  // Registered before it starts: a start that fails half-way (group join refused) still disconnects.
  ctx.use('kafka consumer', bridge);
  await bridge.start();
  consuming = true;
  logger.info(
    { topic: config.kafkaTopic, groupId: config.kafkaGroupId, scanQueue: config.scanQueue, scanShards: config.scanShards, opsPort: opsServer?.port },
    'kafka bridge ready',
  );
  return { bridge, metrics, context: ctx, fatal, stop: async () => void (await ctx.close()) };
}

/**
 * Runs the bridge until SIGTERM/SIGINT (exit code 0) or a fatal consumer crash or Redis outage (1).
 * Start-up failures (brokers or Redis unreachable, bad config) print one line and give 1 or 2.
 */
export function runBridge(config: Config, logger: Logger): Promise<number> {
  return runService('bridge', logger, (ctx) => startBridgeService(config, logger, ctx));
}
