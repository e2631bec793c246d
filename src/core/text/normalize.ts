/**
 * Text normalization for term matching, applied identically to list terms and to messages.
 *
 * Every step keeps a map back to the original UTF-16 offsets so that evidence (a span) always points
 * at what the sender actually wrote. Steps, in order:
 * 1. per code point: NFKC-style compatibility fold (NFKD, combining marks dropped, recomposed), case
 *    fold, removal of invisible and format characters (zero-width, bidi controls, variation selectors,
 *    fillers). Emoji and other pictographs are kept as they are so they never become letters.
 * 2. lookalike letters (Cyrillic, Greek, small capitals…) → Latin, but only where the surrounding text
 *    is Latin: a word that mixes scripts is folded, a word written wholly in lookalikes is folded when
 *    the message around it is Latin (or has no other words), and ordinary Russian or Greek stays as it is.
 * 3. leetspeak (digits and a few symbols → letters), only inside words that contain letters, and not
 *    in numbers with units ("10am", "2nd") or at word edges where the symbol is punctuation ("cat!").
 * 4. tokens: runs of letters and digits. Apostrophes vanish ("cat's" → "cats"); other punctuation,
 *    symbols and emoji inside a whitespace-separated chunk are weak gaps (joinable: "tea-pot");
 *    whitespace is a strong gap. Runs of three or more single letters ("t e a p o t", "t.e.a.p.o.t")
 *    are glued: no match may start or end inside them.
 * 5. match keys: repeated letters collapsed ("teeeapot"). The exact (uncollapsed) form is kept as well,
 *    so the matcher can tell an exact hit from a fuzzy one. Characters that may stand for either i or l
 *    (1, |, ! and capital I) give a token alternative spellings instead of a lossy i/l merge.
 */
import { confusablePrototype, latinLookalike, namedLatinLetter } from './confusables.js';

/** What separates a token from the next one. */
export type GapKind = 'strong' | 'weak' | 'glue' | 'end';

export interface TextToken {
  /** Folded letters and digits, leetspeak resolved, no collapsing. */
  exact: string;
  /** Match key: `exact` with repeated letters collapsed, soft symbols left out (soft digits kept). */
  key: string;
  /**
   * Leading / trailing characters that may be letters or punctuation ("@cat", "cat!", "#tag", "alex99"):
   * they are in `exact` and the character arrays, and the matcher may start or end a match on either
   * side of them. Absent when zero.
   */
  softHead?: number;
  softTail?: number;
  /** Offsets in the original text (UTF-16 code units, end exclusive). */
  start: number;
  end: number;
  /** Index range of this token's characters in `NormalizedText.exStart/exEnd`. */
  exFrom: number;
  exTo: number;
  gapAfter: GapKind;
}

export interface NormalizedText {
  tokens: TextToken[];
  /** Original offsets of every character of the tokens' `exact` strings, in token order. */
  exStart: Int32Array;
  exEnd: Int32Array;
  /** Per character (same index as `exStart`): its code point as read in `exact`. */
  exCp: Int32Array;
  /**
   * Per character: the letters a–z it may stand for, as a bit mask (bit 0 = a). A plain letter has one
   * bit; ambiguous glyphs have several ("1", "|", "!" and a capital I: i or l; "6": g or b); a character
   * that is no Latin letter has none. The matcher walks its term trie through every letter of the class.
   */
  exMask: Int32Array;
  /** Lazily built pattern text: case- and lookalike-folded, no leetspeak, one UTF-16 unit per character. */
  light(): LightText;
}

/** Text for pattern rules, with `starts[i]`/`ends[i]` the original span of `text[i]`. */
export interface LightText {
  text: string;
  starts: Int32Array;
  ends: Int32Array;
}

const F_SPACE = 1;
const F_LETTER = 2;
const F_DIGIT = 4;
const F_APOS = 8;
const F_LATIN = 16;

const RE_LETTER = /^\p{L}$/u;
const RE_DIGIT = /^\p{N}$/u;
const RE_LATIN = /^\p{Script=Latin}$/u;
const RE_PICT = /^\p{Extended_Pictographic}$/u;
// Format characters (zero-width, bidi, soft hyphen, tags), combining marks (which include the variation
// selectors and the combining grapheme joiner) and the Hangul fillers that render as nothing. Removed
// without leaving a gap, so "tea\u200Bpot" stays one word.
const RE_INVISIBLE = /^(?:[\p{Cf}\p{M}]|[\u115F\u1160\u3164\uFFA0])$/u;
const RE_MARKS = /\p{M}/gu;
const APOSTROPHES = new Set([0x27, 0x60, 0xb4, 0x2018, 0x2019, 0x201b, 0x2032, 0x02bc, 0xff07]);
const EXTRA_SPACES = new Set([0x2800, 0x85]);

const foldCache = new Map<number, readonly number[]>();
const flagCache = new Map<number, number>();

