/**
 * The scan use case, free of any transport: parse → scan → decide → emit flags → dead-letter what
 * could not be scanned → tell the transport whether to acknowledge or retry. The BullMQ worker and
 * the offline `vigil scan` both call it, so they produce the same flags and the same dead letters.
 *
 * The retry budget is the worker's own configuration (VIGIL_MAX_ATTEMPTS, VIGIL_BACKOFF_MS), not
 * whatever job options a producer happened to set.
 */
import { salvageIds, type ContractLimits, type Flag, type MessageEvent } from '../core/contracts.js';
import { ERROR_CODES, VigilError, toVigilError, type ErrorCode } from '../core/errors.js';
import { processPayload, type StageClock } from '../core/pipeline.js';
import type { Policy, ScanReport } from '../core/policy.js';
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
  /** Set when the job is part of a `vigil replay`: its flags are deduplicated against the flag ledger. */
  replayId?: string | undefined;
}

/**
 * The flag ledger as the scan needs it (src/adapters/flag-ledger.ts): a record of every emitted flag
 * that outlives the moderation queue's dedupe window, so a replay re-raises no flag raised before.
 */
export interface FlagRecords {
  known(flagIds: readonly string[]): Promise<boolean[]>;
  record(flags: readonly Flag[]): Promise<void>;
  replayDone(replayId: string, eventId: string, counts: { flagsNew: number; flagsKnown: number; deadLetters: number }): Promise<void>;
}

/**
 * flagged: at least one flag; clean: scanned whole, nothing found; incomplete: no flag, but some
 * media item could not be scanned (dead-lettered) — not the same as clean.
 */
export type ScanOutcome = 'flagged' | 'clean' | 'incomplete';

export type ScanJobResult =
  /** `retained`: a part gave up on a transient failure on the last attempt (see below). */
  | { status: 'scanned'; outcome: ScanOutcome; eventId: string; flagIds: string[]; mediaErrors: number; retained: boolean }
  /**
   * `retained`: the event ran out of retries on a transient failure; the transport keeps it (BullMQ's
   * failed set, VIGIL_FAILED_RETENTION_S) so `vigil dlq retry` can run it again once the cause is fixed.
   */
  | { status: 'dead_lettered'; code: ErrorCode; eventId?: string; retained: boolean }
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
  /** Records emitted flags; required for replay jobs to be deduplicated beyond the queue's dedupe window. */
  ledger?: FlagRecords | undefined;
  deadLetters: DeadLetterSink;
  logger: Logger;
  metrics?: Metrics | undefined;
  retry: RetryBudget;
  /**
   * After a scan (flags emitted): keeps the media items' hashes for the retro-match window
   * (VIGIL_RETRO_WINDOW). A failure is logged and counted, never retried: the scan itself succeeded.
   */
  retain?: ((event: MessageEvent, report: ScanReport) => Promise<void>) | undefined;
}

export type ScanJobHandler = (job: ScanJob) => Promise<ScanJobResult>;

