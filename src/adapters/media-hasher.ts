/**
 * Media bytes → MediaHashes: exact MD5/SHA-1/SHA-256 (always) plus PDQ from a safe sharp decode.
 *
 * PDQ conventions (config key pdqMode):
 * - `full`   PDQ of the full-resolution pixels: what python-threatexchange / HMA produce. Bit-exact.
 * - `cli512` Meta's C++ command-line tool: images over 512 px on either side are squashed to exactly
 *            512×512 by nearest neighbour first. Bit-exact with `pdq-photo-hasher`.
 * - `fast`   libvips shrinks large images while decoding (JPEG/WebP shrink-on-load) so the long side
 *            is at most FAST_MAX_DIMENSION; approximate (a few bits from `full`, see BENCHMARKS.md),
 *            for throughput and memory. Images already that small hash exactly as in `full`.
 */
import { Piscina } from 'piscina';
import { exactHashes } from '../core/exact-hashes.js';
import type { DecodedImage, MediaHasher, MediaHashes, PdqDigest } from '../core/ports.js';
import { pdqHash, squashForCli512 } from '../core/pdq/pdq.js';
import type { PdqTask } from './pdq-thread.js';
import { DEFAULT_DECODER_LIMITS, SharpImageDecoder } from './sharp-decoder.js';

export const PDQ_MODES = ['full', 'cli512', 'fast'] as const;
export type PdqMode = (typeof PDQ_MODES)[number];

/**
 * Long-side bound for `fast` mode. Measured on the reference vectors (bench/pdq.ts): at 768 the hash
 * stays within 4–6 bits of Meta's CLI and 10 of `full`; at 512 it drifts to 14–16, at 384 to 18.
 */
export const FAST_MAX_DIMENSION = 768;

export interface MediaHasherOptions {
  /** Config maxPixels. */
  maxPixels?: number;
  /** Config maxMediaBytes. */
  maxBytes?: number;
  /** Config decodeTimeoutMs. */
  timeoutMs?: number;
  /** Config pdqMode. Default `full`. */
  mode?: PdqMode;
  /**
   * Worker threads that compute PDQ (config pdqThreads). 0 computes on the calling thread, which
   * blocks the event loop for the whole hash (about 17 ms per 1.6 Mpx, about 1 s at 100 Mpx).
   */
  threads?: number;
}

export interface PdqImageResult extends MediaHashes {
  /** Source image size (first frame), before any cli512 squash or fast-mode shrink. */
  width: number;
  height: number;
}

export interface DetailedMediaHasher extends MediaHasher {
  /** Like `hash`, plus the decoded dimensions (for the CLI and diagnostics). */
  hashDetailed(bytes: Uint8Array, mimeType: string, options?: { dihedral?: boolean }): Promise<PdqImageResult>;
  /** Stops the PDQ threads, if any. Idempotent. */
  close(): Promise<void>;
}

/** From the source tree (tests, tsx) the thread needs the TypeScript loader; compiled, it does not. */
function pdqPool(threads: number): Piscina<PdqTask, PdqDigest> {
  const fromSource = import.meta.url.endsWith('.ts');
  return new Piscina<PdqTask, PdqDigest>({
    filename: new URL(fromSource ? './pdq-thread.ts' : './pdq-thread.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    ...(fromSource ? { execArgv: ['--import', 'tsx'] } : {}),
  });
}

/**
 * Pixels move to the thread without a copy when the image owns its whole buffer; a view into a
 * shared buffer (Node's small-Buffer pool) is copied first, since moving it would detach the pool.
 */
function movable(image: DecodedImage): DecodedImage {
  const d = image.data;
  const owned = d.byteOffset === 0 && d.byteLength === d.buffer.byteLength && d.buffer instanceof ArrayBuffer ? d : new Uint8Array(d);
  return { ...image, data: owned };
}

/**
 * Rejects with the decoder's typed VigilError (MEDIA_TOO_LARGE, MEDIA_UNSUPPORTED, MEDIA_UNDECODABLE,
 * MEDIA_TIMEOUT) when the image cannot be decoded safely; the caller still has `exactHashes(bytes)`.
 * Byte size is checked before hashing anything, so an oversized item costs nothing.
 */
export function createMediaHasher(options: MediaHasherOptions = {}): DetailedMediaHasher {
  const mode = options.mode ?? 'full';
  if (!PDQ_MODES.includes(mode)) throw new RangeError(`unknown pdq mode`);
  const decoder = new SharpImageDecoder({
    maxPixels: options.maxPixels ?? DEFAULT_DECODER_LIMITS.maxPixels,
    maxBytes: options.maxBytes ?? DEFAULT_DECODER_LIMITS.maxBytes,
    timeoutMs: options.timeoutMs ?? DEFAULT_DECODER_LIMITS.timeoutMs,
    maxDimension: mode === 'fast' ? FAST_MAX_DIMENSION : undefined,
  });
  const pool = (options.threads ?? 0) > 0 ? pdqPool(options.threads ?? 0) : undefined;
  const hashDetailed = async (bytes: Uint8Array, mimeType: string, opts: { dihedral?: boolean } = {}): Promise<PdqImageResult> => {
    const { image, width, height } = await decoder.decodeDetailed(bytes, mimeType);
    const dihedral = opts.dihedral ?? false;
    let pdq: PdqDigest;
    if (pool) {
      const task: PdqTask = { image: movable(image), cli512: mode === 'cli512', dihedral };
      pdq = await pool.run(task, { transferList: [task.image.data.buffer as ArrayBuffer] });
    } else {
      pdq = pdqHash(mode === 'cli512' ? squashForCli512(image) : image, { dihedral });
    }
    return { ...exactHashes(bytes), pdq, width, height };
  };
  let closing: Promise<void> | undefined;
  return {
    hashDetailed,
    close: () => (closing ??= pool ? pool.destroy() : Promise.resolve()),
    async hash(bytes, mimeType, opts) {
      const { md5, sha1, sha256, pdq } = await hashDetailed(bytes, mimeType, opts);
      return { md5, sha1, sha256, pdq };
    },
  };
}