function foldNonAscii(cp: number): readonly number[] {
  const hit = foldCache.get(cp);
  if (hit) return hit;
  const ch = String.fromCodePoint(cp);
  let out: number[];
  if (RE_PICT.test(ch)) out = [cp];
  else if (RE_INVISIBLE.test(ch)) out = [];
  else {
    let s = ch.normalize('NFKD').replace(RE_MARKS, '').normalize('NFC').toLowerCase();
    s = s.replace(/ß/g, 'ss').replace(/ς/g, 'σ');
    out = [];
    for (const c of s) {
      const v = c.codePointAt(0) as number;
      if (!RE_INVISIBLE.test(c)) out.push(v);
    }
  }
  if (foldCache.size < 50_000) foldCache.set(cp, out);
  return out;
}

function flagsOf(cp: number): number {
  if (cp < 0x80) {
    if (cp >= 0x61 && cp <= 0x7a) return F_LETTER | F_LATIN;
    if (cp >= 0x30 && cp <= 0x39) return F_DIGIT;
    if (cp === 0x20 || (cp >= 9 && cp <= 13)) return F_SPACE;
    if (cp === 0x27 || cp === 0x60) return F_APOS;
    return 0;
  }
  const hit = flagCache.get(cp);
  if (hit !== undefined) return hit;
  const ch = String.fromCodePoint(cp);
  let f = 0;
  if (EXTRA_SPACES.has(cp) || /^\s$/u.test(ch)) f = F_SPACE;
  else if (APOSTROPHES.has(cp)) f = F_APOS;
  else if (RE_LETTER.test(ch)) f = F_LETTER | (RE_LATIN.test(ch) ? F_LATIN : 0);
  else if (RE_DIGIT.test(ch)) f = F_DIGIT;
  if (flagCache.size < 50_000) flagCache.set(cp, f);
  return f;
}

/**
 * Digits and symbols that stand for letters, each with every letter it may stand for (first = the
 * reading shown in `exact`). One glyph is often several letters: the matcher uses the whole class.
 */
const LEET_CLASSES: ReadonlyMap<number, string> = new Map(
  (
    [
      ['0', 'o'],
      ['1', 'il'],
      ['2', 'z'],
      ['3', 'e'],
      ['4', 'a'],
      ['5', 's'],
      ['6', 'gb'],
      ['7', 't'],
      ['8', 'b'],
      ['9', 'gq'],
      ['@', 'a'],
      ['$', 's'],
      ['!', 'il'],
      ['|', 'il'],
      ['+', 't'],
      ['€', 'e'],
      ['¢', 'c'],
      ['¡', 'i'],
      ['£', 'le'],
      ['¥', 'y'],
      ['§', 's'],
      ['†', 't'],
      ['µ', 'u'],
      ['®', 'r'],
      ['©', 'c'],
      ['∂', 'da'],
      ['°', 'o'],
      ['#', 'h'],
      ['%', 'x'],
      ['(', 'c'],
      ['<', 'c'],
    ] as const
  ).map(([a, b]) => [a.codePointAt(0) as number, b]),
);
const LEET: ReadonlyMap<number, number> = new Map([...LEET_CLASSES].map(([k, v]) => [k, v.charCodeAt(0)]));
/** Symbols that are letters only between letters of a word ("h#m"), never at its edges ("#tag", "(ok)"). */
const INNER_ONLY = new Set(['#', '%', '(', '<', '°', '©', '®'].map((c) => c.codePointAt(0) as number));
/** Glyphs drawn with several characters. Read only inside or at the edge of a word that has letters. */
const LEET_SEQUENCES: ReadonlyArray<[number[], number]> = (
  [
    ['|\\/|', 'm'],
    ['\\/\\/', 'w'],
    ['|\\|', 'n'],
    ['(_)', 'u'],
    ['|_|', 'u'],
    ['|-|', 'h'],
    ['/\\', 'a'],
    ['\\/', 'v'],
    ['()', 'o'],
    ['[]', 'o'],
    ['|)', 'd'],
    ['|3', 'b'],
    ['|<', 'k'],
    ['|°', 'p'],
    ['><', 'x'],
  ] as const
).map(([a, b]) => [[...a].map((c) => c.codePointAt(0) as number), b.charCodeAt(0)]);

export function classMask(letters: string): number {
  let m = 0;
  for (let i = 0; i < letters.length; i++) {
    const c = letters.charCodeAt(i) - 97;
    if (c >= 0 && c < 26) m |= 1 << c;
  }
  return m;
}
const MASK_IL = classMask('il');
const SEQUENCE_START = new Set(LEET_SEQUENCES.map(([glyph]) => glyph[0] as number));
/** LEET_SEQUENCES by first code point, in table order (the first that matches wins). */
const SEQUENCES_BY_START: ReadonlyMap<number, ReadonlyArray<[number[], number]>> = new Map(
  [...SEQUENCE_START].map((cp) => [cp, LEET_SEQUENCES.filter(([glyph]) => glyph[0] === cp)]),
);

