/**
 * Runs in a worker thread of the PDQ pool. Three tasks:
 * - hashing (the default export): pixels in (transferred, not copied), digest out, and the pixels
 *   handed back (transferred again), so the one decoded raster stays available to every other media
 *   source without ever being copied. PDQ is pure arithmetic on the JS thread; here it runs beside
 *   the event loop instead of blocking it.
 * - `decodeAndHash`: for small images, the decode and the PDQ as one task: the encoded bytes in, the
 *   raster and its digest out. The event loop then runs neither libvips's JavaScript side nor PDQ, and
 *   no raster travels to a thread only to come back. The checks before a decode (sniffing, header,
 *   pixel limit, budget, time limit) stay with the caller (sharp-decoder.ts).
 * - `searchIndex`: a search of a bank's PDQ index through its shared view (SharedArrayBuffers, so the
 *   index is not copied and the thread keeps nothing between tasks): slots and distances out.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { VigilError, type ErrorCode } from '../core/errors.js';
import type { ImageHeader } from '../core/image-header.js';
import { PdqIndex, type PdqSharedView, type PdqSlotMatches } from '../core/pdq/mih.js';
import { pdqHash, squashForCli512 } from '../core/pdq/pdq.js';
import type { DecodedImage, PdqDigest } from '../core/ports.js';
import type { RasterFormat } from '../core/sniff.js';
import { decodeRaster, type DecodedImageDetails, type RasterSettings } from './sharp-decoder.js';

export interface PdqTask {
  image: DecodedImage;
  cli512: boolean;
  dihedral: boolean;
}

export interface PdqTaskResult {
  digest: PdqDigest;
  /** The task's pixels, returned to the caller. */
  data: Uint8Array;
}

/** `value` sent back with `data`'s buffer moved, not copied. */
function moving<T>(value: T, data: Uint8Array): T {
  return move({
    get [transferableSymbol]() {
      return [data.buffer];
    },
    get [valueSymbol]() {
      return value;
    },
  } as unknown as Parameters<typeof move>[0]) as unknown as T;
}

export default function hashPixels(task: PdqTask): PdqTaskResult {
  const digest = pdqHash(task.cli512 ? squashForCli512(task.image) : task.image, { dihedral: task.dihedral });
  const data = task.image.data;
  return moving({ digest, data }, data);
}

export interface DecodeTask {
  bytes: Uint8Array;
  format: RasterFormat;
  header: ImageHeader;
  settings: RasterSettings;
  cli512: boolean;
}

export type DecodeTaskResult =
  /** The digest carries the dihedral variants: they cost a few per cent of the hash, and the policy decides later. */
  | { details: DecodedImageDetails; digest: PdqDigest; seconds: number }
  /** A typed failure, rebuilt by the caller (errors lose their class on the way between threads). */
  | { error: { code: ErrorCode; message: string; retriable: boolean } };

export async function decodeAndHash(task: DecodeTask): Promise<DecodeTaskResult> {
  const started = performance.now();
  let details: DecodedImageDetails;
  try {
    details = await decodeRaster(task.bytes, task.format, task.header, task.settings);
  } catch (err) {
    if (!(err instanceof VigilError)) throw err;
    return { error: { code: err.code, message: err.message, retriable: err.retriable } };
  }
  const seconds = (performance.now() - started) / 1000;
  const digest = pdqHash(task.cli512 ? squashForCli512(details.image) : details.image, { dihedral: true });
  // sharp's output is memory libvips owns, which cannot be moved: copied here, once, into a buffer
  // that can, so the event loop receives the pixels without copying them again.
  const data = new Uint8Array(details.image.data);
  return moving({ details: { ...details, image: { ...details.image, data } }, digest, seconds }, data);
}

export interface SearchTask {
  view: PdqSharedView;
  /** 8 words per query hash (PdqIndex.searchManyOn parses and checks them). */
  queries: Uint32Array;
  radius: number;
}

export function searchIndex(task: SearchTask): PdqSlotMatches[] {
  return PdqIndex.searchShared(task.view, task.queries, task.radius);
}
