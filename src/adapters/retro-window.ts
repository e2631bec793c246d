/**
 * The retro-match window in the bank-store Redis: the hashes and ids of every media item scanned in
 * the last VIGIL_RETRO_WINDOW, never content (record format in src/core/retro.ts).
 *
 * Keys: P:retro:w:<bucket>  STRING  records of the items scanned in that time bucket, appended
 * (APPEND is atomic, so workers writing the same bucket never interleave records). A bucket is
 * 1/720 of the window (at least 100 ms, at most 10 min) and expires whole a window after it closes,
 * so memory is the records themselves plus one key per bucket, and a retro-match reads at most ~720
 * strings. Records are also dated: the reader drops any older than the window, so the window is
 * exact though a key outlives it by up to one bucket.
 */
import type { RedisClient as Redis } from './bullmq/connection.js';
import { VigilError } from '../core/errors.js';
import { RetainedSet, encodeRetained, type RetainedItem } from '../core/retro.js';

const MIN_BUCKET_MS = 100;
const MAX_BUCKET_MS = 10 * 60_000;
const READ_CHUNK = 256;

function windowError(err: unknown, what: string): VigilError {
  if (err instanceof VigilError) return err;
  return new VigilError('BANK_STORE_UNAVAILABLE', `retro window: ${what} failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`, {
    cause: err,
  });
}

export class RedisRetroWindow {
  readonly #redis: Redis;
  readonly #p: string;
  readonly windowMs: number;
  readonly bucketMs: number;

  constructor(redis: Redis, prefix: string, windowMs: number) {
    this.#redis = redis;
    this.#p = `${prefix}:retro:w`;
    this.windowMs = windowMs;
    this.bucketMs = Math.min(MAX_BUCKET_MS, Math.max(MIN_BUCKET_MS, Math.round(windowMs / 720)));
  }

  key(bucket: number): string {
    return `${this.#p}:${bucket}`;
  }

  /** Appends the items' records to their buckets, each bucket set to expire a window after it closes. */
  async retain(items: readonly RetainedItem[]): Promise<void> {
    if (items.length === 0) return;
    const byBucket = new Map<number, Buffer[]>();
    for (const item of items) {
      const bucket = Math.floor(item.scannedAt / this.bucketMs);
      let list = byBucket.get(bucket);
      if (!list) byBucket.set(bucket, (list = []));
      list.push(encodeRetained(item));
    }
    const tx = this.#redis.multi();
    for (const [bucket, records] of byBucket)
      tx.append(this.key(bucket), Buffer.concat(records)).pexpireat(this.key(bucket), (bucket + 1) * this.bucketMs + this.windowMs);
    try {
      const results = (await tx.exec()) ?? [];
      for (const [err] of results) if (err) throw err;
    } catch (err) {
      throw windowError(err, 'retaining hashes');
    }
  }

  /** Bucket keys that may hold records scanned in (now - window, now]. */
  keys(now = Date.now()): string[] {
    const first = Math.floor((now - this.windowMs) / this.bucketMs);
    const last = Math.floor(now / this.bucketMs);
    const out: string[] = [];
    for (let b = first; b <= last; b++) out.push(this.key(b));
    return out;
  }

  /** Every record scanned within the window before `now`. */
  async read(now = Date.now()): Promise<RetainedSet> {
    const keys = this.keys(now);
    const blobs: Buffer[] = [];
    try {
      for (let i = 0; i < keys.length; i += READ_CHUNK) {
        const pipeline = this.#redis.pipeline();
        for (const key of keys.slice(i, i + READ_CHUNK)) pipeline.getBuffer(key);
        for (const [err, value] of (await pipeline.exec()) ?? []) {
          if (err) throw err;
          if (value) blobs.push(value as Buffer);
        }
      }
    } catch (err) {
      throw windowError(err, 'reading the window');
    }
    return RetainedSet.parse(blobs, now - this.windowMs);
  }
}
