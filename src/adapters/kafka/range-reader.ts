/**
 * Reads a range of a Kafka topic once, for `vigil replay --kafka-topic`: every partition from a
 * start bound to an end bound (exclusive), each bound an offset or a time (the first offset at or
 * after it, from the broker's ListOffsets by timestamp). KafkaJS needs a consumer group to fetch,
 * so the read uses a throw-away group (`vigil-replay-REPLAYID`) that commits nothing and is deleted
 * afterwards; the bridge's own group and offsets are never touched.
 */
import type { Kafka, KafkaMessage } from 'kafkajs';
import { VigilError } from '../../core/errors.js';

/** An offset (the same for every partition) or a time. */
export type RangeBound = { offset: bigint } | { time: number };

/** `123` → offset; an ISO 8601 time → time; else a usage error. */
export function parseRangeBound(value: string, flag: string): RangeBound {
  if (/^\d{1,19}$/.test(value)) return { offset: BigInt(value) };
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new VigilError('USAGE', `${flag} must be an offset (digits) or an ISO 8601 time, got "${value}"`);
  return { time: ms };
}

export interface PartitionRange {
  partition: number;
  /** First offset read. */
  start: bigint;
  /** First offset not read. */
  end: bigint;
}

export interface RangeReadOptions {
  kafka: Kafka;
  topic: string;
  from: RangeBound;
  /** Default: the partitions' high watermarks when the read starts (what is there now). */
  to?: RangeBound | undefined;
  groupId: string;
  /** Gives up (KAFKA_UNAVAILABLE-like QUEUE_UNAVAILABLE) when the range is not read within this long. */
  timeoutMs: number;
  /** Called with each partition's records in order; the next batch waits for it (backpressure). */
  onRecords: (partition: number, messages: KafkaMessage[]) => Promise<void>;
}

function kafkaError(err: unknown, what: string): VigilError {
  if (err instanceof VigilError) return err;
  return new VigilError('QUEUE_UNAVAILABLE', `kafka: ${what} failed (${(err as Error).name ?? 'error'})`, { cause: err });
}

/** Resolves the bounds to per-partition offsets, clamped to what the partitions hold. */
export async function resolveRange(kafka: Kafka, topic: string, from: RangeBound, to: RangeBound | undefined): Promise<PartitionRange[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    const byTime = async (ms: number) => new Map((await admin.fetchTopicOffsetsByTimestamp(topic, ms)).map((p) => [p.partition, BigInt(p.offset)] as const));
    const fromTime = 'time' in from ? await byTime(from.time) : undefined;
    const toTime = to && 'time' in to ? await byTime(to.time) : undefined;
    return offsets
      .map((p) => {
        const low = BigInt(p.low);
        const high = BigInt(p.high);
        // ListOffsets answers -1 for a time after the last record: nothing from there on.
        const at = (m: Map<number, bigint> | undefined, b: RangeBound) => {
          const o = m ? (m.get(p.partition) ?? -1n) : (b as { offset: bigint }).offset;
          return o < 0n ? high : o;
        };
        const clamp = (o: bigint) => (o < low ? low : o > high ? high : o);
        return { partition: p.partition, start: clamp(at(fromTime, from)), end: to ? clamp(at(toTime, to)) : high };
      })
      .sort((a, b) => a.partition - b.partition);
  } catch (err) {
    throw kafkaError(err, `reading the offsets of topic ${topic}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Reads the range; resolves with the ranges read once every partition reached its end. */
export async function readTopicRange(o: RangeReadOptions): Promise<PartitionRange[]> {
  const ranges = await resolveRange(o.kafka, o.topic, o.from, o.to);
  const pending = new Map(ranges.filter((r) => r.start < r.end).map((r) => [r.partition, r]));
  if (pending.size === 0) return ranges;
  const consumer = o.kafka.consumer({ groupId: o.groupId, maxWaitTimeInMs: 500, sessionTimeout: 30_000, heartbeatInterval: 3000 });
  let finish: (err?: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => (finish = (err) => (err ? reject(err) : resolve())));
  const timer = setTimeout(() => finish(new VigilError('QUEUE_UNAVAILABLE', `kafka: topic ${o.topic} range not read within ${o.timeoutMs} ms`)), o.timeoutMs);
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) finish(kafkaError(payload.error, 'the replay consumer'));
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat, isRunning }) => {
        const r = pending.get(batch.partition);
        if (!r) return;
        // A fetch that began before the seek took effect may start elsewhere: keep only the range.
        const wanted = batch.messages.filter((m) => BigInt(m.offset) >= r.start && BigInt(m.offset) < r.end);
        if (wanted.length && isRunning()) await o.onRecords(batch.partition, wanted);
        const last = batch.messages.at(-1);
        if (last && BigInt(last.offset) + 1n >= r.end) {
          pending.delete(batch.partition);
          consumer.pause([{ topic: o.topic, partitions: [batch.partition] }]);
          if (pending.size === 0) finish();
        }
        await heartbeat();
      },
    });
    for (const r of pending.values()) consumer.seek({ topic: o.topic, partition: r.partition, offset: String(r.start) });
    await done;
    return ranges;
  } catch (err) {
    throw kafkaError(err, `reading topic ${o.topic}`);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    const admin = o.kafka.admin();
    // The group committed nothing; deleting it keeps the cluster tidy (best effort: not every broker allows it).
    await admin
      .connect()
      .then(() => admin.deleteGroups([o.groupId]))
      .catch(() => undefined)
      .finally(() => admin.disconnect().catch(() => undefined));
  }
}
