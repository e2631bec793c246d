/**
 * Exact Hamming-radius search over 256-bit PDQ hashes by multi-index hashing (MIH; Norouzi, Punjani &
 * Fleet, "Fast Exact Search in Hamming Space with Multi-Index Hashing", 2014; Meta's pdq/README-MIH.md).
 *
 * The hash is cut into m disjoint windows. If a stored hash is within r of the query, then by the
 * pigeonhole principle (in Norouzi's sharper form, with q = floor(r/m) and a = r - m·q) one of the
 * windows 0..a differs by at most q bits, or one of the windows a+1..m-1 differs by at most q-1 bits.
 * So we enumerate every window value within that radius of the query's window, read the entries
 * filed under it, and verify the full 256-bit distance: no false negatives, no false positives.
 *
 * Layout, chosen for 10M hashes in well under 1.5 GB:
 * - a segment's hashes live in one Uint32Array, 8 words per slot (no object per entry);
 * - each window of a segment is a CSR table (offsets over all 2^width window values + postings of
 *   slot numbers), built by counting sort, so a bucket lookup is two array reads;
 * - window widths are tuned per segment for its size and the usual radius (≤ 22 bits, offset tables
 *   ≤ 4 entries per hash): at 10M, 8 windows of 22 bits and 4 of 20, a few entries per bucket;
 * - caller ids (numbers or strings) sit in a side table indexed by slot, plus an open-addressing
 *   id → slot table in a Uint32Array for has/remove;
 * - incremental adds go to an unindexed tail that is scanned linearly; a full tail becomes a small
 *   segment, and segments are merged log-structured style (the newest with its predecessor while it
 *   is at least a quarter of its size), so adds cost amortised O(log n) and queries see O(log n)
 *   segments; removals are tombstones, reclaimed by compact() (automatic once a quarter is dead).
 *
 * Candidates are deduplicated across windows without a "seen" set: a verified match found in window i
 * is reported only if no earlier window would also have found it, which costs a few window
 * comparisons on the (rare) matches instead of a random memory access per candidate.
 *
 * Pure: no I/O, no shared mutable state.
 */
import { VigilError } from '../errors.js';
import { hexToWords32, popcount32, words32ToHex } from './hex.js';

/** Entry ids are supplied by the bank: safe integers or non-empty strings (5 and "5" are different ids). */
export type PdqEntryId = number | string;

export interface PdqEntry {
  id: PdqEntryId;
  /** 64 hex digits. */
  hash: string;
}

export interface PdqMatch {
  id: PdqEntryId;
  /** Hamming distance to the query, 0–256. */
  distance: number;
}

/** A match of one of several query variants (searchDigest): `variant` indexes the query list. */
export interface PdqVariantMatch extends PdqMatch {
  variant: number;
}

export interface PdqIndexOptions {
  /**
   * Cut the hash into ceil(256 / windowBits) equal windows (8–22 bits). Default: widths chosen per
   * segment from its size and `tuneRadius`, to minimise expected memory accesses per query.
   */
  windowBits?: number;
  /**
   * The radius most queries use; layouts are tuned for it (any radius is still answered exactly).
   * Default 31, the usual PDQ match threshold.
   */
  tuneRadius?: number;
  /**
   * 'auto' (default) probes the windows where that is estimated to be cheaper than a linear scan of the
   * segment (small segments, very large radii), 'index' always probes, 'scan' always scans. All three
   * return the same results; the overrides exist for tests and measurement.
   */
  searchMode?: 'auto' | 'index' | 'scan';
  /** Entries added one by one stay in a linearly scanned tail until there are this many. Default 1024. */
  tailSize?: number;
  /** Compact automatically once more than a quarter of the slots are removed entries. Default true. */
  autoCompact?: boolean;
  /**
   * Keep the hashes, the window tables and the liveness flags in SharedArrayBuffers, so another
   * thread can search the index without a copy (sharedView, searchShared). Same memory, same speed.
   */
  sharedMemory?: boolean;
}

/**
 * The read-only parts of an index a thread needs to search it: plain data, every array on a
 * SharedArrayBuffer, so posting it to a thread copies none of them. Valid while the index it came
 * from does not change (`generation`); results are slot numbers, which that index maps back to ids.
 */
export interface PdqSharedView {
  readonly generation: number;
  readonly count: number;
  readonly searchMode: 'auto' | 'index' | 'scan';
  readonly alive: Uint8Array;
  readonly segments: readonly {
    lo: number;
    hi: number;
    entries: number;
    words: Uint32Array;
    widths: readonly number[] | null;
    offsets: readonly Uint32Array[];
    postings: readonly Uint32Array[];
  }[];
}

/** One query's matches from searchShared: slot numbers and distances, nearest first. */
export interface PdqSlotMatches {
  slots: number[];
  distances: number[];
}

export interface PdqIndexStats {
  size: number;
  /** Slots in use, including removed entries not yet compacted away. */
  slots: number;
  removed: number;
  tail: number;
  segments: { entries: number; windows: number; windowBits: number[]; indexed: boolean }[];
}

const WORDS = 8;
const BITS = 256;
const MAX_WINDOW_BITS = 22;
const MIN_WINDOW_BITS = 8;
/** Below this many entries a segment gets no tables: a scan is as fast as probing. */
const MIN_INDEXED = 256;
/** Merge the newest segment into its predecessor when newest × MERGE_RATIO ≥ predecessor. */
const MERGE_RATIO = 4;
/**
 * Relative costs for choosing probe vs scan: a bucket probe or candidate is a random memory access,
 * a scanned entry is a sequential one. Only affects speed, never results.
 */
const RANDOM_ACCESS_COST = 8;
const ID_TABLE_MAX_LOAD = 0.7;
/** Queries searched together by searchMany: the 8 dihedral variants of an image. */
const MAX_BATCH = 8;
/** Candidates fetched ahead of their verification at a time (64 B lines: 64 KiB, about L1 + a bit). */
const TOUCH_CHUNK = 1024;

/** ballMasks's cache: pure data, shared by every index in the isolate (a thread's per-task views too). */
const BALLS = new Map<number, Int32Array>();
const COMB = new Int32Array(BITS);

/** 16-bit popcount table for the inner loops that split words in halves. */
const POP16 = new Uint8Array(65536);
for (let i = 1; i < 65536; i++) POP16[i] = (i & 1) + POP16[i >>> 1]!;

