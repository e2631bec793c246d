import { describe, expect, it } from 'vitest';
import { VigilError } from '../../src/core/errors.js';
import { PdqIndex, bruteForceSearch, bruteForceSearchWords } from '../../src/core/pdq/mih.js';
import type { PdqEntry, PdqEntryId, PdqIndexOptions, PdqMatch } from '../../src/core/pdq/mih.js';
import { seededRandom } from '../helpers/seeded-random.js';

const HEX = '0123456789abcdef';

function randomHex(rand: () => number): string {
  let s = '';
  for (let i = 0; i < 64; i++) s += HEX[Math.floor(rand() * 16)];
  return s;
}

/** Flips exactly `d` distinct bits of a hash. */
function flip(hex: string, d: number, rand: () => number): string {
  const nibbles = Array.from(hex, (c) => parseInt(c, 16));
  const chosen = new Set<number>();
  while (chosen.size < d) chosen.add(Math.floor(rand() * 256));
  for (const bit of chosen) nibbles[bit >> 2]! ^= 1 << (bit & 3);
  return nibbles.map((n) => HEX[n]).join('');
}

// The oracle is written independently of mih.ts: a per-nibble popcount over the hex strings.
const NIBBLE_BITS = Array.from({ length: 16 }, (_, n) => (n & 1) + ((n >> 1) & 1) + ((n >> 2) & 1) + ((n >> 3) & 1));
const NIBBLE = new Int8Array(128).fill(-1);
for (let n = 0; n < 16; n++) NIBBLE[HEX.charCodeAt(n)] = n;
function distance(a: string, b: string): number {
  let d = 0;
  for (let i = 0; i < 64; i++) d += NIBBLE_BITS[NIBBLE[a.charCodeAt(i)]! ^ NIBBLE[b.charCodeAt(i)]!]!;
  return d;
}

/** Exact answer in insertion order of `entries`, nearest first (stable). */
function oracle(entries: readonly PdqEntry[], distances: readonly number[], radius: number): PdqMatch[] {
  const out: PdqMatch[] = [];
  entries.forEach((e, i) => {
    if (distances[i]! <= radius) out.push({ id: e.id, distance: distances[i]! });
  });
  return out.sort((a, b) => a.distance - b.distance);
}

const RADII = [0, 8, 16, 31, 32, 40];
const MAX_PLANT = 40;

/** 100k random hashes plus, around each centre, two neighbours at every distance 0–40 (distance 0 = duplicate hash, different id). */
function dataset(n: number, centres: number, seed: number): { entries: PdqEntry[]; centres: string[]; rand: () => number } {
  const rand = seededRandom(seed);
  const entries: PdqEntry[] = [];
  for (let i = 0; i < n; i++) entries.push({ id: i, hash: randomHex(rand) });
  const cs: string[] = [];
  for (let c = 0; c < centres; c++) {
    const centre = randomHex(rand);
    cs.push(centre);
    for (let d = 0; d <= MAX_PLANT; d++) {
      for (let k = 0; k < 2; k++) {
        // Planted entries are spliced in at random positions so they land in different segments and slots.
        const at = Math.floor(rand() * entries.length);
        entries.splice(at, 0, { id: `c${c}-d${d}-${k}`, hash: flip(centre, d, rand) });
      }
    }
  }
  return { entries, centres: cs, rand };
}

function queriesFor(centres: string[], entries: readonly PdqEntry[], rand: () => number): string[] {
  return [
    ...centres,
    // Off-centre queries: the planted neighbours sit at assorted distances from these.
    ...centres.slice(0, 3).map((c) => flip(c, 3 + Math.floor(rand() * 10), rand)),
    randomHex(rand),
    randomHex(rand),
    entries[Math.floor(rand() * entries.length)]!.hash,
    // A query made uppercase must find the same things.
    centres[0]!.toUpperCase(),
  ];
}

