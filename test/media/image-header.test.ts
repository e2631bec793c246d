/**
 * The header reader against libvips itself: wherever `readImageHeader` answers, sharp's metadata()
 * (read as the decoder reads: first page, ICC ignored) must say the same size and colour kind. The
 * images are families generated here with sharp (every PNG colour type and depth, palette and
 * interlaced; JPEG grey, RGB and CMYK, baseline and progressive, with and without metadata segments;
 * WebP lossy, lossless, with alpha and metadata; GIF and TIFF, left to libvips), every reference image
 * in shared/vectors, their headers cut short, and thousands of them with one header byte changed.
 */
import sharp, { type Sharp } from 'sharp';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readImageHeader } from '../../src/core/image-header.js';
import { isRasterFormat, sniffMediaFormat } from '../../src/core/sniff.js';
import { SharpImageDecoder } from '../../src/adapters/sharp-decoder.js';
import { seededRandom } from '../helpers/seeded-random.js';

const VECTORS = join(import.meta.dirname, '../../../shared/vectors/pdq');

/** What libvips reports, or undefined when it cannot read the header either. */
async function oracle(bytes: Uint8Array, failOn: 'none' | 'error' = 'none'): Promise<{ width: number; height: number; grey: boolean } | undefined> {
  try {
    const m = await sharp(bytes, { ignoreIcc: true, pages: 1, page: 0, animated: false, failOn }).metadata();
    if (!m.width || !m.height) return undefined;
    return { width: m.width, height: m.pageHeight ?? m.height, grey: m.space === 'b-w' || m.space === 'grey16' };
  } catch {
    return undefined;
  }
}

function pattern(width: number, height: number, channels: number, seed: number): Sharp {
  const px = Buffer.alloc(width * height * channels);
  for (let i = 0; i < px.length; i++) px[i] = (i * (seed + 7) + (i >> 5) * 13) & 255;
  const img = sharp(px, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } });
  return channels <= 2 ? img.toColourspace('b-w') : img;
}

const SIZES: [number, number][] = [
  [1, 1],
  [7, 13],
  [320, 240],
  [257, 3],
  [3, 1030],
];

async function generated(): Promise<{ name: string; bytes: Buffer; expect: 'answer' | 'libvips' }[]> {
  const out: { name: string; bytes: Buffer; expect: 'answer' | 'libvips' }[] = [];
  const add = async (name: string, img: Sharp, expect: 'answer' | 'libvips' = 'answer') => out.push({ name, bytes: await img.toBuffer(), expect });
  for (const [w, h] of SIZES) {
    const tag = `${w}x${h}`;
    for (const channels of [1, 2, 3, 4]) {
      await add(`png ${channels}ch ${tag}`, pattern(w, h, channels, w + channels).png());
      await add(`png ${channels}ch interlaced ${tag}`, pattern(w, h, channels, h).png({ progressive: true }));
      await add(
        `png ${channels}ch 16-bit ${tag}`,
        pattern(w, h, channels, 3)
          .toColourspace(channels <= 2 ? 'grey16' : 'rgb16')
          .png(),
      );
      await add(`gif ${channels}ch ${tag}`, pattern(w, h, channels, 5).gif(), 'libvips');
      await add(`webp ${channels}ch lossy ${tag}`, pattern(w, h, channels, 9).webp());
      await add(`webp ${channels}ch lossless ${tag}`, pattern(w, h, channels, 11).webp({ lossless: true }));
    }
    for (const colours of [2, 16, 256]) await add(`png palette ${colours} ${tag}`, pattern(w, h, 3, colours).png({ palette: true, colours }));
    await add(`png palette+alpha ${tag}`, pattern(w, h, 4, 1).png({ palette: true }));
    for (const channels of [1, 3]) {
      await add(`jpeg ${channels}ch ${tag}`, pattern(w, h, channels, 2).jpeg());
      await add(`jpeg ${channels}ch progressive ${tag}`, pattern(w, h, channels, 4).jpeg({ progressive: true }));
      await add(`jpeg ${channels}ch 4:4:4 + EXIF/ICC ${tag}`, pattern(w, h, channels, 6).withMetadata().jpeg({ chromaSubsampling: '4:4:4' }));
      await add(`webp ${channels}ch + EXIF/ICC ${tag}`, pattern(w, h, channels, 8).withMetadata().webp());
    }
    await add(`jpeg cmyk ${tag}`, pattern(w, h, 3, 12).toColourspace('cmyk').jpeg(), 'libvips');
    await add(`tiff ${tag}`, pattern(w, h, 3, 13).tiff(), 'libvips');
  }
  return out;
}

function vectorFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? walk(join(dir, d.name)) : /\.(jpe?g|png|webp)$/i.test(d.name) ? [join(dir, d.name)] : [],
    );
  return walk(VECTORS);
}

describe('readImageHeader', () => {
  it('agrees with libvips on every generated image it answers for, and answers for every plain one', async () => {
    const cases = await generated();
    expect(cases.length).toBe(190);
    for (const c of cases) {
      const format = sniffMediaFormat(c.bytes);
      expect(isRasterFormat(format), c.name).toBe(true);
      if (!isRasterFormat(format)) continue;
      const mine = readImageHeader(c.bytes, format);
      if (c.expect === 'libvips') expect(mine, c.name).toBeUndefined();
      else expect(mine, c.name).toEqual(await oracle(c.bytes));
    }
  }, 60_000);

  it('agrees with libvips on every reference image, and on each cut short anywhere in its first 64 bytes', async () => {
    const files = vectorFiles();
    expect(files.length).toBeGreaterThanOrEqual(40);
    let answered = 0;
    for (const file of files) {
      const bytes = readFileSync(file);
      const format = sniffMediaFormat(bytes);
      if (!isRasterFormat(format)) continue;
      const mine = readImageHeader(bytes, format);
      if (mine) answered++;
      if (mine) expect(mine, file).toEqual(await oracle(bytes));
      for (let cut = 1; cut < Math.min(64, bytes.length); cut++) {
        const short = bytes.subarray(0, cut);
        const got = readImageHeader(short, format);
        // Cut short, the reader may still answer (the size came before the cut), but never differently.
        if (got) expect(got, `${file} cut at ${cut}`).toEqual(mine);
      }
    }
    expect(answered).toBe(files.length);
  }, 60_000);

  it('agrees with libvips wherever both read a header with one byte changed (3000 seeded mutations)', async () => {
    const sources = [
      ...vectorFiles().map((f) => readFileSync(f)),
      ...(await generated()).filter((c) => c.expect === 'answer' && c.name.endsWith('320x240')).map((c) => c.bytes),
    ];
    const random = seededRandom(20261207);
    let compared = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(sources[Math.floor(random() * sources.length)] as Buffer);
      const at = Math.floor(random() * Math.min(48, bytes.length));
      bytes[at] = Math.floor(random() * 256);
      const format = sniffMediaFormat(bytes);
      if (!isRasterFormat(format)) continue;
      const mine = readImageHeader(bytes, format);
      const theirs = mine && (await oracle(bytes, 'error'));
      if (!mine || !theirs) continue;
      compared++;
      expect(mine, `byte ${at} of a ${format}`).toEqual(theirs);
    }
    expect(compared).toBeGreaterThan(1500);
  }, 60_000);

  it('lets the decoder refuse a bomb from the header alone, before libvips sees it', async () => {
    // A PNG header claiming 60000 × 60000 pixels, with no pixel data behind it.
    const png = await pattern(8, 8, 3, 1).png().toBuffer();
    const forged = Buffer.from(png);
    forged.writeUInt32BE(60_000, 16);
    forged.writeUInt32BE(60_000, 20);
    expect(readImageHeader(forged, 'png')).toEqual({ width: 60_000, height: 60_000, grey: false });
    await expect(new SharpImageDecoder({ maxPixels: 1_000_000 }).decode(forged, 'image/png')).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE' });
  });
});
