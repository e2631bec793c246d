/**
 * The in-memory matcher over every hash bank a worker holds. A hot reload builds a new set, reusing
 * the compiled banks whose version did not change and patching in place those whose recorded changes
 * are known (`patchHashBank`), so a small append to a 10M-hash bank costs the append, not a rebuild.
 * Matching is synchronous, so a scan never sees a bank half-patched.
 */
import { PdqIndex } from '../pdq/mih.js';
import type { HashBankSet, HashMatch, HashMatchOptions, MediaHashes } from '../ports.js';
import { DIHEDRAL_NAMES, EXACT_HASH_TYPES, type ExactHashType, type HashType } from '../signals.js';
import { hexToWords32 } from '../pdq/hex.js';
import { ExactHashSet } from './exact-hash-set.js';
import { defaultEntryId, type BankKind, type HashBankData, type HashBankEntry } from './hash-bank.js';

/** Exact digests of one type, with the entry ids that are not the default one derived from the digest. */
export interface ExactIndex {
  readonly set: ExactHashSet;
  /** slot → custom id ('' stands for the default id); several when one digest has several entries. */
  readonly ids: Map<number, string | string[]>;
}

function exactIndexes(): Record<ExactHashType, ExactIndex> {
  return { md5: { set: new ExactHashSet(32), ids: new Map() }, sha1: { set: new ExactHashSet(40), ids: new Map() }, sha256: { set: new ExactHashSet(64), ids: new Map() } };
}

/** Adds an entry; with `replace`, the digest's previous entries go (store banks hold one entry per digest). */
function addExact(index: ExactIndex, value: string, custom: string, replace: boolean): void {
  const existed = index.set.find(value) >= 0;
  const slot = index.set.add(value);
  const prior = existed && !replace ? index.ids.get(slot) ?? '' : undefined;
  const ids = prior === undefined ? [custom] : [...(Array.isArray(prior) ? prior : [prior]), custom];
  if (ids.length === 1 && ids[0] === '') index.ids.delete(slot);
  else index.ids.set(slot, ids.length === 1 ? (ids[0] as string) : ids);
}

function removeExact(index: ExactIndex, value: string): void {
  const slot = index.set.remove(value);
  if (slot >= 0) index.ids.delete(slot);
}

/** One bank compiled for matching: exact digests in typed hash sets, PDQ hashes in a multi-index. */
export interface CompiledHashBank {
  readonly id: string;
  readonly version: string;
  readonly kind: BankKind;
  readonly enabled: boolean;
  readonly size: number;
  readonly exact: Readonly<Record<ExactHashType, ExactIndex>>;
  /** PDQ index ids are ordinals 0..n-1. */
  readonly pdq: PdqIndex;
  /** Entry ids of PDQ ordinals whose id is not the default one derived from the hash. */
  readonly pdqCustomIds: ReadonlyMap<number, string>;
  /** The next PDQ ordinal, for entries added by a patch. */
  readonly nextPdqOrdinal: number;
}

/** A change to a bank: what `vigil bank import` (append) and `vigil bank remove --entries` record. */
export type HashBankChange = { op: 'add'; entry: HashBankEntry } | { op: 'remove'; type: HashType; value: string };

/**
 * Builds a CompiledHashBank entry by entry, so a bank streamed from a store never exists as one
 * object per entry: PDQ hashes go straight into a typed array (32 bytes each) and only entry ids
 * that differ from the default (`TYPE:first 16 hex digits`) are kept.
 */
export class HashBankBuilder {
  readonly #exact = exactIndexes();
  #pdqWords = new Uint32Array(8 * 1024);
  #pdqCount = 0;
  readonly #pdqCustomIds = new Map<number, string>();
  #size = 0;

  constructor(private readonly meta: { id: string; version: string; kind: BankKind; enabled: boolean }) {}

