/**
 * The ops HTTP server (fastify), one per process: /healthz (the process answers), /readyz (every
 * readiness check passes; 503 with the reasons otherwise), /metrics (Prometheus), and with
 * `dashboard` the queue dashboard at /dashboard. Workers and bridges run it beside their work
 * (VIGIL_OPS_PORT); `vigil ops` runs it on its own.
 */
import { fastify, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { QUEUE_ROLES, QUEUE_STATES, type Metrics, type QueueRole, type QueueState } from '../adapters/metrics.js';
import { VigilError } from '../core/errors.js';
import type { Logger } from '../logger.js';
import { assertTokenFor, checkAuthorization, CLIENT_HINT, needsToken, type OpsAuthConfig, type OpsPath } from './auth.js';
import { DASHBOARD_PATH, dashboardAction, type AuditSink, type DashboardQueue } from './dashboard.js';

export interface ReadinessResult {
  name: string;
  ok: boolean;
  reason?: string;
}
export type ReadinessCheck = () => Promise<ReadinessResult>;

export interface OpsServerOptions {
  /** 0: any free port (the one chosen is returned). */
  port: number;
  /** Default 127.0.0.1: ops endpoints are not for the open network unless asked for. */
  host?: string;
  /** All must pass for /readyz to answer 200. Each is bounded by checkTimeoutMs. */
  checks?: readonly ReadinessCheck[];
  checkTimeoutMs?: number;
  /** Served at /metrics. With `queues`, queue depths are read from Redis at each scrape. */
  metrics?: Metrics;
  queues?: readonly DashboardQueue[];
  /** Mount Bull Board at /dashboard over `queues`. Needs `auth.token` and `audit`. */
  dashboard?: boolean;
  auth: OpsAuthConfig;
  /** Where dashboard actions are recorded (RedisAuditLog). */
  audit?: AuditSink;
  logger?: Logger;
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    opsActor?: string;
  }
}

function withTimeout(check: ReadinessCheck, ms: number): Promise<ReadinessResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ReadinessResult>((resolve) => {
    timer = setTimeout(() => resolve({ name: check.name || 'check', ok: false, reason: `no answer within ${ms} ms` }), ms);
  });
  const run = check().catch((err: unknown) => ({
    name: check.name || 'check',
    ok: false,
    reason: err instanceof VigilError ? `${err.code}: ${err.message}` : `check failed (${err instanceof Error ? err.name : typeof err})`,
  }));
  return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
}

/** Counts of each queue by state, keyed by role, for vigil_queue_jobs. */
export function queueCountsSource(queues: readonly DashboardQueue[], timeoutMs = 2000): () => Promise<Record<QueueRole, Partial<Record<QueueState, number>>>> {
  return async () => {
    const out = Object.fromEntries(QUEUE_ROLES.map((r) => [r, {}])) as Record<QueueRole, Partial<Record<QueueState, number>>>;
    const read = Promise.all(
      queues.map(async ({ role, queue }) => {
        const counts = await queue.getJobCounts(...QUEUE_STATES);
        // A sharded scan queue counts as one queue here (the sum of its shards); vigil_scan_shard_jobs has each.
        for (const state of QUEUE_STATES) out[role][state] = (out[role][state] ?? 0) + (counts[state] ?? 0);
      }),
    );
    await bounded(read, timeoutMs);
    return out;
  };
}

/** Counts of each scan-queue shard by state, keyed by shard number, for vigil_scan_shard_jobs. */
export function shardCountsSource(queues: readonly DashboardQueue[], timeoutMs = 2000): () => Promise<Record<string, Partial<Record<QueueState, number>>>> {
  return async () => {
    const out: Record<string, Partial<Record<QueueState, number>>> = {};
    const read = Promise.all(
      queues.map(async ({ queue, shard }) => {
        if (shard === undefined) return;
        const counts = await queue.getJobCounts(...QUEUE_STATES);
        out[String(shard)] = Object.fromEntries(QUEUE_STATES.map((s) => [s, counts[s] ?? 0]));
      }),
    );
    await bounded(read, timeoutMs);
    return out;
  };
}

