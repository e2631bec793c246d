/**
 * The scan worker: consumes the scan queue, runs the pipeline, and acknowledges a job only after its
 * flags (and any dead-letter entries) are enqueued. Retriable errors are thrown so BullMQ retries with
 * backoff; non-retriable ones are dead-lettered with their code and the job completes.
 */
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { ContractLimits } from '../../core/contracts.js';
import { salvageIds } from '../../core/contracts.js';
import { VigilError, toVigilError } from '../../core/errors.js';
import { processPayload, type StageClock } from '../../core/pipeline.js';
import type { Policy } from '../../core/policy.js';
import type { DeadLetter, DeadLetterSink, FlagSink } from '../../core/ports.js';
import type { Scanner } from '../../core/scan.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../metrics.js';

export interface ScanWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  queue: string;
  concurrency: number;
  /** How long a job's lock lasts without renewal; a killed worker's job is retried after about this long. */
  lockDurationMs: number;
  scanner: Scanner;
  policy: () => Policy;
  limits: ContractLimits;
  flags: FlagSink;
  deadLetters: DeadLetterSink;
  logger: Logger;
  metrics?: Metrics;
}

export interface ScanJobResult {
  flagIds: string[];
  deadLettered?: string;
  mediaErrors?: number;
}

export class ScanWorker {
  readonly worker: Worker;
  readonly #o: ScanWorkerOptions;
  readonly #clock: StageClock | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ScanWorkerOptions) {
    this.#o = options;
    const m = options.metrics;
    this.#clock = m ? { now: () => performance.now(), observe: (stage, seconds) => m.stageSeconds.observe({ stage }, seconds) } : undefined;
    this.worker = new Worker(options.queue, (job) => this.#process(job), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: Math.max(1000, Math.floor(options.lockDurationMs / 2)),
      // A job whose worker died twice is likely what kills workers: stop retrying it, dead-letter it.
      maxStalledCount: 2,
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

  #origin(job: Job): DeadLetter['origin'] {
    return { kind: 'bullmq', queue: this.#o.queue, jobId: job.id ?? 'unknown' };
  }

  async #deadLetter(job: Job, err: { code: string; message: string }, extra: Partial<DeadLetter> = {}): Promise<void> {
    const entry: DeadLetter = { ...salvageIds(job.data), code: err.code, message: err.message, origin: this.#origin(job), at: new Date().toISOString(), ...extra };
    await this.#o.deadLetters.deadLetter(entry);
    this.#o.metrics?.deadLettered.inc({ code: err.code });
  }

  async #process(job: Job): Promise<ScanJobResult> {
    const o = this.#o;
    // A child logger per job costs more than the scan of a short text: build it only when logging.
    const log = () => o.logger.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
    const stop = o.metrics?.scanSeconds.startTimer();
    try {
      const { event, report, flags } = await processPayload(job.data, o.scanner, o.policy(), o.limits, this.#clock);
      const emitStarted = performance.now();
      await o.flags.emit(flags);
      o.metrics?.stageSeconds.observe({ stage: 'emit' }, (performance.now() - emitStarted) / 1000);
      for (const m of report.mediaErrors) {
        o.metrics?.errors.inc({ code: m.code });
        await this.#deadLetter(job, m, { mediaId: m.mediaId });
      }
      if (o.metrics) {
        for (const s of report.signals) o.metrics.matches.inc({ type: s.type, source: s.sourceId });
        for (const f of flags) o.metrics.flagsEmitted.inc({ category: f.category, severity: f.severity, action: f.action });
        // Clock skew between producer and worker can make this negative; count it as instant.
        if (flags.length) o.metrics.endToEndSeconds.observe({ priority: event.priority }, Math.max(0, (Date.now() - Date.parse(event.sentAt)) / 1000));
      }
      o.metrics?.eventsScanned.inc({ outcome: flags.length ? 'flagged' : 'clean' });
      if (o.logger.isLevelEnabled('debug')) log().debug({ flags: flags.map((f) => f.flagId), mediaErrors: report.mediaErrors.length }, 'scanned');
      return { flagIds: flags.map((f) => f.flagId), ...(report.mediaErrors.length ? { mediaErrors: report.mediaErrors.length } : {}) };
    } catch (raw) {
      const err = toVigilError(raw);
      o.metrics?.errors.inc({ code: err.code });
      const attempts = job.opts.attempts ?? 1;
      const lastAttempt = job.attemptsMade + 1 >= attempts;
      if (!err.retriable || lastAttempt) {
        // Dead-letter before acknowledging, so a crash here retries rather than loses the failure.
        const final = err.retriable ? new VigilError('RETRIES_EXHAUSTED', `gave up after ${attempts} attempt(s): ${err.code}: ${err.message}`) : err;
        await this.#deadLetter(job, final);
        log().warn({ code: final.code, err: final }, 'dead-lettered');
        o.metrics?.eventsScanned.inc({ outcome: 'dead_lettered' });
        // Exhausted retries end in the failed set, where the event is kept VIGIL_FAILED_RETENTION_S
        // for `vigil dlq retry`; non-retriable failures complete, so their content goes at once.
        if (err.retriable) throw new UnrecoverableError(final.code);
        return { flagIds: [], deadLettered: final.code };
      }
      log().warn({ code: err.code, err }, 'retriable failure; will retry');
      o.metrics?.eventsScanned.inc({ outcome: 'retried' });
      throw err;
    } finally {
      stop?.();
    }
  }

  /** Jobs that fail outside the processor (a worker died holding them too often) are dead-lettered here. */
  async #onFailed(job: Job | undefined, err: Error): Promise<void> {
    // BullMQ reports a job whose lock was lost too often with this message; other failures were handled in #process.
    if (!job || !/stalled/i.test(err.message)) return;
    try {
      await this.#deadLetter(job, new VigilError('RETRIES_EXHAUSTED', 'job stalled too many times (its worker died while holding it)'));
    } catch (dlqErr) {
      this.#o.logger.error({ err: dlqErr, jobId: job.id }, 'could not dead-letter a stalled job; it stays in the failed set');
    }
  }
}
