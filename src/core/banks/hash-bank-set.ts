/**
 * The in-memory matcher over every hash bank a worker holds. A hot reload builds a new set, reusing
 * the compiled banks whose version did not change and patching those whose recorded changes are
 * known (`patchHashBank`), so a small append to a 10M-hash bank costs the append, not a rebuild.
 *
 * Compiled banks are immutable: a bank is an immutable base (built once, never written again) plus a
 * small overlay of the changes since, and a patch returns a new bank with a new overlay sharing only
 * the base. A snapshot (a MemHashBankSet) is therefore fixed for its whole life: a scan that took it
 * sees exactly the contents its versions name, whatever reloads happen meanwhile.
 */
import { PdqIndex, type PdqMatch } from '../pdq/mih.js';
import type { HashBankSet, HashMatch, HashMatchOptions, MediaHashes, PdqSearchRunner } from '../ports.js';
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
  return {
    md5: { set: new ExactHashSet(32), ids: new Map() },
    sha1: { set: new ExactHashSet(40), ids: new Map() },
    sha256: { set: new ExactHashSet(64), ids: new Map() },
  };
}

/** Adds an entry (file banks may hold several entries for one digest). */
function addExact(index: ExactIndex, value: string, custom: string): void {
  const existed = index.set.find(value) >= 0;
  const slot = index.set.add(value);
  const prior = existed ? (index.ids.get(slot) ?? '') : undefined;
  const ids = prior === undefined ? [custom] : [...(Array.isArray(prior) ? prior : [prior]), custom];
  if (ids.length === 1 && ids[0] === '') index.ids.delete(slot);
  else index.ids.set(slot, ids.length === 1 ? (ids[0] as string) : ids);
}

/** The immutable part of a compiled bank: exact digests in typed hash sets, PDQ hashes in a multi-index. */
export interface BankBase {
  readonly exact: Readonly<Record<ExactHashType, ExactIndex>>;
  /** PDQ index ids are ordinals 0..pdqCount-1. */
  readonly pdq: PdqIndex;
  /** Entry ids of PDQ ordinals whose id is not the default one derived from the hash. */
  readonly pdqCustomIds: ReadonlyMap<number, string>;
  readonly pdqCount: number;
  readonly size: number;
}

/**
 * Changes applied on top of a base since it was built (store banks hold one entry per hash value, so
 * a change is per value). Rebuilt, never mutated, by each patch: its cost is proportional to its size,
 * which the loader bounds by rebuilding the bank in full once the overlay grows (`overlayWeight`).
 */
export interface BankOverlay {
  /** Digest → custom entry id ('' for the default id): entries added or re-added since the base. */
  readonly exactAdded: Readonly<Record<ExactHashType, ReadonlyMap<string, string>>>;
  /** Base digests removed or replaced since the base. */
  readonly exactHidden: Readonly<Record<ExactHashType, ReadonlySet<string>>>;
  /** Base PDQ ordinals removed or replaced. */
  readonly pdqHidden: ReadonlySet<number>;
  /** PDQ hash → custom entry id ('' for the default id), in insertion order. */
  readonly pdqAdded: ReadonlyMap<string, string>;
  /** Index over pdqAdded's hashes in order (ids 0..n-1), undefined when there are none. */
  readonly pdqIndex: PdqIndex | undefined;
  readonly pdqHashes: readonly string[];
}

/** One bank compiled for matching. Immutable: `patchHashBank` returns a new one. */
export interface CompiledHashBank {
  readonly id: string;
  readonly version: string;
  readonly kind: BankKind;
  readonly enabled: boolean;
  readonly size: number;
  readonly base: BankBase;
  readonly overlay: BankOverlay | undefined;
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
    addExact(this.#exact[entry.type], entry.value, custom);
  }

