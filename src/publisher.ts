/**
 * The ingest service's API: validate a `vigil.message.v1` event and enqueue it for scanning.
 *
 *   const publisher = createPublisher({ connection: 'redis://127.0.0.1:6379' });
 *   await publisher.publish(event);          // throws VigilError (EVENT_INVALID…) on a bad event
 *   await publisher.close();
 *
 * jobId = eventId, so publishing the same event twice (also after the first was scanned and removed,
 * within the dedupe window) enqueues it once.
 */
import type { Redis } from 'ioredis';
import { CONFIG_KEYS } from './config.js';
import { DEFAULT_LIMITS, parseMessageEvent, type ContractLimits, type MessageEvent } from './core/contracts.js';
import { toVigilError, type VigilError } from './core/errors.js';
import { createRedis } from './adapters/bullmq/connection.js';
import { BullScanQueue } from './adapters/bullmq/queues.js';

export interface PublisherOptions {
  /** A Redis URL or an ioredis client you own (it is not closed by `close()`). */
  connection: string | Redis;
  prefix?: string;
  queue?: string;
  dedupeTtlMs?: number;
  attempts?: number;
  backoffMs?: number;
  failedRetentionS?: number;
  limits?: ContractLimits;
}

export interface BatchResult {
  accepted: string[];
  /** Events that failed validation, by index in the input; valid events of the batch are still published. */
  rejected: { index: number; eventId?: string; error: VigilError }[];
}

export interface Publisher {
  publish(event: unknown): Promise<MessageEvent>;
  publishBatch(events: readonly unknown[]): Promise<BatchResult>;
  /** Jobs waiting to be scanned. */
  backlog(): Promise<number>;
  close(): Promise<void>;
}

export function createPublisher(options: PublisherOptions): Publisher {
  const ownsRedis = typeof options.connection === 'string';
  const redis = typeof options.connection === 'string' ? createRedis(options.connection, 'producer') : options.connection;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const queue = new BullScanQueue({
    connection: redis,
    prefix: options.prefix ?? CONFIG_KEYS.queuePrefix[1],
    name: options.queue ?? CONFIG_KEYS.scanQueue[1],
    dedupeTtlMs: options.dedupeTtlMs ?? CONFIG_KEYS.dedupeTtlMs[1],
    attempts: options.attempts ?? CONFIG_KEYS.maxAttempts[1],
    backoffMs: options.backoffMs ?? CONFIG_KEYS.backoffMs[1],
    failedRetentionS: options.failedRetentionS ?? CONFIG_KEYS.failedRetentionS[1],
  });
  let closing: Promise<void> | undefined;
  return {
    async publish(payload) {
      const event = parseMessageEvent(payload, limits);
      await queue.publish(event);
      return event;
    },
    async publishBatch(payloads) {
      const valid: MessageEvent[] = [];
      const rejected: BatchResult['rejected'] = [];
      payloads.forEach((p, index) => {
        try {
          valid.push(parseMessageEvent(p, limits));
        } catch (err) {
          const id = typeof p === 'object' && p !== null ? (p as { eventId?: unknown }).eventId : undefined;
          rejected.push({ index, ...(typeof id === 'string' ? { eventId: id } : {}), error: toVigilError(err) });
        }
      });
      await queue.publishBatch(valid);
      return { accepted: valid.map((e) => e.eventId), rejected };
    },
    backlog: () => queue.backlog(),
    close: () =>
      (closing ??= (async () => {
        await queue.close();
        if (ownsRedis) await redis.quit().catch(() => redis.disconnect());
      })()),
  };
}
