/**
 * The in-memory matcher over every hash bank a worker holds. Immutable once built: a hot reload builds
 * a new set and swaps it in, so scans in flight finish against the snapshot they started with.
 */
import type { HashBankSet, HashMatch, HashMatchOptions, MediaHashes } from '../ports.js';
import { EXACT_HASH_TYPES, type ExactHashType } from '../signals.js';
import type { HashBankData } from './hash-bank.js';

interface CompiledBank {
  data: HashBankData;
  exact: Record<ExactHashType, Map<string, string[]>>;
}

function compile(bank: HashBankData): CompiledBank {
  const exact: Record<ExactHashType, Map<string, string[]>> = { md5: new Map(), sha1: new Map(), sha256: new Map() };
  for (const e of bank.entries) {
    if (e.type === 'pdq') continue;
    const ids = exact[e.type].get(e.value);
    if (ids) ids.push(e.id);
    else exact[e.type].set(e.value, [e.id]);
  }
  return { data: bank, exact };
}

export class MemHashBankSet implements HashBankSet {
  readonly #block: CompiledBank[];
  readonly #allow: CompiledBank[];
  readonly #versions: Record<string, string>;

  constructor(banks: readonly HashBankData[]) {
    const enabled = banks.filter((b) => b.enabled).map(compile);
    this.#block = enabled.filter((b) => b.data.kind === 'block');
    this.#allow = enabled.filter((b) => b.data.kind === 'allow');
    this.#versions = Object.fromEntries(banks.filter((b) => b.enabled).map((b) => [b.id, b.version]));
  }

  get banks(): readonly HashBankData[] {
    return [...this.#block, ...this.#allow].map((b) => b.data);
  }

  versions(): Record<string, string> {
    return { ...this.#versions };
  }

  match(hashes: MediaHashes, options: HashMatchOptions): HashMatch[] {
    // An allow-bank hit (known false positive) suppresses every match for this media item.
    if (this.#matchBanks(this.#allow, hashes, options).length > 0) return [];
    return this.#matchBanks(this.#block, hashes, options);
  }

  #matchBanks(banks: readonly CompiledBank[], hashes: MediaHashes, _options: HashMatchOptions): HashMatch[] {
    const out: HashMatch[] = [];
    for (const bank of banks) {
      for (const type of EXACT_HASH_TYPES) {
        for (const entryId of bank.exact[type].get(hashes[type]) ?? []) {
          out.push({ bankId: bank.data.id, bankVersion: bank.data.version, entryId, type, distance: 0 });
        }
      }
    }
    return out;
  }
}
