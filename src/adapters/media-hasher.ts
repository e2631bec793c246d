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
import type { DecodedImage, MediaDecoder, MediaHasher, MediaHashes, PdqDigest, PdqHasher, PdqSearchRunner, RasterLease } from '../core/ports.js';
import { pdqHash, squashForCli512 } from '../core/pdq/pdq.js';
import type { DecodeBudget } from './decode-budget.js';
import type { DecodeTask, DecodeTaskResult, PdqTask, PdqTaskResult, SearchTask } from './pdq-thread.js';
import { DEFAULT_DECODER_LIMITS, SharpImageDecoder, type RasterRunner } from './sharp-decoder.js';
import { VigilError } from '../core/errors.js';

export const PDQ_MODES = ['full', 'cli512', 'fast'] as const;
export type PdqMode = (typeof PDQ_MODES)[number];

/**
 * Long-side bound for `fast` mode. Measured on the reference vectors (bench/pdq.ts): at 768 the hash
 * stays within 4–6 bits of Meta's CLI and 10 of `full`; at 512 it drifts to 14–16, at 384 to 18.
 */
export const FAST_MAX_DIMENSION = 768;

/** MediaHasherOptions.inlineMaxPixels's default. */
export const INLINE_MAX_PIXELS = 2 * 1024 * 1024;

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
   * blocks the event loop for the whole hash (WebAssembly: about 1.6 ns a pixel, 2.5 ms per 1.6 Mpx,
   * 160 ms at 100 Mpx; the TypeScript fallback about six times that).
   */
  threads?: number;
  /**
   * With threads, images of at most this many pixels (default 2 Mpx) are decoded and hashed in one
   * task on a thread: the encoded bytes go there, the raster and its digest come back, so the event
   * loop runs neither the decode's JavaScript side nor PDQ. Larger ones are decoded here (libvips's
   * own threads) and only their raster's PDQ goes to a thread, since moving a raster that big twice
   * would cost about as much as its hash. bench/pdq.ts prices the three ways.
   */
  inlineMaxPixels?: number;
  /** The process's decode budget (decode-budget.ts); shared by every decode this hasher makes. */
  budget?: DecodeBudget;
  /** Told the seconds of each successful decode (the decode only, never the budget wait). */
  onDecoded?: (seconds: number) => void;
}

export interface PdqImageResult extends MediaHashes {
  /** Source image size (first frame), before any cli512 squash or fast-mode shrink. */
  width: number;
  height: number;
}

/**
 * The media path of a worker: decodes a raster once (MediaDecoder, under the decode budget), computes
 * PDQ of a raster (PdqHasher, on the thread pool), and, for the CLI and tests, both in one call.
 */
export interface DetailedMediaHasher extends MediaHasher, MediaDecoder, PdqHasher {
  /** Like `hash`, plus the decoded dimensions (for the CLI and diagnostics). */
  hashDetailed(bytes: Uint8Array, mimeType: string, options?: { dihedral?: boolean }): Promise<PdqImageResult>;
  /**
   * Index searches on the same threads (HashBankSet.matchAsync), when there are threads; the
   * indexes are shared, not copied, so this costs no memory.
   */
  readonly searchRunner: PdqSearchRunner | undefined;
  /** Stops the PDQ threads, if any. Idempotent. */
  close(): Promise<void>;
}

