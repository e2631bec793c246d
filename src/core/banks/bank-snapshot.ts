/**
 * A hash bank revision in a compact binary form a worker loads without parsing a record per entry:
 * the digests' own 32-bit words (PDQ 32 B, MD5 16 B, SHA-1 20 B, SHA-256 32 B an entry) in sections
 * the matcher uses as they are (typed-array views over the snapshot, no copy), and only the entry ids
 * that differ from the default derived from the hash. Provenance (source, list version, import time)
 * is not in it: it stays in the per-entry records of the store, which export, stats and removal read.
 *
 * Layout (little-endian), every section a multiple of 4 bytes so the word sections can be viewed in place:
 *   header  32 B: "VGSNAP01", u32 counts of pdq, md5, sha1, sha256 entries, u32 ids-section bytes, u32 0
 *   pdq     count × 8 words    (word w = hex digits [8w, 8w+8) as a big-endian number, as hexToWords32)
 *   md5     count × 4 words
 *   sha1    count × 5 words
 *   sha256  count × 8 words
 *   ids     per custom id: u8 type (index in SNAPSHOT_TYPES), u32 ordinal in its section, u16 bytes, UTF-8
 *
 * Pure: the store adapter moves the bytes, checks the checksum and chunks them into Redis keys.
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { PdqIndex } from '../pdq/mih.js';
import type { HashType } from '../signals.js';
import { VigilError } from '../errors.js';
import { ExactHashSet, parseHexWords } from './exact-hash-set.js';
import type { BankBase, CompiledHashBank, ExactIndex } from './hash-bank-set.js';
import type { BankKind } from './hash-bank.js';

const MAGIC = 'VGSNAP01';
const HEADER_BYTES = 32;
/** Section order in the snapshot; also the type byte of an id record. */
export const SNAPSHOT_TYPES = ['pdq', 'md5', 'sha1', 'sha256'] as const satisfies readonly HashType[];
const WORDS: Record<HashType, number> = { pdq: 8, md5: 4, sha1: 5, sha256: 8 };

/** Views over the snapshot's bytes are only the digests' words on a little-endian machine (x64, arm64). */
export const SNAPSHOTS_SUPPORTED = endianness() === 'LE';

function invalid(why: string): VigilError {
  return new VigilError('BANK_SNAPSHOT_INVALID', `bank snapshot is invalid: ${why}`);
}

class Words {
  data = new Uint32Array(1024);
  length = 0;
  /** Appends the digest's words; false (nothing appended) when the hex is not lowercase hex of `words` × 8 digits. */
  push(hex: string, words: number): boolean {
    if (hex.length !== words * 8) return false;
    if (this.length + words > this.data.length) {
      const grown = new Uint32Array(Math.max(this.data.length * 2, this.length + words));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    if (!parseHexWords(hex, this.data, this.length, words)) return false;
    this.length += words;
    return true;
  }
}

/** Collects one bank revision's entries (each hash value once, as the store holds them) and writes the snapshot. */
export class BankSnapshotWriter {
  readonly #words: Record<HashType, Words> = { pdq: new Words(), md5: new Words(), sha1: new Words(), sha256: new Words() };
  readonly #ids: Buffer[] = [];
  #idBytes = 0;
  #entries = 0;

  get entries(): number {
    return this.#entries;
  }

  /** `customId`: the entry id when it is not the default one derived from the hash, else ''. */
  add(type: HashType, value: string, customId: string): void {
    const words = this.#words[type];
    const ordinal = words.length / WORDS[type];
    if (!words.push(value, WORDS[type])) throw invalid(`a ${type} value is not ${WORDS[type] * 8} lowercase hex digits`);
    this.#entries++;
    if (!customId) return;
    const id = Buffer.from(customId, 'utf8');
    if (id.length > 0xffff) throw invalid('an entry id is longer than 65535 bytes');
    const rec = Buffer.allocUnsafe(7 + id.length);
    rec.writeUInt8(SNAPSHOT_TYPES.indexOf(type), 0);
    rec.writeUInt32LE(ordinal, 1);
    rec.writeUInt16LE(id.length, 5);
    id.copy(rec, 7);
    this.#ids.push(rec);
    this.#idBytes += rec.length;
  }

