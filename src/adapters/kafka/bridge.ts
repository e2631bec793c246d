/**
 * The Kafka → scan-queue bridge. One consumer group; partitions are the unit of parallelism, so more
 * bridge processes in the same group split the topic between them.
 *
 * Delivery: every record is parsed with the same `vigil.message.v1` parser as the BullMQ path and
 * enqueued with jobId = eventId. By default (`commitOn: 'outcome'`) a partition's offset is committed
 * only up to the last record whose outcome is final: its scan job finished (flags emitted, or
 * dead-lettered) or, for a poison record, its dead-letter entry is written (see OutcomeTracker). So
 * a crash, or a queue Redis that restarts empty, replays from the last commit and never loses a
 * record; replays are absorbed by the queue's jobId / dedupe key and the flags' deterministic flagId.
 * `commitOn: 'enqueue'` commits once a record is on the scan queue: the older, cheaper behaviour,
 * kept as the benchmark's baseline; it loses queued work when the queue Redis loses it.
 *
 * Backpressure: before a chunk is enqueued the scan backlog is read; if the chunk would take it past
 * the high watermark, the bridge pauses its partitions (the rest of the batch is not resolved, so it is
 * fetched again after resuming) and a monitor resumes them once the backlog is at or under the low
 * watermark. With one bridge the backlog therefore never exceeds the high watermark; each further
 * bridge in the group can overshoot by what it has in flight (partitionsConsumedConcurrently chunks).
 */
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { DEFAULT_LIMITS, parseMessageEvent, salvageIds, type ContractLimits, type MessageEvent } from '../../core/contracts.js';
import { VigilError, toVigilError } from '../../core/errors.js';
import type { DeadLetter, DeadLetterSink, ScanQueue } from '../../core/ports.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../metrics.js';
import { OutcomeTracker } from './outcome-tracker.js';
import type { RedisClient } from '../bullmq/connection.js';

/** The scan queue as the bridge uses it: batched enqueue is what makes the bridge fast. */
export interface BatchScanQueue extends ScanQueue {
  publishBatch(events: readonly MessageEvent[]): Promise<void>;
  /** Redis key of a scan job's hash (BullMQ's `queue.toKey(jobId)`) on scan-queue shard `shard`, for outcome tracking. */
  jobKey(jobId: string, shard?: number): string;
  /** The scan-queue shard an event goes to (ShardedScanQueue: by conversationId); absent: one shard. */
  shardOf?(event: MessageEvent): number;
  /** Scan-queue shards (ShardedScanQueue); absent: one. */
  readonly shards?: readonly unknown[];
}

export interface KafkaBridgeOptions {
  kafka: Kafka;
  topic: string;
  groupId: string;
  scanQueue: BatchScanQueue;
  deadLetters: DeadLetterSink;
  logger: Logger;
  metrics?: Metrics;
  limits?: ContractLimits;
  /** Pause when enqueuing the next chunk would take the scan backlog past this. */
  highWatermark: number;
  /** Resume once the backlog is at or under this. Must be below highWatermark. */
  lowWatermark: number;
  /** Records larger than this are dead-lettered unparsed. Default: the largest event the limits allow. */
  maxRecordBytes?: number;
  /** Records enqueued per Redis round trip (clamped to high - low so a resumed bridge cannot overshoot). */
  chunkSize?: number;
  /** How often a paused bridge re-reads the backlog. */
  pollMs?: number;
  sessionTimeoutMs?: number;
  /** Batches of different partitions handled at once (default 4): overlaps parsing with Redis round trips. */
  partitionsConsumedConcurrently?: number;
  /** The consumer crashed for good (KafkaJS will not restart it): the process should exit non-zero. */
  onFatal?: (err: Error) => void;
  /** outcome (default): commit once a record's scan outcome is final; enqueue: once it is queued (benchmark baseline). */
  commitOn?: 'outcome' | 'enqueue';
  /** The queue Redis, read for outcomes (required with commitOn 'outcome'). */
  queueRedis?: RedisClient;
  /** How often outcomes are swept (default 200 ms). */
  outcomeSweepMs?: number;
}

export interface KafkaBridgeStats {
  enqueued: number;
  deadLettered: number;
  paused: boolean;
  pauses: number;
  resumes: number;
  /** Backlog as last read, -1 before the first read. */
  lastBacklog: number;
}

/**
 * Upper bound of a serialized event the contract limits allow: text JSON-escaped at worst 6 bytes per
 * byte, base64 media, ids and context. Anything larger cannot be valid, so it is refused before JSON.parse.
 */
