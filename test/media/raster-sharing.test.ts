/** The one decoded raster survives PDQ on the thread pool: pixels go to the thread and come back, uncopied and unchanged. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMediaHasher } from '../../src/adapters/media-hasher.js';

describe('raster sharing with the PDQ pool', () => {
  it('after PDQ on a thread the raster is intact for the next source, and the digest equals the inline one', async () => {
    const bytes = readFileSync('config/samples/media/teapot-still-life.png');
    const pooled = createMediaHasher({ threads: 1, inlineMaxPixels: 0 });
    const inline = createMediaHasher({ threads: 0 });
    try {
      const lease = await pooled.decode(bytes);
      const before = Buffer.from(lease.image.data);
      const digest = await pooled.pdq(lease.image, { dihedral: true });
      expect(lease.image.data.byteLength).toBe(before.length);
      expect(Buffer.from(lease.image.data).equals(before)).toBe(true);
      // A second source can hand it to the thread again.
      expect(await pooled.pdq(lease.image, { dihedral: true })).toEqual(digest);
      lease.release();
      expect(digest).toEqual((await inline.hash(bytes, 'image/png', { dihedral: true })).pdq);
    } finally {
      await pooled.close();
      await inline.close();
    }
  });
});

describe('decode and PDQ as one task on a thread (images up to inlineMaxPixels)', () => {
  it('the raster comes back whole with its digest already computed there, equal to the inline digest', async () => {
    const bytes = readFileSync('config/samples/media/teapot-still-life.png');
    const pooled = createMediaHasher({ threads: 1 });
    const inline = createMediaHasher({ threads: 0 });
    try {
      const lease = await pooled.decode(bytes);
      const here = await inline.decode(bytes);
      expect([lease.width, lease.height, lease.image.channels]).toEqual([here.width, here.height, here.image.channels]);
      expect(Buffer.from(lease.image.data).equals(Buffer.from(here.image.data))).toBe(true);
      const expected = await inline.pdq(here.image, { dihedral: true });
      // Blank the pixels: a digest computed now would differ, so an equal one was computed with the decode.
      lease.image.data.fill(0);
      expect(await pooled.pdq(lease.image, { dihedral: true })).toEqual(expected);
      expect(await pooled.pdq(lease.image, { dihedral: false })).toEqual({ hash: expected.hash, quality: expected.quality });
      // A raster that did not come from the thread is hashed as it is.
      expect((await pooled.pdq(here.image, { dihedral: false })).hash).toBe(expected.hash);
      lease.release();
      here.release();
    } finally {
      await pooled.close();
      await inline.close();
    }
  });
});

describe('a closed media hasher', () => {
  it('sends its threads nothing more: decode and PDQ reject with a typed, retriable INTERNAL error', async () => {
    const pooled = createMediaHasher({ threads: 1, inlineMaxPixels: 0 });
    const bytes = readFileSync('config/samples/media/teapot-still-life.png');
    const lease = await pooled.decode(bytes); // over inlineMaxPixels: decoded here
    await pooled.close();
    await expect(pooled.pdq(lease.image, { dihedral: false })).rejects.toMatchObject({ code: 'INTERNAL', retriable: true });
    lease.release();
    const small = createMediaHasher({ threads: 1 });
    await small.close();
    await expect(small.decode(bytes)).rejects.toMatchObject({ code: 'INTERNAL', retriable: true });
  });
});
