/** Shared by the PDQ tests: the public reference vectors beside the clone (../shared/vectors/pdq). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const VECTORS_DIR = fileURLToPath(new URL('../../../shared/vectors/pdq/', import.meta.url));

if (!existsSync(VECTORS_DIR)) throw new Error(`PDQ reference vectors not found at ${VECTORS_DIR} (shared/ must sit beside the repository)`);

/** Rows of a vectors TSV (header dropped), split on tabs. */
export function readTsv(name: string): string[][] {
  return readFileSync(VECTORS_DIR + name, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split('\t'));
}

export function readVector(file: string): Buffer {
  return readFileSync(VECTORS_DIR + file);
}