describe('PdqIndex vs brute force on 100k random hashes', () => {
  const { entries, centres, rand } = dataset(100_000, 6, 0x5eed);
  const queries = queriesFor(centres, entries, rand);
  const distances = queries.map((q) => entries.map((e) => distance(e.hash, q.toLowerCase())));

  it('plants what the comparison relies on', () => {
    // Each centre has two neighbours at every distance 0..40, so the comparison is not vacuous.
    for (let c = 0; c < centres.length; c++) {
      for (const r of RADII) expect(oracle(entries, distances[c]!, r).length).toBeGreaterThanOrEqual(2 * (r + 1));
    }
    expect(oracle(entries, distances[queries.length - 2]!, 0).length).toBeGreaterThanOrEqual(1);
  });

  const configs: [string, PdqIndexOptions][] = [
    ['default (auto probe/scan)', {}],
    ['16 × 16-bit windows, always probing (radius 40 → window radius 2)', { windowBits: 16, searchMode: 'index' }],
    ['22 × 11/12-bit windows, always probing', { windowBits: 12, searchMode: 'index' }],
    ['12 × 21/22-bit windows, always probing', { windowBits: 22, searchMode: 'index' }],
    // Tuned layouts mix window widths (wider windows first, probed at the larger radius).
    ['layout tuned for radius 31, always probing', { searchMode: 'index' }],
    ['layout tuned for radius 40, always probing', { tuneRadius: 40, searchMode: 'index' }],
    ['layout tuned for radius 8, always probing', { tuneRadius: 8, searchMode: 'index' }],
    ['linear scan', { searchMode: 'scan' }],
  ];
  // Each layout is built once and shared by the tests that query it.
  const built = new Map<string, PdqIndex>();
  const indexFor = (name: string, options: PdqIndexOptions): PdqIndex => {
    let index = built.get(name);
    if (!index) built.set(name, (index = PdqIndex.build(entries, options)));
    return index;
  };
  for (const [name, options] of configs) {
    it(`matches brute force exactly: ${name}`, () => {
      const index = indexFor(name, options);
      expect(index.size).toBe(entries.length);
      for (let qi = 0; qi < queries.length; qi++) {
        for (const r of RADII) expect(index.search(queries[qi]!, r), `query ${qi} radius ${r}`).toEqual(oracle(entries, distances[qi]!, r));
      }
    });
  }

  for (const [name, options] of configs) {
    it(`searches 8 variants in one pass (searchMany) exactly as separately: ${name}`, () => {
      // queries has 12 hashes: one full group of 8 and a partial one, so both batch sizes are exercised.
      expect(queries.length).toBeGreaterThan(8);
      const index = indexFor(name, options);
      for (const r of [0, 31, 40]) expect(index.searchMany(queries, r), `radius ${r}`).toEqual(queries.map((_, qi) => oracle(entries, distances[qi]!, r)));
    });
  }

  it('searchMany searches repeated hashes once and still answers each position (own arrays)', () => {
    const index = indexFor('default (auto probe/scan)', {});
    const hashes = [queries[0]!, queries[1]!, queries[0]!.toUpperCase(), queries[0]!, queries[1]!];
    const got = index.searchMany(hashes, 31);
    expect(got).toEqual(hashes.map((h) => index.search(h, 31)));
    expect(got[0]!.length).toBeGreaterThan(0);
    expect(got[2]).not.toBe(got[0]);
    got[0]![0]!.distance = 999;
    expect(got[3]![0]!.distance).not.toBe(999);
    // A malformed hash is refused as in search().
    expect(() => index.searchMany([queries[0]!, 'nothex'], 31)).toThrow(VigilError);
  });

  it('searchDigest: each entry once, with its nearest variant (lowest on a tie), nearest first; only the plain hash without dihedral', () => {
    const index = indexFor('default (auto probe/scan)', {});
    const variants = queries.slice(0, 8);
    const digest = { hash: variants[0]!, dihedral: variants };
    for (const r of [16, 31, 40]) {
      // Independent oracle: scan every entry, keep its smallest distance over the variants.
      const expected: { id: PdqEntryId; distance: number; variant: number; at: number }[] = [];
      entries.forEach((e, at) => {
        let best: { distance: number; variant: number } | undefined;
        variants.forEach((_, v) => {
          const d = distances[v]![at]!;
          if (d <= r && (!best || d < best.distance)) best = { distance: d, variant: v };
        });
        if (best) expected.push({ id: e.id, ...best, at });
      });
      expected.sort((a, b) => a.distance - b.distance || a.at - b.at);
      expect(index.searchDigest(digest, r, true)).toEqual(expected.map(({ id, distance, variant }) => ({ id, distance, variant })));
      expect(index.searchDigest(digest, r, false)).toEqual(oracle(entries, distances[0]!, r).map((m) => ({ ...m, variant: 0 })));
    }
    // A digest without variants is searched by its hash alone, even when dihedral is asked for.
    expect(index.searchDigest({ hash: variants[1]! }, 31, true)).toEqual(oracle(entries, distances[1]!, 31).map((m) => ({ ...m, variant: 0 })));
  });

  it('searchMany and the exported brute-force references agree with the oracle', () => {
    const index = indexFor('default (auto probe/scan)', {});
    expect(index.searchMany(queries.slice(0, 4), 31)).toEqual(queries.slice(0, 4).map((_, qi) => oracle(entries, distances[qi]!, 31)));
    expect(bruteForceSearch(entries, queries[0]!, 40)).toEqual(oracle(entries, distances[0]!, 40));
  });

  it("shared memory: a view searched elsewhere (as a thread would, on a structured clone) gives searchMany's answer", async () => {
    const index = PdqIndex.build(entries, { sharedMemory: true });
    const view = index.sharedView();
    expect(view).toBeDefined();
    // Nothing in the view is copied when it is posted to a thread: every array is on a SharedArrayBuffer.
    const arrays = [view!.alive, ...view!.segments.flatMap((s) => [s.words, ...s.offsets, ...s.postings])];
    expect(arrays.every((a) => a.buffer instanceof SharedArrayBuffer)).toBe(true);
    const hashes = [...queries, queries[0]!.toUpperCase()];
    let runs = 0;
    const elsewhere = async (v: typeof view & object, q: Uint32Array, r: number) => {
      runs++;
      return PdqIndex.searchShared(structuredClone(v), q.slice(), r);
    };
    for (const r of [0, 31, 40])
      expect(await index.searchManyOn(elsewhere, hashes, r), `radius ${r}`).toEqual(
        hashes.map((h) => oracle(entries, distances[queries.indexOf(h) >= 0 ? queries.indexOf(h) : 0]!, r)),
      );
    expect(runs).toBe(3);
    // A malformed hash fails here, before anything is posted.
    await expect(index.searchManyOn(elsewhere, [queries[0]!, 'nothex'], 31)).rejects.toThrow(VigilError);
    expect(runs).toBe(3);
  });

  it('shared memory: an index that is not shared, or changes while the thread searches, is searched in place', async () => {
    const small = entries.slice(0, 5000);
    const plain = PdqIndex.build(small);
    expect(plain.sharedView()).toBeUndefined();
    let runs = 0;
    const never = async () => {
      runs++;
      return [];
    };
    expect(await plain.searchManyOn(never, [queries[0]!], 40)).toEqual(plain.searchMany([queries[0]!], 40));
    const shared = PdqIndex.build(small, { sharedMemory: true });
    // The thread answers from the view it got, but the index gained an entry meanwhile: its slots
    // may no longer mean what they meant, so the answer is not used.
    const near = flip(queries[0]!.toLowerCase(), 3, rand);
    const racing = async (v: NonNullable<ReturnType<PdqIndex['sharedView']>>, q: Uint32Array, r: number) => {
      runs++;
      shared.add('late', near);
      return PdqIndex.searchShared(v, q, r);
    };
    const got = await shared.searchManyOn(racing, [queries[0]!], 40);
    expect(runs).toBe(1);
    expect(got[0]!.map((m) => m.id)).toContain('late');
    expect(got).toEqual(shared.searchMany([queries[0]!], 40));
    // Unflushed adds live outside the shared segments: no view until they are.
    expect(shared.sharedView()).toBeUndefined();
  });

  it('builds from parsed words with the same results', () => {
    const words = new Uint32Array(entries.length * 8);
    entries.forEach((e, i) => {
      for (let w = 0; w < 8; w++) words[i * 8 + w] = parseInt(e.hash.slice(w * 8, w * 8 + 8), 16);
    });
    const q = new Uint32Array(8);
    for (let w = 0; w < 8; w++) q[w] = parseInt(centres[1]!.slice(w * 8, w * 8 + 8), 16);
    expect(bruteForceSearchWords(words, entries.length, q, 31).map((m) => ({ id: entries[m.index]!.id, distance: m.distance }))).toEqual(
      [...oracle(entries, distances[1]!, 31)].sort((a, b) => entries.findIndex((e) => e.id === a.id) - entries.findIndex((e) => e.id === b.id)),
    );
    const index = PdqIndex.fromWords(
      words,
      entries.map((e) => e.id),
    );
    for (let qi = 0; qi < queries.length; qi++) expect(index.search(queries[qi]!, 32)).toEqual(oracle(entries, distances[qi]!, 32));
  });

  it('with the default ids (0..n-1, no id table until one is needed) answers, adds and removes like any index', () => {
    const words = new Uint32Array(entries.length * 8);
    entries.forEach((e, i) => {
      for (let w = 0; w < 8; w++) words[i * 8 + w] = parseInt(e.hash.slice(w * 8, w * 8 + 8), 16);
    });
    const renamed = entries.map((e, i) => ({ id: i, hash: e.hash }));
    const index = PdqIndex.fromWords(words);
    for (const id of [0, 7, entries.length - 1]) expect([index.has(id), index.hashOf(id)]).toEqual([true, entries[id]!.hash.toLowerCase()]);
    for (const id of [entries.length, -1, 1.5, '3', Number.NaN]) expect(index.has(id as PdqEntryId)).toBe(false);
    expect(index.search(queries[0]!, 31)).toEqual(oracle(renamed, distances[0]!, 31));
    expect(() => index.add(3, entries[0]!.hash)).toThrow(VigilError);
    expect(index.remove(7)).toBe(true);
    expect(index.has(7)).toBe(false);
    index.add('extra', entries[7]!.hash);
    const live = [...renamed.filter((e) => e.id !== 7), { id: 'extra', hash: entries[7]!.hash }];
    expect(index.size).toBe(live.length);
    const ds = live.map((e) => distance(e.hash, queries[0]!.toLowerCase()));
    expect(index.search(queries[0]!, 31)).toEqual(oracle(live, ds, 31));
    expect([index.has('extra'), index.has(8), index.has(7)]).toEqual([true, true, false]);
  });
});

