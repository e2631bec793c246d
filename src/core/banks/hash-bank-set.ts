/**
 * The in-memory matcher over every hash bank a worker holds. Immutable once built: a hot reload builds
 * a new set (reusing the compiled banks whose version did not change) and swaps it in, so scans in
 * flight finish against the snapshot they started with.
 */
import { PdqIndex } from '../pdq/mih.js';
import type { HashBankSet, HashMatch, HashMatchOptions, MediaHashes } from '../ports.js';
import { DIHEDRAL_NAMES, EXACT_HASH_TYPES, type ExactHashType } from '../signals.js';
import type { BankKind, HashBankData, HashBankEntry } from './hash-bank.js';

/** One bank compiled for matching: exact hashes in maps, PDQ hashes in a multi-index. */
export interface CompiledHashBank {
  readonly id: string;
  readonly version: string;
  readonly kind: BankKind;
  readonly enabled: boolean;
  readonly size: number;
  readonly exact: Readonly<Record<ExactHashType, ReadonlyMap<string, readonly string[]>>>;
  readonly pdq: PdqIndex;
  /** PDQ index ids are ordinals; this maps them back to the bank's entry ids. */
  readonly pdqEntryIds: readonly string[];
}

/**
 * Builds a CompiledHashBank entry by entry, so a 10M-entry bank streamed from a store never exists
 * as 10M entry objects at once.
 */
export class HashBankBuilder {
  readonly #exact: Record<ExactHashType, Map<string, string[]>> = { md5: new Map(), sha1: new Map(), sha256: new Map() };
  readonly #pdqHashes: string[] = [];
  readonly #pdqIds: string[] = [];
  #size = 0;

  constructor(private readonly meta: { id: string; version: string; kind: BankKind; enabled: boolean }) {}

  add(entry: HashBankEntry): void {
    this.#size++;
    if (entry.type === 'pdq') {
      this.#pdqHashes.push(entry.value);
      this.#pdqIds.push(entry.id);
      return;
    }
    const ids = this.#exact[entry.type].get(entry.value);
    if (ids) ids.push(entry.id);
    else this.#exact[entry.type].set(entry.value, [entry.id]);
  }

  build(): CompiledHashBank {
    const hashes = this.#pdqHashes;
    const pdq = PdqIndex.build((function* () {
      for (let i = 0; i < hashes.length; i++) yield { id: i, hash: hashes[i] as string };
    })());
    return { ...this.meta, size: this.#size, exact: this.#exact, pdq, pdqEntryIds: this.#pdqIds };
  }
}

export function compileHashBank(bank: HashBankData): CompiledHashBank {
  const builder = new HashBankBuilder(bank);
  for (const e of bank.entries) builder.add(e);
  return builder.build();
}

function matchBank(bank: CompiledHashBank, hashes: MediaHashes, options: HashMatchOptions, out: HashMatch[]): void {
  for (const type of EXACT_HASH_TYPES) {
    for (const entryId of bank.exact[type].get(hashes[type]) ?? []) out.push({ bankId: bank.id, bankVersion: bank.version, entryId, type, distance: 0 });
  }
  const pdq = hashes.pdq;
  // Low-quality hashes (flat or tiny images) collide with each other; Meta recommends not matching them.
  if (!pdq || bank.pdq.size === 0 || pdq.quality < options.pdqMinQuality) return;
  const threshold = options.pdqThreshold(bank.id);
  const variants = options.dihedral && pdq.dihedral ? pdq.dihedral : [pdq.hash];
  // Best (closest) variant per entry: a symmetric image can match several variants of one entry.
  const best = new Map<number, { distance: number; variant: number }>();
  variants.forEach((variant, v) => {
    for (const m of bank.pdq.search(variant, threshold)) {
      const ordinal = m.id as number;
      const seen = best.get(ordinal);
      if (!seen || m.distance < seen.distance) best.set(ordinal, { distance: m.distance, variant: v });
    }
  });
  for (const [ordinal, { distance, variant }] of best) {
    out.push({ bankId: bank.id, bankVersion: bank.version, entryId: bank.pdqEntryIds[ordinal] ?? String(ordinal), type: 'pdq', distance, threshold, variant: DIHEDRAL_NAMES[variant] ?? 'orig' });
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