/** Parses 64 hex digits into 8 words at out[at..at+8). The message never quotes the input. */
function parseHexInto(hex: unknown, out: Uint32Array, at: number): void {
  if (typeof hex !== 'string') throw new VigilError('BANK_INVALID', `PDQ hash must be a string of 64 hex digits, got ${hex === null ? 'null' : typeof hex}`);
  try {
    hexToWords32(hex, out, at);
  } catch (err) {
    throw new VigilError('BANK_INVALID', (err as Error).message.replace('not a PDQ hash', 'PDQ hash must be 64 hex digits'));
  }
}

/** Every width-bit value within Hamming distance k of 0 (XOR masks), nearest first; cached per (width, k). */
function ballMasks(width: number, k: number): Int32Array {
  const key = width * 1024 + k;
  let masks = BALLS.get(key);
  if (masks) return masks;
  const kk = Math.min(k, width);
  masks = new Int32Array(ballVolume(width, kk));
  const pos = COMB;
  let n = 0;
  masks[n++] = 0;
  for (let d = 1; d <= kk; d++) {
    // Combinations of d bit positions in lexicographic order.
    for (let i = 0; i < d; i++) pos[i] = i;
    for (;;) {
      let x = 0;
      for (let i = 0; i < d; i++) x ^= 1 << pos[i]!;
      masks[n++] = x;
      let i = d - 1;
      while (i >= 0 && pos[i] === width - d + i) i--;
      if (i < 0) break;
      pos[i]!++;
      for (let j = i + 1; j < d; j++) pos[j] = pos[j - 1]! + 1;
    }
  }
  // Only small balls are kept (the usual radii); a huge one (radius far above the tuning) is rebuilt per search.
  if (masks.length <= 1 << 16) BALLS.set(key, masks);
  return masks;
}

function hammingAt(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  let d = 0;
  for (let w = 0; w < WORDS; w++) d += popcount32((a[ai + w]! ^ b[bi + w]!) >>> 0);
  return d;
}

function checkRadius(radius: number): void {
  if (!Number.isInteger(radius) || radius < 0 || radius > BITS) throw new RangeError(`radius must be an integer in 0..${BITS}, got ${radius}`);
}

function validateId(id: unknown): asserts id is PdqEntryId {
  if (typeof id === 'number' ? Number.isSafeInteger(id) : typeof id === 'string' && id.length > 0) return;
  throw new VigilError('BANK_INVALID', `PDQ entry id must be a safe integer or a non-empty string, got ${typeof id}`);
}

