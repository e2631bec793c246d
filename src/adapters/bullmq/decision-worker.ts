/**
 * The BullMQ consumer of reviewer decisions (`vigil-decisions`). Runs inside `vigil worker`: every
 * worker takes decision jobs, BullMQ hands each to one of them, and the counting is idempotent per
 * flag (src/adapters/flag-ledger.ts), so a job taken twice counts once. A ledger that does not answer
 * re-schedules the job with backoff; after the worker's VIGIL_MAX_ATTEMPTS it stays in the failed set.
 */
import { DelayedError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { DecisionHandler } from '../../services/decision-job.js';
import type { Logger } from '../../logger.js';

export interface DecisionWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  queue: string;
  handle: DecisionHandler;
  logger: Logger;
  maxAttempts: number;
  backoffMs: number;
  concurrency?: number;
}

export class DecisionWorker {
  readonly worker: Worker;
  readonly #o: DecisionWorkerOptions;
  #closing: Promise<void> | undefined;

  constructor(options: DecisionWorkerOptions) {
    this.#o = options;
    this.worker = new Worker(options.queue, (job, token) => this.#process(job, token), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 8,
      autorun: false,
    });
    this.worker.on('error', (err) => options.logger.error({ err }, 'decision worker error'));
  }

  run(): Promise<void> {
    return this.worker.run();
  }

  /**
   * Lets a decision in flight finish (one Lua call), unless the queue Redis is gone: then it could not
   * finish anyway, so the worker closes at once and the job's lapsed lock hands it out again later.
   */
  close(): Promise<void> {
    const connection = this.#o.connection as { status?: string };
    const redisGone = connection.status !== undefined && connection.status !== 'ready';
    return (this.#closing ??= this.worker.close(redisGone));
  }

  async #process(job: Job, token: string | undefined): Promise<unknown> {
    try {
      return await this.#o.handle(job.data, { kind: 'bullmq', queue: this.#o.queue, jobId: job.id ?? 'unknown' });
    } catch (err) {
      const attempt = Math.max(1, job.attemptsStarted);
      if (attempt >= this.#o.maxAttempts) {
        this.#o.logger.error({ err, jobId: job.id, attempt }, 'decision not counted after the last attempt; kept in the failed set');
        throw err;
      }
      this.#o.logger.warn({ err, jobId: job.id, attempt }, 'decision not counted; will retry');
      await job.moveToDelayed(Date.now() + this.#o.backoffMs * 2 ** (attempt - 1), token);
      throw new DelayedError();
    }
  }
}
