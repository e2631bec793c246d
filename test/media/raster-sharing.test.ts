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
