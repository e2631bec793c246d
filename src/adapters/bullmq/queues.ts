/**
 * BullMQ adapters: the scan queue (publisher side), the moderation queue (flag sink) and the
 * dead-letter queue. Ids are job ids, so duplicates are absorbed by Redis itself; a dedupe key (ids
 * only, no content) keeps absorbing them for `dedupeTtlMs` after the job was completed and removed.
 */
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { createHash } from 'node:crypto';
import type { EventPriority, Flag, MessageEvent } from '../../core/contracts.js';
import { VigilError } from '../../core/errors.js';
import type { DeadLetter, DeadLetterSink, FlagSink, ScanQueue } from '../../core/ports.js';
import type { Severity } from '../../core/signals.js';
import { shardFor, shardPrefix } from '../../core/shards.js';
import { isRedisClient } from './connection.js';

/** Job names of replayed events (`replay.REPLAYID`); the scan worker reads the replay id from it. */
export const REPLAY_JOB_PREFIX = 'replay.';

export interface QueueSettings {
  connection: ConnectionOptions;
  prefix: string;
  dedupeTtlMs: number;
}

/**
 * BullMQ serves its plain wait list before any prioritized job, and the wait list is the cheaper
 * path. So the bulk (normal) goes FIFO through the wait list, user reports go to its head (LIFO:
 * the newest report next), and backfills are prioritized, which means they run only when nothing
 * else waits.
 */
export const EVENT_QUEUEING: Record<EventPriority, Pick<JobsOptions, 'lifo' | 'priority'>> = { report: { lifo: true }, normal: {}, backfill: { priority: 1 } };
export const SEVERITY_PRIORITY: Record<Severity, number> = { critical: 1, high: 2, medium: 3, low: 4 };

