/** restrictImageLoaders: only the accepted raster formats can be decoded in a worker process at all. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createMediaHasher } from '../../src/adapters/media-hasher.js';
import { restrictImageLoaders } from '../../src/adapters/sharp-decoder.js';

describe('restrictImageLoaders', () => {
  it('leaves every accepted raster format decodable and switches the others off, even behind the sniffer', async () => {
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3a6ea5' } })
      .png()
      .toBuffer();
    const samples = {
      png,
      jpeg: await sharp(png).jpeg().toBuffer(),
      webp: await sharp(png).webp().toBuffer(),
      tiff: await sharp(png).tiff().toBuffer(),
      gif: await sharp(png).gif().toBuffer(),
      avif: await sharp(png).avif().toBuffer(),
    };
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    await expect(sharp(svg).raw().toBuffer()).resolves.toBeDefined(); // before: libvips would render it
    restrictImageLoaders();
    restrictImageLoaders();
    await expect(sharp(svg).raw().toBuffer()).rejects.toThrow(/unsupported image format/);
    // Decoded here, and in one task with PDQ on a thread (the same libvips, so the same loaders).
    for (const hasher of [createMediaHasher(), createMediaHasher({ threads: 1 })]) {
      for (const [format, bytes] of Object.entries(samples)) {
        const h = await hasher.hashDetailed(bytes, `image/${format}`);
        expect([format, h.width, h.height]).toEqual([format, 64, 48]);
      }
      await hasher.close();
    }
  });
});