  build(): CompiledHashBank {
    const pdq = PdqIndex.fromWords(this.#pdqWords.subarray(0, this.#pdqCount * 8), undefined, { sharedMemory: true });
    this.#pdqWords = new Uint32Array(0);
    const base: BankBase = { exact: this.#exact, pdq, pdqCustomIds: this.#pdqCustomIds, pdqCount: this.#pdqCount, size: this.#size };
    return { ...this.meta, size: this.#size, base, overlay: undefined };
  }
}

export function compileHashBank(bank: HashBankData): CompiledHashBank {
  const builder = new HashBankBuilder(bank);
  for (const e of bank.entries) builder.add(e);
  return builder.build();
}

/** Entries the overlay holds (added plus hidden): the loader rebuilds a bank whose overlay outweighs its base. */
export function overlayWeight(bank: CompiledHashBank): number {
  const o = bank.overlay;
  if (!o) return 0;
  let n = o.pdqAdded.size + o.pdqHidden.size;
  for (const type of EXACT_HASH_TYPES) n += o.exactAdded[type].size + o.exactHidden[type].size;
  return n;
}

/** Base PDQ ordinals holding exactly this hash (store banks hold at most one). */
function basePdqOrdinals(base: BankBase, value: string): number[] {
  return base.pdq.search(value, 0).map((m) => m.id as number);
}

/**
 * Applies recorded changes to a compiled bank and returns a new bank under the new version; the
 * given bank is left exactly as it was (snapshots holding it keep matching its own contents). Banks
 * in the store hold one entry per hash value, so an add of a value already present replaces it.
 */
export function patchHashBank(bank: CompiledHashBank, changes: Iterable<HashBankChange>, version: string): CompiledHashBank {
  const { base } = bank;
  const prev = bank.overlay;
  const exactAdded = Object.fromEntries(EXACT_HASH_TYPES.map((t) => [t, new Map(prev?.exactAdded[t])])) as Record<ExactHashType, Map<string, string>>;
  const exactHidden = Object.fromEntries(EXACT_HASH_TYPES.map((t) => [t, new Set(prev?.exactHidden[t])])) as Record<ExactHashType, Set<string>>;
  const pdqHidden = new Set(prev?.pdqHidden);
  const pdqAdded = new Map(prev?.pdqAdded);
  let pdqChanged = false;
  const hideExact = (type: ExactHashType, value: string) => {
    exactAdded[type].delete(value);
    if (base.exact[type].set.find(value) >= 0) exactHidden[type].add(value);
  };
  const hidePdq = (value: string) => {
    if (pdqAdded.delete(value)) pdqChanged = true;
    for (const ordinal of basePdqOrdinals(base, value)) pdqHidden.add(ordinal);
  };
  for (const change of changes) {
    if (change.op === 'remove') {
      if (change.type === 'pdq') hidePdq(change.value);
      else hideExact(change.type, change.value);
      continue;
    }
    const { type, value, id } = change.entry;
    const custom = id === defaultEntryId(type, value) ? '' : id;
    if (type === 'pdq') {
      hidePdq(value);
      pdqAdded.set(value, custom);
      pdqChanged = true;
    } else {
      hideExact(type, value);
      exactAdded[type].set(value, custom);
    }
  }
  const pdqHashes = pdqChanged ? [...pdqAdded.keys()] : (prev?.pdqHashes ?? []);
  const pdqIndex = !pdqChanged ? prev?.pdqIndex : pdqHashes.length ? PdqIndex.build(pdqHashes.map((hash, i) => ({ id: i, hash }))) : undefined;
  const overlay: BankOverlay = { exactAdded, exactHidden, pdqHidden, pdqAdded, pdqIndex, pdqHashes };
  let size = base.size - pdqHidden.size + pdqAdded.size;
  for (const type of EXACT_HASH_TYPES) size += exactAdded[type].size - exactHidden[type].size;
  return { ...bank, version, size, overlay };
}

/**
 * What a bank's PDQ search asks for (the variants and the radius), or undefined when there is none to
 * make: no PDQ, an empty bank, or a low-quality hash (flat or tiny images collide with each other;
 * Meta recommends not matching them).
 */
function pdqQuery(bank: CompiledHashBank, hashes: MediaHashes, options: HashMatchOptions): { variants: readonly string[]; threshold: number } | undefined {
  const pdq = hashes.pdq;
  if (!pdq || (bank.base.pdq.size === 0 && !bank.overlay?.pdqIndex) || pdq.quality < options.pdqMinQuality) return undefined;
  return { variants: pdq.dihedral && options.dihedral(bank.id) ? pdq.dihedral : [pdq.hash], threshold: options.pdqThreshold(bank.id) };
}

/**
 * Base searches (entries × variants) worth a trip to a PDQ thread. Measured here (bench/index.ts):
 * the trip leaves 0.1–0.4 ms on the event loop and costs the process 0.4–0.8 ms more CPU than
 * searching inline, so a single query at 1M entries (0.2 ms) stays inline, and a dihedral search at
 * 1M (1.2–1.8 ms inline) goes. From about 512k entries with dihedral, 4M without.
 */
export const OFFLOAD_MIN_WORK = 1 << 22;

/** `searched` holds base results already found elsewhere (matchAsync's threads); the rest are searched here. */
function matchBank(
  bank: CompiledHashBank,
  hashes: MediaHashes,
  options: HashMatchOptions,
  out: HashMatch[],
  searched?: ReadonlyMap<PdqIndex, PdqMatch[][]>,
): void {
  const { base, overlay } = bank;
  for (const type of EXACT_HASH_TYPES) {
    const value = hashes[type];
    const added = overlay?.exactAdded[type].get(value);
    if (added !== undefined) out.push({ bankId: bank.id, bankVersion: bank.version, entryId: added || defaultEntryId(type, value), type, distance: 0 });
    if (overlay?.exactHidden[type].has(value)) continue;
    const index = base.exact[type];
    const slot = index.set.find(value);
    if (slot < 0) continue;
    const ids = index.ids.get(slot) ?? '';
    for (const id of Array.isArray(ids) ? ids : [ids])
      out.push({ bankId: bank.id, bankVersion: bank.version, entryId: id || defaultEntryId(type, value), type, distance: 0 });
  }
  const query = pdqQuery(bank, hashes, options);
  if (!query) return;
  const { variants, threshold } = query;
  const overlayIndex = overlay?.pdqIndex;
  // Best (closest) variant per entry: a symmetric image can match several variants of one entry.
  // Overlay entries are keyed after the base's ordinals.
  const best = new Map<number, { distance: number; variant: number }>();
  const consider = (ordinal: number, distance: number, v: number) => {
    const seen = best.get(ordinal);
    if (!seen || distance < seen.distance) best.set(ordinal, { distance, variant: v });
  };
  // All variants in one pass over each index (same results as one search per variant).
  if (base.pdq.size > 0)
    (searched?.get(base.pdq) ?? base.pdq.searchMany(variants, threshold)).forEach((matches, v) => {
      for (const m of matches) if (!overlay?.pdqHidden.has(m.id as number)) consider(m.id as number, m.distance, v);
    });
  if (overlayIndex)
    overlayIndex.searchMany(variants, threshold).forEach((matches, v) => {
      for (const m of matches) consider(base.pdqCount + (m.id as number), m.distance, v);
    });
  for (const [ordinal, { distance, variant }] of best) {
    let entryId: string;
    if (ordinal < base.pdqCount) entryId = base.pdqCustomIds.get(ordinal) ?? defaultEntryId('pdq', base.pdq.hashOf(ordinal) ?? '');
    else {
      const hash = overlay?.pdqHashes[ordinal - base.pdqCount] ?? '';
      entryId = overlay?.pdqAdded.get(hash) || defaultEntryId('pdq', hash);
    }
    out.push({ bankId: bank.id, bankVersion: bank.version, entryId, type: 'pdq', distance, threshold, variant: DIHEDRAL_NAMES[variant] ?? 'orig' });
  }
}

export class MemHashBankSet implements HashBankSet {
  readonly #block: CompiledHashBank[];
  readonly #allow: CompiledHashBank[];
  readonly #all: CompiledHashBank[];
  readonly #versions: Record<string, string>;

  /** Accepts raw bank data (compiled here) or banks compiled earlier (reused as they are). */
  constructor(banks: readonly (HashBankData | CompiledHashBank)[]) {
    const compiled = banks.filter((b) => b.enabled).map((b) => ('entries' in b ? compileHashBank(b) : b));
    this.#block = compiled.filter((b) => b.kind === 'block');
    this.#allow = compiled.filter((b) => b.kind === 'allow');
    this.#all = [...this.#allow, ...this.#block];
    this.#versions = Object.fromEntries(compiled.map((b) => [b.id, b.version]));
  }

  versions(): Record<string, string> {
    return { ...this.#versions };
  }

  match(hashes: MediaHashes, options: HashMatchOptions): HashMatch[] {
    return this.#match(hashes, options, undefined);
  }

  /**
   * match's answer, with the large base searches (OFFLOAD_MIN_WORK) run by `runner` (threads sharing
   * the index memory), all banks' at once; the small ones and the overlays, here. The event loop then
   * spends on a dihedral search against a big bank only the cost of posting it.
   */
  async matchAsync(hashes: MediaHashes, options: HashMatchOptions, runner: PdqSearchRunner): Promise<HashMatch[]> {
    let searched: Map<PdqIndex, PdqMatch[][]> | undefined;
    const pending: Promise<void>[] = [];
    for (const bank of this.#all) {
      const index = bank.base.pdq;
      // Most banks are too small for a trip even with all 8 variants: no query is worked out for them.
      if (index.size * DIHEDRAL_NAMES.length < OFFLOAD_MIN_WORK) continue;
      const query = pdqQuery(bank, hashes, options);
      if (!query || index.size * query.variants.length < OFFLOAD_MIN_WORK) continue;
      const found = (searched ??= new Map());
      pending.push(index.searchManyOn(runner.search, query.variants, query.threshold).then((result) => void found.set(index, result)));
    }
    if (pending.length) await Promise.all(pending);
    return this.#match(hashes, options, searched);
  }

  /** `searched`: base results found by matchAsync's threads; everything else is searched here. */
  #match(hashes: MediaHashes, options: HashMatchOptions, searched: ReadonlyMap<PdqIndex, PdqMatch[][]> | undefined): HashMatch[] {
    const allowed: HashMatch[] = [];
    for (const bank of this.#allow) matchBank(bank, hashes, options, allowed, searched);
    // An allow-bank hit (a known false positive) suppresses every match for this media item.
    if (allowed.length > 0) return [];
    const out: HashMatch[] = [];
    for (const bank of this.#block) matchBank(bank, hashes, options, out, searched);
    return out;
  }
}
