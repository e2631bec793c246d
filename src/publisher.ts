/**
 * The ingest service's API: validate a `vigil.message.v1` event and enqueue it for scanning.
 *
 *   const publisher = createPublisher({ connection: 'redis://127.0.0.1:6379' });
 *   await publisher.publish(event);          // throws VigilError (EVENT_INVALID…) on a bad event,
 *                                            // QUEUE_UNAVAILABLE when Redis does not answer in time
 *   await publisher.close();
 *
 * jobId = eventId, so publishing the same event twice (also after the first was scanned and removed,
 * within the dedupe window) enqueues it once.
 */
import { CONFIG_KEYS } from './config.js';
import { DEFAULT_LIMITS, parseMessageEvent, type ContractLimits, type MessageEvent } from './core/contracts.js';
import { toVigilError, type VigilError } from './core/errors.js';
import { closeRedis, createRedis, redisUnavailable, waitForRedis, type RedisClient } from './adapters/bullmq/connection.js';
import { ShardedScanQueue } from './adapters/bullmq/queues.js';

export interface PublisherOptions {
  /** A Redis URL or an ioredis client you own (it is not closed by `close()`). */
  connection: string | RedisClient;
  /** With a URL: it lists seed nodes of a Redis Cluster (VIGIL_REDIS_CLUSTER). Default false. */
  cluster?: boolean;
  /**
   * Scan-queue shards (VIGIL_SCAN_SHARDS, default 1): an event goes to shard `shardFor(conversationId, shards)`
   * (src/core/shards.ts), the same one the bridge picks, so one conversation stays on one shard.
   */
  shards?: number;
  prefix?: string;
  queue?: string;
  dedupeTtlMs?: number;
  failedRetentionS?: number;
  /**
   * How long a call waits for Redis before it rejects with QUEUE_UNAVAILABLE (default 10 s,
   * VIGIL_REDIS_CONNECT_TIMEOUT_MS). Retries are the scan worker's decision, not the publisher's.
   */
  connectTimeoutMs?: number;
  limits?: ContractLimits;
}

export interface BatchResult {
  /** Events enqueued or absorbed as duplicates (already accepted within the dedupe window). */
  accepted: string[];
  /** Of `accepted`, those the queue absorbed as duplicates (by index in the input): nothing new was enqueued for them. */
  duplicates: { index: number; eventId: string }[];
  /** Events that failed validation, by index in the input; valid events of the batch are still published. */
  rejected: { index: number; eventId?: string; error: VigilError }[];
}

export interface Publisher {
  publish(event: unknown): Promise<MessageEvent>;
  /** Like `publish`, and says whether the queue absorbed the event as a duplicate. */
  publishOne(event: unknown): Promise<{ event: MessageEvent; duplicate: boolean }>;
  publishBatch(events: readonly unknown[]): Promise<BatchResult>;
  /** Jobs waiting to be scanned. */
  backlog(): Promise<number>;
  close(): Promise<void>;
}

export function createPublisher(options: PublisherOptions): Publisher {
  const ownsRedis = typeof options.connection === 'string';
  const redis =
    typeof options.connection === 'string' ? createRedis(options.connection, 'producer', { cluster: options.cluster ?? false }) : options.connection;
  const url = typeof options.connection === 'string' ? options.connection : undefined;
  const timeoutMs = options.connectTimeoutMs ?? CONFIG_KEYS.redisConnectTimeoutMs[1];
  /** Every call is bounded: first Redis must answer, then the enqueue itself must finish in time. */
  const bounded = async <T>(work: () => Promise<T>): Promise<T> => {
    if (redis.status !== 'ready') await waitForRedis(redis, timeoutMs, url);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(redisUnavailable(url ?? 'redis', timeoutMs, 'no reply')), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  const limits = options.limits ?? DEFAULT_LIMITS;
  const queue = new ShardedScanQueue({
    connection: redis,
    prefix: options.prefix ?? CONFIG_KEYS.queuePrefix[1],
    name: options.queue ?? CONFIG_KEYS.scanQueue[1],
    dedupeTtlMs: options.dedupeTtlMs ?? CONFIG_KEYS.dedupeTtlMs[1],
    failedRetentionS: options.failedRetentionS ?? CONFIG_KEYS.failedRetentionS[1],
    shards: options.shards ?? CONFIG_KEYS.scanShards[1],
  });
  const publishOne = async (payload: unknown): Promise<{ event: MessageEvent; duplicate: boolean }> => {
    const event = parseMessageEvent(payload, limits);
    const [duplicate] = await bounded(() => queue.enqueue([event]));
    return { event, duplicate: duplicate === true };
  };
  let closing: Promise<void> | undefined;
  return {
    publish: async (payload) => (await publishOne(payload)).event,
    publishOne,
    async publishBatch(payloads) {
      const valid: MessageEvent[] = [];
      const indexes: number[] = [];
      const rejected: BatchResult['rejected'] = [];
      payloads.forEach((p, index) => {
        try {
          valid.push(parseMessageEvent(p, limits));
          indexes.push(index);
        } catch (err) {
          const id = typeof p === 'object' && p !== null ? (p as { eventId?: unknown }).eventId : undefined;
          rejected.push({ index, ...(typeof id === 'string' ? { eventId: id } : {}), error: toVigilError(err) });
        }
      });
      const duplicate = valid.length ? await bounded(() => queue.enqueue(valid)) : [];
      return {
        accepted: valid.map((e) => e.eventId),
        duplicates: valid.flatMap((e, i) => (duplicate[i] ? [{ index: indexes[i] ?? i, eventId: e.eventId }] : [])),
        rejected,
      };
    },
    backlog: () => bounded(() => queue.backlog()),
    close: () =>
      (closing ??= (async () => {
        await queue.close();
        if (ownsRedis) await closeRedis(redis);
      })()),
  };
}