/** The glyph drawn with several characters that starts at `k` and ends before `to`, if any. */
function sequenceAt(cps: Int32Array, k: number, to: number): [number[], number] | undefined {
  const candidates = SEQUENCES_BY_START.get(cps[k] as number);
  if (candidates === undefined) return undefined;
  next: for (const seq of candidates) {
    const glyph = seq[0];
    if (k + glyph.length > to) continue;
    for (let j = 1; j < glyph.length; j++) if (cps[k + j] !== glyph[j]) continue next;
    return seq;
  }
  return undefined;
}
const CP_AT = 0x40;
const CP_BANG = 0x21;

// Lookup tables for the per-character tests, so plain ASCII text (most messages) costs an array read
// per character instead of a hash lookup. Non-ASCII code points fall back to the maps above.
/** Per ASCII code point: the letter its leetspeak reading shows in `exact` (0: none). */
const LEET_ASCII = new Uint8Array(128);
/** Per code point: every letter its leetspeak reading may be, as a class mask. */
const LEET_MASK: ReadonlyMap<number, number> = new Map([...LEET_CLASSES].map(([k, v]) => [k, classMask(v)]));
const LEET_MASK_ASCII = new Int32Array(128);
/** Per ASCII code point: 1 when a glyph drawn with several characters may start with it. */
const SEQUENCE_START_ASCII = new Uint8Array(128);
/** Per ASCII code point: `flagsOf`. */
const FLAGS_ASCII = new Uint8Array(128);
for (const [cp, l] of LEET) if (cp < 0x80) LEET_ASCII[cp] = l;
for (const [cp, m] of LEET_MASK) if (cp < 0x80) LEET_MASK_ASCII[cp] = m;
for (const cp of SEQUENCE_START) if (cp < 0x80) SEQUENCE_START_ASCII[cp] = 1;
for (let cp = 0; cp < 0x80; cp++) FLAGS_ASCII[cp] = flagsOf(cp);

/** `LEET.get(cp) ?? 0`. */
function leetOf(cp: number): number {
  return cp < 0x80 ? (LEET_ASCII[cp] as number) : (LEET.get(cp) ?? 0);
}

function isSequenceStart(cp: number): boolean {
  return cp < 0x80 ? SEQUENCE_START_ASCII[cp] === 1 : SEQUENCE_START.has(cp);
}

function flagsFast(cp: number): number {
  return cp < 0x80 ? (FLAGS_ASCII[cp] as number) : flagsOf(cp);
}

