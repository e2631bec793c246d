/**
 * Runs in a worker thread of the PDQ pool: pixels in (transferred, not copied), digest out. PDQ is
 * pure arithmetic on the JS thread; here it runs beside the event loop instead of blocking it.
 */
import { pdqHash, squashForCli512 } from '../core/pdq/pdq.js';
import type { DecodedImage, PdqDigest } from '../core/ports.js';

export interface PdqTask {
  image: DecodedImage;
  cli512: boolean;
  dihedral: boolean;
}

export default function hashPixels(task: PdqTask): PdqDigest {
  return pdqHash(task.cli512 ? squashForCli512(task.image) : task.image, { dihedral: task.dihedral });
}
