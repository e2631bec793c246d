/**
 * Dead-letter tooling behind `vigil dlq`: list and show entries, retry the events that were kept,
 * purge entries. A dead-letter entry holds ids and a typed reason, never the event; the event itself
 * is kept only where a retriable failure exhausted its attempts (the scan queue's failed set, for
 * VIGIL_FAILED_RETENTION_S). Retry and purge are written to the audit log before they act.
 */
import type { Job, Queue } from 'bullmq';
import { ERROR_CODES, VigilError, type ErrorCode } from '../core/errors.js';
import type { DeadLetter } from '../core/ports.js';
import type { AuditSink } from './dashboard.js';

export interface DeadLetterEntry {
  /** The dead-letter job id (dl_…), what `show`, `retry` and `purge` take. */
  id: string;
  entry: DeadLetter;
}

export interface DeadLetterFilter {
  code?: string | undefined;
  /** Only entries written at or after this time. */
  since?: Date | undefined;
  limit?: number | undefined;
}

export type RetryOutcome =
  | { id: string; eventId?: string; status: 'requeued' | 'would_requeue'; scanJobId: string }
  | { id: string; eventId?: string; status: 'not_kept' | 'already_queued' | 'not_found'; reason: string };

/** "2026-01-01T00:00:00Z", or a span back from now: 90s, 30m, 6h, 2d. */
export function parseSince(value: string, now = Date.now()): Date {
  const rel = /^(\d+)([smhd])$/.exec(value);
  if (rel) return new Date(now - Number(rel[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd']);
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t))
    throw new VigilError('CONFIG_INVALID', `--since must be an ISO time (2026-01-31T12:00:00Z) or a span back from now (90s, 30m, 6h, 2d), got "${value}"`);
  return new Date(t);
}

export function assertKnownCode(code: string | undefined): void {
  if (code !== undefined && !(code in ERROR_CODES))
    throw new VigilError('CONFIG_INVALID', `unknown error code "${code}"; known: ${Object.keys(ERROR_CODES).join(', ')}`);
}

const STATES = ['waiting', 'prioritized', 'delayed', 'completed', 'failed'] as const;
const PAGE = 500;

export interface DeadLetterToolOptions {
  deadLetters: Queue;
  scan: Queue;
  audit: AuditSink;
  failedRetentionS: number;
}

export class DeadLetterTool {
  constructor(private readonly o: DeadLetterToolOptions) {}

  /** Newest first, read page by page so a large queue is not loaded at once. */
  async list(filter: DeadLetterFilter = {}): Promise<DeadLetterEntry[]> {
    assertKnownCode(filter.code);
    const out: DeadLetterEntry[] = [];
    const limit = filter.limit ?? Number.POSITIVE_INFINITY;
    for (let start = 0; ; start += PAGE) {
      const jobs = await this.o.deadLetters.getJobs([...STATES], start, start + PAGE - 1, false);
      for (const job of jobs) {
        const entry = job.data as DeadLetter;
        if (filter.code && entry.code !== filter.code) continue;
        if (filter.since && !(Date.parse(entry.at) >= filter.since.getTime())) continue;
        out.push({ id: String(job.id), entry });
      }
      if (jobs.length < PAGE) break;
    }
    out.sort((a, b) => (a.entry.at < b.entry.at ? 1 : a.entry.at > b.entry.at ? -1 : 0));
    return out.slice(0, limit);
  }

  async show(id: string): Promise<(DeadLetterEntry & { retry: RetryOutcome }) | undefined> {
    const job = await this.o.deadLetters.getJob(id);
    if (!job) return undefined;
    const entry = { id, entry: job.data as DeadLetter };
    return { ...entry, retry: await this.#retryability(entry, true).then((r) => r.outcome) };
  }

  /** Where the original event is, if anywhere: the failed scan job, or why there is none. */
  async #retryability(e: DeadLetterEntry, dryRun: boolean): Promise<{ outcome: RetryOutcome; job?: Job }> {
    const { entry, id } = e;
    const ids = entry.eventId ? { id, eventId: entry.eventId } : { id };
    const o = entry.origin;
    const notKept = (reason: string) => ({ outcome: { ...ids, status: 'not_kept' as const, reason } });
    if (o.kind === 'kafka')
      return notKept(
        `dead-lettered by the Kafka bridge before it reached the scan queue (topic ${o.topic}, partition ${o.partition}, offset ${o.offset}); the bridge keeps no copy: the record stays in Kafka until the topic's retention, so fix the producer and publish the event again`,
      );
    if (o.kind === 'cli') return notKept(`dead-lettered by an offline \`vigil scan\` of ${o.file} (line ${o.line}): run that scan again`);
    if (o.queue !== this.o.scan.name)
      return notKept(`it came from queue ${o.queue}, not the scan queue ${this.o.scan.name}: run with that queue (VIGIL_SCAN_QUEUE)`);
    const job = await this.o.scan.getJob(o.jobId);
    if (job) {
      const state = await job.getState();
      if (state === 'failed') return { outcome: { ...ids, status: dryRun ? 'would_requeue' : 'requeued', scanJobId: o.jobId }, job };
      if (state !== 'completed' && state !== 'unknown')
        return { outcome: { ...ids, status: 'already_queued', reason: `the scan job ${o.jobId} is ${state} already` } };
    }
    if (entry.mediaId)
      return notKept(
        `only media ${entry.mediaId} failed; the rest of the event was scanned and its job completed, so the event was not kept: publish it again once the cause is fixed`,
      );
    if (entry.code === 'RETRIES_EXHAUSTED')
      return notKept(
        `the event was kept in the scan queue's failed set for VIGIL_FAILED_RETENTION_S (${this.o.failedRetentionS} s) and is gone (expired or cleaned); publish it again`,
      );
    const retriable = (ERROR_CODES as Record<string, boolean>)[entry.code as ErrorCode];
    return notKept(
      retriable === false
        ? `${entry.code} is not retriable: the scan job was removed when it was dead-lettered, so the content did not outlive the scan, and the same event would fail the same way; fix it at the producer and publish it again`
        : `the scan job ${o.jobId} is no longer in the scan queue`,
    );
  }

  /** Re-enqueues each kept event (attempts reset) and removes its entry; the others say why not. */
  async retry(ids: readonly string[], actor: string, options: { dryRun?: boolean } = {}): Promise<RetryOutcome[]> {
    const out: RetryOutcome[] = [];
    for (const id of ids) {
      const dl = await this.o.deadLetters.getJob(id);
      if (!dl) {
        out.push({ id, status: 'not_found', reason: 'no such dead-letter entry' });
        continue;
      }
      const { outcome, job } = await this.#retryability({ id, entry: dl.data as DeadLetter }, options.dryRun === true);
      if (job && outcome.status === 'requeued') {
        await this.o.audit.append({ actor, action: 'dlq.retry', target: `${id} event=${outcome.eventId ?? '-'} job=${this.o.scan.name}/${outcome.scanJobId}` });
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        await dl.remove();
      }
      out.push(outcome);
    }
    return out;
  }

  /** Removes entries (not the events: a kept event stays in the failed set until its retention ends). */
  async purge(ids: readonly string[], actor: string, options: { dryRun?: boolean } = {}): Promise<{ removed: string[]; missing: string[] }> {
    const removed: string[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const dl = await this.o.deadLetters.getJob(id);
      if (!dl) {
        missing.push(id);
        continue;
      }
      if (!options.dryRun) {
        const e = dl.data as DeadLetter;
        await this.o.audit.append({ actor, action: 'dlq.purge', target: `${id} event=${e.eventId ?? '-'} code=${e.code}` });
        await dl.remove();
      }
      removed.push(id);
    }
    return { removed, missing };
  }
}