  /** The snapshot's bytes (one buffer: the store chunks it). */
  finish(): Buffer {
    const idsPadded = Math.ceil(this.#idBytes / 4) * 4;
    let total = HEADER_BYTES + idsPadded;
    for (const t of SNAPSHOT_TYPES) total += this.#words[t].length * 4;
    const out = Buffer.alloc(total);
    out.write(MAGIC, 0, 'latin1');
    SNAPSHOT_TYPES.forEach((t, i) => out.writeUInt32LE(this.#words[t].length / WORDS[t], 8 + 4 * i));
    out.writeUInt32LE(idsPadded, 24);
    let at = HEADER_BYTES;
    for (const t of SNAPSHOT_TYPES) {
      const w = this.#words[t];
      // Copied byte for byte: on a little-endian machine these are the words as the matcher holds them.
      const bytes = new Uint8Array(w.data.buffer, 0, w.length * 4);
      out.set(bytes, at);
      at += bytes.length;
    }
    for (const rec of this.#ids) {
      rec.copy(out, at);
      at += rec.length;
    }
    return out;
  }
}

export function snapshotChecksum(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Builds the compiled bank a snapshot describes: the same contents (matches, entry ids) as building
 * it entry by entry from the store's records. The word sections are viewed in place, so `bytes` must
 * start on a 4-byte boundary and stays referenced by the bank.
 */
export function decodeBankSnapshot(bytes: Buffer, meta: { id: string; version: string; kind: BankKind; enabled: boolean }): CompiledHashBank {
  if (!SNAPSHOTS_SUPPORTED) throw invalid('snapshots are read on little-endian machines only');
  if (bytes.length < HEADER_BYTES || bytes.toString('latin1', 0, 8) !== MAGIC) throw invalid('unknown header');
  if (bytes.byteOffset % 4 !== 0) throw invalid('buffer not aligned');
  const counts = SNAPSHOT_TYPES.map((_, i) => bytes.readUInt32LE(8 + 4 * i));
  const idBytes = bytes.readUInt32LE(24);
  let expected = HEADER_BYTES + idBytes;
  SNAPSHOT_TYPES.forEach((t, i) => (expected += (counts[i] as number) * WORDS[t] * 4));
  if (expected !== bytes.length) throw invalid(`${bytes.length} bytes where the header says ${expected}`);
  const sections = {} as Record<HashType, Uint32Array>;
  let at = HEADER_BYTES;
  SNAPSHOT_TYPES.forEach((t, i) => {
    const n = (counts[i] as number) * WORDS[t];
    sections[t] = new Uint32Array(bytes.buffer, bytes.byteOffset + at, n);
    at += n * 4;
  });
  const customIds: Record<HashType, Map<number, string>> = { pdq: new Map(), md5: new Map(), sha1: new Map(), sha256: new Map() };
  const end = bytes.length;
  while (at + 7 <= end) {
    const typeIndex = bytes.readUInt8(at);
    const type = SNAPSHOT_TYPES[typeIndex];
    if (type === undefined) throw invalid('unknown type in the ids section');
    const ordinal = bytes.readUInt32LE(at + 1);
    const len = bytes.readUInt16LE(at + 5);
    if (ordinal >= (counts[typeIndex] as number) || at + 7 + len > end) throw invalid('an id record points outside the snapshot');
    customIds[type].set(ordinal, bytes.toString('utf8', at + 7, at + 7 + len));
    at += 7 + len;
  }
  // What is left is the section's padding to a multiple of 4 bytes.
  if (end - at > 3) throw invalid('trailing bytes in the ids section');
  const exact = (type: 'md5' | 'sha1' | 'sha256'): ExactIndex => {
    const set = ExactHashSet.fromWords(WORDS[type] * 8, sections[type]);
    if (set.size !== sections[type].length / WORDS[type]) throw invalid(`duplicate ${type} values`);
    // Slots are ordinals: fromWords keeps the order of the words.
    return { set, ids: customIds[type] };
  };
  const pdqCount = counts[0] as number;
  const size = counts.reduce((a, b) => a + b, 0);
  const base: BankBase = {
    exact: { md5: exact('md5'), sha1: exact('sha1'), sha256: exact('sha256') },
    // Shared memory, so a thread can search the base (matchAsync): copied there unless `bytes` already is.
    pdq: PdqIndex.fromWords(sections.pdq, undefined, { sharedMemory: true }),
    pdqCustomIds: customIds.pdq,
    pdqCount,
    size,
  };
  return { ...meta, size, base, overlay: undefined };
}
