/**
 * Bit-exactness against Meta's C++ reference: every hash, quality and dihedral hash in the public
 * vectors, through the real decode path (sharp) and both conventions — on the calling thread, and
 * with a thread (images up to 2 Mpx, all 40 here, decoded and hashed in one task on it; with
 * `inlineMaxPixels: 0` every image is decoded here and only its raster's PDQ goes to the thread).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createMediaHasher } from '../../src/adapters/media-hasher.js';
import { DIHEDRAL_NAMES } from '../../src/core/signals.js';
import { readTsv, readVector } from './helpers.js';

const conventions = [
  { mode: 'full', hashes: 'expected-noresize.tsv', dihedral: 'dihedral-noresize.tsv' },
  { mode: 'cli512', hashes: 'expected.tsv', dihedral: 'dihedral.tsv' },
] as const;
const paths = [
  { path: 'inline', threads: 0 },
  { path: 'decode + PDQ on a thread', threads: 1 },
  { path: 'PDQ of the raster on a thread', threads: 1, inlineMaxPixels: 0 },
] as const;
const cases = conventions.flatMap((c) => paths.map((p) => ({ ...c, ...p })));

describe.each(cases)('PDQ $mode convention vs the C++ reference ($path)', ({ mode, hashes, dihedral, path: _path, ...threads }) => {
  const hasher = createMediaHasher({ mode, ...threads });
  afterAll(() => hasher.close());

  const rows = readTsv(hashes);
  it(`has the 40 vectors of ${hashes}`, () => {
    expect(rows).toHaveLength(40);
  });

  it.each(rows.map(([file, hex, quality]) => ({ file: file as string, hex, quality: Number(quality) })))('$file', async ({ file, hex, quality }) => {
    const result = await hasher.hash(readVector(file), 'application/octet-stream', { dihedral: false });
    expect(result.pdq).toEqual({ hash: hex, quality });
  });

  const dihRows = readTsv(dihedral);
  it(`dihedral variants of all ${dihRows.length} vectors (${dihedral})`, async () => {
    expect(dihRows).toHaveLength(40);
    for (const [file, ...rest] of dihRows) {
      const expected = rest.slice(0, DIHEDRAL_NAMES.length);
      const result = await hasher.hash(readVector(file as string), 'image/jpeg', { dihedral: true });
      expect({ file, dihedral: result.pdq?.dihedral, quality: result.pdq?.quality, hash: result.pdq?.hash }).toEqual({
        file,
        dihedral: expected,
        quality: Number(rest[DIHEDRAL_NAMES.length]),
        hash: expected[0],
      });
    }
  });
});