/** A worker's connection queues commands while Redis is away: a scrape must not wait for it. */
async function bounded(read: Promise<unknown>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new VigilError('QUEUE_UNAVAILABLE', `queue counts not read within ${timeoutMs} ms`)), timeoutMs)),
  );
  try {
    await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function pathClass(url: string): OpsPath | undefined {
  const path = url.split('?', 1)[0] ?? '';
  if (path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`)) return 'dashboard';
  if (path === '/metrics') return 'metrics';
  if (path === '/healthz' || path === '/readyz') return 'health';
  return undefined;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const { auth, logger } = options;
  const served: OpsPath[] = ['health', ...(options.metrics ? (['metrics'] as const) : []), ...(options.dashboard ? (['dashboard'] as const) : [])];
  assertTokenFor(served, auth);
  if (options.dashboard && !options.audit) throw new VigilError('CONFIG_INVALID', 'the ops dashboard needs an audit log to record its actions in');
  if (options.dashboard && !options.queues?.length) throw new VigilError('CONFIG_INVALID', 'the ops dashboard needs the queues to show');

  // Fastify's own request log would add nothing ours lacks; errors are logged below.
  const app = fastify({ logger: false });
  const checkTimeoutMs = options.checkTimeoutMs ?? 2000;

  const refuse = (reply: FastifyReply, where: OpsPath, reason: string) => {
    // Browsers show a login prompt for Basic; API clients read the JSON.
    if (where === 'dashboard') void reply.header('www-authenticate', 'Basic realm="vigil-ops", charset="UTF-8"');
    return reply.code(401).send({ error: 'unauthorized', reason, hint: CLIENT_HINT });
  };

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const where = pathClass(request.url);
    if (!where || !needsToken(where, auth.public)) return;
    const actorHeader = request.headers['x-vigil-actor'];
    const credential = checkAuthorization(request.headers.authorization, auth.token ?? '', typeof actorHeader === 'string' ? actorHeader : undefined);
    if (!credential.ok) return refuse(reply, where, credential.reason);
    request.opsActor = credential.actor;
  });

  if (options.dashboard) {
    const audit = options.audit as AuditSink;
    app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
      if (pathClass(request.url) !== 'dashboard' || request.method === 'GET' || request.method === 'HEAD') return;
      const what = dashboardAction(request);
      if (!what)
        return reply.code(403).send({
          error: 'forbidden',
          reason: 'this dashboard action is not offered by Vigil (it could lose events or put content in a queue); use the vigil CLI',
        });
      try {
        await audit.append({ actor: request.opsActor ?? 'unknown', action: what.action, target: what.target });
      } catch (err) {
        logger?.error({ err, action: what.action }, 'audit log unavailable: dashboard action refused');
        return reply.code(503).send({ error: 'audit_unavailable', reason: 'the audit log could not be written, so the action was not run' });
      }
      logger?.info({ actor: request.opsActor, action: what.action, target: what.target }, 'dashboard action');
    });
  }

  app.get('/healthz', async () => ({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) }));

  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all((options.checks ?? []).map((c) => withTimeout(c, checkTimeoutMs)));
    const ready = results.every((r) => r.ok);
    return reply
      .code(ready ? 200 : 503)
      .send({ ready, reasons: results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.reason ?? 'not ready'}`), checks: results });
  });

  if (options.metrics) {
    const { metrics } = options;
    if (options.queues?.length) metrics.sources.queues = queueCountsSource(options.queues);
    if (options.queues?.some((q) => q.shard !== undefined)) metrics.sources.scanShards = shardCountsSource(options.queues);
    app.get('/metrics', async (_request, reply) => reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()));
  }

  if (options.dashboard && options.queues) await (await import('./bull-board.js')).mountDashboard(app, options.queues);

  app.setErrorHandler((err, _request, reply) => {
    logger?.error({ err }, 'ops server error');
    void reply.code(500).send({ error: 'internal' });
  });

  try {
    await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  } catch (err) {
    await app.close().catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    throw new VigilError('PORT_UNAVAILABLE', `ops server cannot listen on ${options.host ?? '127.0.0.1'}:${options.port}${code ? ` (${code})` : ''}`, {
      cause: err,
    });
  }
  const port = (app.server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return { port, close: () => (closing ??= app.close().then(() => undefined)) };
}
