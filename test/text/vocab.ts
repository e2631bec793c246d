import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The benign vocabulary bundled with Vigil (config/text/benign-words.txt, generated from wamerican). */
export function benignWords(): Set<string> {
  const text = readFileSync(fileURLToPath(new URL('../../config/text/benign-words.txt', import.meta.url)), 'utf8');
  return new Set(text.split('\n').filter((w) => /^[a-z]{2,}$/.test(w)));
}
