/**
 * Commit on outcome: the bridge commits a partition's offset only up to the last record whose outcome
 * is final (its scan job finished: flags emitted to the moderation queue and the Kafka mirror, or
 * dead-lettered), so a queue Redis that restarts empty loses nothing Kafka has not kept.
 *
 * How an outcome is learnt, in batches: every `sweepMs` one MULTI reads the queue Redis's `run_id`
 * and, for the oldest unsettled records of each partition, their job hash (`timestamp`, `finishedOn`).
 * A scan job is removed as soon as it completes, so
 * - job present, not finished → still pending;
 * - job present and finished (failed for good, kept for replay) → final;
 * - job absent → it completed and was removed, *provided Redis is the instance it was enqueued on*.
 * That proviso is the `run_id` (new on every Redis start): read atomically with the job states, it
 * says whether the states belong to the instance the records went to. A changed run_id means Redis
 * restarted (empty, or from an AOF that may miss the last writes): every unsettled record is replayed
 * from Kafka by seeking its partition back to the first one, and the queue's jobId dedupe absorbs
 * whatever did survive. Duplicated flags then carry the same deterministic flagId.
 *
 * No event stream is read (BullMQ trims its events stream, so a lagging reader can miss completions
 * and wedge); a Redis that is down only delays sweeps, it cannot wedge them.
 */
import type { RedisClient } from '../bullmq/connection.js';
import { VigilError, toVigilError } from '../../core/errors.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../metrics.js';

export interface OutcomeTrackerOptions {
  /** The queue Redis (fail-fast connection). */
  redis: RedisClient;
  /** Redis key of a scan job's hash on scan-queue shard `shard`. */
  jobKey(jobId: string, shard: number): string;
  /**
   * Scan-queue shards (VIGIL_SCAN_SHARDS, default 1). Each shard is read with its own MULTI (on a
   * cluster each lives in its own slot, possibly on its own master), with that node's run_id.
   */
  shards?: number;
  /** Commits offsets (next offset to read, as Kafka expects). */
  commit(offsets: { partition: number; offset: string }[]): Promise<void>;
  /** Moves a partition's fetch position back so its unsettled records are read again. */
  seek(partition: number, offset: string): void;
  logger: Logger;
  metrics?: Metrics;
  /** How often outcomes are swept. Default 200 ms. */
  sweepMs?: number;
  /**
   * Most of the oldest unsettled records checked per partition and sweep. Default 5000. The window
   * adapts: it doubles while whole windows turn out settled, and shrinks to 64 while the oldest record
   * is still pending (only a settled prefix can move the commit, so checking far past a pending head
   * is wasted work in Redis).
   */
  checksPerPartition?: number;
}

interface TrackedRecord {
  offset: number;
  /** The scan job's id; undefined for a record that was dead-lettered by the bridge itself. */
  jobId: string | undefined;
  /** The scan-queue shard its job went to. */
  shard: number;
  done: boolean;
}

class PartitionTrack {
  records: TrackedRecord[] = [];
  /** Index of the first record not yet known final. */
  head = 0;
  /** Next offset after the last settled record (everything before it is final), -1 before any. */
  settled = -1;
  /** Next offset already committed, -1 before the first commit (or after a failed one). */
  committed = -1;
  /** Records checked per sweep (adaptive, see checksPerPartition). */
  window = MIN_WINDOW;
}

const MIN_WINDOW = 64;

function parseRunId(info: string): string {
  const m = /run_id:([0-9a-f]+)/.exec(info);
  if (!m?.[1]) throw new Error('INFO server has no run_id');
  return m[1];
}

export class OutcomeTracker {
  readonly #o: OutcomeTrackerOptions;
  readonly #sweepMs: number;
  readonly #checks: number;
  readonly #partitions = new Map<number, PartitionTrack>();
  readonly #shards: number;
  /** run_id of the node holding each shard, as last read (a failover or slot move changes it). */
  #runIds: string[] | undefined;
  /** Bumped on every detected restart; a chunk enqueued in an older era may be in the lost instance. */
  #era = 0;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;
  #restarts = 0;