describe('PdqIndex incremental updates', () => {
  /** A model of the live entries in slot order: appends go last, removals drop out, compaction keeps order. */
  function check(index: PdqIndex, live: PdqEntry[], queries: string[]): void {
    expect(index.size).toBe(live.length);
    for (const q of queries) {
      const ds = live.map((e) => distance(e.hash, q.toLowerCase()));
      for (const r of [0, 16, 31, 40]) expect(index.search(q, r)).toEqual(oracle(live, ds, r));
    }
    // The same queries in one pass (segments, tail and tombstones included).
    const dss = queries.map((q) => live.map((e) => distance(e.hash, q.toLowerCase())));
    expect(index.searchMany(queries, 31)).toEqual(dss.map((ds) => oracle(live, ds, 31)));
  }

  it.each(['auto', 'index'] as const)('adds after build, removes, re-adds and compacts, always matching brute force (%s)', (mode) => {
    const { entries, centres, rand } = dataset(20_000, 4, 0xadd);
    const queries = queriesFor(centres, entries, rand);
    {
      const half = entries.length >> 1;
      // A small tail forces many segments, merges and scans of the unindexed tail.
      const index = PdqIndex.build(entries.slice(0, half), { tailSize: 64, searchMode: mode, autoCompact: false });
      let live = entries.slice(0, half);
      for (const e of entries.slice(half, half + 3000)) index.add(e.id, e.hash);
      live = live.concat(entries.slice(half, half + 3000));
      expect(index.stats().segments.length).toBeGreaterThan(1);
      check(index, live, queries);
      index.addMany(entries.slice(half + 3000));
      live = live.concat(entries.slice(half + 3000));
      check(index, live, queries);

      // Remove every other planted neighbour (including duplicates of the centre) and some random entries.
      const removed = live.filter((e, i) => (typeof e.id === 'string' && i % 2 === 0) || (typeof e.id === 'number' && e.id % 7 === 0));
      for (const e of removed) expect(index.remove(e.id)).toBe(true);
      for (const e of removed.slice(0, 10)) expect(index.remove(e.id)).toBe(false);
      const gone = new Set<PdqEntryId>(removed.map((e) => e.id));
      live = live.filter((e) => !gone.has(e.id));
      expect(index.has(removed[0]!.id)).toBe(false);
      check(index, live, queries);
      for (const q of queries) for (const m of index.search(q, 40)) expect(gone.has(m.id)).toBe(false);

      // Re-adding a removed id: once with a new hash (now near centre 0), once with its old hash.
      const [a, b] = removed.filter((e) => typeof e.id === 'string');
      const moved = { id: a!.id, hash: flip(centres[0]!, 5, rand) };
      index.add(moved.id, moved.hash);
      index.add(b!.id, b!.hash);
      live.push(moved, b!);
      expect(index.has(a!.id)).toBe(true);
      check(index, live, queries);
      expect(index.search(centres[0]!, 5)).toContainEqual({ id: a!.id, distance: 5 });

      index.compact();
      expect(index.stats()).toMatchObject({ removed: 0, tail: 0, slots: live.length });
      expect(index.stats().segments).toHaveLength(1);
      check(index, live, queries);
    }
  });

  it('compacts automatically once a quarter of the slots are removed', () => {
    const { entries, centres, rand } = dataset(5_000, 2, 0xc0);
    const queries = queriesFor(centres, entries, rand);
    const index = PdqIndex.build(entries, { tailSize: 100 });
    const removed = entries.filter((_, i) => i % 3 === 0);
    for (const e of removed.slice(0, 500)) index.remove(e.id);
    expect(index.stats().removed).toBe(500);
    for (const e of removed.slice(500)) index.remove(e.id);
    // 1/3 removed > 1/4, so a compaction ran somewhere along the way and dropped those slots.
    expect(index.stats().removed).toBeLessThan(removed.length);
    expect(index.stats().slots).toBeLessThan(entries.length);
    check(
      index,
      entries.filter((_, i) => i % 3 !== 0),
      queries,
    );
  });

  it('keeps several ids for one hash, and rejects a duplicate id', () => {
    const rand = seededRandom(7);
    const h = randomHex(rand);
    const index = new PdqIndex();
    index.add('a', h);
    index.add('b', h);
    index.add(3, h);
    index.add('3', flip(h, 1, rand));
    expect(index.search(h, 0)).toEqual([
      { id: 'a', distance: 0 },
      { id: 'b', distance: 0 },
      { id: 3, distance: 0 },
    ]);
    expect(index.search(h, 1)).toContainEqual({ id: '3', distance: 1 });
    expect(() => index.add('a', randomHex(rand))).toThrow(expect.objectContaining({ code: 'BANK_INVALID' }));
    expect(() =>
      PdqIndex.build([
        { id: 1, hash: h },
        { id: 1, hash: randomHex(rand) },
      ]),
    ).toThrow(VigilError);
    expect(index.remove(3)).toBe(true);
    expect(index.has('3')).toBe(true);
    expect(index.search(h, 0).map((m) => m.id)).toEqual(['a', 'b']);
    expect(index.memoryBytes()).toBeGreaterThan(0);
  });
});

