/** Shard routing and shard key prefixes (src/core/shards.ts), and the cluster-mode configuration. */
import { describe, expect, it } from 'vitest';
import { consumedShards, describeConfig, loadConfig } from '../../src/config.js';
import { VigilError } from '../../src/core/errors.js';
import { maskUrl } from '../../src/core/secrets.js';
import calculateSlot from 'cluster-key-slot';
import { hashTag, parseShardSet, shardFor, shardPrefix, withHashTag } from '../../src/core/shards.js';
import { clusterSeeds } from '../../src/adapters/bullmq/connection.js';

const ids = Array.from({ length: 20_000 }, (_, i) => `conv_${i}_${(i * 7919) % 104729}`);

describe('shardFor', () => {
  it('is deterministic, in range, and one shard is always 0', () => {
    for (const id of ids.slice(0, 500)) {
      const s = shardFor(id, 7);
      expect(s).toBe(shardFor(id, 7));
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(7);
      expect(shardFor(id, 1)).toBe(0);
    }
  });

  it('spreads conversations evenly', () => {
    for (const n of [2, 3, 8]) {
      const counts = new Array<number>(n).fill(0);
      for (const id of ids) counts[shardFor(id, n)]!++;
      const expected = ids.length / n;
      for (const c of counts) expect(Math.abs(c - expected) / expected).toBeLessThan(0.06);
    }
  });

  it('growing N to N+1 moves only about 1/(N+1) of the conversations, each to the new shard', () => {
    for (const n of [1, 3, 5]) {
      let moved = 0;
      for (const id of ids) {
        const before = shardFor(id, n);
        const after = shardFor(id, n + 1);
        if (before !== after) {
          moved++;
          expect(after).toBe(n);
        }
      }
      expect(Math.abs(moved / ids.length - 1 / (n + 1))).toBeLessThan(0.02);
    }
  });
});

describe('shard prefixes', () => {
  it('one shard is the configured prefix itself (existing keys unchanged)', () => {
    expect(shardPrefix('bull', 0, 1)).toBe('bull');
    expect(shardPrefix('{vigil}', 0, 1)).toBe('{vigil}');
  });

  it('several shards get a hash tag of their own each', () => {
    expect([0, 1, 2].map((s) => shardPrefix('{vigil}', s, 3))).toEqual([
      expect.stringMatching(/^\{vigil-s0(-\d+)?\}$/),
      expect.stringMatching(/^\{vigil-s1(-\d+)?\}$/),
      expect.stringMatching(/^\{vigil-s2(-\d+)?\}$/),
    ]);
    expect(shardPrefix('bull', 2, 3)).toMatch(/^\{bull-s2(-\d+)?\}$/);
    expect(shardPrefix('app:{q}:x', 1, 2)).toMatch(/^app:\{q-s1(-\d+)?\}:x$/);
    expect(hashTag('{}x')).toBeUndefined();
    expect(withHashTag('bull')).toBe('{bull}');
    expect(withHashTag('a{b}')).toBe('a{b}');
  });

  it('parses a consumed subset, refusing shards out of range', () => {
    expect(parseShardSet('all', 3)).toEqual([0, 1, 2]);
    expect(parseShardSet('', 2)).toEqual([0, 1]);
    expect(parseShardSet('2,0', 4)).toEqual([0, 2]);
    expect(parseShardSet('1-3, 5', 6)).toEqual([1, 2, 3, 5]);
    expect(parseShardSet('3', 3)).toBeUndefined();
    expect(parseShardSet('2-1', 3)).toBeUndefined();
    expect(parseShardSet('x', 3)).toBeUndefined();
  });
});

