/**
 * Hostile and degenerate media (all synthetic and benign): every case ends in a typed VigilError or
 * a legitimate hash, quickly, without crashing the process, and no error message quotes the input.
 */
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { createMediaHasher } from '../../src/adapters/media-hasher.js';
import { SharpImageDecoder, sniffImageFormat, withTimeout } from '../../src/adapters/sharp-decoder.js';
import { VigilError, type ErrorCode } from '../../src/core/errors.js';

const MARKER = 'BENIGN-CANARY-7f3a';
const HANG_BOUND_MS = 10_000;

/** CRC-32 for hand-built PNG chunks. */
function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

/** A ~100-byte PNG whose header declares width × height RGB pixels (a decompression bomb's shape). */
function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const idat = deflateSync(Buffer.alloc(width * 3 + 1)); // one zero row; the rest would be "to come"
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

async function jpegFixture(): Promise<Buffer> {
  return sharp({ create: { width: 640, height: 480, channels: 3, background: '#2a6f97' } })
    .composite([
      {
        input: Buffer.from(
          '<svg width="640" height="480"><circle cx="220" cy="240" r="150" fill="#f4a261"/><rect x="400" y="80" width="160" height="300" fill="#264653"/></svg>',
        ),
      },
    ])
    .jpeg({ quality: 85 })
    .toBuffer();
}

const decoder = new SharpImageDecoder();

