/** The snapshot codec on its own: the decoded bank matches what the entries compile to; damage is rejected, typed. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BankSnapshotWriter, decodeBankSnapshot } from '../../src/core/banks/bank-snapshot.js';
import { ExactHashSet } from '../../src/core/banks/exact-hash-set.js';
import { compileHashBank, MemHashBankSet } from '../../src/core/banks/hash-bank-set.js';
import type { HashBankEntry } from '../../src/core/banks/hash-bank.js';
import type { HashMatchOptions, MediaHashes } from '../../src/core/ports.js';
import type { HashType } from '../../src/core/signals.js';
import { seededRandom } from '../helpers/seeded-random.js';

const rand = seededRandom(23);
const hex = (digits: number) => Array.from({ length: digits }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join('');
const defaultId = (type: HashType, value: string) => `${type}:${value.slice(0, 16)}`;
const meta = { id: 'codec', version: 'r1.abcd0123', kind: 'block' as const, enabled: true };
const options: HashMatchOptions = { pdqThreshold: () => 31, pdqMinQuality: 50, dihedral: () => false };

function entries(n: number): HashBankEntry[] {
  const types: HashType[] = ['pdq', 'md5', 'sha1', 'sha256'];
  return Array.from({ length: n }, (_, i) => {
    const type = types[i % 4] as HashType;
    const value = type === 'pdq' ? hex(64) : createHash(type).update(`codec-${i}`).digest('hex');
    return { type, value, id: i % 5 === 0 ? `custom-${i}` : defaultId(type, value) };
  });
}

function snapshotOf(list: readonly HashBankEntry[]): Buffer {
  const w = new BankSnapshotWriter();
  for (const e of list) w.add(e.type, e.value, e.id === defaultId(e.type, e.value) ? '' : e.id);
  return w.finish();
}

describe('bank snapshot codec', () => {
  it('decodes to a bank that matches exactly like the bank compiled from the same entries', () => {
    const list = entries(300);
    const fromSnapshot = new MemHashBankSet([decodeBankSnapshot(snapshotOf(list), meta)]);
    const compiled = new MemHashBankSet([compileHashBank({ ...meta, entries: list })]);
    const zero = { md5: '0'.repeat(32), sha1: '0'.repeat(40), sha256: '0'.repeat(64) };
    for (const e of list) {
      const q: MediaHashes = e.type === 'pdq' ? { ...zero, pdq: { hash: e.value, quality: 100 } } : { ...zero, [e.type]: e.value };
      const got = fromSnapshot.match(q, options);
      expect(got).toEqual(compiled.match(q, options));
      expect(got.map((m) => m.entryId)).toContain(e.id);
    }
  });

  it('keeps the PDQ index in shared memory (for the search threads), viewing shared snapshot bytes in place', () => {
    const plain = snapshotOf(entries(400));
    const shared = Buffer.from(new SharedArrayBuffer(plain.length));
    plain.copy(shared);
    const inPlace = decodeBankSnapshot(shared, meta).base.pdq.sharedView();
    expect(inPlace?.segments[0]?.words.buffer).toBe(shared.buffer);
    // From ordinary bytes the words are copied into shared memory once.
    const copied = decodeBankSnapshot(plain, meta).base.pdq.sharedView();
    expect(copied?.segments[0]?.words.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(copied?.segments[0]?.words.buffer).not.toBe(plain.buffer);
  });

  it('an empty bank round-trips', () => {
    const bank = decodeBankSnapshot(snapshotOf([]), meta);
    expect(bank.size).toBe(0);
  });

  it('rejects a wrong header, a length that disagrees with the header, and ids outside the bank', () => {
    const good = snapshotOf(entries(20));
    const badMagic = Buffer.from(good);
    badMagic.write('XXXX', 0, 'latin1');
    expect(() => decodeBankSnapshot(badMagic, meta)).toThrow(expect.objectContaining({ code: 'BANK_SNAPSHOT_INVALID' }));
    expect(() => decodeBankSnapshot(good.subarray(0, good.length - 8), meta)).toThrow(expect.objectContaining({ code: 'BANK_SNAPSHOT_INVALID' }));
    // The first id record (entry 0 is a custom-id PDQ hash) made to point past the PDQ section.
    const idsAt = good.length - good.readUInt32LE(24);
    const badOrdinal = Buffer.from(good);
    badOrdinal.writeUInt32LE(1_000_000, idsAt + 1);
    expect(() => decodeBankSnapshot(badOrdinal, meta)).toThrow(expect.objectContaining({ code: 'BANK_SNAPSHOT_INVALID' }));
  });

  it('the writer refuses a value that is not lowercase hex of its type', () => {
    const w = new BankSnapshotWriter();
    expect(() => w.add('md5', 'ABCDEF'.padEnd(32, '0'), '')).toThrow(expect.objectContaining({ code: 'BANK_SNAPSHOT_INVALID' }));
    expect(() => w.add('sha1', 'a'.repeat(39), '')).toThrow(expect.objectContaining({ code: 'BANK_SNAPSHOT_INVALID' }));
  });
});

describe('ExactHashSet.fromWords', () => {
  const words = (hexes: string[]) => {
    const out = new Uint32Array(hexes.length * 4);
    hexes.forEach((h, i) => {
      for (let w = 0; w < 4; w++) out[i * 4 + w] = parseInt(h.slice(w * 8, w * 8 + 8), 16);
    });
    return out;
  };

  it('finds every digest at its position; a digest given twice is kept once', () => {
    const hexes = Array.from({ length: 500 }, () => hex(32));
    const set = ExactHashSet.fromWords(32, words(hexes));
    expect(set.size).toBe(500);
    hexes.forEach((h, i) => expect(set.find(h)).toBe(i));
    expect(set.find(hex(32))).toBe(-1);
    const dup = ExactHashSet.fromWords(32, words([hexes[0] as string, hexes[1] as string, hexes[0] as string]));
    expect(dup.size).toBe(2);
    // Still a working set afterwards.
    const added = hex(32);
    dup.add(added);
    expect(dup.find(added)).toBeGreaterThanOrEqual(0);
    expect(dup.size).toBe(3);
  });
});