function queueError(err: unknown, what: string): VigilError {
  if (err instanceof VigilError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return new VigilError('QUEUE_UNAVAILABLE', `${what} failed${code ? ` (${code})` : ''}`, { cause: err });
}

export interface ScanQueueSettings extends QueueSettings {
  name: string;
  failedRetentionS: number;
}

export class BullScanQueue implements ScanQueue {
  readonly queue: Queue;
  readonly #settings: ScanQueueSettings;
  #closing: Promise<void> | undefined;

  constructor(settings: ScanQueueSettings) {
    this.#settings = settings;
    this.queue = new Queue(settings.name, { connection: settings.connection, prefix: settings.prefix });
    // Without a listener an unreachable Redis would crash the process with an unhandled 'error'.
    this.queue.on('error', () => undefined);
  }

  /**
   * A replayed event gets a job id of its own (`replay.ID.EVENTID`): under its eventId the queue would
   * absorb it as a duplicate of the original for the dedupe window. It keeps its eventId, so its
   * flags get the same flagIds as the first time and are deduplicated against those by flagId.
   */
  jobOptions(event: MessageEvent, replayId?: string): JobsOptions {
    const s = this.#settings;
    const jobId = replayId ? `${REPLAY_JOB_PREFIX}${replayId}.${event.eventId}` : event.eventId;
    return {
      jobId,
      deduplication: { id: jobId, ttl: s.dedupeTtlMs },
      ...EVENT_QUEUEING[event.priority],
      // No attempts/backoff here: the worker's config owns the retry budget (src/services/scan-job.ts).
      // Message content must not outlive the scan: completed jobs go at once; failed ones are kept
      // only as long as ops may want to replay them.
      removeOnComplete: true,
      removeOnFail: { age: s.failedRetentionS },
    };
  }

  async publish(event: MessageEvent): Promise<void> {
    await this.enqueue([event]);
  }

  async publishBatch(events: readonly MessageEvent[]): Promise<void> {
    await this.enqueue(events);
  }

  /**
   * Enqueues the events; says for each whether the queue absorbed it as a duplicate (its eventId was
   * accepted within the dedupe window, or appears earlier in the batch). The duplicate check reads the
   * dedupe and job keys just before the add: a concurrent publisher of the same id may be counted as new.
   */
  async enqueue(events: readonly MessageEvent[], options: { replayId?: string } = {}): Promise<boolean[]> {
    if (events.length === 0) return [];
    const { replayId } = options;
    const jobId = (e: MessageEvent) => (replayId ? `${REPLAY_JOB_PREFIX}${replayId}.${e.eventId}` : e.eventId);
    try {
      const replies = await this.#known(events.map(jobId));
      const seen = new Set<string>();
      const duplicate = events.map((e, i) => {
        const [err, n] = replies[i] ?? [null, 0];
        const dup = seen.has(e.eventId) || (!err && Number(n) > 0);
        seen.add(e.eventId);
        return dup;
      });
      await this.queue.addBulk(
        events.map((e) => ({ name: replayId ? `${REPLAY_JOB_PREFIX}${replayId}` : 'scan', data: e, opts: this.jobOptions(e, replayId) })),
      );
      return duplicate;
    } catch (err) {
      throw queueError(err, 'enqueue on the scan queue');
    }
  }

  /** EXISTS of each event's dedupe key and job key; all zero when the connection is not an ioredis client. */
  async #known(jobIds: readonly string[]): Promise<[Error | null, unknown][]> {
    const redis = this.#settings.connection;
    if (!isRedisClient(redis)) return jobIds.map(() => [null, 0]);
    const pipeline = redis.pipeline();
    for (const id of jobIds) pipeline.exists(this.queue.toKey(`de:${id}`), this.queue.toKey(id));
    return (await pipeline.exec()) ?? [];
  }

  jobKey(jobId: string): string {
    return this.queue.toKey(jobId);
  }

  async backlog(): Promise<number> {
    try {
      return await this.queue.getJobCountByTypes('wait', 'prioritized', 'delayed', 'waiting-children');
    } catch (err) {
      throw queueError(err, 'read the scan queue backlog');
    }
  }

  close(): Promise<void> {
    return (this.#closing ??= this.queue.close());
  }
}

export interface ShardedScanQueueSettings extends ScanQueueSettings {
  /** VIGIL_SCAN_SHARDS; 1 (default) is the one unsharded queue under `prefix`. */
  shards?: number;
}

/**
 * The scan queue split into shards (VIGIL_SCAN_SHARDS): one BullMQ queue per shard, each under its
 * own hash-tag prefix (`shardPrefix`), an event routed by `shardFor(conversationId)`. A shard's job,
 * wait list and dedupe keys share its slot, so the multi-key scripts of an enqueue stay in one slot.
 * With one shard this is exactly the unsharded queue (same prefix and keys).
 */
export class ShardedScanQueue implements ScanQueue {
  readonly shards: readonly BullScanQueue[];

  constructor(settings: ShardedScanQueueSettings) {
    const n = Math.max(1, settings.shards ?? 1);
    this.shards = Array.from({ length: n }, (_, i) => new BullScanQueue({ ...settings, prefix: shardPrefix(settings.prefix, i, n) }));
  }

  /** The shard an event is routed to. */
  shardOf(event: Pick<MessageEvent, 'conversationId'>): number {
    return shardFor(event.conversationId, this.shards.length);
  }

  async publish(event: MessageEvent): Promise<void> {
    await this.enqueue([event]);
  }

  async publishBatch(events: readonly MessageEvent[]): Promise<void> {
    await this.enqueue(events);
  }

  /** As BullScanQueue.enqueue: each shard's events in one batch (in their input order), shards in parallel. */
  async enqueue(events: readonly MessageEvent[], options: { replayId?: string } = {}): Promise<boolean[]> {
    if (this.shards.length === 1) return this.shards[0]!.enqueue(events, options);
    const byShard = new Map<number, number[]>();
    events.forEach((e, i) => {
      const s = this.shardOf(e);
      const list = byShard.get(s);
      if (list) list.push(i);
      else byShard.set(s, [i]);
    });
    const duplicate: boolean[] = new Array<boolean>(events.length).fill(false);
    await Promise.all(
      [...byShard].map(async ([shard, indexes]) => {
        const dup = await this.shards[shard]!.enqueue(
          indexes.map((i) => events[i]!),
          options,
        );
        indexes.forEach((i, k) => (duplicate[i] = dup[k] === true));
      }),
    );
    return duplicate;
  }

  /** Redis key of a scan job's hash on `shard`. */
  jobKey(jobId: string, shard = 0): string {
    return this.shards[Math.min(shard, this.shards.length - 1)]!.jobKey(jobId);
  }

  /** Waiting jobs of every shard together. */
  async backlog(): Promise<number> {
    return (await this.backlogs()).reduce((a, b) => a + b, 0);
  }

  /** Waiting jobs, by shard. */
  backlogs(): Promise<number[]> {
    return Promise.all(this.shards.map((q) => q.backlog()));
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((q) => q.close()));
  }
}

export class BullFlagSink implements FlagSink {
  readonly queue: Queue;
  readonly #settings: QueueSettings;
  #closing: Promise<void> | undefined;

