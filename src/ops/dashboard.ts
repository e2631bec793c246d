/**
 * The queue dashboard: Bull Board over the scan, moderation and dead-letter queues, mounted on the
 * ops server. Ops can inspect, retry, promote, clean and pause; everything else Bull Board offers that
 * writes (adding or editing jobs, emptying or obliterating a queue) is refused, since an edited scan
 * job could smuggle content into a queue and a wiped queue loses events. Every action is written to
 * the audit log before it runs; if the audit log cannot be written the action is refused.
 */
import type { Queue } from 'bullmq';
import type { FastifyRequest } from 'fastify';
import type { QueueRole } from '../adapters/metrics.js';

export const DASHBOARD_PATH = '/dashboard';

export interface DashboardQueue {
  role: QueueRole;
  queue: Queue;
  /** Scan-queue shard (VIGIL_SCAN_SHARDS > 1); absent for the unsharded queues. */
  shard?: number;
}

/** Anything with the audit log's append (RedisAuditLog). */
export interface AuditSink {
  append(e: { actor: string; action: string; target: string; reason?: string }): Promise<unknown>;
}

export const ROLE_TITLES: Record<QueueRole, string> = {
  scan: 'Message events waiting to be scanned (content redacted)',
  moderation: 'Flags for human review (ids and evidence, never content)',
  dead_letter: 'Events that could not be scanned: ids and typed reason',
};

/** Bull Board's write routes that Vigil offers, by route pattern under the dashboard, → audit action. */
const ACTIONS: Record<string, string> = {
  'api/queues/:queueName/:jobId/retry': 'job.retry',
  'api/queues/:queueName/retry/:queueStatus': 'queue.retry_all',
  'api/queues/:queueName/:jobId/clean': 'job.remove',
  'api/queues/:queueName/clean/:queueStatus': 'queue.clean',
  'api/queues/:queueName/:jobId/promote': 'job.promote',
  'api/queues/:queueName/promote': 'queue.promote_all',
  'api/queues/:queueName/pause': 'queue.pause',
  'api/queues/:queueName/resume': 'queue.resume',
  'api/queues/pause': 'queues.pause_all',
  'api/queues/resume': 'queues.resume_all',
};

/** The audit action for a write request to the dashboard, or undefined when Vigil does not offer it. */
export function dashboardAction(request: FastifyRequest): { action: string; target: string } | undefined {
  const pattern = (request.routeOptions.url ?? '').slice(DASHBOARD_PATH.length + 1);
  const action = ACTIONS[pattern];
  if (!action) return undefined;
  const p = (request.params ?? {}) as Record<string, string | undefined>;
  const target = [p.queueName ?? '*', p.jobId ?? p.queueStatus].filter((x) => x !== undefined).join('/');
  return { action: `dashboard.${action}`, target };
}