describe('cluster-mode configuration', () => {
  const load = (env: Record<string, string | undefined>) => loadConfig({ env });

  it('single-node mode is the default, with the unsharded prefix', () => {
    const c = load({});
    expect(c.redisCluster).toBe(false);
    expect(c.scanShards).toBe(1);
    expect(c.queuePrefix).toBe('bull');
    expect(consumedShards(c)).toEqual([0]);
  });

  it('REDIS_URL lists seed nodes in cluster mode; the prefix gets a hash tag', () => {
    const c = load({ VIGIL_REDIS_CLUSTER: 'true', REDIS_URL: 'redis://h1:7000,redis://h2:7001', VIGIL_SCAN_SHARDS: '4', VIGIL_SCAN_SHARDS_CONSUMED: '1-2' });
    expect(c.queuePrefix).toBe('{bull}');
    expect(c.bankRedisUrl).toBe('redis://h1:7000,redis://h2:7001');
    expect(consumedShards(c)).toEqual([1, 2]);
    expect(clusterSeeds(c.redisUrl).nodes).toEqual([
      { host: 'h1', port: 7000 },
      { host: 'h2', port: 7001 },
    ]);
    expect(load({ VIGIL_REDIS_CLUSTER: 'true', VIGIL_QUEUE_PREFIX: '{vigil}' }).queuePrefix).toBe('{vigil}');
  });

  it('several URLs without cluster mode are CONFIG_INVALID, saying what to do', () => {
    for (const env of [{ REDIS_URL: 'redis://h1:7000,redis://h2:7000' }, { VIGIL_BANK_REDIS_URL: 'redis://h1:7000,redis://h2:7000' }]) {
      let err: unknown;
      try {
        load(env);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VigilError);
      expect((err as VigilError).code).toBe('CONFIG_INVALID');
      expect((err as VigilError).message).toMatch(/lists 2 URLs.*VIGIL_REDIS_CLUSTER=true/);
    }
    expect(() => load({ VIGIL_REDIS_CLUSTER: 'true', REDIS_URL: 'redis://h1:7000,http://h2' })).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => load({ VIGIL_SCAN_SHARDS: '2', VIGIL_SCAN_SHARDS_CONSUMED: '2' })).toThrow(/VIGIL_SCAN_SHARDS_CONSUMED/);
    expect(() => load({ VIGIL_SCAN_SHARDS: '65' })).toThrow(/VIGIL_SCAN_SHARDS/);
  });

  it('passwords in seed URLs stay masked, every host readable', () => {
    const url = 'redis://:s3cretpass@h1:7000,redis://user:s3cretpass@h2:7000';
    const c = load({ VIGIL_REDIS_CLUSTER: 'true', REDIS_URL: url });
    const shown = JSON.stringify(describeConfig(c));
    expect(shown).not.toContain('s3cretpass');
    expect(shown).toContain('h1:7000');
    expect(shown).toContain('h2:7000');
    expect(maskUrl(url)).toBe('redis://***@h1:7000,redis://***@h2:7000');
    expect(clusterSeeds(url)).toMatchObject({ password: 's3cretpass', tls: false });
    let err: unknown;
    try {
      load({ REDIS_URL: url });
    } catch (e) {
      err = e;
    }
    expect(String((err as Error).message)).not.toContain('s3cretpass');
  });
});

describe('shard placement', () => {
  // Redis Cluster splits its 16384 slots into one contiguous range per master; a shard's tag lands in
  // the middle half of its 1/N of the slots, so N = masters puts one shard on each master.
  it.each([2, 3, 4, 6, 12, 64])('%i shards: each tag hashes into the middle half of its own slot range', (n) => {
    for (const base of ['{vigil}', 'bull', 'app:{q}:x', '{a-much-longer-prefix-with-dashes}']) {
      const slots = Array.from({ length: n }, (_, s) => calculateSlot(`${shardPrefix(base, s, n)}:vigil-scan:wait`));
      slots.forEach((slot, s) => {
        const width = 16384 / n;
        expect(slot).toBeGreaterThanOrEqual(s * width + width / 4);
        expect(slot).toBeLessThan(s * width + (3 * width) / 4);
      });
      // Three masters made by `redis-cli --cluster create` own 0–5460, 5461–10922, 10923–16383.
      if (n === 3) expect(slots.map((slot) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2))).toEqual([0, 1, 2]);
    }
  });
});
