/**
 * Lookalike letters → Latin letters, derived at load time from Unicode data rather than typed by hand:
 * 1. the Unicode confusables table (UTS #39 confusables.txt, as shipped by the `unhomoglyph` package),
 *    restricted to letters whose prototype is one Latin letter — digits, symbols and emoji never turn
 *    into letters here (leetspeak is a separate, word-scoped step) and multi-letter prototypes such as
 *    m → "rn" are dropped;
 * 2. letters that NFKC leaves alone but whose Unicode name says which Latin letter they are (via the
 *    `unicode-name` package): small capitals (ʀ), modifier and subscript letters, Latin Extended and IPA
 *    letters with strokes, bars or hooks (ø ł ħ ɡ), regional-indicator and enclosed letters (🇦 🅐).
 *    Emoji (Extended_Pictographic, such as 🅰) are never included.
 *
 * Lookups take the code point as written, before case folding: Greek capital Η is an H even though its
 * lower case η looks like an n.
 */
import { createRequire } from 'node:module';
import { unicodeName } from 'unicode-name';

const require = createRequire(import.meta.url);
// A JSON table, read once; createRequire keeps this working on every Node 20 without import attributes.
const table = require('unhomoglyph/data.json') as Record<string, string>;

const LETTER = /^\p{L}$/u;
const MARKS = /\p{M}/gu;
const PICTO = /^\p{Extended_Pictographic}$/u;

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

// Names that say "this is Latin letter X in another shape". Turned and reversed letters are left out:
// they read as other letters (ɐ, ʎ) or as none.
const NAMED_LETTER =
  /^(?:LATIN (?:SMALL |CAPITAL )?LETTER (?:SMALL CAPITAL |DOTLESS |SCRIPT |LONG |BARRED )?|MODIFIER LETTER (?:SMALL |CAPITAL )|(?:SUPERSCRIPT |SUBSCRIPT )?LATIN (?:SUBSCRIPT )?(?:SMALL |CAPITAL )LETTER |REGIONAL INDICATOR SYMBOL LETTER |(?:NEGATIVE )?(?:CIRCLED|SQUARED|PARENTHESIZED) LATIN (?:SMALL |CAPITAL )LETTER |MATHEMATICAL [A-Z -]*(?:SMALL|CAPITAL) )([A-Z])(?: WITH (?![A-Z ]*LETTER)[A-Z ]+)?$/;

/** Where name-derived letters live: Latin blocks, IPA, phonetic extensions, enclosed and math letters. */
const NAMED_RANGES: ReadonlyArray<[number, number]> = [
  [0x80, 0x2af],
  [0x1d00, 0x1eff],
  [0x2070, 0x209f],
  [0x2c60, 0x2c7f],
  [0xa720, 0xa7ff],
  [0xab30, 0xab6f],
  [0xff21, 0xff5a],
  [0x1d400, 0x1d7ff],
  [0x1df00, 0x1dfff],
  [0x24b6, 0x24e9],
  [0x1f100, 0x1f1ff],
  [0x249c, 0x24b5],
];

const named = new Map<number, string>();

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
  // Lower-case forms of capitals are keys too, for text that arrives already folded.
  for (const [src, target] of pairs) add(baseLower(src), target);
  for (const [from, to] of NAMED_RANGES) {
    for (let cp = from; cp <= to; cp++) {
      const ch = String.fromCodePoint(cp);
      if (PICTO.test(ch)) continue;
      const m = NAMED_LETTER.exec(unicodeName(ch) ?? '');
      if (m) {
        named.set(cp, (m[1] as string).toLowerCase());
        map.set(cp, (m[1] as string).toLowerCase());
      }
    }
  }
  return map;
}

// Built on first use: only text with non-ASCII letters needs it, so plain CLI commands start faster.
let built: Map<number, string> | undefined;

/** The Latin letter a lookalike letter stands for (looked up as written, before case folding), or undefined. */
export function latinLookalike(cp: number): string | undefined {
  return (built ??= build()).get(cp);
}

/**
 * The Latin letter a character's Unicode name says it is (small capitals, enclosed and regional-indicator
 * letters, letters with strokes…), or undefined. Read from the name data, so it holds even for letters
 * newer than the JavaScript engine's own Unicode tables.
 */
export function namedLatinLetter(cp: number): string | undefined {
  built ??= build();
  return named.get(cp);
}

/**
 * The confusables prototype of a character as written, when it is one Latin letter (ſ → f), without the
 * compatibility fold that `latinLookalike` applies first (which reads ſ as s).
 */
export function confusablePrototype(cp: number): string | undefined {
  const proto = table[String.fromCodePoint(cp)];
  return proto !== undefined && /^[A-Za-z]$/.test(proto) ? proto.toLowerCase() : undefined;
}

/** Number of lookalike letters known; exposed for tests and docs. */
export function lookalikeCount(): number {
  return (built ??= build()).size;
}
