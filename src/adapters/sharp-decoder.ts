/**
 * Safe image decoding with sharp (libvips), producing the pixels Meta's PDQ reference hashes: 8-bit
 * samples, embedded ICC profiles NOT applied, EXIF orientation NOT applied, alpha dropped without
 * compositing, greyscale kept as one channel.
 *
 * Hostile input is the normal case for a safety scanner, so before libvips sees a byte:
 * - the byte size is checked (MEDIA_TOO_LARGE);
 * - the format is sniffed from magic bytes, never from the declared mime type, and only raster
 *   formats on an allow-list go on (SVG, PDF and anything scriptable or unrecognised: MEDIA_UNSUPPORTED);
 * then the header is read (JPEG, PNG and WebP straight from their bytes, src/core/image-header.ts;
 * the rest by libvips) and the pixel count checked (MEDIA_TOO_LARGE: decompression bombs are
 * refused before any pixel is allocated; libvips's own `limitInputPixels` checks again), the
 * decode waits for the process's memory budget (decode-budget.ts; MEDIA_BUSY if it waits too
 * long), only the first frame of animations is decoded, and the decode itself runs under a time
 * budget (MEDIA_TIMEOUT; both are retriable, since load causes them more often than the image
 * does). libvips work cannot be cancelled from JavaScript, so the budget is enforced twice:
 * sharp's own `timeout` makes libvips abandon the pipeline, and a timer race makes the caller move
 * on; a result that arrives late is dropped.
 *
 * Every failure is a VigilError whose message names sizes and formats, never content; libvips's own
 * messages are not copied (they can quote input), only kept as `cause`.
 */
import sharp from 'sharp';
import type { Metadata, OutputInfo, SharpOptions } from 'sharp';
import { VigilError } from '../core/errors.js';
import type { DecodedImage, ImageDecoder } from '../core/ports.js';
import { readImageHeader, type ImageHeader } from '../core/image-header.js';
import { RASTER_FORMATS, isRasterFormat, sniffMediaFormat, type RasterFormat } from '../core/sniff.js';
import type { DecodeBudget } from './decode-budget.js';

export { RASTER_FORMATS, sniffMediaFormat as sniffImageFormat, type RasterFormat, type SniffedFormat } from '../core/sniff.js';

export interface SharpDecoderOptions {
  /** Max width × height of the (first frame of the) image. Default 100 000 000 (config maxPixels). */
  maxPixels?: number;
  /** Max encoded bytes. Default 20 MiB (config maxMediaBytes). */
  maxBytes?: number;
  /**
   * Time budget in ms for the header read, and again for the decode itself; time spent waiting for
   * the decode budget does not count. Default 5000 (config decodeTimeoutMs).
   */
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
  /** The process's decode budget (pixels in flight). Without one, decodes are not limited. */
  budget?: DecodeBudget;
  /** Told the seconds each successful decode took (the decode only: no budget wait). */
  onDecoded?: (seconds: number) => void;
  /**
   * Decodes elsewhere (a PDQ thread: media-hasher.ts) the images whose header says at most
   * `maxPixels`; the sniffing, the header and pixel checks, the budget and the time limit stay here.
   */
  raster?: { maxPixels: number; decode: RasterRunner };
}

/** A decode run somewhere else than the calling thread; resolves with the pixels and the decode's own seconds. */
export type RasterRunner = (
  bytes: Uint8Array,
  format: RasterFormat,
  header: ImageHeader,
  settings: RasterSettings,
) => Promise<DecodedImageDetails & { seconds: number }>;

export interface DecodedImageDetails {
  image: DecodedImage;
  format: RasterFormat;
  /** Source size (first frame), before any shrink. */
  width: number;
  height: number;
}

export const DEFAULT_DECODER_LIMITS = { maxPixels: 100_000_000, maxBytes: 20 * 1024 * 1024, timeoutMs: 5000 } as const;

/** sharp's metadata().format names, per sniffed container. */
const SHARP_FORMAT: Record<RasterFormat, readonly string[]> = {
  jpeg: ['jpeg'],
  png: ['png'],
  gif: ['gif'],
  webp: ['webp'],
  tiff: ['tiff'],
  avif: ['heif', 'avif'],
};

/** A decoded raster and the budget it holds; call `release()` once no source needs the pixels. Idempotent. */
export interface DecodeLease extends DecodedImageDetails {
  release(): void;
}