/** Decodes and returns the error code (or 'ok'), checking the error's shape and speed on the way. */
async function outcome(bytes: Uint8Array, dec: SharpImageDecoder = decoder, mime = 'image/png'): Promise<ErrorCode | 'ok'> {
  const started = Date.now();
  try {
    await dec.decode(bytes, mime);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(VigilError);
    const e = err as VigilError;
    expect(e.message).not.toContain(MARKER);
    expect(e.message.length).toBeLessThan(200);
    expect(JSON.stringify(e.toJSON())).not.toContain(MARKER);
    return e.code;
  } finally {
    expect(Date.now() - started).toBeLessThan(HANG_BOUND_MS);
  }
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
process.on('unhandledRejection', onUnhandled);
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe('hostile media', () => {
  it('decompression bomb: 50000×50000 declared in a tiny PNG → MEDIA_TOO_LARGE before any pixel', async () => {
    const bomb = bombPng(50_000, 50_000);
    expect(bomb.length).toBeLessThan(1000);
    expect(await outcome(bomb)).toBe('MEDIA_TOO_LARGE');
  });

  it('highly compressible real image over the pixel limit → MEDIA_TOO_LARGE', async () => {
    const flat = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#000' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    expect(flat.length).toBeLessThan(200_000);
    expect(await outcome(flat, new SharpImageDecoder({ maxPixels: 10_000_000 }))).toBe('MEDIA_TOO_LARGE');
  });

  it('more bytes than maxBytes → MEDIA_TOO_LARGE without decoding', async () => {
    expect(await outcome(await jpegFixture(), new SharpImageDecoder({ maxBytes: 1000 }))).toBe('MEDIA_TOO_LARGE');
  });

  it('truncated JPEG → MEDIA_UNDECODABLE', async () => {
    const jpeg = await jpegFixture();
    expect(await outcome(jpeg)).toBe('ok');
    expect(await outcome(jpeg.subarray(0, Math.floor(jpeg.length / 2)))).toBe('MEDIA_UNDECODABLE');
    expect(await outcome(jpeg.subarray(0, 200))).toBe('MEDIA_UNDECODABLE');
  });

  it('zero bytes → MEDIA_UNDECODABLE', async () => {
    expect(await outcome(new Uint8Array(0))).toBe('MEDIA_UNDECODABLE');
  });

  it('random bytes → MEDIA_UNSUPPORTED; random bytes behind a JPEG or PNG signature → MEDIA_UNDECODABLE', async () => {
    let x = 12345;
    const random = Uint8Array.from({ length: 64 * 1024 }, () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), x >>> 24));
    random[0] = 0x42; // not a signature we know
    expect(await outcome(random)).toBe('MEDIA_UNSUPPORTED');
    const fakeJpeg = Uint8Array.from(random);
    fakeJpeg.set([0xff, 0xd8, 0xff]);
    expect(await outcome(fakeJpeg)).toBe('MEDIA_UNDECODABLE');
    const fakePng = Uint8Array.from(random);
    fakePng.set(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'));
    expect(await outcome(fakePng)).toBe('MEDIA_UNDECODABLE');
  });

  it('SVG with an external entity → MEDIA_UNSUPPORTED whatever the declared type', async () => {
    const svg = Buffer.from(
      `\ufeff  <?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY leak SYSTEM "file:///etc/hostname">]>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><text y="50">&leak; ${MARKER}</text></svg>`,
    );
    expect(sniffImageFormat(svg)).toBe('svg');
    for (const mime of ['image/svg+xml', 'image/png', 'image/jpeg']) expect(await outcome(svg, decoder, mime)).toBe('MEDIA_UNSUPPORTED');
    // Bare <svg> without a prolog, and gzip (svgz), are refused too.
    expect(await outcome(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg"><!-- ${MARKER} --></svg>`))).toBe('MEDIA_UNSUPPORTED');
    expect(await outcome(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]))).toBe('MEDIA_UNSUPPORTED');
  });

  it('PDF and other non-raster signatures → MEDIA_UNSUPPORTED', async () => {
    expect(await outcome(Buffer.from(`%PDF-1.7\n${MARKER}\n`))).toBe('MEDIA_UNSUPPORTED');
    expect(await outcome(Buffer.from(`<html><script>${MARKER}</script></html>`))).toBe('MEDIA_UNSUPPORTED');
    expect(await outcome(Buffer.concat([Buffer.from('BM'), Buffer.alloc(100)]))).toBe('MEDIA_UNSUPPORTED');
  });

  it('2000-frame GIF → first frame only', async () => {
    const [w, h, frames] = [16, 16, 2000];
    const raw = Buffer.alloc(w * h * frames * 3);
    // Each frame differs (a moving white pixel), so the encoder cannot merge frames.
    for (let f = 0; f < frames; f++) raw.fill(255, (f * w * h + (f % (w * h))) * 3, (f * w * h + (f % (w * h))) * 3 + 3);
    const gif = await sharp(raw, { raw: { width: w, height: h * frames, channels: 3, pageHeight: h } })
      .gif({ effort: 1, colours: 2, dither: 0 })
      .toBuffer();
    expect((await sharp(gif, { pages: -1 }).metadata()).pages).toBe(frames);
    const started = Date.now();
    const image = await decoder.decode(gif, 'image/gif');
    expect(Date.now() - started).toBeLessThan(HANG_BOUND_MS);
    expect([image.width, image.height]).toEqual([w, h]);
    expect(image.data.length).toBe(w * h * image.channels);
  });

  it('1×1 and 20000×1 decode; PDQ is the all-zero hash with quality 0 (below 5 px a side, as the reference)', async () => {
    const hasher = createMediaHasher();
    for (const [width, height] of [
      [1, 1],
      [20_000, 1],
    ] as const) {
      const png = await sharp({ create: { width, height, channels: 3, background: '#c0ffee' } })
        .png()
        .toBuffer();
      const result = await hasher.hashDetailed(png, 'image/png', { dihedral: true });
      expect([result.width, result.height]).toEqual([width, height]);
      expect(result.pdq).toEqual({ hash: '0'.repeat(64), quality: 0, dihedral: Array(8).fill('0'.repeat(64)) });
      expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('timeout: MEDIA_TIMEOUT on time, and the late result is dropped', async () => {
    const big = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#123456' } })
      .png({ compressionLevel: 1 })
      .toBuffer();
    expect(await outcome(big, new SharpImageDecoder({ timeoutMs: 10 }))).toBe('MEDIA_TIMEOUT');
    // withTimeout itself: a rejection after the deadline must not surface anywhere.
    let rejectLate: (err: Error) => void = () => undefined;
    const late = new Promise<never>((_, reject) => (rejectLate = reject));
    await expect(withTimeout(late, 20)).rejects.toMatchObject({ code: 'MEDIA_TIMEOUT' });
    rejectLate(new Error('late failure'));
    // Let the abandoned decode finish in libvips' pool: poll sharp's own counters, with a deadline.
    const deadline = Date.now() + 20_000;
    while (sharp.counters().process + sharp.counters().queue > 0) {
      if (Date.now() > deadline) throw new Error('the abandoned decode never finished');
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setImmediate(r)); // and any rejection it caused reach the unhandled handler
    expect(unhandled).toEqual([]);
    // The decoder is still usable afterwards.
    expect(await outcome(await jpegFixture())).toBe('ok');
  });

  it('media hasher rejects with the typed error and keeps its shape', async () => {
    const hasher = createMediaHasher({ maxPixels: 1_000_000 });
    await expect(hasher.hash(bombPng(50_000, 50_000), 'image/png', { dihedral: false })).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE' });
    const ok = await hasher.hash(await jpegFixture(), 'image/jpeg', { dihedral: false });
    expect(Object.keys(ok).sort()).toEqual(['md5', 'pdq', 'sha1', 'sha256']);
    expect(ok.pdq?.quality).toBeGreaterThan(0);
  });
});

describe('hostile media decoded on a PDQ thread', () => {
  // Up to 10 Mpx decoded there, so the 9 Mpx timeout case goes too; errors cross back typed.
  const hasher = createMediaHasher({ threads: 1, inlineMaxPixels: 10_000_000, timeoutMs: 5000 });
  const slow = createMediaHasher({ threads: 1, inlineMaxPixels: 10_000_000, timeoutMs: 10 });
  afterAll(async () => {
    await hasher.close();
    await slow.close();
  });
  const threadOutcome = async (bytes: Uint8Array, h = hasher): Promise<ErrorCode | 'ok'> => {
    try {
      (await h.decode(bytes)).release();
      return 'ok';
    } catch (err) {
      expect(err).toBeInstanceOf(VigilError);
      expect((err as VigilError).message).not.toContain(MARKER);
      return (err as VigilError).code;
    }
  };

  it('truncated and fake JPEG and PNG → MEDIA_UNDECODABLE, a VigilError rebuilt on this side', async () => {
    const jpeg = await jpegFixture();
    expect(await threadOutcome(jpeg)).toBe('ok');
    expect(await threadOutcome(jpeg.subarray(0, Math.floor(jpeg.length / 2)))).toBe('MEDIA_UNDECODABLE');
    const fake = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) & 255);
    fake.set([0xff, 0xd8, 0xff]);
    expect(await threadOutcome(fake)).toBe('MEDIA_UNDECODABLE');
    fake.set(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'));
    expect(await threadOutcome(fake)).toBe('MEDIA_UNDECODABLE');
  });

  it('timeout: MEDIA_TIMEOUT on time, and the thread stays usable', async () => {
    const big = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#123456' } })
      .png({ compressionLevel: 1 })
      .toBuffer();
    const started = Date.now();
    expect(await threadOutcome(big, slow)).toBe('MEDIA_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(HANG_BOUND_MS);
    expect(await threadOutcome(await jpegFixture())).toBe('ok');
  });
});
