/**
 * Runs in a worker thread of the PDQ pool. Two tasks:
 * - hashing (the default export): pixels in (transferred, not copied), digest out, and the pixels
 *   handed back (transferred again), so the one decoded raster stays available to every other media
 *   source without ever being copied. PDQ is pure arithmetic on the JS thread; here it runs beside
 *   the event loop instead of blocking it.
 * - `searchIndex`: a search of a bank's PDQ index through its shared view (SharedArrayBuffers, so the
 *   index is not copied and the thread keeps nothing between tasks): slots and distances out.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { PdqIndex, type PdqSharedView, type PdqSlotMatches } from '../core/pdq/mih.js';
import { pdqHash, squashForCli512 } from '../core/pdq/pdq.js';
import type { DecodedImage, PdqDigest } from '../core/ports.js';

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

export default function hashPixels(task: PdqTask): PdqTaskResult {
  const digest = pdqHash(task.cli512 ? squashForCli512(task.image) : task.image, { dihedral: task.dihedral });
  const data = task.image.data;
  return move({
    get [transferableSymbol]() {
      return [data.buffer];
    },
    get [valueSymbol]() {
      return { digest, data };
    },
  } as unknown as Parameters<typeof move>[0]) as unknown as PdqTaskResult;
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