export class SharpImageDecoder implements ImageDecoder {
  /** The limits a decode runs under, as plain data: also what a decode on a thread is handed. */
  private readonly settings: RasterSettings;
  private readonly maxBytes: number;
  private readonly budget: DecodeBudget | undefined;
  private readonly onDecoded: ((seconds: number) => void) | undefined;
  private readonly raster: SharpDecoderOptions['raster'];

  constructor(options: SharpDecoderOptions = {}) {
    this.settings = {
      maxPixels: options.maxPixels ?? DEFAULT_DECODER_LIMITS.maxPixels,
      timeoutMs: options.timeoutMs ?? DEFAULT_DECODER_LIMITS.timeoutMs,
      maxDimension: options.maxDimension,
      failOn: options.failOn ?? 'error',
    };
    this.maxBytes = options.maxBytes ?? DEFAULT_DECODER_LIMITS.maxBytes;
    this.budget = options.budget;
    this.onDecoded = options.onDecoded;
    this.raster = options.raster;
    for (const [name, v] of [
      ['maxPixels', this.settings.maxPixels],
      ['maxBytes', this.maxBytes],
      ['timeoutMs', this.settings.timeoutMs],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`SharpImageDecoder: ${name} must be a positive integer`);
    }
    const { maxDimension } = this.settings;
    if (maxDimension !== undefined && (!Number.isInteger(maxDimension) || maxDimension < 64))
      throw new RangeError('SharpImageDecoder: maxDimension must be an integer >= 64');
  }

  /**
   * `mimeType` is accepted for the port's shape but not trusted: the bytes decide. Rejects with
   * MEDIA_TOO_LARGE, MEDIA_UNSUPPORTED, MEDIA_UNDECODABLE, MEDIA_TIMEOUT or MEDIA_BUSY.
   */
  async decode(bytes: Uint8Array, mimeType: string): Promise<DecodedImage> {
    return (await this.decodeDetailed(bytes, mimeType)).image;
  }

  /**
   * decode(), plus the sniffed format and the source dimensions (before any `maxDimension` shrink).
   * The budget is released on return: use `decodeLeased` to hold it while the pixels are in use.
   */
  async decodeDetailed(bytes: Uint8Array, _mimeType?: string): Promise<DecodedImageDetails> {
    const { release, ...details } = await this.decodeLeased(bytes);
    release();
    return details;
  }

  /**
   * Sniff, read the header (no pixels), wait for the decode budget, then decode under the time
   * budget: the timeout covers the header read and the decode, never the wait. On a timeout the
   * grant is kept until libvips really stops, since the memory is still in use until then.
   */
  async decodeLeased(bytes: Uint8Array): Promise<DecodeLease> {
    if (bytes.length > this.maxBytes) throw new VigilError('MEDIA_TOO_LARGE', `image is ${bytes.length} bytes; the limit is ${this.maxBytes}`);
    if (bytes.length === 0) throw new VigilError('MEDIA_UNDECODABLE', 'image is empty (0 bytes)');
    const format = sniffMediaFormat(bytes);
    if (!isRasterFormat(format)) {
      throw new VigilError(
        'MEDIA_UNSUPPORTED',
        format === 'unknown'
          ? 'unrecognised image format (no known file signature)'
          : `image format ${format} is not accepted (raster formats only: ${RASTER_FORMATS.join(', ')})`,
      );
    }
    // The plain formats' headers are read here, in microseconds; libvips is asked only about the rest.
    const header = this.checkHeader(readImageHeader(bytes, format), format) ?? (await withTimeout(this.readHeader(bytes, format), this.settings.timeoutMs));
    const grant = this.budget ? await this.budget.acquire(header.width * header.height) : undefined;
    const started = performance.now();
    const elsewhere = this.raster && header.width * header.height <= this.raster.maxPixels ? this.raster.decode : undefined;
    const work = elsewhere
      ? elsewhere(bytes, format, header, this.settings)
      : decodeRaster(bytes, format, header, this.settings).then((d) => ({ ...d, seconds: (performance.now() - started) / 1000 }));
    let done = false;
    try {
      const { seconds, ...details } = await withTimeout(work, this.settings.timeoutMs);
      done = true;
      this.onDecoded?.(seconds);
      return { ...details, release: () => grant?.release() };
    } finally {
      if (!done && grant) work.then(grant.release, grant.release);
    }
  }

