/**
 * Safe image decoding with sharp (libvips), producing the pixels Meta's PDQ reference hashes: 8-bit
 * samples, embedded ICC profiles NOT applied, EXIF orientation NOT applied, alpha dropped without
 * compositing, greyscale kept as one channel.
 *
 * Hostile input is the normal case for a safety scanner, so before libvips sees a byte:
 * - the byte size is checked (MEDIA_TOO_LARGE);
 * - the format is sniffed from magic bytes, never from the declared mime type, and only raster
 *   formats on an allow-list go on (SVG, PDF and anything scriptable or unrecognised: MEDIA_UNSUPPORTED);
 * then the header is read and the pixel count checked (MEDIA_TOO_LARGE: decompression bombs are
 * refused before any pixel is allocated), only the first frame of animations is decoded, and the
 * whole decode runs under a time budget (MEDIA_TIMEOUT). libvips work cannot be cancelled from
 * JavaScript, so the budget is enforced twice: sharp's own `timeout` makes libvips abandon the
 * pipeline, and a timer race makes the caller move on; a result that arrives late is dropped.
 *
 * Every failure is a VigilError whose message names sizes and formats, never content; libvips's own
 * messages are not copied (they can quote input), only kept as `cause`.
 */
import sharp from 'sharp';
import type { Metadata, OutputInfo, SharpOptions } from 'sharp';
import { VigilError } from '../core/errors.js';
import type { DecodedImage, ImageDecoder } from '../core/ports.js';

/** Raster formats we let libvips decode. */
export const RASTER_FORMATS = ['jpeg', 'png', 'gif', 'webp', 'tiff', 'avif'] as const;
export type RasterFormat = (typeof RASTER_FORMATS)[number];
export type SniffedFormat = RasterFormat | 'svg' | 'pdf' | 'xml' | 'html' | 'heic' | 'bmp' | 'jxl' | 'jp2' | 'psd' | 'ico' | 'gzip' | 'unknown';

export interface SharpDecoderOptions {
  /** Max width × height of the (first frame of the) image. Default 100 000 000 (config maxPixels). */
  maxPixels?: number;
  /** Max encoded bytes. Default 20 MiB (config maxMediaBytes). */
  maxBytes?: number;
  /** Time budget per image in ms, header read included. Default 5000 (config decodeTimeoutMs). */
  timeoutMs?: number;
  /**
   * Approximate mode: let libvips shrink while decoding (JPEG/WebP shrink-on-load) so that neither
   * side exceeds this; faster and far less memory on large photos, but the pixels are no longer the
   * reference's, so PDQ is within a few bits rather than bit-exact. Unset: full resolution.
   */
  maxDimension?: number;
  /**
   * libvips `failOn`: 'error' (default) refuses truncated and corrupt files (MEDIA_UNDECODABLE) but
   * accepts files that only raise warnings, which many phone cameras write.
   */
  failOn?: 'none' | 'truncated' | 'error' | 'warning';
}

export interface DecodedImageDetails {
  image: DecodedImage;
  format: RasterFormat;
  /** Source size (first frame), before any shrink. */
  width: number;
  height: number;
}

export const DEFAULT_DECODER_LIMITS = { maxPixels: 100_000_000, maxBytes: 20 * 1024 * 1024, timeoutMs: 5000 } as const;

