/** Exact cryptographic hashes of media bytes: what NCMEC/IWF-style lists of MD5/SHA-1 match against. */
import { createHash } from 'node:crypto';

export interface ExactHashes {
  md5: string;
  sha1: string;
  sha256: string;
}

export function exactHashes(bytes: Uint8Array): ExactHashes {
  return {
    md5: createHash('md5').update(bytes).digest('hex'),
    sha1: createHash('sha1').update(bytes).digest('hex'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}