// Quantities, times and ordinals keep their digits: "10am" and "2nd" are not words in disguise.
const NUMERIC_UNIT =
  /^[#~+-]?\d+(?:[.,:/]\d+)*(?:st|nd|rd|th|am|pm|s|k|m|h|x|kg|km|cm|mm|g|lb|lbs|mb|gb|tb|min|mins|hr|hrs|yo|yr|yrs|y|d|w|mo|ish|ft|in|p|fps|mph|kph)?[.,!?;:)]*$/;

interface Chunk {
  from: number;
  to: number;
}

function isKeyLetter(cp: number): boolean {
  return (flagsOf(cp) & F_LETTER) !== 0;
}

/** Match key of an exact form: runs of the same letter collapsed to one. */
export function keyOf(exact: string): string {
  let out = '';
  let prev = -1;
  for (let i = 0; i < exact.length; i++) {
    const c = exact.charCodeAt(i);
    if (c === prev && isKeyLetter(c)) continue;
    out += String.fromCharCode(c);
    prev = c;
  }
  return out;
}

/** Appends a key to a key, collapsing a repeated letter across the join ("velvet" + "teapot"). */
export function appendKey(acc: string, key: string): string {
  if (acc.length === 0) return key;
  if (key.length === 0) return acc;
  const a = acc.charCodeAt(acc.length - 1);
  return a === key.charCodeAt(0) && isKeyLetter(a) ? acc + key.slice(1) : acc + key;
}

const RE_LATIN_OR_SYMBOL = /^[\p{Script=Latin}\p{S}]$/u;

/** Characters visited by the last `normalizeText` call, all passes together (for the linear-time test). */
export const normalizeWork = { visits: 0 };

/**
 * Working buffers of step 1, reused by every call: `normalizeText` is synchronous and never re-entered,
 * and nothing it returns refers to them (the light text copies what it needs). Grown on demand.
 */
const work = {
  cps: new Int32Array(1024),
  us: new Int32Array(1024),
  ue: new Int32Array(1024),
  flags: new Uint8Array(1024),
  /** Characters written. */
  n: 0,
};

function growWork(min: number): void {
  let size = work.cps.length;
  while (size < min) size *= 2;
  if (size === work.cps.length) return;
  const grown = <T extends Int32Array | Uint8Array>(a: T, b: T): T => {
    b.set(a.subarray(0, work.n));
    return b;
  };
  work.cps = grown(work.cps, new Int32Array(size));
  work.us = grown(work.us, new Int32Array(size));
  work.ue = grown(work.ue, new Int32Array(size));
  work.flags = grown(work.flags, new Uint8Array(size));
}

/**
 * The per-character arrays of results are carved from shared slabs: allocating a typed array's own
 * backing store costs more than normalising a chat-sized message does. Each part of a slab is handed
 * out once, zeroed, and never written again by this module; a result keeps its slab alive.
 */
const SLAB_INTS = 1 << 16;
let slab = new Int32Array(SLAB_INTS);
let slabUsed = 0;

function carve(len: number): Int32Array {
  if (len > SLAB_INTS >> 4) return new Int32Array(len);
  if (slabUsed + len > SLAB_INTS) {
    slab = new Int32Array(SLAB_INTS);
    slabUsed = 0;
  }
  const part = slab.subarray(slabUsed, slabUsed + len);
  slabUsed += len;
  return part;
}

/** The rare per-position extras of step 1, created only when one occurs. */
interface Extras {
  // Positions whose letter might be an i or an l: a capital I (sans-serif I and l look the same) and
  // lookalikes of l (most of them look like a capital I).
  ambiguous: Set<number> | undefined;
  // Latin letter of another script's lookalike, looked up as written (before case folding), by position.
  lookOf: Map<number, number> | undefined;
  // Further letters a position may stand for, beyond the one it folds to.
  extraMask: Map<number, number> | undefined;
}

function pushFolded(f: number, i: number, w: number, ex: Extras, extra = 0): void {
  const k = work.n;
  if (k >= work.cps.length) growWork(k + 1);
  if (extra !== 0) (ex.extraMask ??= new Map()).set(k, extra);
  work.cps[k] = f;
  work.us[k] = i;
  work.ue[k] = i + w;
  work.flags[k] = flagsFast(f);
  work.n = k + 1;
}

/** Folds the non-ASCII code point `cp` (UTF-16 width `w`) at text offset `i` into the work buffers. */
function foldCodePoint(cp: number, i: number, w: number, ex: Extras): void {
  if (LEET_CLASSES.has(cp)) {
    // A leetspeak glyph (µ, €, £) stays itself, so the word-scoped leetspeak step can read it.
    pushFolded(cp, i, w, ex);
    return;
  }
  const ch = String.fromCodePoint(cp);
  const folded = foldNonAscii(cp);
  const look = latinLookalike(cp) ?? (folded.length === 1 ? latinLookalike(folded[0] as number) : undefined);
  const proto = confusablePrototype(cp) ?? look;
  const lookBit = proto === undefined ? 0 : 1 << (proto.charCodeAt(0) - 0x61);
  if (folded.length > 0 && folded.every((f) => f >= 0x61 && f <= 0x7a)) {
    // Compatibility forms of Latin letters (Ｉ, 𝐈, ſ, ß): the fold, plus what the shape also reads as
    // (a capital I is an l too; ſ is an f; ß is a b).
    const capitalI = folded.length === 1 && ch.normalize('NFKC') === 'I';
    // ß is also the leetspeak b.
    if (cp === 0xdf) {
      for (const f of folded) pushFolded(f, i, w, ex, 1 << 1);
      return;
    }
    for (const f of folded) pushFolded(f, i, w, ex, (capitalI ? MASK_IL : 0) | (lookBit !== 0 && proto !== String.fromCharCode(f) ? lookBit : 0));
    return;
  }
  const byName = namedLatinLetter(cp);
  if (byName !== undefined) {
    pushFolded(byName.charCodeAt(0), i, w, ex, (byName === 'l' ? MASK_IL : 0) | (proto !== undefined && proto !== byName ? lookBit : 0));
    return;
  }
  if (look !== undefined && RE_LATIN_OR_SYMBOL.test(ch)) {
    // Latin-script shapes (ø, ʀ, ɡ) and letter symbols (🇦, 🅐) are Latin letters wherever they stand.
    pushFolded(look.charCodeAt(0), i, w, ex, look === 'l' ? MASK_IL : 0);
    return;
  }
  if (look !== undefined) {
    (ex.lookOf ??= new Map()).set(work.n, look.charCodeAt(0));
    if (look === 'l') (ex.ambiguous ??= new Set()).add(work.n);
    // A lookalike whose compatibility form is no letter (Greek ͺ → space + mark) stays a letter.
    if (!folded.some((f) => RE_LETTER.test(String.fromCodePoint(f)))) {
      pushFolded(ch.toLowerCase().codePointAt(0) as number, i, w, ex);
      return;
    }
  }
  for (const f of folded) pushFolded(f, i, w, ex);
}

/** Longest argument list handed to `String.fromCharCode` at once (long tokens are built in pieces). */
const STRING_PIECE = 4096;

/** The string of a list of code points (`astral`: whether any lies outside the BMP). */
function stringOf(cps: readonly number[], astral: boolean): string {
  if (cps.length <= STRING_PIECE) return astral ? String.fromCodePoint(...cps) : String.fromCharCode(...cps);
  let s = '';
  for (let a = 0; a < cps.length; a += STRING_PIECE) {
    const piece = cps.slice(a, a + STRING_PIECE);
    s += astral ? String.fromCodePoint(...piece) : String.fromCharCode(...piece);
  }
  return s;
}

/** Normalizes text into tokens (see the module comment for the steps). */
export function normalizeText(text: string): NormalizedText {
  // Step 1: fold each code point; a code point may fold to several (ﬁ → f i) or none (zero-width).
  const ex: Extras = { ambiguous: undefined, lookOf: undefined, extraMask: undefined };
  // Most text is plain ASCII letters: the lookalike and leetspeak passes are skipped when they cannot apply.
  let nonAscii = false;
  let leetable = false;
  const len = text.length;
  work.n = 0;
  growWork(len + 1);
  for (let i = 0; i < len;) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (!leetable && (LEET_ASCII[c] !== 0 || SEQUENCE_START_ASCII[c] !== 0)) leetable = true;
      const k = work.n;
      if (k >= work.cps.length) growWork(k + 1);
      if (c === 0x49) (ex.ambiguous ??= new Set()).add(k);
      const f = c >= 0x41 && c <= 0x5a ? c + 32 : c;
      work.cps[k] = f;
      work.us[k] = i;
      work.ue[k] = i + 1;
      work.flags[k] = FLAGS_ASCII[f] as number;
      work.n = k + 1;
      i++;
      continue;
    }
    nonAscii = true;
    const cp = text.codePointAt(i) as number;
    const w = cp > 0xffff ? 2 : 1;
    foldCodePoint(cp, i, w, ex);
    i += w;
  }
  const { cps, us, ue, flags, n } = work;
  const { ambiguous, extraMask } = ex;
  normalizeWork.visits = n;

  // Chunks: runs of non-space characters.
  const chunks: Chunk[] = [];
  for (let k = 0; k < n;) {
    if ((flags[k] as number) & F_SPACE) {
      k++;
      continue;
    }
    const from = k;
    while (k < n && !((flags[k] as number) & F_SPACE)) k++;
    chunks.push({ from, to: k });
  }

  if (nonAscii) foldLookalikes(cps, flags, chunks, ex.lookOf ?? new Map());
  // The light text reads the folded characters after lookalike folding; plain ASCII folds to its lower case.
  let light: () => LightText;
  if (nonAscii) {
    const lc = cps.slice(0, n);
    const ls = us.slice(0, n);
    const le = ue.slice(0, n);
    light = () => buildLight(lc, ls, le);
  } else light = () => asciiLight(text);
  if (nonAscii && !leetable) for (let k = 0; k < n && !leetable; k++) if (leetOf(cps[k] as number) !== 0 || isSequenceStart(cps[k] as number)) leetable = true;
  const leet = leetable ? resolveLeet(cps, flags, n, chunks) : undefined;

  // Step 4: tokens. The current token's characters are collected as code points and turned into its
  // strings once, when it closes; its key collapses repeated letters as they come (as `keyOf` does),
  // and is the exact form itself until a character is left out of it.
  const tokens: TextToken[] = [];
  // One slot per folded character at most (absorbed ones take none); `nx` are in use. Typed arrays
  // filled by index: pushing four growing arrays was over half of this function's time on long text.
  const exStart = carve(n);
  const exEnd = carve(n);
  const exCp = carve(n);
  const exMask = carve(n);
  let nx = 0;
  const tokChunk: number[] = [];
  for (let ci = 0; ci < chunks.length; ci++) {
    const ch = chunks[ci] as Chunk;
    // The open token: `exactCps` once it has a character; head/tail count its soft edge characters.
    let exactCps: number[] | undefined;
    let keyCps: number[] | undefined;
    let start = 0;
    let end = 0;
    let exFrom = 0;
    let head = 0;
    let tail = 0;
    let hard = false;
    let astral = false;
    let lastKey = -1;
    for (let k = ch.from; k <= ch.to; k++) {
      let closeGap: GapKind;
      if (k === ch.to) closeGap = 'strong';
      else {
        if (leet !== undefined && leet.absorbed[k] === 1) {
          // The rest of a glyph drawn with several characters ("()" for o): part of the letter's span.
          if (exactCps) end = ue[k] as number;
          if (nx > 0) exEnd[nx - 1] = ue[k] as number;
          continue;
        }
        const f = flags[k] as number;
        const l = leet === undefined ? 0 : (leet.letter[k] as number);
        if (l !== 0 || (f & (F_LETTER | F_DIGIT)) !== 0) {
          const own = cps[k] as number;
          const primary = l !== 0 && leet?.altOnly[k] !== 1 ? l : own;
          if (!exactCps) {
            exactCps = [];
            keyCps = undefined;
            start = us[k] as number;
            exFrom = nx;
            head = 0;
            tail = 0;
            hard = false;
            astral = false;
            lastKey = -1;
          }
          const soft = leet !== undefined && leet.soft[k] === 1;
          if (soft) {
            if (hard) tail++;
            else head++;
          } else {
            hard = true;
            tail = 0;
          }
          let mask = primary >= 0x61 && primary <= 0x7a ? 1 << (primary - 0x61) : 0;
          if (extraMask !== undefined) mask |= extraMask.get(k) ?? 0;
          if (l !== 0)
            mask |=
              (leet as LeetPlan).absorbed[k] === 2
                ? 1 << (l - 0x61)
                : own < 0x80 && LEET_MASK_ASCII[own] !== 0
                  ? (LEET_MASK_ASCII[own] as number)
                  : (LEET_MASK.get(own) ?? classMask(String.fromCharCode(l)));
          else if (f & F_LETTER && own >= 0x80) mask |= LEET_MASK.get(own) ?? 0;
          if (ambiguous !== undefined && (primary === 0x69 || primary === 0x6c) && ambiguous.has(k)) mask |= MASK_IL;
          if (primary > 0xffff) astral = true;
          exactCps.push(primary);
          // The key leaves soft symbols out and keeps soft digits ("fr33"), as keys always read: the text
          // classifier's features (and its saved probe fingerprint) are built from these keys. Repeated
          // letters collapse; keyOf compares UTF-16 units, so characters outside the BMP never do.
          const inKey = (!soft || (f & F_DIGIT) !== 0) && (primary !== lastKey || primary > 0xffff || (flagsFast(primary) & F_LETTER) === 0);
          if (!soft || f & F_DIGIT) lastKey = primary;
          if (inKey) keyCps?.push(primary);
          else keyCps ??= exactCps.slice(0, exactCps.length - 1);
          end = ue[k] as number;
          exStart[nx] = us[k] as number;
          exEnd[nx] = ue[k] as number;
          exCp[nx] = primary;
          exMask[nx] = mask;
          nx++;
          continue;
        }
        if (f & F_APOS) continue;
        closeGap = 'weak';
      }
      if (!exactCps) continue;
      // A token of soft characters only ("!!" after "e?") is soft from end to end.
      const h = hard ? head : exactCps.length;
      const t = hard ? tail : 0;
      const exact = stringOf(exactCps, astral);
      const tok: TextToken = {
        exact,
        key: keyCps ? stringOf(keyCps, astral) : exact,
        start,
        end,
        exFrom,
        exTo: nx,
        gapAfter: closeGap,
      };
      if (h > 0) tok.softHead = h;
      if (t > 0) tok.softTail = t;
      tokens.push(tok);
      tokChunk.push(ci);
      exactCps = undefined;
    }
  }
  // A separator that ends its chunk ("cat!") is followed by whitespace: the gap is strong.
  for (let t = 0; t < tokens.length; t++) {
    const tok = tokens[t] as TextToken;
    if (t === tokens.length - 1) tok.gapAfter = 'end';
    else if (tokChunk[t] !== tokChunk[t + 1]) tok.gapAfter = 'strong';
  }
  glueSpelledRuns(tokens);
  return {
    tokens,
    exStart: exStart.subarray(0, nx),
    exEnd: exEnd.subarray(0, nx),
    exCp: exCp.subarray(0, nx),
    exMask: exMask.subarray(0, nx),
    light,
  };
}

