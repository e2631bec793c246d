/**
 * The scan worker's BullMQ side: takes jobs off the scan queue and hands them to the transport-free
 * scan job handler (src/services/scan-job.ts), then acknowledges (the handler emitted flags and
 * dead letters) or re-schedules the job with the handler's backoff. The retry budget is the
 * handler's, from the worker's config; the producer's job options do not decide it.
 */
import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { VigilError } from '../../core/errors.js';
import type { DeadLetter, DeadLetterSink } from '../../core/ports.js';
import { salvageIds } from '../../core/contracts.js';
import { REPLAY_JOB_PREFIX } from './queues.js';
import type { ScanJobHandler, ScanJobResult } from '../../services/scan-job.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../metrics.js';

/**
 * How many times a job's worker may die while holding it before the job is dead-lettered
 * (RETRIES_EXHAUSTED) instead of taken again: such a job is likely what kills workers.
 * docs/architecture.md says the same number.
 */
export const MAX_WORKER_DEATHS = 2;

/** `vigil replay` names its jobs `replay.REPLAYID` (the event itself is never changed to carry it). */
export function replayIdOf(jobName: string): string | undefined {
  return jobName.startsWith(REPLAY_JOB_PREFIX) ? jobName.slice(REPLAY_JOB_PREFIX.length) || undefined : undefined;
}

export interface ScanWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  queue: string;
  /** The scan-queue shard this worker consumes (VIGIL_SCAN_SHARDS; default 0, the only one). */
  shard?: number;
  concurrency: number;
  /** How long a job's lock lasts without renewal; a killed worker's job is retried after about this long. */
  lockDurationMs: number;
  handle: ScanJobHandler;
  /** For jobs that fail outside the handler (their worker died too often). */
  deadLetters: DeadLetterSink;
  logger: Logger;
  metrics?: Metrics | undefined;
}

export class ScanWorker {
  readonly worker: Worker;
  readonly #o: ScanWorkerOptions;
  /** Errors this worker threw itself; any other 'failed' event comes from BullMQ (lost locks, stalls). */
  readonly #ownErrors = new WeakSet<Error>();
  #closing: Promise<void> | undefined;

  constructor(options: ScanWorkerOptions) {
    this.#o = options;
    this.worker = new Worker(options.queue, (job, token) => this.#process(job, token), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: Math.max(1000, Math.floor(options.lockDurationMs / 2)),
      // BullMQ fails a job once its stall count exceeds this: the MAX_WORKER_DEATHS-th death.
      maxStalledCount: MAX_WORKER_DEATHS - 1,
      autorun: false,
    });
    this.worker.on('error', (err) => options.logger.error({ err }, 'scan worker error'));
    this.worker.on('failed', (job, err) => void this.#onFailed(job, err));
  }

  run(): Promise<void> {
    return this.worker.run();
  }

  /** Stops taking jobs, lets jobs in flight finish, then releases connections. Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= this.worker.close());
  }

  async #process(job: Job, token: string | undefined): Promise<void> {
    const origin: DeadLetter['origin'] = { kind: 'bullmq', queue: this.#o.queue, jobId: job.id ?? 'unknown' };
    let result: ScanJobResult;
    try {
      result = await this.#o.handle({ payload: job.data, origin, attempt: Math.max(1, job.attemptsStarted), replayId: replayIdOf(job.name) });
    } catch (err) {
      // A dead letter could not be written: never acknowledge a failure that was not recorded.
      this.#o.logger.error({ err, jobId: job.id }, 'could not record the outcome; will retry');
      result = { status: 'retry', code: err instanceof VigilError ? err.code : 'INTERNAL', delayMs: 1000 };
    }
    if (result.status !== 'retry') this.#o.metrics?.shardEvents.inc({ shard: String(this.#o.shard ?? 0) });
    if (result.status !== 'retry' && result.retained) {
      // Out of retries on a transient failure: the dead letter is written; failing the job keeps the
      // event in the failed set (VIGIL_FAILED_RETENTION_S) for `vigil dlq retry`.
      const kept = new UnrecoverableError(result.status === 'dead_lettered' ? result.code : 'RETRIES_EXHAUSTED');
      this.#ownErrors.add(kept);
      throw kept;
    }
    // Nothing goes back to BullMQ: a return value would be serialised into every completion (and its
    // event stream entry) only for nobody to read it; the handler's outcome is in metrics and flags.
    if (result.status !== 'retry') return;
    try {
      await job.moveToDelayed(Date.now() + result.delayMs, token);
    } catch (err) {
      // Redis is gone: the lock lapses and the stalled-job check hands the job out again.
      const own = err instanceof Error ? err : new Error(String(err));
      this.#ownErrors.add(own);
      throw own;
    }
    throw new DelayedError();
  }

  /** Jobs that fail outside the handler (a worker died holding them too often) are dead-lettered here. */
  async #onFailed(job: Job | undefined, err: Error): Promise<void> {
    if (!job || this.#ownErrors.has(err) || err instanceof DelayedError) return;
    try {
      await this.#o.deadLetters.deadLetter({
        ...salvageIds(job.data),
        code: 'RETRIES_EXHAUSTED',
        message: `job failed outside the scan: its worker died ${MAX_WORKER_DEATHS} times while holding it`,
        origin: { kind: 'bullmq', queue: this.#o.queue, jobId: job.id ?? 'unknown' },
        at: new Date().toISOString(),
      });
      this.#o.metrics?.deadLettered.inc({ code: 'RETRIES_EXHAUSTED' });
    } catch (dlqErr) {
      this.#o.logger.error({ err: dlqErr, jobId: job.id }, 'could not dead-letter a stalled job; it stays in the failed set');
    }
  }
}