function hashId(id: PdqEntryId): number {
  let h: number;
  if (typeof id === 'number') {
    h = Math.imul((id >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.floor(id / 4294967296);
  } else {
    h = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  }
  // murmur3 fmix32: linear probing needs well-spread low bits, and sequential ids are the common case.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Layout {
  readonly m: number;
  readonly start: Int32Array;
  readonly width: Int32Array;
}

function layoutOf(widths: readonly number[]): Layout {
  const m = widths.length;
  const start = new Int32Array(m);
  const width = new Int32Array(m);
  let at = 0;
  widths.forEach((w, i) => {
    start[i] = at;
    width[i] = w;
    at += w;
  });
  return { m, start, width };
}

/** ceil(256 / maxWidth) windows as equal as possible, narrower first. */
function uniformWidths(maxWidth: number): number[] {
  const m = Math.ceil(BITS / maxWidth);
  const narrow = Math.floor(BITS / m);
  const wide = BITS - narrow * m;
  return Array.from({ length: m }, (_, i) => (i < m - wide ? narrow : narrow + 1));
}

/** Expected random memory accesses of one query: per probe the bucket bounds and (if non-empty) its postings, plus one hash per candidate. */
function expectedCost(widths: ArrayLike<number>, n: number, r: number): number {
  let cost = 0;
  for (let i = 0; i < widths.length; i++) {
    const k = windowRadius(i, r, widths.length);
    if (k < 0) break;
    const w = widths[i]!;
    const v = ballVolume(w, k);
    const perBucket = n / 2 ** w;
    cost += v * (1 + Math.min(1, perBucket) + perBucket);
  }
  return cost;
}

/**
 * Window widths for a segment of n hashes, minimising expectedCost at radius r. The first a+1 windows
 * (r = m·q + a) are probed at radius q and the others at q-1, so they may differ in width: at 10M and
 * r = 31 the pick is 8 windows of 22 bits then 4 of 20, about 25% fewer memory accesses than 12 equal
 * windows. Offset tables are capped at 4 entries per hash (and 22 bits per window) to bound memory.
 */
function tunedWidths(n: number, r: number): number[] {
  let best: number[] = uniformWidths(MIN_WINDOW_BITS);
  let bestCost = Infinity;
  const maxBuckets = Math.max(4 * n, 2 ** 16);
  for (let m = Math.ceil(BITS / MAX_WINDOW_BITS); m <= BITS / MIN_WINDOW_BITS; m++) {
    const q = Math.floor(r / m);
    const n1 = r - m * q + 1;
    const n2 = m - n1;
    for (let x = MIN_WINDOW_BITS; x <= MAX_WINDOW_BITS; x++) {
      const rest = BITS - n1 * x;
      let widths: number[];
      if (n2 === 0) {
        if (rest !== 0) continue;
        widths = Array<number>(n1).fill(x);
      } else {
        const y = Math.floor(rest / n2);
        const extra = rest - y * n2;
        if (y < MIN_WINDOW_BITS || y + (extra > 0 ? 1 : 0) > MAX_WINDOW_BITS) continue;
        widths = [...Array<number>(n1).fill(x), ...Array<number>(n2 - extra).fill(y), ...Array<number>(extra).fill(y + 1)];
      }
      if (widths.reduce((sum, w) => sum + 2 ** w, 0) > maxBuckets) continue;
      const cost = expectedCost(widths, n, r);
      if (cost < bestCost) {
        bestCost = cost;
        best = widths;
      }
    }
  }
  return best;
}

/** Bits [start, start+width) of the hash at words[base..base+8), width ≤ 22, so at most two words are touched. */
function windowValue(words: Uint32Array, base: number, start: number, width: number): number {
  const w = base + (start >>> 5);
  const sh = start & 31;
  let v = words[w]! >>> sh;
  if (sh + width > 32) v |= words[w + 1]! << (32 - sh);
  return v & ((1 << width) - 1);
}

/** Windows up to this many bits are sorted in one counting pass; wider ones partition first (buildSegment). */
const DIRECT_SORT_BITS = 20;
/** Top bits of a wide window that partition its entries before the per-block counting sort. */
const PARTITION_BITS = 8;

/**
 * Stable counting sort of entries [from, to) by window value (all in [base, base + 2^bits)): writes
 * off[v] for those values (the postings of v start there) and the slots into post from position `from`.
 */
function countingSort(vals: Uint32Array, slots: Uint32Array, to: number, from: number, base: number, bits: number, off: Uint32Array, post: Uint32Array): void {
  const size = 1 << bits;
  const count = new Uint32Array(size);
  for (let e = from; e < to; e++) count[vals[e]! - base]!++;
  let at = from;
  for (let v = 0; v < size; v++) {
    const c = count[v]!;
    off[base + v] = at;
    count[v] = at;
    at += c;
  }
  for (let e = from; e < to; e++) post[count[vals[e]! - base]!++] = slots[e]!;
}

/** Number of width-bit values within Hamming distance k of a given one. */
function ballVolume(width: number, k: number): number {
  let sum = 0;
  let c = 1;
  for (let j = 0; j <= Math.min(k, width); j++) {
    sum += c;
    c = (c * (width - j)) / (j + 1);
  }
  return sum;
}

/** Probe radius of window i for radius r: q for windows 0..a, q-1 (possibly -1: skip) after. */
function windowRadius(i: number, r: number, m: number): number {
  const q = Math.floor(r / m);
  return i <= r - m * q ? q : q - 1;
}

interface Segment {
  /** Covers slots [lo, hi); removed slots inside are skipped (tombstones). */
  readonly lo: number;
  readonly hi: number;
  /**
   * Hashes of slots lo..hi-1 (8 words each). Each segment owns its hashes, so adds after a bulk
   * build never reallocate the big segment's 320 MB (at 10M) and peak memory stays flat.
   */
  readonly words: Uint32Array;
  /** Live entries when built: drives merging and the probe/scan choice. */
  readonly entries: number;
  readonly layout: Layout | null;
  readonly offsets: readonly Uint32Array[];
  /** Slot numbers relative to lo. */
  readonly postings: readonly Uint32Array[];
}

/**
 * A symmetric image has equal variants (a flat one, all 8): each distinct hash is searched once, and
 * `expand` spreads the results back to every position, repeats as copies, so every position owns its
 * result as with separate searches.
 */
function distinctHashes(hashes: readonly string[]): { unique: string[]; expand: (found: PdqMatch[][]) => PdqMatch[][] } {
  const distinct = new Map<string, number>();
  const which = hashes.map((h) => {
    const key = typeof h === 'string' ? h.toLowerCase() : h;
    let i = distinct.get(key);
    if (i === undefined) distinct.set(key, (i = distinct.size));
    return i;
  });
  const expand = (found: PdqMatch[][]): PdqMatch[][] => {
    const handedOut = new Set<number>();
    return which.map((i) => {
      const matches = found[i]!;
      if (handedOut.has(i)) return matches.map((m) => ({ ...m }));
      handedOut.add(i);
      return matches;
    });
  };
  return { unique: [...distinct.keys()], expand };
}

/**
 * An in-memory index of PDQ hashes for exact radius search. Not thread-safe; a worker builds one per
 * bank version and swaps it in.
 */
export class PdqIndex {
  private readonly windowBits: number | undefined;
  private readonly tuneRadius: number;
  private readonly searchMode: 'auto' | 'index' | 'scan';
  private readonly tailSize: number;
  private readonly autoCompact: boolean;
  private readonly sharedMemory: boolean;
  /** Bumped by every change, so a shared view taken earlier is known to be stale. */
  private generation = 0;

  /** Numeric id per slot; NaN marks a string id kept in strIds. */
  private numIds = new Float64Array(0);
  private strIds: (string | undefined)[] | null = null;
  private alive: Uint8Array = new Uint8Array(0);
  private capacity = 0;
  private count = 0;
  private live = 0;
  private removedCount = 0;

  /** id → slot + 1 (0 = empty), open addressing with linear probing. */
  private idTable = new Uint32Array(16);
  private idMask = 15;
  /**
   * True after a bulk build with the default ids while nothing has changed since: slot s holds id s,
   * so lookups need no table, and the table (10M random inserts, most of a second) is built only when
   * an entry is added or removed.
   */
  private identityIds = false;

  private segments: Segment[] = [];
  /** Slots [tailLo, count) are not yet in any segment; their hashes are in tailWords. */
  private tailLo = 0;
  private tailWords = new Uint32Array(0);

  private readonly layouts = new Map<string, Layout>();
  /** The hashes being searched for, 8 words each, and how many. */
  private queries = new Uint32Array(WORDS * MAX_BATCH);
  private nQueries = 0;
  private queryWindows = new Int32Array(32 * MAX_BATCH);
  private groupEnds = new Uint32Array(32 * MAX_BATCH);
  private candEnds = new Uint32Array(32 * MAX_BATCH);
  private probeBuf = new Int32Array(1024);
  private bounds = new Uint32Array(2048);
  private candidates = new Uint32Array(4096);
  /** Folds phase 4's reads into something observable, so the compiler cannot drop them. */
  private sink = 0;

  constructor(options: PdqIndexOptions = {}) {
    const { windowBits, tuneRadius = 31, searchMode = 'auto', tailSize = 1024, autoCompact = true, sharedMemory = false } = options;
    checkRadius(tuneRadius);
    if (windowBits !== undefined && (!Number.isInteger(windowBits) || windowBits < MIN_WINDOW_BITS || windowBits > MAX_WINDOW_BITS)) {
      throw new RangeError(`windowBits must be an integer in ${MIN_WINDOW_BITS}..${MAX_WINDOW_BITS}`);
    }
    if (!Number.isInteger(tailSize) || tailSize < 1) throw new RangeError('tailSize must be a positive integer');
    this.windowBits = windowBits;
    this.tuneRadius = tuneRadius;
    this.searchMode = searchMode;
    this.tailSize = tailSize;
    this.autoCompact = autoCompact;
    this.sharedMemory = sharedMemory;
  }

  /** Bulk build from hex entries; throws BANK_INVALID on a bad hash or a duplicate id. */
  static build(entries: Iterable<PdqEntry>, options?: PdqIndexOptions): PdqIndex {
    const index = new PdqIndex(options);
    index.addMany(entries);
    index.compact();
    return index;
  }

  /**
   * Bulk build from already-parsed hashes: 8 words per hash, word w = hex digits [8w, 8w+8) read as a
   * big-endian number. The index takes ownership of `words` (no copy: at 10M hashes a copy is 320 MB).
   * Ids default to 0..n-1.
   */
  static fromWords(words: Uint32Array, ids?: ArrayLike<PdqEntryId>, options?: PdqIndexOptions): PdqIndex {
    if (words.length % WORDS !== 0) throw new VigilError('BANK_INVALID', `PDQ word array length ${words.length} is not a multiple of ${WORDS}`);
    const n = words.length / WORDS;
    if (ids !== undefined && ids.length !== n) throw new VigilError('BANK_INVALID', `${ids.length} ids for ${n} PDQ hashes`);
    const index = new PdqIndex(options);
    index.numIds = new Float64Array(n);
    index.alive = index.flags(n).fill(1);
    index.capacity = n;
    if (ids === undefined) {
      // 0..n-1 are valid and distinct by construction: no validation, no duplicate probe, and no id
      // table until one is needed (at 10M hashes each was most of a second).
      for (let s = 0; s < n; s++) index.numIds[s] = s;
      index.count = n;
      index.identityIds = true;
    } else {
      index.resizeIdTable(n);
      for (let s = 0; s < n; s++) {
        const id = ids[s];
        validateId(id);
        if (index.findSlot(id) >= 0) throw new VigilError('BANK_INVALID', `duplicate PDQ entry id at position ${s}`);
        index.setId(s, id);
        index.insertId(id, s);
        index.count = s + 1;
      }
    }
    index.live = n;
    index.segments = n > 0 ? [index.buildSegment(0, n, words)] : [];
    index.tailLo = n;
    return index;
  }

  /** Live entries. */
  get size(): number {
    return this.live;
  }

  has(id: PdqEntryId): boolean {
    return this.findSlot(id) >= 0;
  }

  /** The stored hash of an entry (64 lowercase hex digits), or undefined when there is no such entry. */
  hashOf(id: PdqEntryId): string | undefined {
    const slot = this.findSlot(id);
    if (slot < 0) return undefined;
    for (const seg of this.segments) if (slot >= seg.lo && slot < seg.hi) return words32ToHex(seg.words, (slot - seg.lo) * WORDS);
    return words32ToHex(this.tailWords, (slot - this.tailLo) * WORDS);
  }

  /** Adds one entry; BANK_INVALID if the hash is malformed or the id is already present (remove it first). */
  add(id: PdqEntryId, hash: string): void {
    this.append(id, hash);
    if (this.count - this.tailLo >= this.tailSize) this.flushTail();
  }

  /** Adds many entries; all or nothing: if one is invalid, none of this call's entries stay. */
  addMany(entries: Iterable<PdqEntry>): void {
    const startCount = this.count;
    try {
      for (const e of entries) this.append(e.id, e.hash);
    } catch (err) {
      for (let s = this.count - 1; s >= startCount; s--) this.deleteId(this.idAt(s));
      this.live -= this.count - startCount;
      this.count = startCount;
      throw err;
    }
    if (this.count - this.tailLo >= this.tailSize) this.flushTail();
  }

  /** Removes an entry; false if the id is not present. Its slot is a tombstone until the next compaction. */
  remove(id: PdqEntryId): boolean {
    const slot = this.findSlot(id);
    if (slot < 0) return false;
    this.deleteId(id);
    this.generation++;
    this.alive[slot] = 0;
    this.live--;
    this.removedCount++;
    if (this.autoCompact && this.removedCount >= this.tailSize && this.removedCount * 4 > this.count) this.compact();
    return true;
  }

  /** Rebuilds one segment over all live entries, dropping removed slots. O(n); at 10M, seconds. */
  compact(): void {
    this.generation++;
    const words = this.removedCount > 0 ? this.renumber() : this.allWords();
    this.segments = this.count > 0 ? [this.buildSegment(0, this.count, words)] : [];
    this.tailLo = this.count;
    this.tailWords = new Uint32Array(0);
  }

  /** Every live entry within `radius` of the hash, nearest first (ties in insertion order). */
  search(hash: string, radius: number): PdqMatch[] {
    checkRadius(radius);
    this.setQueries([hash]);
    return this.searchParsed(radius)[0]!;
  }

  /**
   * Several hashes at once — typically the 8 dihedral variants of one image — in one pass: every
   * hash's bucket probes are read first, then all candidates are fetched together and verified once
   * each against the hash that found it. Result i is exactly what `search(hashes[i], radius)` returns.
   * What it saves is per-call overhead and some memory latency; the random reads themselves (about
   * 10k per hash at 10M entries) are not shared, since the variants' hashes are unrelated bit
   * patterns, so 8 variants cost several times one query (BENCHMARKS.md). Groups of {@link MAX_BATCH}.
   */
  searchMany(hashes: readonly string[], radius: number): PdqMatch[][] {
    checkRadius(radius);
    const { unique, expand } = distinctHashes(hashes);
    const found: PdqMatch[][] = [];
    for (let at = 0; at < unique.length; at += MAX_BATCH) {
      this.setQueries(unique.slice(at, at + MAX_BATCH));
      found.push(...this.searchParsed(radius));
    }
    return expand(found);
  }

  /**
   * searchMany's answer, with the search run by `run` on the index's shared view — typically on a
   * thread, which then holds no copy of the index (PdqIndex.searchShared). The hashes are parsed and
   * checked here, so a bad one fails as it would in searchMany. Searched here instead when the index
   * is not shared (sharedMemory off, unflushed adds) or changed while the thread searched.
   */
  async searchManyOn(
    run: (view: PdqSharedView, queries: Uint32Array, radius: number) => Promise<PdqSlotMatches[]>,
    hashes: readonly string[],
    radius: number,
  ): Promise<PdqMatch[][]> {
    checkRadius(radius);
    const view = this.sharedView();
    if (!view) return this.searchMany(hashes, radius);
    const { unique, expand } = distinctHashes(hashes);
    const queries = new Uint32Array(unique.length * WORDS);
    unique.forEach((h, v) => parseHexInto(h, queries, v * WORDS));
    const found = await run(view, queries, radius);
    if (view.generation !== this.generation) return this.searchMany(hashes, radius);
    return expand(this.resolveSlots(found));
  }

  /** The index as shared plain data for another thread, or undefined when it is not fully in shared memory. */
  sharedView(): PdqSharedView | undefined {
    if (!this.sharedMemory || this.count !== this.tailLo || !(this.alive.buffer instanceof SharedArrayBuffer)) return undefined;
    return {
      generation: this.generation,
      count: this.count,
      searchMode: this.searchMode,
      alive: this.alive,
      segments: this.segments.map((seg) => ({
        lo: seg.lo,
        hi: seg.hi,
        entries: seg.entries,
        words: seg.words,
        widths: seg.layout ? Array.from(seg.layout.width) : null,
        offsets: seg.offsets,
        postings: seg.postings,
      })),
    };
  }

  /**
   * The thread side of searchManyOn: searches a shared view for parsed queries (8 words each) and
   * returns slots, which only the index the view came from can turn into ids. Keeps nothing.
   */
  static searchShared(view: PdqSharedView, queries: Uint32Array, radius: number): PdqSlotMatches[] {
    checkRadius(radius);
    const index = new PdqIndex({ searchMode: view.searchMode });
    index.alive = view.alive;
    index.count = view.count;
    index.tailLo = view.count;
    index.segments = view.segments.map((seg) => ({ ...seg, layout: seg.widths ? layoutOf(seg.widths) : null }));
    const out: PdqSlotMatches[] = [];
    const n = queries.length / WORDS;
    for (let at = 0; at < n; at += MAX_BATCH) {
      const batch = Math.min(MAX_BATCH, n - at);
      index.queries.set(queries.subarray(at * WORDS, (at + batch) * WORDS));
      index.nQueries = batch;
      out.push(...index.searchSlots(radius));
    }
    return out;
  }

  /**
   * The matches of an image's PDQ digest: with `dihedral` (a per-bank choice), its 8 variants in one
   * pass (searchMany), each entry reported once with its nearest variant (the lowest variant index on
   * a tie); otherwise the plain hash alone. Order: nearest first, then insertion order. Same answer as
   * searching each variant separately and keeping each entry's best.
   */
  searchDigest(digest: { hash: string; dihedral?: readonly string[] }, radius: number, dihedral: boolean): PdqVariantMatch[] {
    const variants = dihedral && digest.dihedral ? digest.dihedral : [digest.hash];
    const perVariant = this.searchMany(variants, radius);
    const best = new Map<PdqEntryId, PdqVariantMatch>();
    perVariant.forEach((matches, variant) => {
      for (const m of matches) {
        const seen = best.get(m.id);
        if (!seen || m.distance < seen.distance) best.set(m.id, { id: m.id, distance: m.distance, variant });
      }
    });
    return [...best.values()].sort((a, b) => a.distance - b.distance || this.findSlot(a.id) - this.findSlot(b.id));
  }

  /** Bytes held in typed arrays (allocated capacity), plus an estimate for string ids. */
  memoryBytes(): number {
    let bytes = this.tailWords.byteLength + this.numIds.byteLength + this.alive.byteLength + this.idTable.byteLength;
    for (const seg of this.segments) {
      bytes += seg.words.byteLength;
      for (const o of seg.offsets) bytes += o.byteLength;
      for (const p of seg.postings) bytes += p.byteLength;
    }
    if (this.strIds) {
      // V8: an 8-byte element plus a string header and 1–2 bytes per character.
      for (const s of this.strIds) bytes += 8 + (s === undefined ? 0 : 16 + 2 * s.length);
    }
    return bytes;
  }

  stats(): PdqIndexStats {
    return {
      size: this.live,
      slots: this.count,
      removed: this.removedCount,
      tail: this.count - this.tailLo,
      segments: this.segments.map((s) => ({
        entries: s.entries,
        windows: s.layout?.m ?? 0,
        windowBits: s.layout ? Array.from(new Set(s.layout.width)) : [],
        indexed: s.layout !== null,
      })),
    };
  }

  // ---- search ----

  private setQueries(hashes: readonly string[]): void {
    if (this.queries.length < hashes.length * WORDS) this.queries = new Uint32Array(hashes.length * WORDS);
    hashes.forEach((h, v) => parseHexInto(h, this.queries, v * WORDS));
    this.nQueries = hashes.length;
  }

  /** Results for each of the nQueries parsed queries. */
  private searchParsed(r: number): PdqMatch[][] {
    return this.resolveSlots(this.searchSlots(r));
  }

  private resolveSlots(found: readonly PdqSlotMatches[]): PdqMatch[][] {
    return found.map(({ slots, distances }) => slots.map((s, i) => ({ id: this.idAt(s), distance: distances[i]! })));
  }

  /** Slots and distances for each of the nQueries parsed queries, nearest first (ties by slot). */
  private searchSlots(r: number): PdqSlotMatches[] {
    const nq = this.nQueries;
    const slots = Array.from({ length: nq }, (): number[] => []);
    const dists = Array.from({ length: nq }, (): number[] => []);
    for (const seg of this.segments) {
      if (seg.layout && this.shouldProbe(seg, seg.layout, r)) this.probeSegment(seg, seg.layout, r, slots, dists);
      else this.scan(seg.words, seg.lo, seg.hi, r, slots, dists);
    }
    this.scan(this.tailWords, this.tailLo, this.count, r, slots, dists);
    return slots.map((sv, v) => {
      const dv = dists[v]!;
      const order = sv.map((_, i) => i);
      // Slots grow with insertion order, so (distance, slot) is a stable, reproducible order.
      order.sort((x, y) => dv[x]! - dv[y]! || sv[x]! - sv[y]!);
      return { slots: order.map((i) => sv[i]!), distances: order.map((i) => dv[i]!) };
    });
  }

  private shouldProbe(seg: Segment, layout: Layout, r: number): boolean {
    if (this.searchMode !== 'auto') return this.searchMode === 'index';
    return expectedCost(layout.width, seg.entries, r) * RANDOM_ACCESS_COST < seg.entries;
  }

  /** Linear scan of slots [lo, hi) whose hashes start at words[0], for every query. */
  private scan(words: Uint32Array, lo: number, hi: number, r: number, slots: number[][], dists: number[][]): void {
    const alive = this.alive;
    for (let v = 0; v < this.nQueries; v++) {
      const q = this.queries;
      const b = v * WORDS;
      const q0 = q[b]!,
        q1 = q[b + 1]!,
        q2 = q[b + 2]!,
        q3 = q[b + 3]!,
        q4 = q[b + 4]!,
        q5 = q[b + 5]!,
        q6 = q[b + 6]!,
        q7 = q[b + 7]!;
      const sv = slots[v]!;
      const dv = dists[v]!;
      for (let s = lo, o = 0; s < hi; s++, o += WORDS) {
        let d = popcount32(words[o]! ^ q0) + popcount32(words[o + 1]! ^ q1) + popcount32(words[o + 2]! ^ q2) + popcount32(words[o + 3]! ^ q3);
        if (d > r) continue;
        d += popcount32(words[o + 4]! ^ q4) + popcount32(words[o + 5]! ^ q5) + popcount32(words[o + 6]! ^ q6) + popcount32(words[o + 7]! ^ q7);
        if (d > r || alive[s] === 0) continue;
        sv.push(s);
        dv.push(d);
      }
    }
  }

  /**
   * Probes one segment for every query. Phases rather than one nested loop per query and window: each
   * phase's loads are independent of each other and free of data-dependent branches, so the CPU keeps
   * many cache misses in flight — all bucket bounds (every query, every window), then all postings,
   * then one touch of every candidate's hash, then verification from cache — instead of stalling on
   * one miss at a time. At 10M hashes a query is ~10k random reads, so this is most of its cost.
   */
  private probeSegment(seg: Segment, layout: Layout, r: number, slots: number[][], dists: number[][]): void {
    const words = seg.words;
    const lo = seg.lo;
    const alive = this.alive;
    const m = layout.m;
    const nq = this.nQueries;
    const groups = nq * m; // group g = query (g / m) × window (g % m)
    if (this.queryWindows.length < groups) this.queryWindows = new Int32Array(groups);
    if (this.groupEnds.length < groups) this.groupEnds = new Uint32Array(groups);
    if (this.candEnds.length < groups) this.candEnds = new Uint32Array(groups);
    const qw = this.queryWindows;
    const groupEnds = this.groupEnds;
    const candEnds = this.candEnds;
    const q = this.queries;
    for (let v = 0; v < nq; v++) for (let i = 0; i < m; i++) qw[v * m + i] = windowValue(q, v * WORDS, layout.start[i]!, layout.width[i]!);

    // 1. Every window value to probe, per group (radii only shrink with the window index; -1 = none):
    // the query's window value XOR each mask of the Hamming ball, masks computed once per (width, k).
    let np = 0;
    for (let g = 0; g < groups; g++) {
      const i = g % m;
      const k = windowRadius(i, r, m);
      if (k >= 0) {
        const masks = ballMasks(layout.width[i]!, k);
        if (this.probeBuf.length < np + masks.length) {
          const grown = new Int32Array(Math.max(np + masks.length, 2 * this.probeBuf.length));
          grown.set(this.probeBuf.subarray(0, np));
          this.probeBuf = grown;
        }
        const probes = this.probeBuf;
        const v = qw[g]!;
        for (let t = 0; t < masks.length; t++) probes[np++] = v ^ masks[t]!;
      }
      groupEnds[g] = np;
    }
    // 2. Bucket bounds of every probe.
    if (this.bounds.length < 2 * np) this.bounds = new Uint32Array(2 * np);
    const probes = this.probeBuf;
    const bounds = this.bounds;
    let total = 0;
    for (let g = 0, t = 0; g < groups; g++) {
      const off = seg.offsets[g % m]!;
      for (const end = groupEnds[g]!; t < end; t++) {
        const pv = probes[t]!;
        const a = off[pv]!;
        const b = off[pv + 1]!;
        bounds[2 * t] = a;
        bounds[2 * t + 1] = b;
        total += b - a;
      }
    }
    // 3. Their postings: candidate slots, per group. First one read per non-empty bucket, back to back
    // (no branches on bucket sizes), so the gather below finds its lines in cache.
    let touch = 0;
    for (let g = 0, t = 0; g < groups; g++) {
      const post = seg.postings[g % m]!;
      for (const end = groupEnds[g]!; t < end; t++) touch ^= post[bounds[2 * t]!] ?? 0;
    }
    this.sink ^= touch;
    if (this.candidates.length < total) this.candidates = new Uint32Array(Math.max(total, 2 * this.candidates.length));
    const cand = this.candidates;
    let nc = 0;
    for (let g = 0, t = 0; g < groups; g++) {
      const post = seg.postings[g % m]!;
      for (const end = groupEnds[g]!; t < end; t++) {
        const e = bounds[2 * t + 1]!;
        for (let p = bounds[2 * t]!; p < e; p++) cand[nc++] = post[p]!;
      }
      candEnds[g] = nc;
    }
    // 4 and 5, a chunk of candidates at a time: one read of each candidate's hash, issued back to
    // back, then verification of those candidates against the query that found them, from cache.
    // Chunks keep the touched lines in L1/L2 (8 queries' candidates at once would not fit).
    let sink = 0;
    let touched = 0;
    for (let g = 0, c = 0; g < groups; g++) {
      const v = (g / m) | 0;
      const i = g - v * m;
      const b = v * WORDS;
      const q0 = q[b]!,
        q1 = q[b + 1]!,
        q2 = q[b + 2]!,
        q3 = q[b + 3]!,
        q4 = q[b + 4]!,
        q5 = q[b + 5]!,
        q6 = q[b + 6]!,
        q7 = q[b + 7]!;
      const sv = slots[v]!;
      const dv = dists[v]!;
      for (const end = candEnds[g]!; c < end; c++) {
        if (c === touched) {
          touched = Math.min(nc, c + TOUCH_CHUNK);
          for (let t = c; t < touched; t++) sink ^= words[cand[t]! * WORDS]!;
        }
        const s = cand[c]!;
        const o = s * WORDS;
        let x = words[o]! ^ q0;
        let d = POP16[x & 0xffff]! + POP16[x >>> 16]!;
        x = words[o + 1]! ^ q1;
        d += POP16[x & 0xffff]! + POP16[x >>> 16]!;
        x = words[o + 2]! ^ q2;
        d += POP16[x & 0xffff]! + POP16[x >>> 16]!;
        x = words[o + 3]! ^ q3;
        d += POP16[x & 0xffff]! + POP16[x >>> 16]!;
        if (d > r) continue;
        d += popcount32(words[o + 4]! ^ q4) + popcount32(words[o + 5]! ^ q5) + popcount32(words[o + 6]! ^ q6) + popcount32(words[o + 7]! ^ q7);
        if (d > r || alive[lo + s] === 0) continue;
        if (i > 0 && this.foundInEarlierWindow(words, o, layout, i, r, v * m)) continue;
        sv.push(lo + s);
        dv.push(d);
      }
    }
    this.sink ^= sink;
  }

  /** Whether an earlier window's probe for the same query already reported the hash at words[o..o+8): the cross-window dedupe. */
  private foundInEarlierWindow(words: Uint32Array, o: number, layout: Layout, i: number, r: number, qwAt: number): boolean {
    for (let j = 0; j < i; j++) {
      const k = windowRadius(j, r, layout.m);
      const v = windowValue(words, o, layout.start[j]!, layout.width[j]!);
      if (popcount32(v ^ this.queryWindows[qwAt + j]!) <= k) return true;
    }
    return false;
  }

  // ---- segments ----

  private layoutFor(entries: number): Layout {
    const widths = this.windowBits !== undefined ? uniformWidths(this.windowBits) : tunedWidths(entries, this.tuneRadius);
    const key = widths.join(',');
    let l = this.layouts.get(key);
    if (!l) {
      l = layoutOf(widths);
      this.layouts.set(key, l);
    }
    return l;
  }

  /** Indexes slots [lo, hi), whose hashes are `words` (owned by the segment from now on). */
  private buildSegment(lo: number, hi: number, given: Uint32Array): Segment {
    const words = this.sharedMemory && !(given.buffer instanceof SharedArrayBuffer) ? this.words32(given.length) : given;
    if (words !== given) words.set(given);
    const alive = this.alive;
    let entries = 0;
    for (let s = lo; s < hi; s++) entries += alive[s]!;
    if (entries < MIN_INDEXED && this.searchMode !== 'index') return { lo, hi, words, entries, layout: null, offsets: [], postings: [] };
    const layout = this.layoutFor(entries);
    const vals = new Uint32Array(entries);
    const slots = new Uint32Array(entries);
    let n = 0;
    for (let s = lo; s < hi; s++) if (alive[s] !== 0) slots[n++] = s - lo;
    // Scratch for the two-pass sort of the wide windows, shared by all of them (none without any).
    const wide = layout.width.some((w) => w > DIRECT_SORT_BITS);
    const partV = wide ? new Uint32Array(entries) : undefined;
    const partS = wide ? new Uint32Array(entries) : undefined;
    const offsets: Uint32Array[] = [];
    const postings: Uint32Array[] = [];
    for (let i = 0; i < layout.m; i++) {
      const start = layout.start[i]!;
      const width = layout.width[i]!;
      for (let e = 0; e < entries; e++) vals[e] = windowValue(words, slots[e]! * WORDS, start, width);
      // Postings of window value v: post[off[v]..off[v+1]), slots ascending.
      const off = this.words32((1 << width) + 1);
      const post = this.words32(entries);
      if (width <= DIRECT_SORT_BITS || !partV || !partS) countingSort(vals, slots, entries, 0, 0, width, off, post);
      else {
        // Two passes, for cache locality: a stable partition by the top PARTITION_BITS bits into
        // contiguous blocks (few write streams), then a counting sort of each block by the rest, whose
        // counters and output then fit in L2. One pass over 2^22 counters (16 MB) and 40 MB of postings
        // missed the cache on nearly every entry at 10M hashes; the result is the same array either way.
        const low = width - PARTITION_BITS;
        const blockStart = new Uint32Array((1 << PARTITION_BITS) + 1);
        for (let e = 0; e < entries; e++) blockStart[(vals[e]! >>> low) + 1]!++;
        for (let b = 0; b < 1 << PARTITION_BITS; b++) blockStart[b + 1]! += blockStart[b]!;
        const cursor = blockStart.slice(0, 1 << PARTITION_BITS);
        for (let e = 0; e < entries; e++) {
          const v = vals[e]!;
          const at = cursor[v >>> low]!++;
          partV[at] = v;
          partS[at] = slots[e]!;
        }
        for (let b = 0; b < 1 << PARTITION_BITS; b++) countingSort(partV, partS, blockStart[b + 1]!, blockStart[b]!, b << low, low, off, post);
      }
      off[1 << width] = entries;
      offsets.push(off);
      postings.push(post);
    }
    return { lo, hi, words, entries, layout, offsets, postings };
  }

  private flushTail(): void {
    if (this.count === this.tailLo) return;
    this.generation++;
    this.segments.push(this.buildSegment(this.tailLo, this.count, this.tailWords.slice(0, (this.count - this.tailLo) * WORDS)));
    this.tailLo = this.count;
    if (this.tailWords.length > 2 * this.tailSize * WORDS) this.tailWords = new Uint32Array(0);
    // Log-structured merging: segment sizes shrink geometrically, so there are O(log n) of them and
    // each entry is rebuilt O(log n) times.
    for (;;) {
      const last = this.segments[this.segments.length - 1];
      const prev = this.segments[this.segments.length - 2];
      if (!last || !prev || last.entries * MERGE_RATIO < prev.entries) break;
      const words = new Uint32Array((last.hi - prev.lo) * WORDS);
      words.set(prev.words);
      words.set(last.words, (last.lo - prev.lo) * WORDS);
      this.segments.splice(-2, 2, this.buildSegment(prev.lo, last.hi, words));
    }
  }

  // ---- storage ----

  /** A Uint32Array for the index's tables: on a SharedArrayBuffer when the index is shared. */
  private words32(n: number): Uint32Array {
    return this.sharedMemory ? new Uint32Array(new SharedArrayBuffer(4 * n)) : new Uint32Array(n);
  }

  private flags(n: number): Uint8Array {
    return this.sharedMemory ? new Uint8Array(new SharedArrayBuffer(n)) : new Uint8Array(n);
  }

  private append(id: PdqEntryId, hash: string): void {
    validateId(id);
    this.generation++;
    if (this.findSlot(id) >= 0) throw new VigilError('BANK_INVALID', 'duplicate PDQ entry id');
    // Still geometric (amortised O(1) appends), but gentle for big banks.
    if (this.count === this.capacity) this.grow(Math.max(1024, Math.ceil(this.capacity * (this.capacity > 1 << 20 ? 1.125 : 1.5))));
    const s = this.count;
    const at = (s - this.tailLo) * WORDS;
    if (at + WORDS > this.tailWords.length) {
      const tw = new Uint32Array(Math.max(this.tailSize * WORDS, 2 * this.tailWords.length));
      tw.set(this.tailWords);
      this.tailWords = tw;
    }
    parseHexInto(hash, this.tailWords, at);
    this.setId(s, id);
    this.alive[s] = 1;
    // Doubling on overflow keeps inserts amortised O(1).
    if (this.live + 1 > ID_TABLE_MAX_LOAD * (this.idMask + 1)) this.resizeIdTable(2 * (this.live + 1));
    this.insertId(id, s);
    this.count++;
    this.live++;
  }

  private grow(capacity: number): void {
    const numIds = new Float64Array(capacity);
    numIds.set(this.numIds.subarray(0, this.count));
    const alive = this.flags(capacity);
    alive.set(this.alive.subarray(0, this.count));
    this.numIds = numIds;
    this.alive = alive;
    this.capacity = capacity;
  }

  /** Every slot's hash in one array (for a rebuild without removals); reuses the sole segment's if it can. */
  private allWords(): Uint32Array {
    const only = this.segments[0];
    if (this.segments.length === 1 && only && this.tailLo === this.count) return only.words;
    const words = new Uint32Array(this.count * WORDS);
    for (const seg of this.segments) words.set(seg.words, seg.lo * WORDS);
    words.set(this.tailWords.subarray(0, (this.count - this.tailLo) * WORDS), this.tailLo * WORDS);
    return words;
  }

  /**
   * Moves live slots down over the removed ones and returns their hashes; every slot number changes,
   * so the id table is rebuilt.
   */
  private renumber(): Uint32Array {
    const n = this.live;
    const words = new Uint32Array(n * WORDS);
    const numIds = new Float64Array(n);
    const strIds = this.strIds ? new Array<string | undefined>(n) : null;
    let t = 0;
    const parts: { lo: number; hi: number; words: Uint32Array }[] = [...this.segments, { lo: this.tailLo, hi: this.count, words: this.tailWords }];
    for (const part of parts) {
      for (let s = part.lo; s < part.hi; s++) {
        if (this.alive[s] === 0) continue;
        const o = (s - part.lo) * WORDS;
        for (let w = 0; w < WORDS; w++) words[t * WORDS + w] = part.words[o + w]!;
        numIds[t] = this.numIds[s]!;
        if (strIds) strIds[t] = this.strIds![s];
        t++;
      }
    }
    this.numIds = numIds;
    this.strIds = strIds;
    this.alive = this.flags(n).fill(1);
    this.capacity = n;
    this.count = n;
    this.removedCount = 0;
    this.resizeIdTable(n);
    return words;
  }

  private setId(slot: number, id: PdqEntryId): void {
    if (typeof id === 'number') {
      this.numIds[slot] = id;
      if (this.strIds) this.strIds[slot] = undefined;
    } else {
      this.numIds[slot] = NaN;
      (this.strIds ??= [])[slot] = id;
    }
  }

  private idAt(slot: number): PdqEntryId {
    const n = this.numIds[slot]!;
    return Number.isNaN(n) ? this.strIds![slot]! : n;
  }

  private idEquals(slot: number, id: PdqEntryId): boolean {
    const n = this.numIds[slot]!;
    return typeof id === 'number' ? n === id : Number.isNaN(n) && this.strIds![slot] === id;
  }

  private findSlot(id: PdqEntryId): number {
    if (this.identityIds) return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < this.count ? id : -1;
    const table = this.idTable;
    const mask = this.idMask;
    for (let h = hashId(id) & mask; ; h = (h + 1) & mask) {
      const e = table[h]!;
      if (e === 0) return -1;
      if (this.idEquals(e - 1, id)) return e - 1;
    }
  }

  private insertId(id: PdqEntryId, slot: number): void {
    if (this.identityIds) this.resizeIdTable(this.live + 1);
    const table = this.idTable;
    const mask = this.idMask;
    let h = hashId(id) & mask;
    while (table[h] !== 0) h = (h + 1) & mask;
    table[h] = slot + 1;
  }

  /** Deletes by backward shift, so linear probing needs no tombstones in the id table. */
  private deleteId(id: PdqEntryId): void {
    if (this.identityIds) this.resizeIdTable(this.live);
    const table = this.idTable;
    const mask = this.idMask;
    let i = hashId(id) & mask;
    while (!this.idEquals(table[i]! - 1, id)) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = hashId(this.idAt(table[j]! - 1)) & mask;
      // The entry at j may move to i only if its home is not cyclically within (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      table[i] = table[j]!;
      i = j;
    }
    table[i] = 0;
  }

  /** Sizes the id table to hold `entries` ids under the maximum load and re-inserts every live slot. */
  private resizeIdTable(entries: number): void {
    let cap = 16;
    while (cap * ID_TABLE_MAX_LOAD < entries) cap *= 2;
    this.idTable = new Uint32Array(cap);
    this.idMask = cap - 1;
    this.identityIds = false;
    for (let s = 0; s < this.count; s++) if (this.alive[s] === 1) this.insertId(this.idAt(s), s);
  }
}

/**
 * Reference exact search by scanning every entry: what the index must reproduce (same order).
 * Parses every entry's hex on each call, so it is for tests and small sets.
 */
export function bruteForceSearch(entries: readonly PdqEntry[], hash: string, radius: number): PdqMatch[] {
  checkRadius(radius);
  const q = new Uint32Array(WORDS);
  parseHexInto(hash, q, 0);
  const e = new Uint32Array(WORDS);
  const out: PdqMatch[] = [];
  for (const entry of entries) {
    parseHexInto(entry.hash, e, 0);
    const distance = hammingAt(e, 0, q, 0);
    if (distance <= radius) out.push({ id: entry.id, distance });
  }
  // Array sort is stable, so ties keep entry order, as the index's do.
  return out.sort((a, b) => a.distance - b.distance);
}

/**
 * Reference exact search over parsed hashes (8 words each, as for PdqIndex.fromWords): the positions
 * (0-based) of the first `count` hashes within `radius` of `query` (8 words), with distances, in
 * position order. Used by the benchmark as the linear-scan baseline.
 */
export function bruteForceSearchWords(words: Uint32Array, count: number, query: Uint32Array, radius: number): { index: number; distance: number }[] {
  checkRadius(radius);
  const out: { index: number; distance: number }[] = [];
  const q0 = query[0]!,
    q1 = query[1]!,
    q2 = query[2]!,
    q3 = query[3]!,
    q4 = query[4]!,
    q5 = query[5]!,
    q6 = query[6]!,
    q7 = query[7]!;
  for (let s = 0, o = 0; s < count; s++, o += WORDS) {
    const d =
      popcount32(words[o]! ^ q0) +
      popcount32(words[o + 1]! ^ q1) +
      popcount32(words[o + 2]! ^ q2) +
      popcount32(words[o + 3]! ^ q3) +
      popcount32(words[o + 4]! ^ q4) +
      popcount32(words[o + 5]! ^ q5) +
      popcount32(words[o + 6]! ^ q6) +
      popcount32(words[o + 7]! ^ q7);
    if (d <= radius) out.push({ index: s, distance: d });
  }
  return out;
}
