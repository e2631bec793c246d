/**
 * The scan use case, free of any transport: parse → scan → decide → emit flags → dead-letter what
 * could not be scanned → tell the transport whether to acknowledge or retry. The BullMQ worker and
 * the offline `vigil scan` both call it, so they produce the same flags and the same dead letters.
 *
 * The retry budget is the worker's own configuration (VIGIL_MAX_ATTEMPTS, VIGIL_BACKOFF_MS), not
 * whatever job options a producer happened to set.
 */
import { salvageIds, type ContractLimits } from '../core/contracts.js';
import { VigilError, toVigilError, type ErrorCode } from '../core/errors.js';
import { processPayload } from '../core/pipeline.js';
import type { Policy } from '../core/policy.js';
import type { DecisionHooks, PolicySource } from '../core/policy-source.js';
import type { DeadLetter, DeadLetterSink, FlagSink } from '../core/ports.js';
import type { Scanner } from '../core/scan.js';
import type { Metrics } from '../adapters/metrics.js';
import type { Logger } from '../logger.js';

export interface ScanJob {
  payload: unknown;
  /** Where the job came from; copied into dead-letter entries. */
  origin: DeadLetter['origin'];
  /** 1 for the first try. */
  attempt: number;
}

/**
 * flagged: at least one flag; clean: scanned whole, nothing found; incomplete: no flag, but some
 * media item could not be scanned (dead-lettered) — not the same as clean.
 */
export type ScanOutcome = 'flagged' | 'clean' | 'incomplete';

export type ScanJobResult =
  | { status: 'scanned'; outcome: ScanOutcome; eventId: string; flagIds: string[]; mediaErrors: number }
  | { status: 'dead_lettered'; code: ErrorCode; eventId?: string }
  /** Acknowledge nothing: run the job again after `delayMs`. */
  | { status: 'retry'; code: ErrorCode; delayMs: number };

export interface RetryBudget {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt; doubles after each. */
  backoffMs: number;
}

export interface ScanJobHandlerOptions {
  scanner: Scanner;
  policy: () => Policy;
  /** When set, read per job instead of `policy` (live policy + shadow candidate, one snapshot). */
  policySource?: PolicySource | undefined;
  /** Brakes snapshot before `decide`, counting and shadow log after the flags are emitted. */
  hooks?: DecisionHooks | undefined;
  limits: ContractLimits;
  flags: FlagSink;
  deadLetters: DeadLetterSink;
  logger: Logger;
  metrics?: Metrics | undefined;
  retry: RetryBudget;
}

export type ScanJobHandler = (job: ScanJob) => Promise<ScanJobResult>;

export function retryDelay(budget: RetryBudget, attempt: number): number {
  return budget.backoffMs * 2 ** Math.max(0, attempt - 1);
}

/**
 * Builds the handler. It throws only when a dead letter could not be written (the failure must not
 * be lost): the transport then retries the job.
 */
export function createScanJobHandler(o: ScanJobHandlerOptions): ScanJobHandler {
  const deadLetter = async (job: ScanJob, err: { code: string; message: string }, extra: Partial<DeadLetter> = {}) => {
    const entry: DeadLetter = { ...salvageIds(job.payload), code: err.code, message: err.message, origin: job.origin, at: new Date().toISOString(), ...extra };
    await o.deadLetters.deadLetter(entry);
    o.metrics?.deadLettered.inc({ code: err.code });
  };

  return async (job) => {
    // A child logger per job costs more than the scan of a short text: build it only when logging.
    const log = () => o.logger.child({ ...salvageIds(job.payload), attempt: job.attempt });
    const stop = o.metrics?.scanSeconds.startTimer();
    try {
      const snapshot = o.policySource?.current();
      const result = await processPayload(job.payload, o.scanner, snapshot?.live ?? o.policy(), o.limits, { counters: o.hooks?.counters(), candidate: snapshot?.candidate });
      const { event, report, flags } = result;
      await o.flags.emit(flags);
      // The flags are out: a failure to count or to log shadow verdicts must not retry (and re-count) the job.
      if (o.hooks) await o.hooks.after(result).catch((err: unknown) => log().error({ err }, 'could not record brakes counters or shadow verdicts'));
      // Flags first, then the parts that failed: a crash in between re-scans and re-emits the same flag ids.
      for (const m of report.mediaErrors) await deadLetter(job, m, { mediaId: m.mediaId });
      for (const f of flags) o.metrics?.flagsEmitted.inc({ category: f.category, severity: f.severity });
      const outcome: ScanOutcome = flags.length ? 'flagged' : report.mediaErrors.length ? 'incomplete' : 'clean';
      o.metrics?.eventsScanned.inc({ outcome });
      if (o.logger.isLevelEnabled('debug')) log().debug({ flags: flags.map((f) => f.flagId), mediaErrors: report.mediaErrors.length, outcome }, 'scanned');
      return { status: 'scanned', outcome, eventId: event.eventId, flagIds: flags.map((f) => f.flagId), mediaErrors: report.mediaErrors.length };
    } catch (raw) {
      const err = toVigilError(raw);
      if (err.retriable && job.attempt < o.retry.maxAttempts) {
        const delayMs = retryDelay(o.retry, job.attempt);
        log().warn({ code: err.code, err, delayMs, maxAttempts: o.retry.maxAttempts }, 'retriable failure; will retry');
        o.metrics?.eventsScanned.inc({ outcome: 'retried' });
        return { status: 'retry', code: err.code, delayMs };
      }
      const final = err.retriable ? new VigilError('RETRIES_EXHAUSTED', `gave up after ${job.attempt} attempt(s): ${err.code}: ${err.message}`) : err;
      // Dead-letter before acknowledging, so a crash here retries rather than loses the failure.
      await deadLetter(job, final);
      log().warn({ code: final.code, err: final }, 'dead-lettered');
      o.metrics?.eventsScanned.inc({ outcome: 'dead_lettered' });
      const ids = salvageIds(job.payload);
      return { status: 'dead_lettered', code: final.code, ...(ids.eventId ? { eventId: ids.eventId } : {}) };
    } finally {
      stop?.();
    }
  };
}