  constructor(options: OutcomeTrackerOptions) {
    this.#o = options;
    this.#sweepMs = options.sweepMs ?? 200;
    this.#checks = options.checksPerPartition ?? 5000;
    this.#shards = Math.max(1, options.shards ?? 1);
  }

  /** run_id of the node holding each shard: INFO inside a MULTI with one of the shard's keys goes to that node. */
  async #readRunIds(): Promise<string[]> {
    return Promise.all(
      Array.from({ length: this.#shards }, async (_, shard) => {
        const results = (await this.#o.redis.multi().info('server').exists(this.#o.jobKey('', shard)).exec()) ?? [];
        const [err, info] = results[0] ?? [new Error('no reply')];
        if (err) throw err;
        return parseRunId(info as string);
      }),
    );
  }

  /** Reads the queue Redis's identity (records can only be tracked against a known one), then sweeps periodically. */
  async start(timeoutMs = 10_000): Promise<void> {
    // A fail-fast connection may still be connecting: wait for it, within a bound.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        this.#runIds = await this.#readRunIds();
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw new VigilError('QUEUE_UNAVAILABLE', `queue Redis did not answer within ${timeoutMs} ms, so outcomes cannot be tracked`, { cause: err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.#timer ??= setInterval(() => void this.sweep(), this.#sweepMs);
    this.#timer.unref();
  }

  /** Captured before an enqueue starts and handed to `track` after it. */
  era(): number {
    return this.#era;
  }

  stats(): { unsettled: number; restarts: number } {
    let unsettled = 0;
    for (const t of this.#partitions.values()) unsettled += t.records.length - t.head;
    return { unsettled, restarts: this.#restarts };
  }

  /**
   * Records (in offset order) whose jobs were just enqueued, or which were dead-lettered. Returns
   * false when Redis restarted since the enqueue began: the partition was sought back instead.
   */
  track(partition: number, records: readonly { offset: string; jobId: string | undefined; shard?: number }[], era: number): boolean {
    if (records.length === 0) return true;
    let track = this.#partitions.get(partition);
    if (!track) this.#partitions.set(partition, (track = new PartitionTrack()));
    const first = Number(records[0]!.offset);
    if (era !== this.#era) {
      const firstUnsettled = track.records[track.head]?.offset;
      this.#replay(partition, track, firstUnsettled === undefined ? first : Math.min(first, firstUnsettled));
      return false;
    }
    // A replay (rebalance, seek) starts over at a lower offset: forget what follows it.
    const last = track.records[track.records.length - 1];
    if (last && first <= last.offset) {
      const keep = track.records.findIndex((r) => r.offset >= first);
      track.records.length = keep;
      track.head = Math.min(track.head, keep);
    }
    for (const r of records) track.records.push({ offset: Number(r.offset), jobId: r.jobId, shard: r.shard ?? 0, done: false });
    return true;
  }

  /** After a rebalance KafkaJS reads every partition from its committed offset again: start over. */
  reset(): void {
    this.#partitions.clear();
  }

  #replay(partition: number, track: PartitionTrack, from: number): void {
    this.#o.seek(partition, String(from));
    track.records = [];
    track.head = 0;
  }

  /** One sweep (skipped if one is running); also called by close() for a last commit. */
  sweep(): Promise<void> {
    return (this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = undefined)));
  }

  async #sweep(): Promise<void> {
    if (this.#runIds === undefined) return;
    const checked: { partition: number; track: PartitionTrack; records: TrackedRecord[] }[] = [];
    // Per shard: the job keys to read, and each job's index among them.
    const keys: string[][] = Array.from({ length: this.#shards }, () => []);
    const slot: Map<string, number>[] = Array.from({ length: this.#shards }, () => new Map());
    for (const [partition, track] of this.#partitions) {
      const records = track.records.slice(track.head, track.head + Math.min(track.window, this.#checks));
      if (records.length === 0) continue;
      checked.push({ partition, track, records });
      for (const r of records) {
        const s = Math.min(r.shard, this.#shards - 1);
        if (r.jobId !== undefined && !slot[s]!.has(r.jobId)) slot[s]!.set(r.jobId, keys[s]!.push(this.#o.jobKey(r.jobId, s)) - 1);
      }
    }
    if (checked.length > 0 && !(await this.#settle(checked, keys, slot))) return;
    const commits: { partition: number; offset: string }[] = [];
    for (const [partition, track] of this.#partitions) if (track.settled > track.committed) commits.push({ partition, offset: String(track.settled) });
    if (commits.length === 0) return;
    try {
      await this.#o.commit(commits);
      for (const c of commits) {
        const track = this.#partitions.get(c.partition);
        if (track) track.committed = Math.max(track.committed, Number(c.offset));
      }
    } catch (err) {
      // A rebalance or a coordinator change: the records stay settled; the next sweep commits them.
      for (const c of commits) {
        const track = this.#partitions.get(c.partition);
        if (track) track.committed = -1;
      }
      this.#o.logger.warn({ err: toVigilError(err) }, 'offset commit failed; retrying on the next sweep');
    }
  }

  /** Reads the checked records' outcomes; false when they cannot be trusted (Redis unreachable or restarted). */
  async #settle(
    checked: { partition: number; track: PartitionTrack; records: TrackedRecord[] }[],
    keys: string[][],
    slot: Map<string, number>[],
  ): Promise<boolean> {
    let runIds: string[];
    let states: (string | null)[][][];
    try {
      // One MULTI per shard (a shard's keys share a slot): its node's run_id, read atomically with the job states.
      const read = await Promise.all(
        keys.map(async (shardKeys, shard) => {
          const tx = this.#o.redis.multi().info('server');
          for (const key of shardKeys) tx.hmget(key, 'timestamp', 'finishedOn');
          // Routes a shard with nothing to check to its own node all the same.
          if (shardKeys.length === 0) tx.exists(this.#o.jobKey('', shard));
          const results = (await tx.exec()) ?? [];
          for (const [err] of results) if (err) throw err;
          return { runId: parseRunId(results[0]?.[1] as string), states: results.slice(1, 1 + shardKeys.length).map(([, v]) => v as (string | null)[]) };
        }),
      );
      runIds = read.map((r) => r.runId);
      states = read.map((r) => r.states);
    } catch (err) {
      this.#o.logger.warn({ err: toVigilError(err) }, 'cannot read scan job outcomes; offsets stay uncommitted');
      return false;
    }
    if (runIds.some((id, shard) => id !== this.#runIds?.[shard])) {
      // Redis restarted, failed over or moved a shard: what it held may be gone. Replay every unsettled record from Kafka.
      this.#runIds = runIds;
      this.#era++;
      this.#restarts++;
      this.#o.metrics?.bridgeQueueRestarts.inc();
      const replays: { partition: number; from: number }[] = [];
      for (const [partition, track] of this.#partitions) {
        const first = track.records[track.head];
        if (first) {
          replays.push({ partition, from: first.offset });
          this.#replay(partition, track, first.offset);
        }
      }
      this.#o.logger.warn({ replays }, 'queue Redis restarted: replaying unsettled records from Kafka');
      this.#publishGauge();
      return false;
    }
    for (const { partition, track, records } of checked) {
      // Replaced by a replay or a rebalance while we read: its records are not ours to settle.
      if (this.#partitions.get(partition) !== track) continue;
      for (const r of records) {
        if (r.jobId === undefined) r.done = true;
        else {
          const s = Math.min(r.shard, this.#shards - 1);
          const [timestamp, finishedOn] = states[s]![slot[s]!.get(r.jobId)!] ?? [];
          r.done = timestamp === null || (finishedOn !== null && finishedOn !== undefined);
        }
      }
      while (track.head < track.records.length && track.records[track.head]!.done) track.head++;
      track.window = track.head >= records.length ? Math.min(this.#checks, track.window * 2) : track.head === 0 ? MIN_WINDOW : track.window;
      if (track.head > 0) {
        track.settled = track.records[track.head - 1]!.offset + 1;
        // Settled records are dropped; the partition's array keeps only what is still open.
        track.records = track.records.slice(track.head);
        track.head = 0;
      }
    }
    this.#publishGauge();
    return true;
  }

  #publishGauge(): void {
    this.#o.metrics?.bridgeUnsettled.set(this.stats().unsettled);
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.sweep().catch(() => undefined);
  }
}
