/**
 * An image's size and colour kind read straight from its header bytes, so the decoder can check the
 * pixel limit, take its decode budget and pick the colourspace without a separate libvips probe
 * (sharp's `metadata()`: a second pipeline and a thread-pool round trip for every image).
 *
 * Only the plain cases are answered, where the header alone says what libvips will report:
 * - JPEG: the first SOF segment; 1 component is grey, 3 are sRGB (4, CMYK/YCCK, is left to libvips);
 * - PNG: IHDR; colour types 0 and 4 are grey, 2, 3 (palette) and 6 sRGB;
 * - WebP: the VP8 frame, VP8L bitstream or VP8X canvas size; always sRGB.
 * Anything else (GIF, whose size libvips takes from its frames rather than the logical screen;
 * TIFF; AVIF; a header cut short; a value out of range) is `undefined`: the caller asks libvips.
 * test/media/image-header.test.ts checks every answer against sharp's metadata over families of
 * generated images, the PDQ reference vectors and thousands of one-byte mutations of them.
 *
 * Pure: bytes in, numbers out; reads at most the first segments, never pixel data.
 */
import type { RasterFormat } from './sniff.js';

export interface ImageHeader {
  width: number;
  height: number;
  /** One grey band (libvips `b-w` or `grey16`), the reference's grey path; otherwise sRGB. */
  grey: boolean;
}

const be16 = (b: Uint8Array, o: number) => ((b[o] as number) << 8) | (b[o + 1] as number);
const le16 = (b: Uint8Array, o: number) => (b[o] as number) | ((b[o + 1] as number) << 8);
const le24 = (b: Uint8Array, o: number) => le16(b, o) | ((b[o + 2] as number) << 16);
const be32 = (b: Uint8Array, o: number) => be16(b, o) * 65536 + be16(b, o + 2);
const ascii = (b: Uint8Array, o: number, s: string) => [...s].every((c, i) => b[o + i] === c.charCodeAt(0));

/** A header that names no pixels is not one to trust: let libvips say what is wrong with it. */
const plausible = (h: ImageHeader): ImageHeader | undefined => (h.width >= 1 && h.height >= 1 ? h : undefined);

/** JPEG start-of-frame markers (baseline, extended, progressive, lossless, arithmetic); not DHT/JPG/DAC. */
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function jpeg(b: Uint8Array): ImageHeader | undefined {
  let o = 2;
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) return undefined;
    const marker = b[o + 1] as number;
    // Fill bytes before a marker.
    if (marker === 0xff) {
      o += 1;
      continue;
    }
    // Markers without a length (TEM, RSTn) cannot stand before the frame header: not a plain file.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) return undefined;
    const length = be16(b, o + 2);
    if (length < 2) return undefined;
    if (isSof(marker)) {
      if (o + 10 > b.length || length < 8) return undefined;
      const components = b[o + 9] as number;
      if (components !== 1 && components !== 3) return undefined;
      return plausible({ height: be16(b, o + 5), width: be16(b, o + 7), grey: components === 1 });
    }
    // The scan began before any frame header.
    if (marker === 0xda) return undefined;
    o += 2 + length;
  }
  return undefined;
}

/** PNG colour types and the bit depths the specification allows for each. */
const PNG_DEPTHS: Record<number, readonly number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

function png(b: Uint8Array): ImageHeader | undefined {
  if (b.length < 26 || be32(b, 8) !== 13 || !ascii(b, 12, 'IHDR')) return undefined;
  const depth = b[24] as number;
  const colourType = b[25] as number;
  if (!PNG_DEPTHS[colourType]?.includes(depth)) return undefined;
  return plausible({ width: be32(b, 16), height: be32(b, 20), grey: colourType === 0 || colourType === 4 });
}

function webp(b: Uint8Array): ImageHeader | undefined {
  if (b.length < 30 || !ascii(b, 0, 'RIFF') || !ascii(b, 8, 'WEBP')) return undefined;
  if (ascii(b, 12, 'VP8 ')) {
    // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height (2 bits of scale each).
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return undefined;
    return plausible({ width: le16(b, 26) & 0x3fff, height: le16(b, 28) & 0x3fff, grey: false });
  }
  if (ascii(b, 12, 'VP8L')) {
    if (b[20] !== 0x2f) return undefined;
    const bits = (b[21] as number) | ((b[22] as number) << 8) | ((b[23] as number) << 16) | ((b[24] as number) << 24);
    return plausible({ width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, grey: false });
  }
  if (ascii(b, 12, 'VP8X')) return plausible({ width: le24(b, 24) + 1, height: le24(b, 27) + 1, grey: false });
  return undefined;
}

const READERS: Partial<Record<RasterFormat, (b: Uint8Array) => ImageHeader | undefined>> = { jpeg, png, webp };

/** The header of `bytes` (already sniffed as `format`), or `undefined` where libvips must be asked. */
export function readImageHeader(bytes: Uint8Array, format: RasterFormat): ImageHeader | undefined {
  return READERS[format]?.(bytes);
}
