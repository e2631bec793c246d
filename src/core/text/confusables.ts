/**
 * Lookalike letters → Latin letters, derived at load time from the Unicode confusables table
 * (confusables.txt, as shipped by the `unhomoglyph` package) rather than typed by hand.
 *
 * Restricted to letters on purpose: only sources that are letters (\p{L}) and whose prototype folds
 * to a single Latin letter a–z are kept, so digits, symbols and emoji never turn into letters here
 * (leetspeak is a separate, word-scoped step) and multi-letter prototypes such as m → "rn" are dropped.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// A JSON table, read once; createRequire keeps this working on every Node 20 without import attributes.
const table = require('unhomoglyph/data.json') as Record<string, string>;

const LETTER = /^\p{L}$/u;
const MARKS = /\p{M}/gu;

function baseLower(s: string): string {
  return s.normalize('NFKD').replace(MARKS, '').normalize('NFC').toLowerCase();
}

/** Follows the table a few hops (т → ᴛ → T) and returns the single a–z letter it ends at, if any. */
function resolve(src: string): string | undefined {
  let cur = src;
  for (let hop = 0; hop < 4; hop++) {
    const folded = baseLower(cur);
    if (/^[a-z]$/.test(folded)) return folded;
    const next = table[cur] ?? table[folded];
    if (next === undefined || next === cur) return undefined;
    cur = next;
  }
  return undefined;
}

function build(): Map<number, string> {
  const map = new Map<number, string>();
  const add = (key: string, target: string): void => {
    const k = key.codePointAt(0);
    if (k === undefined || k < 0x80 || key.length !== String.fromCodePoint(k).length || !LETTER.test(key)) return;
    if (!map.has(k)) map.set(k, target);
  };
  const pairs: Array<[string, string]> = [];
  for (const src of Object.keys(table)) {
    if (!LETTER.test(src)) continue;
    const target = resolve(src);
    if (target !== undefined) pairs.push([src, target]);
  }
  // A letter's own entry wins over the one inherited from its capital (Greek ν is "v", its capital Ν is "N").
  for (const [src, target] of pairs) add(src, target);
  // Messages are case-folded before this lookup, so lower-case forms of capitals are keys too.
  for (const [src, target] of pairs) add(baseLower(src), target);
  return map;
}

const built = build();

/** The Latin letter a lookalike letter stands for, or undefined. */
export function latinLookalike(cp: number): string | undefined {
  return built.get(cp);
}

/** Number of lookalike letters known; exposed for tests and docs. */
export function lookalikeCount(): number {
  return built.size;
}