  add(entry: HashBankEntry): void {
    this.#size++;
    const custom = entry.id === defaultEntryId(entry.type, entry.value) ? '' : entry.id;
    if (entry.type === 'pdq') {
      if ((this.#pdqCount + 1) * 8 > this.#pdqWords.length) {
        const grown = new Uint32Array(Math.ceil(this.#pdqWords.length * 1.5));
        grown.set(this.#pdqWords);
        this.#pdqWords = grown;
      }
      hexToWords32(entry.value, this.#pdqWords, this.#pdqCount * 8);
      if (custom) this.#pdqCustomIds.set(this.#pdqCount, custom);
      this.#pdqCount++;
      return;
    }
    addExact(this.#exact[entry.type], entry.value, custom, false);
  }

  build(): CompiledHashBank {
    const pdq = PdqIndex.fromWords(this.#pdqWords.slice(0, this.#pdqCount * 8));
    this.#pdqWords = new Uint32Array(0);
    return { ...this.meta, size: this.#size, exact: this.#exact, pdq, pdqCustomIds: this.#pdqCustomIds, nextPdqOrdinal: this.#pdqCount };
  }
}

export function compileHashBank(bank: HashBankData): CompiledHashBank {
  const builder = new HashBankBuilder(bank);
  for (const e of bank.entries) builder.add(e);
  return builder.build();
}

/**
 * Applies recorded changes to a compiled bank in place and returns it under its new version. Banks
 * in the store hold one entry per hash value, so an add of a value already present replaces it.
 * The bank's structures are shared with the previous version's object: only the newest is current.
 */
export function patchHashBank(bank: CompiledHashBank, changes: Iterable<HashBankChange>, version: string): CompiledHashBank {
  const exact = bank.exact;
  const customIds = bank.pdqCustomIds as Map<number, string>;
  let next = bank.nextPdqOrdinal;
  const removePdq = (value: string) => {
    for (const m of bank.pdq.search(value, 0)) {
      bank.pdq.remove(m.id);
      customIds.delete(m.id as number);
    }
  };
  for (const change of changes) {
    if (change.op === 'remove') {
      if (change.type === 'pdq') removePdq(change.value);
      else removeExact(exact[change.type], change.value);
      continue;
    }
    const { type, value, id } = change.entry;
    const custom = id === defaultEntryId(type, value) ? '' : id;
    if (type !== 'pdq') {
      addExact(exact[type], value, custom, true);
      continue;
    }
    removePdq(value);
    bank.pdq.add(next, value);
    if (custom) customIds.set(next, custom);
    next++;
  }
  const size = exact.md5.set.size + exact.sha1.set.size + exact.sha256.set.size + bank.pdq.size;
  return { ...bank, version, size, nextPdqOrdinal: next };
}

function matchBank(bank: CompiledHashBank, hashes: MediaHashes, options: HashMatchOptions, out: HashMatch[]): void {
  for (const type of EXACT_HASH_TYPES) {
    const index = bank.exact[type];
    const slot = index.set.find(hashes[type]);
    if (slot < 0) continue;
    const ids = index.ids.get(slot) ?? '';
    for (const id of Array.isArray(ids) ? ids : [ids]) out.push({ bankId: bank.id, bankVersion: bank.version, entryId: id || defaultEntryId(type, hashes[type]), type, distance: 0 });
  }
  const pdq = hashes.pdq;
  // Low-quality hashes (flat or tiny images) collide with each other; Meta recommends not matching them.
  if (!pdq || bank.pdq.size === 0 || pdq.quality < options.pdqMinQuality) return;
  const threshold = options.pdqThreshold(bank.id);
  const variants = options.dihedral && pdq.dihedral ? pdq.dihedral : [pdq.hash];
  // Best (closest) variant per entry: a symmetric image can match several variants of one entry.
  const best = new Map<number, { distance: number; variant: number }>();
  // All variants in one pass over the index (same results as one search per variant).
  bank.pdq.searchMany(variants, threshold).forEach((matches, v) => {
    for (const m of matches) {
      const ordinal = m.id as number;
      const seen = best.get(ordinal);
      if (!seen || m.distance < seen.distance) best.set(ordinal, { distance: m.distance, variant: v });
    }
  });
  for (const [ordinal, { distance, variant }] of best) {
    const entryId = bank.pdqCustomIds.get(ordinal) ?? defaultEntryId('pdq', bank.pdq.hashOf(ordinal) ?? '');
    out.push({ bankId: bank.id, bankVersion: bank.version, entryId, type: 'pdq', distance, threshold, variant: DIHEDRAL_NAMES[variant] ?? 'orig' });
  }
}

export class MemHashBankSet implements HashBankSet {
  readonly #block: CompiledHashBank[];
  readonly #allow: CompiledHashBank[];
  readonly #versions: Record<string, string>;

  /** Accepts raw bank data (compiled here) or banks compiled earlier (reused as they are). */
  constructor(banks: readonly (HashBankData | CompiledHashBank)[]) {
    const compiled = banks.filter((b) => b.enabled).map((b) => ('entries' in b ? compileHashBank(b) : b));
    this.#block = compiled.filter((b) => b.kind === 'block');
    this.#allow = compiled.filter((b) => b.kind === 'allow');
    this.#versions = Object.fromEntries(compiled.map((b) => [b.id, b.version]));
  }

  versions(): Record<string, string> {
    return { ...this.#versions };
  }

  match(hashes: MediaHashes, options: HashMatchOptions): HashMatch[] {
    const allowed: HashMatch[] = [];
    for (const bank of this.#allow) matchBank(bank, hashes, options, allowed);
    // An allow-bank hit (a known false positive) suppresses every match for this media item.
    if (allowed.length > 0) return [];
    const out: HashMatch[] = [];
    for (const bank of this.#block) matchBank(bank, hashes, options, out);
    return out;
  }
}
