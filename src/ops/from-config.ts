/**
 * The ops server of one process, from its Config: where to listen (VIGIL_OPS_PORT, or the old
 * VIGIL_METRICS_PORT), what is public (VIGIL_OPS_PUBLIC), the token, and the dashboard. Opens its
 * own Queue handles on the process's Redis connection so queue depths can be read at scrape time.
 */
import { Queue } from 'bullmq';
import type { RedisClient } from '../adapters/bullmq/connection.js';
import { opsListen, type Config } from '../config.js';
import { shardPrefix } from '../core/shards.js';
import { RedisAuditLog } from '../adapters/audit-log.js';
import type { Metrics } from '../adapters/metrics.js';
import type { Logger } from '../logger.js';
import type { DashboardQueue } from './dashboard.js';
import type { OpsServer, ReadinessCheck } from './server.js';

export function openQueues(config: Config, redis: RedisClient): DashboardQueue[] {
  const open = (name: string, prefix = config.queuePrefix) => {
    const q = new Queue(name, { connection: redis, prefix });
    q.on('error', () => undefined);
    return q;
  };
  const n = config.scanShards;
  // One scan queue per shard (VIGIL_SCAN_SHARDS); moderation and dead-letter queues are not sharded.
  const scan: DashboardQueue[] =
    n === 1
      ? [{ role: 'scan', queue: open(config.scanQueue) }]
      : Array.from({ length: n }, (_, shard) => ({ role: 'scan' as const, shard, queue: open(config.scanQueue, shardPrefix(config.queuePrefix, shard, n)) }));
  return [...scan, { role: 'moderation', queue: open(config.moderationQueue) }, { role: 'dead_letter', queue: open(config.deadLetterQueue) }];
}

export interface ProcessOpsOptions {
  metrics: Metrics;
  /** The process's queue Redis (shared; not closed here). */
  redis: RedisClient;
  checks: readonly ReadinessCheck[];
  logger: Logger;
  /** Override the configured port (`vigil ops --port`). */
  port?: number;
  dashboard?: boolean;
}

/** Starts the ops server if a port is configured; undefined when it is off (port 0). */
export async function startProcessOps(config: Config, o: ProcessOpsOptions): Promise<OpsServer | undefined> {
  const listen = opsListen(config);
  const port = o.port ?? listen.port;
  if (port === 0) return undefined;
  if (listen.legacyKey && o.port === undefined)
    o.logger.warn(
      'VIGIL_METRICS_PORT is the old name of VIGIL_OPS_PORT: the ops server (/metrics, /healthz, /readyz) listens there; rename it to VIGIL_OPS_PORT',
    );
  const queues = openQueues(config, o.redis);
  const closeQueues = () => Promise.all(queues.map((q) => q.queue.close().catch(() => undefined)));
  const dashboard = o.dashboard ?? config.opsDashboard;
  let server: OpsServer;
  try {
    // Loaded here, not at the top: fastify is not needed by processes whose ops server is off.
    const { startOpsServer } = await import('./server.js');
    server = await startOpsServer({
      port,
      host: listen.host,
      checks: o.checks,
      metrics: o.metrics,
      queues,
      dashboard,
      auth: { token: config.opsToken, public: config.opsPublic },
      ...(dashboard ? { audit: new RedisAuditLog(o.redis, config.queuePrefix) } : {}),
      logger: o.logger,
    });
  } catch (err) {
    await closeQueues();
    throw err;
  }
  o.logger.info({ host: listen.host, port: server.port, dashboard, public: config.opsPublic }, 'ops server listening');
  let closing: Promise<void> | undefined;
  return {
    port: server.port,
    close: () =>
      (closing ??= (async () => {
        await server.close();
        await closeQueues();
      })()),
  };
}
