import { describe, expect, it } from 'vitest';
import { ExactHashSet } from '../../src/core/banks/exact-hash-set.js';
import { seededUint32 } from '../helpers/seeded-random.js';

describe('ExactHashSet', () => {
  it('agrees with a Set through random adds and removes, across growth and slot reuse', () => {
    for (const hexLength of [32, 40, 64]) {
      const next = seededUint32(hexLength);
      const hex = () => Array.from({ length: hexLength / 8 }, () => next().toString(16).padStart(8, '0')).join('');
      const set = new ExactHashSet(hexLength, 4);
      const oracle = new Set<string>();
      const pool = Array.from({ length: 3000 }, hex);
      for (let step = 0; step < 20_000; step++) {
        const v = pool[next() % pool.length] as string;
        if (next() % 3 === 0) {
          expect(set.remove(v) >= 0).toBe(oracle.delete(v));
        } else {
          set.add(v);
          oracle.add(v);
        }
        if (step % 997 === 0) for (const p of pool) expect(set.find(p) >= 0).toBe(oracle.has(p));
      }
      expect(set.size).toBe(oracle.size);
      for (const p of pool) expect(set.find(p) >= 0).toBe(oracle.has(p));
    }
  });

  it('keeps slots stable for present digests and finds nothing for malformed input', () => {
    const set = new ExactHashSet(32);
    const a = set.add('0123456789abcdef0123456789abcdef');
    expect(set.add('0123456789abcdef0123456789abcdef')).toBe(a);
    expect(set.find('0123456789ABCDEF0123456789ABCDEF')).toBe(-1);
    expect(set.find('xyz')).toBe(-1);
    expect(() => set.add('nothex')).toThrow(RangeError);
  });
});
