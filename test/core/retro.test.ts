/** The retro-match core: retained records round-trip, the window is exact, every strategy finds the same candidates as a plain comparison. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RetainedSet, encodeRetained, newEntriesOf, retroCandidates, type RetainedItem } from '../../src/core/retro.js';
import { seededRandom } from '../helpers/seeded-random.js';

const rand = seededRandom(11);
const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join('');
const digest = (alg: string, s: string) => createHash(alg).update(s).digest('hex');
/** Flips `bits` distinct bits of a 64-hex-digit hash. */
function flip(h: string, bits: number): string {
  const b = Buffer.from(h, 'hex');
  const chosen = new Set<number>();
  while (chosen.size < bits) chosen.add(Math.floor(rand() * 256));
  for (const k of chosen) b[k >> 3]! ^= 1 << (k & 7);
  return b.toString('hex');
}
function popcount(a: string, b: string): number {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  let n = 0;
  for (let i = 0; i < 32; i++) for (let v = x[i]! ^ y[i]!; v; v &= v - 1) n++;
  return n;
}

function item(i: number, scannedAt: number, pdq?: { hash: string; quality: number }): RetainedItem {
  return {
    eventId: `evt_${i}`,
    messageId: `msg_${i}`,
    conversationId: `conv_${i % 7}`,
    senderId: `user_${i % 13}`,
    sentAt: '2026-12-01T10:00:00.000+01:00',
    priority: i % 3 === 0 ? 'report' : 'normal',
    mediaId: `m${i % 4}`,
    scannedAt,
    md5: digest('md5', `b${i}`),
    sha1: digest('sha1', `b${i}`),
    sha256: digest('sha256', `b${i}`),
    ...(pdq ? { pdq } : {}),
  };
}

describe('retained records', () => {
  it('round-trip every field, split across blobs; records older than the window are left out', () => {
    const items = Array.from({ length: 50 }, (_, i) => item(i, 1_000_000 + i * 1000, i % 5 === 0 ? undefined : { hash: hex(64), quality: 40 + i }));
    const blobs = [Buffer.concat(items.slice(0, 20).map(encodeRetained)), Buffer.concat(items.slice(20).map(encodeRetained))];
    const all = RetainedSet.parse(blobs);
    expect(all.size).toBe(50);
    expect(Array.from({ length: all.size }, (_, i) => all.item(i))).toEqual(items);
    const recent = RetainedSet.parse(blobs, 1_000_000 + 30 * 1000);
    expect(Array.from({ length: recent.size }, (_, i) => recent.item(i).eventId)).toEqual(items.slice(30).map((x) => x.eventId));
  });

  it('a torn tail is skipped, never misread', () => {
    const a = encodeRetained(item(1, 5));
    const b = encodeRetained(item(2, 6));
    const set = RetainedSet.parse([Buffer.concat([a, b.subarray(0, b.length - 3)])]);
    expect(set.size).toBe(1);
    expect(set.item(0).eventId).toBe('evt_1');
  });
});

describe('retroCandidates', () => {
  const radius = 31;
  const retainedPdq = Array.from({ length: 3000 }, () => hex(64));
  const items = retainedPdq.map((h, i) => item(i, 10, i % 10 === 9 ? undefined : { hash: h, quality: i % 17 === 0 ? 20 : 90 }));
  const set = RetainedSet.parse([Buffer.concat(items.map(encodeRetained))]);
  // New entries: near-duplicates of some retained hashes (some within the radius, some just past it),
  // unrelated hashes, and exact digests of a few retained items.
  const near = [3, 40, 41, 500, 1701, 2998].map((i) => flip(retainedPdq[i]!, i % 2 ? 30 : 12));
  const far = [7, 800].map((i) => flip(retainedPdq[i]!, 40));
  const lowQuality = flip(retainedPdq[17]!, 2);
  const entries = newEntriesOf([
    ...[...near, ...far, lowQuality, ...Array.from({ length: 50 }, () => hex(64))].map((value) => ({ type: 'pdq' as const, value })),
    { type: 'sha256', value: items[123]!.sha256 },
    { type: 'md5', value: items[2500]!.md5.toUpperCase() },
    { type: 'sha1', value: digest('sha1', 'not retained') },
  ]);
  const expected = items
    .map((x, i) => ({ x, i }))
    .filter(
      ({ x }) =>
        entries.exact.sha256.has(x.sha256) ||
        entries.exact.md5.has(x.md5) ||
        entries.exact.sha1.has(x.sha1) ||
        (x.pdq !== undefined && x.pdq.quality >= 50 && entries.pdq.some((h) => popcount(h, x.pdq!.hash) <= radius)),
    )
    .map(({ i }) => i);

  it('finds exactly the records a pair-by-pair comparison finds, with every strategy', () => {
    expect(expected).toEqual(expect.arrayContaining([3, 40, 41, 500, 1701, 2998, 123, 2500]));
    expect(expected).not.toContain(17);
    expect(expected).not.toContain(7);
    for (const strategy of ['index-retained', 'index-new', 'scan'] as const)
      expect(retroCandidates(set, entries, { radius, minQuality: 50, strategy })).toEqual(expected);
  });
});
