/**
 * Scan-queue shards: which shard an event goes to, and the key prefix each shard's queue lives under.
 *
 * An event is routed by its conversationId, so one conversation always lands on one shard (its events
 * stay in one queue, in publish order). The hash is Jump Consistent Hash (Lamping & Veach, 2014) over
 * the first 8 bytes of SHA-256: stable across processes, versions and platforms, and when the shard
 * count grows from N to N+1 only about 1/(N+1) of conversations move (a modulo would move almost all).
 *
 * Each shard has its own Redis Cluster hash tag, so its keys (jobs, wait list, dedupe keys) share one
 * slot and different shards can sit on different masters. One shard (the default) is the unsharded
 * queue: the configured prefix, unchanged.
 */
import { createHash } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';

/** Upper bound of VIGIL_SCAN_SHARDS: keeps the metrics' `shard` label bounded. */
export const MAX_SCAN_SHARDS = 64;

const MASK64 = (1n << 64n) - 1n;

/** Jump Consistent Hash: a bucket in [0, buckets) for a 64-bit key. */
export function jumpHash(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  let k = key & MASK64;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & MASK64;
    j = Math.floor(((b + 1) * 2 ** 31) / Number((k >> 33n) + 1n));
  }
  return b;
}

/** The shard (0 … shards-1) of a conversation. */
export function shardFor(conversationId: string, shards: number): number {
  if (shards <= 1) return 0;
  const digest = createHash('sha256').update(conversationId, 'utf8').digest();
  return jumpHash(digest.readBigUInt64BE(0), shards);
}

/** The hash tag of a key prefix (`{vigil}` → `vigil`), or undefined if it has none Redis would honour. */
export function hashTag(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  // Redis Cluster ignores an empty `{}` and an unclosed brace: the whole key is hashed then.
  return close > open + 1 ? prefix.slice(open + 1, close) : undefined;
}

/**
 * `prefix` with a hash tag Redis Cluster honours: unchanged if it has one, else wrapped whole
 * (`bull` → `{bull}`), so every queue key and the bank store's keys under it share one slot.
 */
export function withHashTag(prefix: string): string {
  return hashTag(prefix) !== undefined ? prefix : `{${prefix}}`;
}

/** Hash slots of a Redis Cluster. */
const SLOTS = 16384;

/**
 * The hash tag of shard `shard` of `shards` under `tag`: `tag-sN`, or `tag-sN-K` with the smallest K
 * whose slot falls in the middle half of the shard's 1/N of the slot space. A cluster's slots are
 * split into contiguous equal ranges, one per master (`redis-cli --cluster create`), so with N a
 * multiple of the masters the shards spread evenly over them, and never two on one master when
 * N = masters, by construction rather than by the luck of the hash. Deterministic from the name:
 * every process computes the same tags without asking the cluster.
 */
export function shardTag(tag: string, shard: number, shards: number): string {
  const width = SLOTS / shards;
  const from = shard * width + width / 4;
  const to = shard * width + (3 * width) / 4;
  for (let k = 0; ; k++) {
    const candidate = k === 0 ? `${tag}-s${shard}` : `${tag}-s${shard}-${k}`;
    const slot = calculateSlot(candidate);
    if (slot >= from && slot < to) return candidate;
  }
}

/**
 * Key prefix of shard `shard` of `shards`. One shard: `prefix` itself (the unsharded queue, so
 * existing deployments keep their keys). Several: the prefix's hash tag becomes the shard's tag
 * (`shardTag`: `{vigil}` → `{vigil-s0…}`; a prefix without a tag becomes `{bull-s0…}`), one slot per
 * shard, spread over the slot space.
 */
export function shardPrefix(prefix: string, shard: number, shards: number): string {
  if (shards <= 1) return prefix;
  const tag = hashTag(prefix);
  if (tag === undefined) return `{${shardTag(prefix, shard, shards)}}`;
  return prefix.replace(`{${tag}}`, `{${shardTag(tag, shard, shards)}}`);
}

/**
 * Parses a shard subset such as `0,2` or `0-3,7` (empty or `all`: every shard) into sorted shard
 * numbers; undefined when it is not well formed or names a shard outside [0, shards).
 */
export function parseShardSet(spec: string, shards: number): number[] | undefined {
  const s = spec.trim();
  if (s === '' || s === 'all') return Array.from({ length: shards }, (_, i) => i);
  const out = new Set<number>();
  for (const part of s.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to >= shards) return undefined;
    for (let i = from; i <= to; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}
