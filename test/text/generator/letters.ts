/**
 * Letter families for the evasion generator, derived from Unicode data and never from Vigil's tables:
 * - lookalikes: every entry of UTS #39 confusables.txt (as shipped by the `unhomoglyph` package, read
 *   here as a plain JSON file) whose source is one letter and whose prototype is one ASCII letter;
 * - named letters NFKC may or may not fold, found by their Unicode character names (`unicode-name`):
 *   small capitals, modifier / superscript / subscript letters, Latin Extended and IPA letters
 *   ("LATIN SMALL LETTER O WITH STROKE"), mathematical alphanumerics, fullwidth, enclosed and
 *   regional-indicator letters.
 * Emoji (Extended_Pictographic) are left out: they must never stand for letters.
 *
 * This module (like everything under test/text/generator) imports nothing from src/.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { unicodeName } from 'unicode-name';

export type LetterFamily =
  | 'confusable-cyrillic'
  | 'confusable-greek'
  | 'confusable-armenian'
  | 'confusable-cherokee'
  | 'confusable-latin'
  | 'confusable-other'
  | 'small-capital'
  | 'modifier-letter'
  | 'latin-extended'
  | 'math-alphanumeric'
  | 'fullwidth'
  | 'enclosed'
  | 'regional-indicator';

/** family → ASCII letter a–z → code points standing for it. */
export type LetterTable = Map<LetterFamily, Map<string, string[]>>;

const PICTO = /\p{Extended_Pictographic}/u;
const LETTER = /^\p{L}$/u;

function add(table: LetterTable, family: LetterFamily, letter: string, ch: string): void {
  let byLetter = table.get(family);
  if (!byLetter) table.set(family, (byLetter = new Map()));
  const list = byLetter.get(letter) ?? [];
  if (!list.includes(ch)) list.push(ch);
  byLetter.set(letter, list);
}

function scriptFamily(ch: string): LetterFamily {
  if (/\p{Script=Cyrillic}/u.test(ch)) return 'confusable-cyrillic';
  if (/\p{Script=Greek}/u.test(ch)) return 'confusable-greek';
  if (/\p{Script=Armenian}/u.test(ch)) return 'confusable-armenian';
  if (/\p{Script=Cherokee}/u.test(ch)) return 'confusable-cherokee';
  if (/\p{Script=Latin}/u.test(ch)) return 'confusable-latin';
  return 'confusable-other';
}

const NAME_RULES: ReadonlyArray<[LetterFamily, RegExp]> = [
  ['small-capital', /^LATIN LETTER SMALL CAPITAL ([A-Z])$/],
  ['modifier-letter', /^(?:MODIFIER LETTER (?:SMALL|CAPITAL)|(?:SUPERSCRIPT|SUBSCRIPT) LATIN (?:SMALL|CAPITAL) LETTER|LATIN SUBSCRIPT SMALL LETTER) ([A-Z])$/],
  ['math-alphanumeric', /^MATHEMATICAL [A-Z -]*(?:SMALL|CAPITAL) ([A-Z])$/],
  ['fullwidth', /^FULLWIDTH LATIN (?:SMALL|CAPITAL) LETTER ([A-Z])$/],
  ['enclosed', /^(?:NEGATIVE )?(?:CIRCLED|SQUARED|PARENTHESIZED) LATIN (?:SMALL|CAPITAL) LETTER ([A-Z])$/],
  ['regional-indicator', /^REGIONAL INDICATOR SYMBOL LETTER ([A-Z])$/],
  ['latin-extended', /^LATIN (?:SMALL|CAPITAL) LETTER (?:DOTLESS |SCRIPT |LONG |BARRED )?([A-Z])(?: WITH (?![A-Z ]*LETTER)[A-Z ]+)?$/],
];

let cached: LetterTable | undefined;

/** Builds (once) the letter families from the Unicode data packages. */
export function letterTable(): LetterTable {
  if (cached) return cached;
  const table: LetterTable = new Map();
  const require = createRequire(import.meta.url);
  const confusables = JSON.parse(readFileSync(require.resolve('unhomoglyph/data.json'), 'utf8')) as Record<string, string>;
  for (const [src, proto] of Object.entries(confusables)) {
    if (!LETTER.test(src) || PICTO.test(src) || !/^[A-Za-z]$/.test(proto)) continue;
    if (/^[A-Za-z]$/.test(src)) continue;
    add(table, scriptFamily(src), proto.toLowerCase(), src);
  }
  for (let cp = 0xa0; cp < 0x20000; cp++) {
    if (cp >= 0xd800 && cp <= 0xf8ff) continue;
    const ch = String.fromCodePoint(cp);
    if (PICTO.test(ch)) continue;
    const name = unicodeName(ch);
    if (!name) continue;
    for (const [family, rule] of NAME_RULES) {
      const m = rule.exec(name);
      if (!m) continue;
      // Latin Extended: only letters that plain accent stripping would not already fold (ø, ł, ħ, ɡ…).
      if (family === 'latin-extended' && /^[a-z]$/i.test(ch.normalize('NFKD').replace(/\p{M}/gu, ''))) break;
      add(table, family, (m[1] as string).toLowerCase(), ch);
      break;
    }
  }
  cached = table;
  return table;
}