describe('PdqIndex input validation', () => {
  const good = 'f'.repeat(64);
  const bad: [string, unknown][] = [
    ['too short', 'f'.repeat(63)],
    ['too long', 'f'.repeat(65)],
    ['non-hex character', `${'f'.repeat(63)}g`],
    ['empty', ''],
    ['not a string', null],
    ['a number', 123],
  ];

  for (const [what, hash] of bad) {
    it(`rejects an invalid hash (${what}) with BANK_INVALID`, () => {
      const index = PdqIndex.build([{ id: 1, hash: good }]);
      const expectBankInvalid = (fn: () => unknown): void => {
        let caught: unknown;
        try {
          fn();
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(VigilError);
        expect((caught as VigilError).code).toBe('BANK_INVALID');
        // Messages never quote the input.
        if (typeof hash === 'string' && hash.length > 0) expect((caught as VigilError).message).not.toContain(hash);
      };
      expectBankInvalid(() => index.add(2, hash as string));
      expectBankInvalid(() => index.search(hash as string, 10));
      expectBankInvalid(() => PdqIndex.build([{ id: 1, hash: hash as string }]));
      expectBankInvalid(() => bruteForceSearch([{ id: 1, hash: good }], hash as string, 10));
      expect(index.size).toBe(1);
      expect(index.has(2)).toBe(false);
    });
  }

  it('rejects invalid ids and bad radii, and addMany is all-or-nothing', () => {
    const index = new PdqIndex();
    for (const id of [Number.NaN, 1.5, '', Number.MAX_SAFE_INTEGER + 2]) {
      expect(() => index.add(id, good)).toThrow(expect.objectContaining({ code: 'BANK_INVALID' }));
    }
    expect(() => index.search(good, -1)).toThrow(RangeError);
    expect(() => index.search(good, 257)).toThrow(RangeError);
    expect(() => index.search(good, 1.5)).toThrow(RangeError);
    index.add('keep', good);
    expect(() =>
      index.addMany([
        { id: 'x', hash: good },
        { id: 'y', hash: 'nope' },
        { id: 'z', hash: good },
      ]),
    ).toThrow(VigilError);
    expect(index.size).toBe(1);
    expect(index.has('x')).toBe(false);
    index.addMany([{ id: 'x', hash: good }]);
    expect(index.search(good, 0).map((m) => m.id)).toEqual(['keep', 'x']);
    expect(() => PdqIndex.fromWords(new Uint32Array(9))).toThrow(VigilError);
    expect(() => PdqIndex.fromWords(new Uint32Array(16), [1, 1])).toThrow(VigilError);
  });
});

describe('PdqIndex.hashOf', () => {
  it('returns the stored hash of bulk-built and added entries, and undefined for removed ones', () => {
    const rand = seededRandom(11);
    const hex = () => Array.from({ length: 64 }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join('');
    const bulk = Array.from({ length: 2000 }, (_, i) => ({ id: i, hash: hex() }));
    const index = PdqIndex.build(bulk);
    const added = hex();
    index.add('late', added);
    expect(index.hashOf(0)).toBe(bulk[0]?.hash);
    expect(index.hashOf(1999)).toBe(bulk[1999]?.hash);
    expect(index.hashOf('late')).toBe(added);
    index.remove(5);
    expect(index.hashOf(5)).toBeUndefined();
    expect(index.hashOf('nope')).toBeUndefined();
  });
});