function foldLookalikes(cps: Int32Array, flags: Uint8Array, chunks: readonly Chunk[], lookOf: ReadonlyMap<number, number>): void {
  const lookalike = (k: number): number | undefined => lookOf.get(k) ?? latinLookalike(cps[k] as number)?.charCodeAt(0);
  // Per chunk: Latin letters, other-script letters, and whether every other-script letter has a Latin lookalike.
  const info = chunks.map((ch) => {
    let latin = 0;
    let other = 0;
    let allLookalike = true;
    for (let k = ch.from; k < ch.to; k++) {
      const f = flags[k] as number;
      if (!(f & F_LETTER)) continue;
      const cp = cps[k] as number;
      if (f & F_LATIN) {
        latin++;
        // Latin-script lookalikes (dotless ı, ɑ, small capitals) always fold: they are still Latin.
        if (cp >= 0x80) {
          const t = lookalike(k);
          if (t !== undefined) cps[k] = t;
        }
      } else {
        other++;
        if (lookalike(k) === undefined) allLookalike = false;
      }
    }
    return { latin, other, allLookalike };
  });
  let ctxLatin = 0;
  let ctxOther = 0;
  for (const c of info) {
    const ambiguous = c.latin === 0 && c.other > 0 && c.allLookalike;
    if (ambiguous) continue;
    // A word that mixes scripts is folded to Latin, so it counts as Latin context.
    const mixed = c.latin > 0 && c.other > 0;
    ctxLatin += c.latin + (mixed ? c.other : 0);
    ctxOther += mixed ? 0 : c.other;
  }
  chunks.forEach((ch, i) => {
    const c = info[i] as (typeof info)[number];
    if (c.other === 0) return;
    const mixed = c.latin > 0;
    const ambiguousInLatin = c.latin === 0 && c.allLookalike && ctxLatin >= ctxOther;
    if (!mixed && !ambiguousInLatin) return;
    for (let k = ch.from; k < ch.to; k++) {
      const f = flags[k] as number;
      if (!(f & F_LETTER) || f & F_LATIN) continue;
      const t = lookalike(k);
      if (t !== undefined) {
        cps[k] = t;
        flags[k] = F_LETTER | F_LATIN;
      }
    }
  });
}