/** From the source tree (tests, tsx) the thread needs the TypeScript loader; compiled, it does not. */
function pdqPool(threads: number): Piscina {
  const fromSource = import.meta.url.endsWith('.ts');
  return new Piscina({
    filename: new URL(fromSource ? './pdq-thread.ts' : './pdq-thread.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    // A decode task waits on libvips most of its time; a few in flight per thread keep it busy.
    concurrentTasksPerWorker: 4,
    ...(fromSource ? { execArgv: ['--import', 'tsx'] } : {}),
  });
}

/**
 * Pixels move to the thread without a copy when the image owns its whole buffer; a view into a
 * shared buffer (Node's small-Buffer pool) is copied first, since moving it would detach the pool.
 */
function owned(data: Uint8Array): Uint8Array {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer ? data : new Uint8Array(data);
}

/**
 * Rejects with the decoder's typed VigilError (MEDIA_TOO_LARGE, MEDIA_UNSUPPORTED, MEDIA_UNDECODABLE,
 * MEDIA_TIMEOUT, MEDIA_BUSY) when the image cannot be decoded safely; the caller still has
 * `exactHashes(bytes)`. Byte size is checked before hashing anything, so an oversized item costs nothing.
 */
export function createMediaHasher(options: MediaHasherOptions = {}): DetailedMediaHasher {
  const mode = options.mode ?? 'full';
  if (!PDQ_MODES.includes(mode)) throw new RangeError(`unknown pdq mode`);
  const pool = (options.threads ?? 0) > 0 ? pdqPool(options.threads ?? 0) : undefined;
  const inlineMaxPixels = options.inlineMaxPixels ?? INLINE_MAX_PIXELS;
  /** Digests computed with the decode on a thread, by raster: `pdq` of that raster is then free. */
  const hashedWithDecode = new WeakMap<DecodedImage, PdqDigest>();
  let closing: Promise<void> | undefined;
  /**
   * Every task for the threads. Refused once the hasher is closing (piscina would start new threads
   * for it), and a failure of the thread itself is typed: not the image's fault, so INTERNAL (retriable).
   */
  const onThread = async <T>(task: object, options: { name?: string; transferList?: ArrayBuffer[] }, what: string): Promise<T> => {
    if (!pool || closing) throw new VigilError('INTERNAL', `${what}: the media hasher is closed`);
    try {
      return (await pool.run(task, options)) as T;
    } catch (err) {
      throw new VigilError('INTERNAL', `${what}: the PDQ thread failed (${err instanceof Error ? err.name : typeof err})`, { cause: err });
    }
  };
  const decodeOnThread: RasterRunner | undefined = pool
    ? async (bytes, format, header, settings) => {
        const task: DecodeTask = { bytes, format, header, settings, cli512: mode === 'cli512' };
        const result = await onThread<DecodeTaskResult>(task, { name: 'decodeAndHash' }, 'media decode');
        if ('error' in result) throw new VigilError(result.error.code, result.error.message, { retriable: result.error.retriable });
        hashedWithDecode.set(result.details.image, result.digest);
        return { ...result.details, seconds: result.seconds };
      }
    : undefined;
  const decoder = new SharpImageDecoder({
    maxPixels: options.maxPixels ?? DEFAULT_DECODER_LIMITS.maxPixels,
    maxBytes: options.maxBytes ?? DEFAULT_DECODER_LIMITS.maxBytes,
    timeoutMs: options.timeoutMs ?? DEFAULT_DECODER_LIMITS.timeoutMs,
    maxDimension: mode === 'fast' ? FAST_MAX_DIMENSION : undefined,
    ...(options.budget ? { budget: options.budget } : {}),
    ...(options.onDecoded ? { onDecoded: options.onDecoded } : {}),
    ...(decodeOnThread ? { raster: { maxPixels: inlineMaxPixels, decode: decodeOnThread } } : {}),
  });

  /**
   * A raster decoded on a thread was hashed there already. A small raster from anywhere else is
   * hashed here (it is not worth the trip); a large one goes to the pool: the pixels travel to the
   * thread and back without a copy; while they are away the image's buffer is detached, so
   * `image.data` is put back before this resolves. If the thread fails the pixels are lost with it:
   * `image.data` is left detached (0 bytes), which the scan notices.
   */
  const pdq = async (image: DecodedImage, opts: { dihedral: boolean }): Promise<PdqDigest> => {
    const known = hashedWithDecode.get(image);
    if (known) return opts.dihedral ? known : { hash: known.hash, quality: known.quality };
    if (!pool || image.width * image.height <= inlineMaxPixels) return pdqHash(mode === 'cli512' ? squashForCli512(image) : image, { dihedral: opts.dihedral });
    image.data = owned(image.data);
    const task: PdqTask = { image, cli512: mode === 'cli512', dihedral: opts.dihedral };
    const { digest, data } = await onThread<PdqTaskResult>(task, { transferList: [image.data.buffer as ArrayBuffer] }, 'PDQ');
    image.data = data;
    return digest;
  };

  const decode = async (bytes: Uint8Array): Promise<RasterLease> => {
    const { image, width, height, release } = await decoder.decodeLeased(bytes);
    return { image, width, height, release };
  };

  const hashDetailed = async (bytes: Uint8Array, _mimeType: string, opts: { dihedral?: boolean } = {}): Promise<PdqImageResult> => {
    const lease = await decode(bytes);
    try {
      const digest = await pdq(lease.image, { dihedral: opts.dihedral ?? false });
      return { ...exactHashes(bytes), pdq: digest, width: lease.width, height: lease.height };
    } finally {
      lease.release();
    }
  };
  const searchRunner: PdqSearchRunner | undefined = pool
    ? {
        search: async (view, queries, radius) =>
          onThread<Awaited<ReturnType<PdqSearchRunner['search']>>>({ view, queries, radius } satisfies SearchTask, { name: 'searchIndex' }, 'PDQ index search'),
      }
    : undefined;
  return {
    decode,
    pdq,
    hashDetailed,
    searchRunner,
    close: () => (closing ??= pool ? pool.destroy() : Promise.resolve()),
    async hash(bytes, mimeType, opts) {
      const { md5, sha1, sha256, pdq: digest } = await hashDetailed(bytes, mimeType, opts);
      return { md5, sha1, sha256, pdq: digest };
    },
  };
}