/** Identify the container from its first bytes. Only these bytes decide what decoder runs. */
export function sniffImageFormat(bytes: Uint8Array): SniffedFormat {
  const b = (i: number): number => bytes[i] ?? -1;
  const ascii = (start: number, s: string): boolean => {
    for (let i = 0; i < s.length; i++) if (b(start + i) !== s.charCodeAt(i)) return false;
    return true;
  };
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  if (ascii(0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (ascii(0, 'II*\0') || ascii(0, 'MM\0*') || ascii(0, 'II+\0') || ascii(0, 'MM\0+')) return 'tiff';
  if (ascii(4, 'ftyp')) {
    const brand = String.fromCharCode(b(8), b(9), b(10), b(11));
    if (brand === 'avif' || brand === 'avis') return 'avif';
    return 'heic';
  }
  if (ascii(0, '%PDF')) return 'pdf';
  if (ascii(0, 'BM')) return 'bmp';
  if ((b(0) === 0xff && b(1) === 0x0a) || ascii(0, '\0\0\0\x0cJXL ')) return 'jxl';
  if (ascii(0, '\0\0\0\x0cjP  ') || (b(0) === 0xff && b(1) === 0x4f && b(2) === 0xff && b(3) === 0x51)) return 'jp2';
  if (ascii(0, '8BPS')) return 'psd';
  if (ascii(0, '\0\0\x01\0')) return 'ico';
  if (b(0) === 0x1f && b(1) === 0x8b) return 'gzip';
  // Markup: skip a UTF-8 BOM and leading whitespace, then look at the first tag.
  let i = b(0) === 0xef && b(1) === 0xbb && b(2) === 0xbf ? 3 : 0;
  while (i < Math.min(bytes.length, 1024) && (b(i) === 0x20 || b(i) === 0x09 || b(i) === 0x0a || b(i) === 0x0d)) i++;
  if (b(i) === 0x3c /* < */) {
    const head = new TextDecoder('latin1').decode(bytes.subarray(i, Math.min(bytes.length, i + 4096))).toLowerCase();
    if (head.includes('<svg')) return 'svg';
    if (head.startsWith('<?xml') || head.startsWith('<!doctype svg') || head.startsWith('<!--')) return head.includes('svg') ? 'svg' : 'xml';
    return 'html';
  }
  return 'unknown';
}

function isRaster(format: SniffedFormat): format is RasterFormat {
  return (RASTER_FORMATS as readonly string[]).includes(format);
}

/** sharp's metadata().format names, per sniffed container. */
const SHARP_FORMAT: Record<RasterFormat, readonly string[]> = {
  jpeg: ['jpeg'],
  png: ['png'],
  gif: ['gif'],
  webp: ['webp'],
  tiff: ['tiff'],
  avif: ['heif', 'avif'],
};

export class SharpImageDecoder implements ImageDecoder {
  private readonly maxPixels: number;
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly maxDimension: number | undefined;
  private readonly failOn: NonNullable<SharpDecoderOptions['failOn']>;

  constructor(options: SharpDecoderOptions = {}) {
    this.maxPixels = options.maxPixels ?? DEFAULT_DECODER_LIMITS.maxPixels;
    this.maxBytes = options.maxBytes ?? DEFAULT_DECODER_LIMITS.maxBytes;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_DECODER_LIMITS.timeoutMs;
    this.maxDimension = options.maxDimension;
    this.failOn = options.failOn ?? 'error';
    for (const [name, v] of [['maxPixels', this.maxPixels], ['maxBytes', this.maxBytes], ['timeoutMs', this.timeoutMs]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`SharpImageDecoder: ${name} must be a positive integer`);
    }
    if (this.maxDimension !== undefined && (!Number.isInteger(this.maxDimension) || this.maxDimension < 64)) throw new RangeError('SharpImageDecoder: maxDimension must be an integer >= 64');
  }

  /**
   * `mimeType` is accepted for the port's shape but not trusted: the bytes decide. Rejects with
   * MEDIA_TOO_LARGE, MEDIA_UNSUPPORTED, MEDIA_UNDECODABLE or MEDIA_TIMEOUT.
   */
  async decode(bytes: Uint8Array, mimeType: string): Promise<DecodedImage> {
    return (await this.decodeDetailed(bytes, mimeType)).image;
  }

  /** decode(), plus the sniffed format and the source dimensions (before any `maxDimension` shrink). */
  async decodeDetailed(bytes: Uint8Array, _mimeType: string): Promise<DecodedImageDetails> {
    if (bytes.length > this.maxBytes) throw new VigilError('MEDIA_TOO_LARGE', `image is ${bytes.length} bytes; the limit is ${this.maxBytes}`);
    if (bytes.length === 0) throw new VigilError('MEDIA_UNDECODABLE', 'image is empty (0 bytes)');
    const format = sniffImageFormat(bytes);
    if (!isRaster(format)) {
      throw new VigilError('MEDIA_UNSUPPORTED', format === 'unknown' ? 'unrecognised image format (no known file signature)' : `image format ${format} is not accepted (raster formats only: ${RASTER_FORMATS.join(', ')})`);
    }
    return withTimeout(this.decodeRaster(bytes, format), this.timeoutMs);
  }

  private async decodeRaster(bytes: Uint8Array, format: RasterFormat): Promise<DecodedImageDetails> {
    // A fresh deadline for libvips itself, in whole seconds (its granularity), so abandoned work stops.
    const vipsTimeoutS = Math.max(1, Math.ceil(this.timeoutMs / 1000));
    const inputOptions: SharpOptions = {
      ignoreIcc: true, // the reference (ImageMagick → PNM) does not apply embedded profiles
      limitInputPixels: this.maxPixels,
      failOn: this.failOn,
      pages: 1,
      page: 0,
      animated: false,
      sequentialRead: true,
    };
    let meta: Metadata;
    try {
      meta = await sharp(bytes, inputOptions).metadata();
    } catch (err) {
      throw translate(err, format, this.maxPixels);
    }
    if (!SHARP_FORMAT[format].includes(meta.format ?? '')) throw new VigilError('MEDIA_UNDECODABLE', `${format} signature but the decoder found ${meta.format ?? 'no image'}`);
    const width = meta.width ?? 0;
    const height = meta.pageHeight ?? meta.height ?? 0;
    if (width < 1 || height < 1) throw new VigilError('MEDIA_UNDECODABLE', `${format} image has no dimensions`);
    if (width * height > this.maxPixels) throw new VigilError('MEDIA_TOO_LARGE', `${format} image is ${width}x${height} = ${width * height} pixels; the limit is ${this.maxPixels}`);

    let pipeline = sharp(bytes, inputOptions).timeout({ seconds: vipsTimeoutS });
    // Grey stays one band (the reference's grey path: luma = sample, which RGB luma of r=g=b only
    // approximates in float32); everything else, CMYK included, becomes sRGB as ImageMagick does.
    pipeline = pipeline.toColourspace(meta.space === 'b-w' || meta.space === 'grey16' ? 'b-w' : 'srgb');
    if (this.maxDimension !== undefined && (width > this.maxDimension || height > this.maxDimension)) {
      pipeline = pipeline.resize({ width: this.maxDimension, height: this.maxDimension, fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: true, kernel: 'cubic' });
    }
    let data: Buffer;
    let info: OutputInfo;
    try {
      ({ data, info } = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
    } catch (err) {
      throw translate(err, format, this.maxPixels);
    }
    if (info.channels !== 1 && info.channels !== 3) throw new VigilError('MEDIA_UNSUPPORTED', `${format} image decodes to ${info.channels} channels; expected grey or RGB`);
    if (data.length !== info.width * info.height * info.channels) throw new VigilError('MEDIA_UNDECODABLE', `${format} image decoded to an unexpected buffer size`);
    return {
      image: { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) },
      format,
      width,
      height,
    };
  }
}

/** libvips errors → typed errors; their text is matched, never copied. */
function translate(err: unknown, format: RasterFormat, maxPixels: number): VigilError {
  const text = err instanceof Error ? err.message : '';
  if (/pixel limit/i.test(text)) return new VigilError('MEDIA_TOO_LARGE', `${format} image exceeds the pixel limit of ${maxPixels}`, { cause: err });
  if (/timeout/i.test(text)) return new VigilError('MEDIA_TIMEOUT', `${format} decode exceeded its time budget`, { cause: err });
  if (/unsupported image format/i.test(text)) return new VigilError('MEDIA_UNSUPPORTED', `${format} variant not supported by the decoder`, { cause: err });
  return new VigilError('MEDIA_UNDECODABLE', `${format} image could not be decoded (corrupt, truncated or malformed)`, { cause: err });
}

/**
 * Races `work` against a timer. On timeout the caller gets MEDIA_TIMEOUT at once; the work keeps
 * running in a libuv thread until libvips's own timeout stops it, and whatever it produces then is
 * swallowed (no unhandled rejection, no reference kept to its pixels).
 */
export function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      reject(new VigilError('MEDIA_TIMEOUT', `image decode took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        reject(err);
      },
    );
  });
}

/**
 * Defence in depth behind the magic-byte sniffing: switch off every libvips loader in this process
 * except those of the accepted raster formats (SVG, PDF, ImageMagick, OpenSlide, FITS, Matlab… can
 * then not run even if a file got past the sniffer). Process-wide, so it is called by the entry
 * points that decode untrusted media (worker, offline scan, `vigil hash`), not by library users.
 * Idempotent. Loader class names are libvips's (GIF's is "Nsgif"; AVIF comes through libheif).
 */
export function restrictImageLoaders(): void {
  sharp.block({ operation: ['VipsForeignLoad'] });
  sharp.unblock({ operation: ['VipsForeignLoadJpeg', 'VipsForeignLoadPng', 'VipsForeignLoadNsgif', 'VipsForeignLoadWebp', 'VipsForeignLoadTiff', 'VipsForeignLoadHeif'] });
}