interface LeetPlan {
  /** Per character: the letter it stands for in leetspeak, or 0. */
  letter: Int32Array;
  /** Per character: 1 when the leet reading is only an alternative ("810550m" may be a distance). */
  altOnly: Uint8Array;
  /** Per character: 1 for a glyph at a word's edge that may be a letter or punctuation ("cat!"). */
  soft: Uint8Array;
  /** Per character: 2 for the first, 1 for the later characters of a glyph drawn with several ("()"). */
  absorbed: Uint8Array;
}

const SINGLE_RUN_MIN = 3;

/** The leetspeak plan's buffers, reused by every call (see `work`); cleared to n before each use. */
let leetWork: LeetPlan = { letter: new Int32Array(1024), altOnly: new Uint8Array(1024), absorbed: new Uint8Array(1024), soft: new Uint8Array(1024) };

function resolveLeet(cps: Int32Array, flags: Uint8Array, n: number, chunks: readonly Chunk[]): LeetPlan {
  if (leetWork.letter.length < n) {
    const size = work.cps.length;
    leetWork = { letter: new Int32Array(size), altOnly: new Uint8Array(size), absorbed: new Uint8Array(size), soft: new Uint8Array(size) };
  }
  const { letter, altOnly, absorbed, soft } = leetWork;
  letter.fill(0, 0, n);
  altOnly.fill(0, 0, n);
  absorbed.fill(0, 0, n);
  soft.fill(0, 0, n);
  const isLetterAt = (k: number): boolean => ((flags[k] as number) & F_LETTER) !== 0;
  const isWordAt = (k: number): boolean => ((flags[k] as number) & (F_LETTER | F_DIGIT)) !== 0;

  // Lone digits or symbols among spelled-out letters ("m @ r m @ l @ d 3") are letters too: look at
  // runs of one-character chunks with at least two real letters among them.
  const single = (c: Chunk | undefined): boolean => c !== undefined && c.to - c.from === 1 && (isLetterAt(c.from) || leetOf(cps[c.from] as number) !== 0);
  for (let a = 0; a < chunks.length;) {
    if (!single(chunks[a])) {
      a++;
      continue;
    }
    let b = a;
    while (single(chunks[b + 1])) b++;
    let letters = 0;
    for (let c = a; c <= b; c++) if (isLetterAt((chunks[c] as Chunk).from)) letters++;
    if (b - a + 1 >= SINGLE_RUN_MIN && letters >= 2) {
      for (let c = a; c <= b; c++) {
        const k = (chunks[c] as Chunk).from;
        if (!isLetterAt(k)) letter[k] = leetOf(cps[k] as number);
      }
    }
    a = b + 1;
  }

  for (const ch of chunks) {
    if (ch.to - ch.from === 1) continue;
    let letters = 0;
    let digits = 0;
    // Only leetspeak glyphs and sequence starts are read below: a chunk without any is left as it is.
    let glyphs = false;
    normalizeWork.visits += ch.to - ch.from;
    for (let k = ch.from; k < ch.to; k++) {
      const f = flags[k] as number;
      if (f & F_LETTER) letters++;
      else if (f & F_DIGIT) digits++;
      if (!glyphs) {
        const cp = cps[k] as number;
        glyphs = leetOf(cp) !== 0 || isSequenceStart(cp);
      }
    }
    if (letters === 0 || !glyphs) continue;
    let numeric = false;
    // NUMERIC_UNIT starts with a digit or one of # ~ + -: any other first character cannot match, and
    // a long chunk ("k3+!|3@…") is then not copied into a string just to be refused.
    const first = cps[ch.from] as number;
    if (digits > 0 && ((first >= 0x30 && first <= 0x39) || first === 0x23 || first === 0x7e || first === 0x2b || first === 0x2d)) {
      let s = '';
      for (let k = ch.from; k < ch.to; k++) s += String.fromCodePoint(cps[k] as number);
      numeric = NUMERIC_UNIT.test(s);
    }
    // Whether a word character (or a letter read so far) lies before k in this chunk, kept up to date
    // as k advances, and the last word character of the chunk: each character is looked at once.
    let seen = false;
    let seenTo = ch.from;
    const before = (k: number): boolean => {
      for (; seenTo < k && !seen; seenTo++) {
        normalizeWork.visits++;
        seen = isWordAt(seenTo) || letter[seenTo] !== 0;
      }
      if (seenTo < k) seenTo = k;
      return seen;
    };
    let lastWord = -1;
    for (let k = ch.from; k < ch.to; k++) if (isWordAt(k)) lastWord = k;
    for (let k = ch.from; k < ch.to;) {
      normalizeWork.visits++;
      const cp = cps[k] as number;
      if (isSequenceStart(cp)) {
        const seq = sequenceAt(cps, k, ch.to);
        if (seq) {
          const end = k + seq[0].length;
          const b = before(k);
          const a = lastWord >= end;
          if (b || a) {
            letter[k] = seq[1];
            absorbed[k] = 2;
            for (let j = k + 1; j < end; j++) absorbed[j] = 1;
            k = end;
            continue;
          }
        }
      }
      const l = leetOf(cp);
      if (l === 0) {
        k++;
        continue;
      }
      if ((flags[k] as number) & F_DIGIT) {
        // Two or more digits at a word's edge are more likely a number ("alex99", "99problems").
        let e = k;
        while (e + 1 < ch.to && (flags[e + 1] as number) & F_DIGIT) e++;
        const edge = e > k && (k === ch.from || e === ch.to - 1 || !isWordAt(k - 1) || !isWordAt(e + 1));
        const atChunkEdge = k === ch.from || e === ch.to - 1;
        for (let j = k; j <= e; j++) {
          letter[j] = leetOf(cps[j] as number);
          if (numeric || edge) altOnly[j] = 1;
          if (edge && atChunkEdge && !numeric) soft[j] = 1;
        }
        k = e + 1;
        continue;
      }
      // A run of leet symbols: inside a word they are letters; at its edges they are mostly
      // punctuation ("cat!"), mentions ("@cat") or emphasis, unless they plainly finish a word ("rocke+").
      let e = k;
      let innerOnly = INNER_ONLY.has(cp);
      while (e + 1 < ch.to && leetOf(cps[e + 1] as number) !== 0 && !((flags[e + 1] as number) & F_DIGIT) && !isSequenceStart(cps[e + 1] as number)) {
        e++;
        if (INNER_ONLY.has(cps[e] as number)) innerOnly = true;
      }
      const b = before(k);
      const after = lastWord > e;
      let fold = false;
      if (b && after) fold = true;
      else if (innerOnly) fold = false;
      else if (!b && after) fold = cp !== CP_AT && cp !== CP_BANG && isLetterAt(e + 1);
      else if (b && !after && k > ch.from && isLetterAt(k - 1)) {
        for (let j = k; j <= e && !fold; j++) fold = cps[j] !== CP_BANG && cps[j] !== CP_AT;
      }
      if (fold && b && !after) {
        // "rocke+!!": the run finishes the word; the "!" and "@" after its last letter-like glyph are soft.
        let lastHard = e;
        while (lastHard > k && (cps[lastHard] === CP_BANG || cps[lastHard] === CP_AT)) lastHard--;
        for (let j = k; j <= e; j++) {
          letter[j] = leetOf(cps[j] as number);
          if (j > lastHard) soft[j] = 1;
        }
      } else if (fold) for (let j = k; j <= e; j++) letter[j] = leetOf(cps[j] as number);
      else if (b || after) {
        // At a word's edge: maybe a letter ("h@m", "0wl", "ow£"), maybe punctuation. The matcher tries both.
        for (let j = k; j <= e; j++) {
          letter[j] = leetOf(cps[j] as number);
          soft[j] = 1;
        }
      }
      k = e + 1;
    }
  }
  return { letter, altOnly, absorbed, soft };
}

