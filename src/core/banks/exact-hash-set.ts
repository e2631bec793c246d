/**
 * A set of fixed-length hex digests (MD5, SHA-1, SHA-256) in typed arrays: the digest's own words
 * in one Uint32Array and an open-addressing table of slot numbers. Measured with 2M MD5s: 25 bytes
 * an entry, against 77 for a Map of hex strings (so 10M MD5s take ~250 MB rather than ~770 MB).
 * Digests are uniformly random, so their first word is a good enough hash. Deletion shifts later
 * entries back (no tombstones); freed key slots are reused.
 */
const EMPTY = -1;

export class ExactHashSet {
  readonly #words: number;
  #keys: Uint32Array;
  #table: Int32Array;
  #mask: number;
  #next = 0;
  #free: number[] = [];
  #size = 0;
  readonly #probe: Uint32Array;

  /** `hexLength`: 32 (MD5), 40 (SHA-1) or 64 (SHA-256). */
  constructor(
    readonly hexLength: number,
    capacity = 1024,
  ) {
    this.#words = hexLength / 8;
    this.#keys = new Uint32Array(capacity * this.#words);
    this.#table = new Int32Array(tableSizeFor(capacity)).fill(EMPTY);
    this.#mask = this.#table.length - 1;
    this.#probe = new Uint32Array(this.#words);
  }

  /**
   * A set over digests already parsed into words (`words` per digest, as `add` parses them), slot i
   * being the i-th digest; the set takes `words` as its own (no copy). A digest given twice is kept
   * once, so `size` tells whether all were distinct.
   */
  static fromWords(hexLength: number, words: Uint32Array): ExactHashSet {
    const set = new ExactHashSet(hexLength, 1);
    const per = set.#words;
    if (words.length % per !== 0) throw new RangeError(`expected a multiple of ${per} words`);
    const n = words.length / per;
    set.#keys = words;
    set.#table = new Int32Array(tableSizeFor(n)).fill(EMPTY);
    set.#mask = set.#table.length - 1;
    set.#next = n;
    for (let slot = 0; slot < n; slot++) {
      let dup = false;
      for (let i = words[slot * per]! & set.#mask; ; i = (i + 1) & set.#mask) {
        const other = set.#table[i]!;
        if (other === EMPTY) break;
        if (set.#sameKeys(other, slot)) {
          dup = true;
          break;
        }
      }
      if (dup) {
        set.#free.push(slot);
        continue;
      }
      set.#insert(slot);
      set.#size++;
    }
    return set;
  }

  get size(): number {
    return this.#size;
  }

  /** Slot of the digest, or -1. The hex must be lowercase and of this set's length. */
  find(hex: string): number {
    if (hex.length !== this.hexLength || !this.#parse(hex, this.#probe)) return -1;
    for (let i = this.#probe[0]! & this.#mask; ; i = (i + 1) & this.#mask) {
      const slot = this.#table[i]!;
      if (slot === EMPTY) return -1;
      if (this.#equals(slot, this.#probe)) return slot;
    }
  }

  /** Adds the digest if absent; returns its slot either way. */
  add(hex: string): number {
    const found = this.find(hex);
    if (found >= 0) return found;
    if (hex.length !== this.hexLength || !this.#parse(hex, this.#probe)) throw new RangeError(`expected ${this.hexLength} lowercase hex digits`);
    if ((this.#size + 1) * 2 > this.#table.length) this.#rehash(this.#table.length * 2);
    const slot = this.#free.pop() ?? this.#next++;
    if ((slot + 1) * this.#words > this.#keys.length) {
      const grown = new Uint32Array(Math.max(this.#keys.length * 2, (slot + 1) * this.#words));
      grown.set(this.#keys);
      this.#keys = grown;
    }
    this.#keys.set(this.#probe, slot * this.#words);
    this.#insert(slot);
    this.#size++;
    return slot;
  }

  /** Removes the digest; returns the slot it had, or -1. */
  remove(hex: string): number {
    const slot = this.find(hex);
    if (slot < 0) return -1;
    let i = this.#keys[slot * this.#words]! & this.#mask;
    while (this.#table[i] !== slot) i = (i + 1) & this.#mask;
    // Backward-shift deletion keeps every remaining entry reachable from its home bucket.
    for (let j = (i + 1) & this.#mask; ; j = (j + 1) & this.#mask) {
      const s = this.#table[j]!;
      if (s === EMPTY) break;
      const home = this.#keys[s * this.#words]! & this.#mask;
      if (((j - home) & this.#mask) >= ((j - i) & this.#mask)) {
        this.#table[i] = s;
        i = j;
      }
    }
    this.#table[i] = EMPTY;
    this.#free.push(slot);
    this.#size--;
    return slot;
  }

  #insert(slot: number): void {
    let i = this.#keys[slot * this.#words]! & this.#mask;
    while (this.#table[i] !== EMPTY) i = (i + 1) & this.#mask;
    this.#table[i] = slot;
  }

  #rehash(size: number): void {
    const old = this.#table;
    this.#table = new Int32Array(size).fill(EMPTY);
    this.#mask = size - 1;
    for (const slot of old) if (slot !== EMPTY) this.#insert(slot);
  }

  #sameKeys(a: number, b: number): boolean {
    const w = this.#words;
    for (let k = 0; k < w; k++) if (this.#keys[a * w + k] !== this.#keys[b * w + k]) return false;
    return true;
  }

  #equals(slot: number, words: Uint32Array): boolean {
    const o = slot * this.#words;
    for (let w = 0; w < this.#words; w++) if (this.#keys[o + w] !== words[w]) return false;
    return true;
  }

  /** Lowercase hex only (banks are normalised on import); anything else simply is not in the set. */
  #parse(hex: string, out: Uint32Array): boolean {
    return parseHexWords(hex, out, 0, this.#words);
  }
}

function tableSizeFor(n: number): number {
  let size = 16;
  while (size < n * 2) size *= 2;
  return size;
}

/**
 * Parses `words` × 8 lowercase hex digits of `hex` into `out[at…]`, big-endian per word (as digests
 * are written). False at the first character that is not lowercase hex; the caller checks the length.
 */
export function parseHexWords(hex: string, out: Uint32Array, at: number, words: number): boolean {
  for (let w = 0; w < words; w++) {
    let v = 0;
    for (let k = 0; k < 8; k++) {
      const c = hex.charCodeAt(w * 8 + k);
      const n = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
      if (n < 0) return false;
      v = (v << 4) | n;
    }
    out[at + w] = v >>> 0;
  }
  return true;
}