  /** The pixel limit, applied before any pixel is allocated, whoever read the header. */
  private checkHeader<H extends ImageHeader | undefined>(header: H, format: RasterFormat): H {
    if (header && header.width * header.height > this.settings.maxPixels)
      throw new VigilError(
        'MEDIA_TOO_LARGE',
        `${format} image is ${header.width}x${header.height} = ${header.width * header.height} pixels; the limit is ${this.settings.maxPixels}`,
      );
    return header;
  }

  private async readHeader(bytes: Uint8Array, format: RasterFormat): Promise<ImageHeader> {
    let meta: Metadata;
    try {
      meta = await sharp(bytes, inputOptions(this.settings)).metadata();
    } catch (err) {
      throw translate(err, format, this.settings.maxPixels);
    }
    if (!SHARP_FORMAT[format].includes(meta.format ?? ''))
      throw new VigilError('MEDIA_UNDECODABLE', `${format} signature but the decoder found ${meta.format ?? 'no image'}`);
    const width = meta.width ?? 0;
    const height = meta.pageHeight ?? meta.height ?? 0;
    if (width < 1 || height < 1) throw new VigilError('MEDIA_UNDECODABLE', `${format} image has no dimensions`);
    return this.checkHeader({ width, height, grey: meta.space === 'b-w' || meta.space === 'grey16' }, format);
  }
}

/** What a raster decode needs of the decoder's settings: plain data, so a thread can be handed it. */
export interface RasterSettings {
  maxPixels: number;
  timeoutMs: number;
  maxDimension: number | undefined;
  failOn: NonNullable<SharpDecoderOptions['failOn']>;
}

function inputOptions(settings: RasterSettings): SharpOptions {
  return {
    ignoreIcc: true, // the reference (ImageMagick → PNM) does not apply embedded profiles
    limitInputPixels: settings.maxPixels,
    failOn: settings.failOn,
    pages: 1,
    page: 0,
    animated: false,
    sequentialRead: true,
  };
}

/**
 * The decode itself, once the bytes were sniffed, the header checked and the budget granted: on the
 * calling thread's libvips pipeline, or in a PDQ thread (pdq-thread.ts) through SharpDecoderOptions.raster.
 */
export async function decodeRaster(bytes: Uint8Array, format: RasterFormat, header: ImageHeader, settings: RasterSettings): Promise<DecodedImageDetails> {
  // A fresh deadline for libvips itself, in whole seconds (its granularity), so abandoned work stops.
  const vipsTimeoutS = Math.max(1, Math.ceil(settings.timeoutMs / 1000));
  const { width, height } = header;
  let shrunk = false;
  let pipeline = sharp(bytes, inputOptions(settings)).timeout({ seconds: vipsTimeoutS });
  // Grey stays one band (the reference's grey path: luma = sample, which RGB luma of r=g=b only
  // approximates in float32); everything else, CMYK included, becomes sRGB as ImageMagick does.
  pipeline = pipeline.toColourspace(header.grey ? 'b-w' : 'srgb');
  if (settings.maxDimension !== undefined && (width > settings.maxDimension || height > settings.maxDimension)) {
    shrunk = true;
    pipeline = pipeline.resize({
      width: settings.maxDimension,
      height: settings.maxDimension,
      fit: 'inside',
      withoutEnlargement: true,
      fastShrinkOnLoad: true,
      kernel: 'cubic',
    });
  }
  let data: Buffer;
  let info: OutputInfo;
  try {
    ({ data, info } = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw translate(err, format, settings.maxPixels);
  }
  if (info.channels !== 1 && info.channels !== 3)
    throw new VigilError('MEDIA_UNSUPPORTED', `${format} image decodes to ${info.channels} channels; expected grey or RGB`);
  if (data.length !== info.width * info.height * info.channels)
    throw new VigilError('MEDIA_UNDECODABLE', `${format} image decoded to an unexpected buffer size`);
  return {
    image: { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) },
    format,
    // Unshrunk, the decoded size is the source size by definition (whoever read the header).
    width: shrunk ? width : info.width,
    height: shrunk ? height : info.height,
  };
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
  sharp.unblock({
    operation: ['VipsForeignLoadJpeg', 'VipsForeignLoadPng', 'VipsForeignLoadNsgif', 'VipsForeignLoadWebp', 'VipsForeignLoadTiff', 'VipsForeignLoadHeif'],
  });
}