export function maxRecordBytesFor(limits: ContractLimits): number {
  return limits.maxTextBytes * 6 + limits.maxMediaItems * (Math.ceil(limits.maxMediaBytes / 3) * 4 + 2048) + 512 * 1024;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export type Parsed = { event: MessageEvent } | { dead: DeadLetter };

/**
 * One Kafka record → an event, or the dead-letter entry for it: tombstones, oversized values and
 * records that do not parse. The bridge and `vigil replay --kafka-topic` both use it, so a record is
 * judged the same way on both paths (and its dead-letter id, from its coordinates, is the same).
 * The record value is never copied: only ids, coordinates and the parser's field-path message.
 */
export function parseKafkaRecord(
  topic: string,
  partition: number,
  message: Pick<KafkaMessage, 'offset' | 'value'>,
  limits: ContractLimits,
  maxRecordBytes: number = maxRecordBytesFor(limits),
): Parsed {
  const origin = { kind: 'kafka' as const, topic, partition, offset: message.offset };
  const value = message.value;
  const dead = (err: VigilError, ids: { eventId?: string; messageId?: string } = {}): Parsed => ({
    dead: { ...ids, code: err.code, message: err.message, origin, at: new Date().toISOString() },
  });
  if (value === null) return dead(new VigilError('EVENT_INVALID', 'record has no value (tombstone)'));
  if (value.length > maxRecordBytes)
    return dead(new VigilError('EVENT_TOO_LARGE', `record value is ${value.length} bytes, over the ${maxRecordBytes}-byte limit`));
  try {
    return { event: parseMessageEvent(value, limits) };
  } catch (err) {
    return dead(toVigilError(err), salvageIds(value.toString('utf8')));
  }
}

export class KafkaBridge {
  readonly consumer: Consumer;
  readonly #o: KafkaBridgeOptions;
  readonly #log: Logger;
  readonly #limits: ContractLimits;
  readonly #maxRecordBytes: number;
  readonly #chunkSize: number;
  readonly #pollMs: number;
  readonly #stop = new AbortController();
  readonly #stats: KafkaBridgeStats = { enqueued: 0, deadLettered: 0, paused: false, pauses: 0, resumes: 0, lastBacklog: -1 };
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #monitor: Promise<void> | undefined;
  /** Records this bridge is enqueuing right now (batches of several partitions run at once). */
  #inflight = 0;
  /** Monotonic count of records whose enqueue has started, to tell which a backlog read cannot include. */
  #started = 0;
  readonly #tracker: OutcomeTracker | undefined;

  constructor(options: KafkaBridgeOptions) {
    if (!(options.lowWatermark >= 0 && options.lowWatermark < options.highWatermark))
      throw new VigilError(
        'CONFIG_INVALID',
        `bridge low watermark (${options.lowWatermark}) must be at least 0 and below the high watermark (${options.highWatermark})`,
      );
    this.#o = options;
    this.#log = options.logger.child({ component: 'kafka-bridge', topic: options.topic, groupId: options.groupId });
    this.#limits = options.limits ?? DEFAULT_LIMITS;
    this.#maxRecordBytes = options.maxRecordBytes ?? maxRecordBytesFor(this.#limits);
    this.#chunkSize = Math.max(1, Math.min(options.chunkSize ?? 1000, options.highWatermark - options.lowWatermark));
    this.#pollMs = options.pollMs ?? 500;
    const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout,
      heartbeatInterval: Math.max(100, Math.min(3000, Math.floor(sessionTimeout / 3))),
      // An idle fetch waits at most this long on the broker; keeps shutdown and resume snappy.
      maxWaitTimeInMs: 1000,
    });
    if ((options.commitOn ?? 'outcome') === 'outcome') {
      if (!options.queueRedis) throw new VigilError('CONFIG_INVALID', 'a bridge that commits on outcome needs the queue Redis connection (queueRedis)');
      this.#tracker = new OutcomeTracker({
        redis: options.queueRedis,
        jobKey: (id, shard) => options.scanQueue.jobKey(id, shard),
        shards: options.scanQueue.shards?.length ?? 1,
        commit: (offsets) => this.consumer.commitOffsets(offsets.map((o) => ({ topic: options.topic, ...o }))),
        seek: (partition, offset) => this.consumer.seek({ topic: options.topic, partition, offset }),
        logger: this.#log,
        ...(options.metrics ? { metrics: options.metrics } : {}),
        ...(options.outcomeSweepMs !== undefined ? { sweepMs: options.outcomeSweepMs } : {}),
      });
    }
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      // KafkaJS reads every assigned partition from its committed offset again after a rejoin.
      this.#tracker?.reset();
      const partitions = payload.memberAssignment[options.topic] ?? [];
      this.#log.info({ memberId: payload.memberId, partitions }, 'joined consumer group');
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      const err = toVigilError(payload.error);
      if (payload.restart) this.#log.warn({ err }, 'consumer crashed; KafkaJS restarts it');
      else {
        this.#log.fatal({ err }, 'consumer crashed and will not restart');
        options.onFatal?.(payload.error);
      }
    });
  }

  stats(): Readonly<KafkaBridgeStats & { unsettled: number; queueRestarts: number }> {
    const t = this.#tracker?.stats();
    return { ...this.#stats, unsettled: t?.unsettled ?? 0, queueRestarts: t?.restarts ?? 0 };
  }

  /** Connects, joins the group and starts consuming; resolves once the consumer runs. Idempotent. */
  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new VigilError('INTERNAL', 'bridge is closed', { retriable: false }));
    return (this.#starting ??= (async () => {
      const o = this.#o;
      await this.#tracker?.start();
      await this.consumer.connect();
      // A new group starts at the earliest offset, so events published before the first start are kept.
      await this.consumer.subscribe({ topics: [o.topic], fromBeginning: true });
      await this.consumer.run({
        // Offsets are resolved by hand after the enqueue (that moves the fetch position). Committing is
        // the outcome tracker's (autoCommit off), or, committing on enqueue, KafkaJS's for resolved offsets.
        eachBatchAutoResolve: false,
        autoCommit: this.#tracker === undefined,
        autoCommitInterval: 1000,
        partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 4,
        eachBatch: (payload) => this.#eachBatch(payload),
      });
      this.#setPausedGauge(false);
      this.#log.info({ highWatermark: o.highWatermark, lowWatermark: o.lowWatermark, chunkSize: this.#chunkSize }, 'bridge started');
    })());
  }

  /** Finishes the chunk in hand, commits what was enqueued, leaves the group. Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      this.#stop.abort();
      await this.#starting?.catch(() => undefined);
      // A last sweep commits what became final; what is still open is read again by the next owner.
      await this.#tracker?.close();
      await this.consumer.disconnect();
      await this.#monitor;
      this.#log.info({ enqueued: this.#stats.enqueued, deadLettered: this.#stats.deadLettered }, 'bridge stopped');
    })());
  }

  async #eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition, messages } = batch;
    for (let i = 0; i < messages.length; i += this.#chunkSize) {
      // Stopping, paused or reassigned: leave the rest unresolved; it is fetched again by whoever owns it next.
      if (!isRunning() || isStale() || this.#stats.paused) return;
      const chunk = messages.slice(i, i + this.#chunkSize);
      const events: MessageEvent[] = [];
      const dead: DeadLetter[] = [];
      const outcomes: { offset: string; jobId: string | undefined; shard?: number }[] = [];
      for (const message of chunk) {
        const parsed = this.#parse(topic, partition, message);
        if ('event' in parsed) events.push(parsed.event);
        else dead.push(parsed.dead);
        outcomes.push(
          'event' in parsed
            ? { offset: message.offset, jobId: parsed.event.eventId, shard: this.#o.scanQueue.shardOf?.(parsed.event) ?? 0 }
            : { offset: message.offset, jobId: undefined },
        );
      }
      if (events.length > 0 && !(await this.#reserve(events.length))) return;
      const era = this.#tracker?.era() ?? 0;
      let delivered: boolean;
      try {
        delivered = await this.#deliver(partition, events, dead, heartbeat, isRunning);
      } finally {
        this.#inflight -= events.length;
      }
      if (!delivered) return;
      // The queue Redis restarted while this chunk was enqueued: the tracker sought the partition back.
      if (this.#tracker && !this.#tracker.track(partition, outcomes, era)) return;
      // Safe: `chunk` is non-empty by construction of the loop.
      const last = chunk[chunk.length - 1]!.offset;
      resolveOffset(last);
      this.#o.metrics?.bridgeLag.set({ partition: String(partition) }, Math.max(0, Number(batch.highWatermark) - Number(last) - 1));
      this.#stats.enqueued += events.length;
      this.#stats.deadLettered += dead.length;
      this.#o.metrics?.bridgeRecords.inc({ outcome: 'enqueued' }, events.length);
      if (dead.length) this.#o.metrics?.bridgeRecords.inc({ outcome: 'dead_lettered' }, dead.length);
      if (!this.#tracker) await commitOffsetsIfNecessary();
      await heartbeat();
    }
  }

  #parse(topic: string, partition: number, message: KafkaMessage): Parsed {
    const parsed = parseKafkaRecord(topic, partition, message, this.#limits, this.#maxRecordBytes);
    if ('dead' in parsed) {
      const { code, eventId, messageId } = parsed.dead;
      this.#log.warn(
        { partition, offset: message.offset, code, ...(eventId ? { eventId } : {}), ...(messageId ? { messageId } : {}) },
        'poison record dead-lettered',
      );
      this.#o.metrics?.deadLettered.inc({ code });
      this.#o.metrics?.errors.inc({ code });
    }
    return parsed;
  }

  /**
   * Reserves room for `n` records, or pauses (and returns false) when they would take the backlog past
   * the high watermark. Chunks of other partitions that were in flight when the backlog was read, or
   * started since, may be missing from the read, so they are added; this can pause a little early,
   * never late, which keeps the bound strict under concurrency.
   */
  async #reserve(n: number): Promise<boolean> {
    const inflightBefore = this.#inflight;
    const startedBefore = this.#started;
    let backlog: number;
    try {
      backlog = await this.#readBacklog();
    } catch (err) {
      // Redis is unreachable: the enqueue would fail too, and #deliver owns the retrying.
      this.#log.warn({ err: toVigilError(err) }, 'cannot read the scan backlog');
      backlog = 0;
    }
    const unseen = inflightBefore + (this.#started - startedBefore);
    if (backlog + unseen + n <= this.#o.highWatermark || (backlog === 0 && unseen === 0)) {
      this.#inflight += n;
      this.#started += n;
      return true;
    }
    this.#pause(backlog);
    return false;
  }

  async #readBacklog(): Promise<number> {
    const backlog = await this.#o.scanQueue.backlog();
    this.#stats.lastBacklog = backlog;
    this.#o.metrics?.bridgeBacklog.set(backlog);
    return backlog;
  }

  /** Enqueues a chunk, retrying while the bridge runs; false if it stopped before the chunk was delivered. */
  async #deliver(partition: number, events: MessageEvent[], dead: DeadLetter[], heartbeat: () => Promise<void>, isRunning: () => boolean): Promise<boolean> {
    let delay = 100;
    for (;;) {
      try {
        if (events.length) await this.#o.scanQueue.publishBatch(events);
        // Dead-letter ids derive from the coordinates, so a retried or replayed entry is not listed twice.
        for (const entry of dead) await this.#o.deadLetters.deadLetter(entry);
        return true;
      } catch (err) {
        if (!isRunning()) return false;
        this.#log.warn({ err: toVigilError(err), partition, retryInMs: delay }, 'enqueue failed; retrying (offsets stay uncommitted)');
        // A rebalance surfaces here as a thrown heartbeat: KafkaJS then commits what was resolved and rejoins.
        await heartbeat();
        await sleep(delay, this.#stop.signal);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  #pause(backlog: number): void {
    if (this.#stats.paused) return;
    this.#stats.paused = true;
    this.#stats.pauses++;
    this.consumer.pause([{ topic: this.#o.topic }]);
    this.#setPausedGauge(true);
    this.#o.metrics?.bridgePaused.inc({ reason: 'backlog' });
    this.#log.warn({ backlog, highWatermark: this.#o.highWatermark, lowWatermark: this.#o.lowWatermark }, 'scan backlog at high watermark: partitions paused');
    this.#monitor = this.#watchBacklog();
  }

  /** Runs while paused, outside any batch, so a rebalance or an idle topic cannot leave the bridge paused. */
  async #watchBacklog(): Promise<void> {
    while (this.#stats.paused && !this.#stop.signal.aborted) {
      await sleep(this.#pollMs, this.#stop.signal);
      if (this.#stop.signal.aborted) return;
      try {
        const backlog = await this.#readBacklog();
        if (backlog <= this.#o.lowWatermark) {
          this.#stats.paused = false;
          this.#stats.resumes++;
          this.consumer.resume([{ topic: this.#o.topic }]);
          this.#setPausedGauge(false);
          this.#log.info({ backlog, lowWatermark: this.#o.lowWatermark }, 'scan backlog at low watermark: partitions resumed');
        }
      } catch (err) {
        this.#log.warn({ err: toVigilError(err) }, 'cannot read the scan backlog; staying paused');
      }
    }
  }

  #setPausedGauge(paused: boolean): void {
    this.#o.metrics?.bridgePausedNow.set(paused ? 1 : 0);
  }
}