function isRetriableCode(code: string): boolean {
  return (ERROR_CODES as Record<string, boolean>)[code] === true;
}

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

  /** Replay progress is bookkeeping: a failure is logged (the replay then waits in vain and says so), never re-scans. */
  const replayDone = async (replayId: string, eventId: string, counts: { flagsNew: number; flagsKnown: number; deadLetters: number }) => {
    if (!o.ledger || !eventId) return;
    await o.ledger.replayDone(replayId, eventId, counts).catch((err: unknown) => o.logger.error({ err, replayId }, 'could not count a replayed event'));
  };

  const m = o.metrics;
  const clock: StageClock | undefined = m
    ? { now: () => performance.now(), observe: (stage, seconds) => m.stageSeconds.observe({ stage }, seconds) }
    : undefined;
  return async (job) => {
    // A child logger per job costs more than the scan of a short text: build it only when logging.
    const log = () => o.logger.child({ ...salvageIds(job.payload), attempt: job.attempt });
    const stop = o.metrics?.scanSeconds.startTimer();
    try {
      const snapshot = o.policySource?.current();
      // On the last attempt a transient failure of one part is recorded for that part, not retried again.
      const finalAttempt = job.attempt >= o.retry.maxAttempts;
      const result = await processPayload(job.payload, o.scanner, snapshot?.live ?? o.policy(), o.limits, {
        counters: o.hooks?.counters(),
        candidate: snapshot?.candidate,
        finalAttempt,
        clock,
      });
      const { event, report, flags } = result;
      const emitStarted = performance.now();
      // A replay re-raises no flag the ledger holds (emitted before, also long past the queue's dedupe
      // window). The check must work: a replay without it would double flags, so its failure retries.
      let emitted = flags;
      if (job.replayId && o.ledger && flags.length) {
        const known = await o.ledger.known(flags.map((f) => f.flagId));
        emitted = flags.filter((_, i) => !known[i]);
      }
      await o.flags.emit(emitted);
      if (o.ledger && flags.length)
        await o.ledger.record(flags).catch((err: unknown) => {
          if (job.replayId) throw err;
          // Live traffic is not held up by the bank store: the flag is out; only its later attribution is lost.
          log().error({ err }, 'could not record flags in the flag ledger');
        });
      m?.stageSeconds.observe({ stage: 'emit' }, (performance.now() - emitStarted) / 1000);
      // The flags are out: a failure to count or to log shadow verdicts must not retry (and re-count) the job.
      // A replay is not live traffic: it feeds neither the flood monitor nor the daily caps nor the shadow log.
      if (o.hooks && !job.replayId)
        await o.hooks.after(result).catch((err: unknown) => log().error({ err }, 'could not record brakes counters or shadow verdicts'));
      // Flags first, then the parts that failed: a crash in between re-scans and re-emits the same flag ids.
      // A part that failed transiently on the last attempt gave up like a whole event would: recorded as
      // RETRIES_EXHAUSTED (the cause in its message and reason), and the event kept for `vigil dlq retry`.
      let retained = false;
      const final = (e: { code: string; message: string }) => {
        if (!isRetriableCode(e.code)) return e;
        retained = true;
        return { code: 'RETRIES_EXHAUSTED', message: `gave up after ${job.attempt} attempt(s): ${e.code}: ${e.message}` };
      };
      for (const m of report.mediaErrors)
        await deadLetter(job, final(m), {
          mediaId: m.mediaId,
          part: 'media',
          ...(m.reason ? { reason: m.reason } : {}),
          ...(m.sourceId ? { sourceId: m.sourceId } : {}),
        });
      for (const t of report.textErrors ?? [])
        await deadLetter(job, final(t), { part: 'text', ...(t.reason ? { reason: t.reason } : {}), ...(t.sourceId ? { sourceId: t.sourceId } : {}) });
      if (m) {
        for (const e of report.mediaErrors) m.errors.inc({ code: e.code });
        for (const e of report.textErrors ?? []) m.errors.inc({ code: e.code });
        for (const s of report.signals) m.matches.inc({ type: s.type, source: s.sourceId });
        for (const f of emitted) m.flagsEmitted.inc({ category: f.category, severity: f.severity, action: f.action });
        // Clock skew between producer and worker can make this negative; count it as instant.
        if (flags.length) m.endToEndSeconds.observe({ priority: event.priority }, Math.max(0, (Date.now() - Date.parse(event.sentAt)) / 1000));
      }
      if (o.retain && report.hashes)
        await o.retain(event, report).catch((err: unknown) => {
          const e = toVigilError(err);
          m?.errors.inc({ code: e.code });
          log().warn({ code: e.code, err: e }, 'could not retain media hashes for retro-matching');
        });
      const partsFailed = report.mediaErrors.length + (report.textErrors?.length ?? 0);
      const outcome: ScanOutcome = flags.length ? 'flagged' : partsFailed ? 'incomplete' : 'clean';
      o.metrics?.eventsScanned.inc({ outcome });
      if (o.logger.isLevelEnabled('debug')) log().debug({ flags: flags.map((f) => f.flagId), mediaErrors: report.mediaErrors.length, outcome }, 'scanned');
      if (job.replayId)
        await replayDone(job.replayId, event.eventId, {
          flagsNew: emitted.length,
          flagsKnown: flags.length - emitted.length,
          deadLetters: report.mediaErrors.length + (report.textErrors?.length ?? 0),
        });
      return { status: 'scanned', outcome, eventId: event.eventId, flagIds: flags.map((f) => f.flagId), mediaErrors: report.mediaErrors.length, retained };
    } catch (raw) {
      const err = toVigilError(raw);
      m?.errors.inc({ code: err.code });
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
      if (job.replayId) await replayDone(job.replayId, ids.eventId ?? '', { flagsNew: 0, flagsKnown: 0, deadLetters: 1 });
      return { status: 'dead_lettered', code: final.code, retained: err.retriable, ...(ids.eventId ? { eventId: ids.eventId } : {}) };
    } finally {
      stop?.();
    }
  };
}