  constructor(name: string, settings: QueueSettings) {
    this.#settings = settings;
    this.queue = new Queue(name, { connection: settings.connection, prefix: settings.prefix });
    this.queue.on('error', () => undefined);
  }

  async emit(flags: readonly Flag[]): Promise<void> {
    if (flags.length === 0) return;
    const ttl = this.#settings.dedupeTtlMs;
    const jobs = flags.map((f) => ({
      name: f.category,
      data: f,
      opts: {
        jobId: f.flagId,
        deduplication: { id: f.flagId, ttl },
        priority: SEVERITY_PRIORITY[f.severity],
        // Flags carry no content; keep them for the consumer a while, then let Redis forget them.
        removeOnComplete: { age: Math.ceil(ttl / 1000) },
        removeOnFail: { age: Math.ceil(ttl / 1000) },
      },
    }));
    try {
      // One flag (the usual case) is one script call; addBulk would wrap it in a MULTI, whose
      // pipeline copies all of BullMQ's scripts onto itself first (about 40 µs measured).
      const [only] = jobs;
      if (jobs.length === 1 && only) await this.queue.add(only.name, only.data, only.opts);
      else await this.queue.addBulk(jobs);
    } catch (err) {
      throw queueError(err, 'enqueue flags on the moderation queue');
    }
  }

  close(): Promise<void> {
    return (this.#closing ??= this.queue.close());
  }
}

/** Same origin + code + media → same entry id, so a replayed failure is not listed twice. */
export function deadLetterId(entry: DeadLetter): string {
  const o = entry.origin;
  const where = o.kind === 'bullmq' ? `${o.queue}/${o.jobId}` : o.kind === 'kafka' ? `${o.topic}/${o.partition}/${o.offset}` : `${o.file}/${o.line}`;
  return `dl_${createHash('sha256')
    .update(`${o.kind}\0${where}\0${entry.code}\0${entry.mediaId ?? ''}`)
    .digest('hex')
    .slice(0, 32)}`;
}

export interface DeadLetterSettings extends QueueSettings {
  /** Entries older than this are removed (VIGIL_DEAD_LETTER_RETENTION_S; default 7 days). */
  retentionS?: number;
  /** At most this many entries are kept, the oldest removed first (VIGIL_DEAD_LETTER_MAX_ENTRIES; default 100,000). */
  maxEntries?: number;
}

/** How often a sink trims its queue to the bounds; trimming on every write would cost a round trip each. */
const TRIM_EVERY_MS = 10_000;

/**
 * Dead-letter entries are jobs nobody consumes: they wait until ops look at them. So the sink itself
 * keeps the queue within the configured age and size.
 */
export class BullDeadLetterSink implements DeadLetterSink {
  readonly queue: Queue;
  readonly #settings: Required<DeadLetterSettings>;
  #lastTrim = 0;
  #trimming: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(name: string, settings: DeadLetterSettings) {
    this.#settings = { retentionS: 7 * 24 * 3600, maxEntries: 100_000, ...settings };
    this.queue = new Queue(name, { connection: settings.connection, prefix: settings.prefix });
    this.queue.on('error', () => undefined);
  }

  async deadLetter(entry: DeadLetter): Promise<void> {
    try {
      await this.queue.add(entry.code, entry, { jobId: deadLetterId(entry), removeOnComplete: { age: this.#settings.retentionS } });
    } catch (err) {
      throw queueError(err, 'write to the dead-letter queue');
    }
    if (Date.now() - this.#lastTrim >= TRIM_EVERY_MS) {
      this.#lastTrim = Date.now();
      this.#trimming ??= this.trim()
        .catch(() => undefined)
        .finally(() => (this.#trimming = undefined));
      await this.#trimming;
    }
  }

  /** Removes entries past the retention age, then the oldest beyond the size bound. */
  async trim(): Promise<void> {
    const { retentionS, maxEntries } = this.#settings;
    await this.queue.clean(retentionS * 1000, 10_000, 'wait');
    const count = await this.queue.getWaitingCount();
    if (count <= maxEntries) return;
    // getWaiting counts from the oldest entry (BullMQ reverses its LPUSHed list), so 0… are the ones to drop.
    const excess = await this.queue.getWaiting(0, count - maxEntries - 1);
    for (const job of excess) await job.remove().catch(() => undefined);
  }

  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      await this.#trimming;
      await this.queue.close();
    })());
  }
}
