/**
 * Big banks' PDQ searches on the PDQ threads (HashBankSet.matchAsync through the media hasher's
 * searchRunner): the same matches as searching inline — base, overlay, allow bank and all — and the
 * thread really used for the dihedral searches of a big bank, not for what stays cheap inline.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createMediaHasher } from '../../src/adapters/media-hasher.js';
import { BankSnapshotWriter, decodeBankSnapshot } from '../../src/core/banks/bank-snapshot.js';
import { compileHashBank, MemHashBankSet, OFFLOAD_MIN_WORK, patchHashBank } from '../../src/core/banks/hash-bank-set.js';
import type { HashMatchOptions, MediaHashes, PdqSearchRunner } from '../../src/core/ports.js';
import { seededRandom } from '../helpers/seeded-random.js';

const rand = seededRandom(0x0ff10ad);
const HEX = '0123456789abcdef';
const hex = (): string => Array.from({ length: 64 }, () => HEX[Math.floor(rand() * 16)]).join('');
/** Flips `d` distinct bits (written here, not taken from the implementation). */
function near(h: string, d: number): string {
  const nibbles = Array.from(h, (c) => parseInt(c, 16));
  const bits = new Set<number>();
  while (bits.size < d) bits.add(Math.floor(rand() * 256));
  for (const b of bits) nibbles[b >> 2]! ^= 1 << (b & 3);
  return nibbles.map((n) => HEX[n]).join('');
}

// Just over the size at which a dihedral search (8 variants) goes to a thread and a plain one does not.
const BIG = Math.ceil(OFFLOAD_MIN_WORK / 8) + 1000;
const images = Array.from({ length: 6 }, () => Array.from({ length: 8 }, hex));
const writer = new BankSnapshotWriter();
const planted: string[] = [];
for (const variants of images) {
  for (const [v, h] of variants.entries()) {
    // Neighbours of every variant at distances inside and just outside radius 31.
    for (const d of [0, 12, 31, 32, 40]) planted.push(near(h, v === 0 ? d : Math.min(d + v, 45)));
  }
}
let next = 0;
for (let i = 0; i < BIG; i++) {
  if (i % 997 === 0 && next < planted.length) writer.add('pdq', planted[next++]!, i % 2 === 0 ? `planted-${i}` : '');
  else writer.add('pdq', hex(), '');
}
for (; next < planted.length; next++) writer.add('pdq', planted[next]!, '');
const base = decodeBankSnapshot(writer.finish(), { id: 'big', version: 'r1.0000aaaa', kind: 'block', enabled: true });
// An overlay on top: one planted entry removed, one near neighbour of image 0 added.
const added = near(images[0]![3]!, 5);
const big = patchHashBank(
  base,
  [
    { op: 'remove', type: 'pdq', value: planted[1]! },
    { op: 'add', entry: { type: 'pdq', value: added, id: 'added-later' } },
  ],
  'r2.0000bbbb',
);
// A small allow bank that clears image 5 (a known false positive).
const allow = compileHashBank({
  id: 'fp',
  version: 'v1',
  kind: 'allow',
  enabled: true,
  entries: [{ type: 'pdq', value: near(images[5]![2]!, 3), id: 'fp-1' }],
});
const set = new MemHashBankSet([big, allow]);

const hasher = createMediaHasher({ threads: 1 });
afterAll(() => hasher.close());

describe('PDQ searches of big banks on the PDQ threads', () => {
  it('give exactly the inline matches, and only the dihedral searches of the big bank travel', async () => {
    const real = hasher.searchRunner;
    expect(real).toBeDefined();
    let trips = 0;
    const runner: PdqSearchRunner = {
      search: (view, queries, radius) => {
        trips++;
        return real!.search(view, queries, radius);
      },
    };
    const exact = { md5: '0'.repeat(32), sha1: '0'.repeat(40), sha256: '0'.repeat(64) };
    let matched = 0;
    for (const dihedral of [true, false]) {
      const options: HashMatchOptions = { pdqThreshold: () => 31, pdqMinQuality: 50, dihedral: () => dihedral };
      for (const variants of images) {
        const hashes: MediaHashes = { ...exact, pdq: { hash: variants[0]!, quality: 100, dihedral: variants } };
        const before = trips;
        const got = await set.matchAsync(hashes, options, runner);
        expect(got).toEqual(set.match(hashes, options));
        expect(trips - before, `dihedral ${dihedral}`).toBe(dihedral ? 1 : 0);
        matched += got.length;
      }
    }
    // Not vacuous: planted neighbours within 31 of each variant, the overlay's addition, the allow bank's veto.
    const all = await set.matchAsync(
      { ...exact, pdq: { hash: images[0]![0]!, quality: 100, dihedral: images[0]! } },
      { pdqThreshold: () => 31, pdqMinQuality: 50, dihedral: () => true },
      runner,
    );
    expect(all.map((m) => m.entryId)).toContain('added-later');
    // Variant 0: distances 0, 12, 31 within the radius; variants 1–7: two each (d + v); one removed, one added.
    expect(all.length).toBe(3 + 7 * 2 - 1 + 1);
    expect(new Set(all.map((m) => m.variant)).size).toBe(8);
    expect(
      await set.matchAsync(
        { ...exact, pdq: { hash: images[5]![0]!, quality: 100, dihedral: images[5]! } },
        { pdqThreshold: () => 31, pdqMinQuality: 50, dihedral: () => true },
        runner,
      ),
    ).toEqual([]);
    expect(matched).toBeGreaterThan(0);
  });
});
