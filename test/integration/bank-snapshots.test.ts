/** Workers load hash banks from binary snapshots; anything wrong with a snapshot falls back to the records, loudly. */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { BankLoader, createScanRuntime, type BankSnapshot, type SnapshotFallbackReason } from '../../src/app.js';
import { createMetrics } from '../../src/adapters/metrics.js';
import { createLogger } from '../../src/logger.js';
import { exportStore, restoreStore } from '../../src/adapters/bank-export.js';
import { RedisBankStore, type StoredHashEntry } from '../../src/adapters/redis-bank-store.js';
import type { HashType } from '../../src/core/signals.js';
import type { HashMatch, HashMatchOptions, MediaHashes } from '../../src/core/ports.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix } from '../helpers/redis.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const rand = seededRandom(11);
const hex = (digits: number) => Array.from({ length: digits }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join('');
const digest = (algo: 'md5' | 'sha1' | 'sha256', text: string) => createHash(algo).update(text).digest('hex');
/** Flips the lowest bit of the first `bits` hex digits: a PDQ hash at Hamming distance `bits`. */
const flip = (h: string, bits: number) => h.replace(new RegExp(`^.{${bits}}`), (head) => [...head].map((c) => (parseInt(c, 16) ^ 1).toString(16)).join(''));
const options: HashMatchOptions = { pdqThreshold: () => 31, pdqMinQuality: 50, dihedral: () => false };
const at = '2026-12-01T00:00:00Z';
// The default entry id, written out here rather than imported: `TYPE:` and the first 16 hex digits.
const defaultId = (type: HashType, value: string) => `${type}:${value.slice(0, 16)}`;

interface Fixture {
  entries: StoredHashEntry[];
  /** Expected entry id per "type:value". */
  ids: Map<string, string>;
}

/** Every hash type, a third of them with custom ids (one non-ASCII, to cover UTF-8 ids). */
function fixture(n: number, tag: string): Fixture {
  const entries: StoredHashEntry[] = [];
  const types: HashType[] = ['pdq', 'md5', 'sha1', 'sha256'];
  for (let i = 0; i < n; i++) {
    const type = types[i % 4] as HashType;
    const value = type === 'pdq' ? hex(64) : digest(type, `benign-${tag}-${i}`);
    const id = i % 3 === 0 ? `${tag}-entry-${i}${i === 3 ? '-café' : ''}` : defaultId(type, value);
    entries.push({ type, value, id, source: 'test-list', listVersion: 'v1', importedAt: at });
  }
  return { entries, ids: new Map(entries.map((e) => [`${e.type}:${e.value}`, e.id])) };
}

async function* batches<T>(items: T[], size = 50): AsyncGenerator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

async function setup(chunkBytes = 1000) {
  const prefix = uniquePrefix('snapshots');
  const redis = new Redis(REDIS_URL);
  cleanups.push(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  return { prefix, redis, store: new RedisBankStore(redis, prefix, { snapshotChunkBytes: chunkBytes }) };
}

function loaderFor(store: RedisBankStore, snapshots = true) {
  const fallbacks: { bank: string; reason: SnapshotFallbackReason }[] = [];
  const loader = new BankLoader({ store, snapshots, onSnapshotFallback: (bank, reason) => fallbacks.push({ bank, reason }) });
  return { loader, fallbacks };
}

/** A query per entry (exact digest or PDQ at distance 4), plus misses. */
function queries(entries: readonly StoredHashEntry[]): MediaHashes[] {
  const none = { md5: '0'.repeat(32), sha1: '0'.repeat(40), sha256: '0'.repeat(64) };
  const out: MediaHashes[] = entries.map((e) =>
    e.type === 'pdq' ? { ...none, pdq: { hash: flip(e.value, 4), quality: 100 } } : { ...none, [e.type]: e.value },
  );
  out.push({
    md5: digest('md5', 'not in any bank'),
    sha1: digest('sha1', 'not in any bank'),
    sha256: digest('sha256', 'nope'),
    pdq: { hash: hex(64), quality: 100 },
  });
  return out;
}

const matchAll = (snap: BankSnapshot, qs: MediaHashes[]): HashMatch[][] => qs.map((q) => snap.hashBanks.match(q, options));

/** Each present entry is found under its own id, each absent one is not. */
function expectContents(snap: BankSnapshot, present: readonly StoredHashEntry[], absent: readonly StoredHashEntry[]) {
  const got = matchAll(snap, queries(present));
  present.forEach((e, i) => expect(got[i]?.map((m) => m.entryId)).toContain(e.id));
  expect(got[present.length]).toEqual([]);
  for (const e of absent) {
    const [q] = queries([e]);
    const ids = snap.hashBanks.match(q as MediaHashes, options).map((m) => m.entryId);
    expect(ids).not.toContain(e.id);
  }
}

describe('bank snapshots', () => {
  it('a snapshot load equals the load from the records: same versions, same matches, every hash type and custom ids, across chunks', async () => {
    const { store, redis, prefix } = await setup();
    const { entries } = fixture(400, 'a');
    await store.importHashEntries('mixed', batches(entries));
    const snap = await store.snapshotOf('mixed');
    expect(snap).toMatchObject({ revision: 1, entries: 400, pending: 0 });
    // Small chunks for the test: the snapshot spans several keys.
    expect(snap?.chunks).toBeGreaterThan(5);
    expect(await redis.exists(...Array.from({ length: snap?.chunks ?? 0 }, (_, c) => `${prefix}:banks:snap:mixed:${snap?.generation}:1:${c}`))).toBe(
      snap?.chunks,
    );

    const fromSnap = loaderFor(store);
    const a = await fromSnap.loader.load();
    expect(fromSnap.loader.lastSnapshots).toEqual({ loaded: ['mixed'], fallbacks: [] });
    expect(fromSnap.loader.lastLoad.built).toEqual(['mixed']);
    const fromRecords = loaderFor(store, false);
    const b = await fromRecords.loader.load();
    expect(fromRecords.loader.lastSnapshots).toEqual({ loaded: [], fallbacks: [] });

    expect(a.hashBanks.versions()).toEqual(b.hashBanks.versions());
    expect(a.hashBanks.versions()).toEqual({ mixed: expect.stringMatching(/^r1\.[0-9a-f]{8}$/) });
    const qs = queries(entries);
    expect(matchAll(a, qs)).toEqual(matchAll(b, qs));
    expectContents(a, entries, []);
    // The custom, non-ASCII id survives.
    expect(matchAll(a, queries([entries[3] as StoredHashEntry]))[0]?.map((m) => m.entryId)).toEqual(['a-entry-3-café']);
  });

  it('small changes keep the snapshot and are patched on from the deltas; a large one writes a new snapshot and retires the old', async () => {
    const { store, redis, prefix } = await setup(64 * 1024);
    const { entries } = fixture(200, 'b');
    await store.importHashEntries('grow', batches(entries));
    const first = await store.snapshotOf('grow');
    const added = fixture(8, 'b-added').entries;
    await store.importHashEntries('grow', batches(added));
    const removed = [entries[0], entries[1], entries[6]] as StoredHashEntry[];
    await store.removeEntries(
      'grow',
      removed.map((e) => `${e.type}:${e.value}`),
    );
    // Re-adding a value under a new id replaces its entry.
    const renamed = { ...(entries[9] as StoredHashEntry), id: 'renamed-9' };
    await store.importHashEntries('grow', batches([renamed]));
    const kept = await store.snapshotOf('grow');
    expect(kept).toMatchObject({ revision: 1, sha256: first?.sha256, pending: 8 + 3 + 1 });
    // The deltas the snapshot needs do not expire while it does.
    expect(await redis.ttl(`${prefix}:banks:delta:grow:${kept?.generation}:2`)).toBe(-1);

    const fresh = loaderFor(store);
    const a = await fresh.loader.load();
    expect(fresh.loader.lastSnapshots).toEqual({ loaded: ['grow'], fallbacks: [] });
    expect(a.hashBanks.versions()).toEqual({ grow: expect.stringMatching(/^r4\./) });
    const b = await loaderFor(store, false).loader.load();
    expect(a.hashBanks.versions()).toEqual(b.hashBanks.versions());
    const all = [...entries, ...added];
    expect(matchAll(a, queries(all))).toEqual(matchAll(b, queries(all)));
    const present = [...entries.filter((e) => !removed.includes(e) && e !== entries[9]), ...added, renamed];
    expectContents(a, present, removed);

    // Past the share a worker would rebuild at (and 4096 entries), a change writes a new snapshot.
    const big = fixture(4200, 'b-big').entries;
    await store.importHashEntries('grow', batches(big, 1000));
    const next = await store.snapshotOf('grow');
    expect(next).toMatchObject({ revision: 5, pending: 0, entries: present.length + big.length });
    const oldChunk = `${prefix}:banks:snap:grow:${first?.generation}:1:0`;
    const ttl = await redis.ttl(oldChunk);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    expect(await redis.ttl(`${prefix}:banks:delta:grow:${kept?.generation}:2`)).toBeGreaterThan(300);
    const c = loaderFor(store);
    expectContents(await c.loader.load(), [...present.slice(0, 50), ...big.slice(0, 50)], removed);
    expect(c.loader.lastSnapshots.loaded).toEqual(['grow']);
  });

  it('a replacement writes a new snapshot of exactly the new contents', async () => {
    const { store } = await setup();
    const one = fixture(40, 'c1').entries;
    const two = fixture(40, 'c2').entries;
    await store.importHashEntries('swap', batches(one));
    await store.importHashEntries('swap', batches(two), { mode: 'replace' });
    expect(await store.snapshotOf('swap')).toMatchObject({ revision: 2, pending: 0, entries: 40 });
    const l = loaderFor(store);
    expectContents(await l.loader.load(), two, one);
    expect(l.loader.lastSnapshots).toEqual({ loaded: ['swap'], fallbacks: [] });
  });

  const broken: { name: string; reason: SnapshotFallbackReason; breakIt: (redis: Redis, prefix: string) => Promise<void> }[] = [
    {
      name: 'a chunk whose bytes were altered',
      reason: 'checksum',
      breakIt: async (redis, prefix) => {
        const [key] = await redis.keys(`${prefix}:banks:snap:broken:*:1`);
        const bytes = (await redis.getBuffer(key as string)) as Buffer;
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
        await redis.set(key as string, bytes);
      },
    },
    {
      name: 'a missing chunk',
      reason: 'missing',
      breakIt: async (redis, prefix) => {
        const [key] = await redis.keys(`${prefix}:banks:snap:broken:*:0`);
        await redis.del(key as string);
      },
    },
    {
      name: 'no snapshot at all (a bank written before snapshots)',
      reason: 'missing',
      breakIt: async (redis, prefix) => {
        await redis.hdel(`${prefix}:banks:snap`, 'broken');
      },
    },
    {
      name: 'expired deltas since the snapshot',
      reason: 'deltas',
      breakIt: async (redis, prefix) => {
        const keys = await redis.keys(`${prefix}:banks:delta:broken:*`);
        // One append after the snapshot made one delta; without it the snapshot cannot reach the revision.
        expect(keys).toHaveLength(1);
        await redis.del(...keys);
      },
    },
  ];
  for (const b of broken) {
    it(`${b.name}: the worker falls back to the records with a report (${b.reason}) and still matches everything`, async () => {
      const { store, redis, prefix } = await setup(2000);
      const { entries } = fixture(120, 'd');
      await store.importHashEntries('broken', batches(entries));
      const extra = fixture(4, 'd-extra').entries;
      await store.importHashEntries('broken', batches(extra));
      await b.breakIt(redis, prefix);
      const l = loaderFor(store);
      const a = await l.loader.load();
      expect(l.fallbacks).toEqual([{ bank: 'broken', reason: b.reason }]);
      expect(l.loader.lastSnapshots).toEqual({ loaded: [], fallbacks: [{ bank: 'broken', reason: b.reason }] });
      expect(l.loader.lastLoad.built).toEqual(['broken']);
      expect(a.hashBanks.versions()).toEqual({ broken: expect.stringMatching(/^r2\./) });
      expectContents(a, [...entries, ...extra], []);
    });
  }

  it('a garbled snapshot whose checksum was rewritten to match is rejected as invalid, not loaded', async () => {
    const { store, redis, prefix } = await setup(1 << 20);
    const { entries } = fixture(20, 'e');
    await store.importHashEntries('garbled', batches(entries));
    const snap = await store.snapshotOf('garbled');
    const key = `${prefix}:banks:snap:garbled:${snap?.generation}:1:0`;
    // Cut off the last 4 bytes, so the sections no longer add up to the header's counts.
    const bytes = ((await redis.getBuffer(key)) as Buffer).subarray(0, (snap?.bytes ?? 0) - 4);
    await redis.set(key, bytes);
    await redis.hset(
      `${prefix}:banks:snap`,
      'garbled',
      JSON.stringify({ ...snap, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }),
    );
    const l = loaderFor(store);
    expectContents(await l.loader.load(), entries, []);
    expect(l.fallbacks).toEqual([{ bank: 'garbled', reason: 'invalid' }]);
  });

  it('export --all and import --all still round-trip, and the restored store has snapshots of its own', async () => {
    const { store } = await setup();
    const { entries } = fixture(60, 'f');
    await store.importHashEntries('kept', batches(entries));
    await store.importTermEntries('teapots', [{ id: 'velvet', phrase: 'velvet teapot', category: 'test', severity: 'low' }]);
    const lines: string[] = [];
    for await (const line of exportStore(store)) lines.push(line);
    // The export holds the records and metadata only: snapshots are the store's own, rebuilt on restore.
    expect(lines.join('\n')).not.toMatch(/"chunks"|"pending"|snap/);

    const target = await setup();
    await restoreStore(
      target.store,
      (async function* () {
        yield* lines;
      })(),
    );
    const again: string[] = [];
    for await (const line of exportStore(target.store)) again.push(line);
    const entryLines = (ls: string[]) => ls.filter((l) => l.startsWith('{"hash"') || l.startsWith('{"term"')).sort();
    expect(entryLines(again)).toEqual(entryLines(lines));
    expect(await target.store.snapshotOf('kept')).toMatchObject({ entries: 60, pending: 0 });
    expect(await target.store.snapshotOf('teapots')).toBeUndefined();
    const l = loaderFor(target.store);
    expectContents(await l.loader.load(), entries, []);
    expect(l.loader.lastSnapshots).toEqual({ loaded: ['kept'], fallbacks: [] });
  });

  it('removing a bank removes its snapshot from the index and retires its chunks', async () => {
    const { store, redis, prefix } = await setup();
    await store.importHashEntries('gone', batches(fixture(10, 'g').entries));
    const snap = await store.snapshotOf('gone');
    await store.removeBank('gone');
    expect(await store.snapshotOf('gone')).toBeUndefined();
    expect(await redis.ttl(`${prefix}:banks:snap:gone:${snap?.generation}:1:0`)).toBeGreaterThan(0);
  });

  it('a worker says so: a warning with the bank and reason, and vigil_bank_snapshot_fallbacks_total; a good snapshot counts in vigil_bank_snapshot_loads_total', async () => {
    const { store, redis, prefix } = await setup();
    await store.importHashEntries('good', batches(fixture(12, 'h1').entries));
    await store.importHashEntries('bad', batches(fixture(12, 'h2').entries));
    await redis.hdel(`${prefix}:banks:snap`, 'bad');
    const logs: string[] = [];
    const metrics = createMetrics();
    const runtime = await createScanRuntime(testConfig(prefix), createLogger('info', { write: (line: string) => void logs.push(line) }), {
      watch: false,
      store,
      metrics,
    });
    cleanups.push(() => runtime.close());
    const warnings = logs.map((l) => JSON.parse(l) as { msg: string; bank?: string; reason?: string }).filter((l) => /bank snapshot not usable/.test(l.msg));
    expect(warnings.map((w) => [w.bank, w.reason])).toEqual([['bad', 'missing']]);
    expect((await metrics.bankSnapshotFallbacks.get()).values).toEqual([expect.objectContaining({ labels: { reason: 'missing' }, value: 1 })]);
    expect((await metrics.bankSnapshotLoads.get()).values[0]?.value).toBe(1);
    expect(runtime.health().ready).toBe(true);
  });
});