function glueSpelledRuns(tokens: TextToken[]): void {
  const single = (t: TextToken): boolean => t.exact.length === 1 && !t.softHead && (flagsOf(t.exact.charCodeAt(0)) & F_LETTER) !== 0;
  for (let i = 0; i < tokens.length;) {
    if (!single(tokens[i] as TextToken)) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < tokens.length && single(tokens[j + 1] as TextToken)) j++;
    if (j - i + 1 >= 3) for (let k = i; k < j; k++) (tokens[k] as TextToken).gapAfter = 'glue';
    i = j + 1;
  }
}

const CP_OBJ = 0xfffc;

/** Light text of plain ASCII: its lower case, one character per code unit. */
function asciiLight(text: string): LightText {
  const n = text.length;
  const starts = new Int32Array(n);
  const ends = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    starts[k] = k;
    ends[k] = k + 1;
  }
  return { text: text.toLowerCase(), starts, ends };
}

function buildLight(cps: Int32Array, us: Int32Array, ue: Int32Array): LightText {
  const n = cps.length;
  const starts = new Int32Array(n);
  const ends = new Int32Array(n);
  let text = '';
  for (let k = 0; k < n; k++) {
    const cp = cps[k] as number;
    // One UTF-16 unit per character keeps the regex engine's offsets and ours the same.
    text += String.fromCharCode(cp > 0xffff ? CP_OBJ : cp);
    starts[k] = us[k] as number;
    ends[k] = ue[k] as number;
  }
  return { text, starts, ends };
}

/** Human-readable normalized text: words separated by spaces, glued letter runs joined. */
export function normalizedDisplay(norm: NormalizedText): string {
  let out = '';
  for (const t of norm.tokens) {
    const chars = [...t.exact];
    const word = t.softHead || t.softTail ? chars.slice(t.softHead ?? 0, chars.length - (t.softTail ?? 0)).join('') : t.exact;
    if (word.length === 0) continue;
    out += word + (t.gapAfter === 'glue' ? '' : t.gapAfter === 'end' ? '' : ' ');
  }
  out = out.trimEnd();
  return out;
}
