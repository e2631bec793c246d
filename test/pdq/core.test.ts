/** Pure PDQ pieces: hex forms, Hamming distance, the median, degenerate and invalid images. */
import { describe, expect, it } from 'vitest';
import {
  hamming16,
  hamming32,
  hamming32Within,
  hammingHex,
  hexToWords16,
  hexToWords32,
  isPdqHex,
  normalizePdqHex,
  popcount32,
  words16ToHex,
  words16ToWords32,
  words32ToHex,
  words32ToWords16,
} from '../../src/core/pdq/hex.js';
import { jaroszWindowSize, pdqHash, squashForCli512, torbenMedian } from '../../src/core/pdq/pdq.js';
import { PdqIndex } from '../../src/core/pdq/mih.js';
import { readTsv } from './helpers.js';
import { seededUint32 } from '../helpers/seeded-random.js';

function randomHex(next: () => number): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += next().toString(16).padStart(8, '0');
  return s;
}

describe('hex forms', () => {
  const hashes = readTsv('expected-noresize.tsv').map((r) => r[1] as string);

  it('round-trips every vector hash through both word forms', () => {
    for (const h of hashes) {
      expect(words16ToHex(hexToWords16(h))).toBe(h);
      expect(words32ToHex(hexToWords32(h))).toBe(h);
      expect(words16ToWords32(hexToWords16(h))).toEqual(hexToWords32(h));
      expect(words32ToWords16(hexToWords32(h))).toEqual(hexToWords16(h));
    }
  });

  it('uses text order: word 0 holds the first hex digits (mih.ts layout)', () => {
    const h = `12345678${'0'.repeat(48)}9abcdef0`;
    expect(Array.from(hexToWords32(h))).toEqual([0x12345678, 0, 0, 0, 0, 0, 0, 0x9abcdef0]);
    expect(hexToWords16(h)[0]).toBe(0x1234);
    expect(hexToWords16(h)[15]).toBe(0xdef0);
  });

  it('packs at an offset', () => {
    const packed = new Uint32Array(16);
    hexToWords32(hashes[0] as string, packed, 8);
    expect(words32ToHex(packed, 8)).toBe(hashes[0]);
    expect(Array.from(packed.subarray(0, 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('validates without echoing the input', () => {
    expect(isPdqHex('a'.repeat(64))).toBe(true);
    expect(isPdqHex('A'.repeat(64))).toBe(true);
    expect(isPdqHex('g'.repeat(64))).toBe(false);
    expect(isPdqHex('a'.repeat(63))).toBe(false);
    expect(normalizePdqHex('AB'.repeat(32))).toBe('ab'.repeat(32));
    expect(() => hexToWords32(`secret${'0'.repeat(58)}`)).toThrow(RangeError);
    try {
      hexToWords16(`secret${'0'.repeat(58)}`);
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('secret');
    }
  });
});

describe('Hamming distance', () => {
  it('popcount32 is right on edge values', () => {
    expect(popcount32(0)).toBe(0);
    expect(popcount32(0xffffffff)).toBe(32);
    expect(popcount32(0x80000001)).toBe(2);
    expect(popcount32(0x55555555)).toBe(16);
  });

  it('agrees with a bit-by-bit count on random pairs, in every form', () => {
    const next = seededUint32(7);
    for (let n = 0; n < 500; n++) {
      const a = randomHex(next);
      const b = randomHex(next);
      let slow = 0;
      for (let i = 0; i < 64; i++) {
        let x = parseInt(a[i] as string, 16) ^ parseInt(b[i] as string, 16);
        while (x) {
          slow += x & 1;
          x >>= 1;
        }
      }
      expect(hammingHex(a, b)).toBe(slow);
      expect(hamming32(hexToWords32(a), hexToWords32(b))).toBe(slow);
      expect(hamming16(hexToWords16(a), hexToWords16(b))).toBe(slow);
      const within = hamming32Within(hexToWords32(a), hexToWords32(b), 31);
      expect(within <= 31).toBe(slow <= 31);
      if (slow <= 31) expect(within).toBe(slow);
    }
    expect(hammingHex('0'.repeat(64), 'f'.repeat(64))).toBe(256);
  });

  it('shares its packed layout with the MIH index', () => {
    const rows = readTsv('expected-noresize.tsv');
    const words = new Uint32Array(rows.length * 8);
    rows.forEach((r, i) => hexToWords32(r[1] as string, words, i * 8));
    const index = PdqIndex.fromWords(words);
    const query = rows[0]?.[1] as string;
    const found = index.search(query, 31).map((m) => m.id);
    const brute = rows.flatMap((r, i) => (hammingHex(query, r[1] as string) <= 31 ? [i] : []));
    expect([...found].sort()).toEqual(brute.sort());
  });
});

describe('PDQ core', () => {
  it('window sizes follow the reference formula (ceil(n / 128))', () => {
    expect(jaroszWindowSize(64, 64)).toBe(1);
    expect(jaroszWindowSize(128, 64)).toBe(1);
    expect(jaroszWindowSize(129, 64)).toBe(2);
    expect(jaroszWindowSize(1600, 64)).toBe(13);
    expect(jaroszWindowSize(1, 64)).toBe(1);
  });

  it('torbenMedian returns the lower median for even counts, like the reference', () => {
    expect(torbenMedian(Float32Array.from([4, 1, 3, 2]))).toBe(2);
    expect(torbenMedian(Float32Array.from([5, 1, 3]))).toBe(3);
    expect(torbenMedian(Float32Array.from([7, 7, 7, 7]))).toBe(7);
    const next = seededUint32(3);
    const values = Float32Array.from({ length: 256 }, () => Math.fround((next() / 2 ** 32) * 1000 - 500));
    const sorted = [...values].sort((a, b) => a - b);
    expect(torbenMedian(values)).toBe(sorted[127]);
  });

  it('gives the all-zero hash with quality 0 below 5 pixels on a side (1×1, 20000×1)', () => {
    const zero = '0'.repeat(64);
    expect(pdqHash({ width: 1, height: 1, channels: 3, data: new Uint8Array(3) })).toEqual({ hash: zero, quality: 0 });
    expect(pdqHash({ width: 20000, height: 1, channels: 1, data: new Uint8Array(20000).fill(200) }, { dihedral: true })).toEqual({
      hash: zero,
      quality: 0,
      dihedral: Array(8).fill(zero),
    });
  });

  it('a flat image has quality 0', () => {
    expect(pdqHash({ width: 100, height: 80, channels: 1, data: new Uint8Array(8000).fill(77) }).quality).toBe(0);
  });

  it('rejects inconsistent pixel buffers instead of reading out of bounds', () => {
    expect(() => pdqHash({ width: 100, height: 100, channels: 3, data: new Uint8Array(100) })).toThrow(RangeError);
    expect(() => pdqHash({ width: 0, height: 100, channels: 3, data: new Uint8Array(0) })).toThrow(RangeError);
  });

  it('squashForCli512 takes source row floor(y·H/512) and column floor(x·W/512)', () => {
    const w = 1000;
    const h = 700;
    const data = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = (x * 7 + y * 13) & 255;
    const out = squashForCli512({ width: w, height: h, channels: 1, data });
    expect([out.width, out.height]).toEqual([512, 512]);
    for (const [x, y] of [
      [0, 0],
      [511, 511],
      [100, 300],
      [257, 3],
    ] as const) {
      const sx = Math.floor((x * w) / 512);
      const sy = Math.floor((y * h) / 512);
      expect(out.data[y * 512 + x]).toBe(data[sy * w + sx]);
    }
    const small = { width: 512, height: 300, channels: 1 as const, data: new Uint8Array(512 * 300) };
    expect(squashForCli512(small)).toBe(small);
  });

  it('grey and equal-RGB pixels hash alike (grey path vs luma path)', () => {
    const w = 200;
    const h = 150;
    const grey = new Uint8Array(w * h);
    for (let i = 0; i < grey.length; i++) grey[i] = ((i % w) * 3 + Math.floor(i / w) * 5) & 255;
    const rgb = new Uint8Array(w * h * 3);
    for (let i = 0; i < grey.length; i++) rgb.fill(grey[i] as number, i * 3, i * 3 + 3);
    const a = pdqHash({ width: w, height: h, channels: 1, data: grey });
    const b = pdqHash({ width: w, height: h, channels: 3, data: rgb });
    expect(hammingHex(a.hash, b.hash)).toBeLessThanOrEqual(2);
  });
});
