/**
 * Term matching over normalized tokens.
 *
 * Whole-word and joined terms are looked up by hashing: from every token that may start a match, the
 * match keys of the following tokens are concatenated and looked up in one Map keyed by each term's
 * joined key, while a set of prefix hashes stops the extension as soon as no term can still match.
 * With real text almost every start stops after one lookup, so the cost grows with message length,
 * not with list size. Only substring-mode terms go through Aho–Corasick, over a key stream of the
 * message. See docs/text-scanning.md for the measured alternatives.
 *
 * False positives are held back in three ways: whole-word terms may not absorb a space that is not a
 * word boundary of the term; a fuzzy hit (reached only through collapsed repeats, i/l readings or
 * -ed/-ing/-er endings) is dropped when it touches a benign dictionary word that is not part of the
 * term ("good" is not "god"); substring hits inside a benign dictionary word are dropped ("scatter"
 * does not contain "cat" for our purposes); and per-term exceptions drop hits inside listed phrases.
 */
import type { Severity } from '../signals.js';
import { AhoCorasick } from './aho-corasick.js';
import { appendKey, keyOf, normalizeText, type GapKind, type NormalizedText, type TextToken } from './normalize.js';
import type { TermBankData, TermEntry, TermMode } from './term-bank.js';

export interface TermHit {
  bankId: string;
  bankVersion: string;
  termId: string;
  category: string;
  severity: Severity;
  mode: TermMode;
  start: number;
  end: number;
  /** True when the hit needed no fuzzy step (collapsed repeats, i/l readings, verb endings). */
  exact: boolean;
}

export interface TermMatcherOptions {
  /**
   * Ordinary words (lower case, already plain ASCII letters in practice). Fuzzy hits that touch one of
   * these, and substring hits inside one, are dropped. Without it the matcher is more aggressive.
   */
  benignWords?: ReadonlySet<string>;
}

interface CompiledTerm {
  bank: number;
  entry: TermEntry;
  mode: TermMode;
  /** Joined match key of the phrase. */
  joined: string;
  /** Concatenated exact forms of the phrase's words. */
  exact: string;
  /** Positions in `joined` where the phrase's words meet. */
  bounds: number[];
  /** For an exception: the index of the term it protects; -1 for a term. */
  owner: number;
  /** Regular inflections of `exact` (barred, barring, limes…), built on first need: hits on them are exact. */
  forms?: ReadonlySet<string>;
}

interface Reading {
  exact: string;
  key: string;
}

interface Variant extends Reading {
  /** Plural endings keep a hit exact; verb endings make it fuzzy. */
  plural: boolean;
}

// FNV-1a, 32 bits: cheap to extend one character at a time while keys grow token by token.
const FNV_OFFSET = 0x811c9dc5;
function fnv(h: number, s: string, from: number): number {
  for (let i = from; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Open-addressing set of 32-bit hashes; a false "yes" only costs a lookup, never a wrong match. */
class HashSet32 {
  private readonly slots: Uint32Array;
  private readonly mask: number;
  constructor(expected: number) {
    let size = 16;
    while (size < expected * 2) size *= 2;
    this.slots = new Uint32Array(size);
    this.mask = size - 1;
  }
  add(h: number): void {
    const v = h === 0 ? 1 : h;
    let i = Math.imul(v, 0x9e3779b1) >>> 0;
    for (;;) {
      const j = i & this.mask;
      const cur = this.slots[j] as number;
      if (cur === v) return;
      if (cur === 0) {
        this.slots[j] = v;
        return;
      }
      i = j + 1;
    }
  }
  has(h: number): boolean {
    const v = h === 0 ? 1 : h;
    let i = Math.imul(v, 0x9e3779b1) >>> 0;
    for (;;) {
      const j = i & this.mask;
      const cur = this.slots[j] as number;
      if (cur === v) return true;
      if (cur === 0) return false;
      i = j + 1;
    }
  }
}

/** Joined key, exact form and word boundaries of a normalized phrase. */
export function phraseKey(norm: NormalizedText): { joined: string; exact: string; bounds: number[] } {
  let joined = '';
  let exact = '';
  const bounds: number[] = [];
  norm.tokens.forEach((t, q) => {
    if (q > 0 && (norm.tokens[q - 1] as TextToken).gapAfter !== 'glue') bounds.push(joined.length);
    joined = appendKey(joined, t.key);
    exact += t.exact;
  });
  return { joined, exact, bounds };
}

const VOWELS = 'aeiou';

/** Short words ending consonant-vowel-consonant double the consonant: bar → barred, barring. */
function doublesFinal(w: string): boolean {
  const n = w.length;
  if (n < 3) return false;
  const [a, b, c] = [w[n - 3] as string, w[n - 2] as string, w[n - 1] as string];
  return !VOWELS.includes(a) && VOWELS.includes(b) && !VOWELS.includes(c) && !'wxy'.includes(c);
}

/**
 * Regular English inflections of a term's exact form, generated on the term side so that a word
 * that merely ends like one ("bared" = bare + d) is not taken for the term's ("barred").
 */
export function inflectionsOf(w: string): string[] {
  if (w.length < 3 || !/^[a-z]+$/.test(w)) return [];
  const out = new Set<string>();
  const consonantY = /[^aeiou]y$/.test(w);
  const sibilant = /(?:s|x|z|ch|sh)$/.test(w);
  out.add(consonantY ? `${w.slice(0, -1)}ies` : sibilant || w.endsWith('o') ? `${w}es` : `${w}s`);
  if (w.endsWith('o')) out.add(`${w}s`);
  const monosyllable = (w.match(/[aeiouy]+/g) ?? []).length <= 1;
  const stems: string[] = [];
  if (w.endsWith('e')) stems.push(w.slice(0, -1));
  else if (consonantY) stems.push(`${w.slice(0, -1)}i`);
  else if (doublesFinal(w)) {
    stems.push(w + (w.at(-1) as string));
    if (!monosyllable) stems.push(w);
  } else stems.push(w);
  for (const st of stems) {
    out.add(`${st}ed`);
    out.add(`${st}er`);
    out.add(`${st}ers`);
  }
  const ingStem = w.endsWith('ie') ? `${w.slice(0, -2)}y` : w.endsWith('e') && !w.endsWith('ee') ? w.slice(0, -1) : doublesFinal(w) ? w + (w.at(-1) as string) : w;
  out.add(`${ingStem}ing`);
  if (doublesFinal(w) && !monosyllable) out.add(`${w}ing`);
  return [...out];
}

/** Inflected readings of a word: plural endings, and -ed/-ing/-er forms (the latter count as fuzzy). */
function variantsOf(exact: string): Variant[] {
  const out: Variant[] = [];
  const n = exact.length;
  const add = (stem: string, plural: boolean): void => {
    if (stem.length >= 3) out.push({ exact: stem, key: keyOf(stem), plural });
  };
  if (n >= 4 && exact.endsWith('s') && !exact.endsWith('ss')) add(exact.slice(0, -1), true);
  if (n >= 5 && exact.endsWith('es') && /(?:s|x|z|ch|sh|o)$/.test(exact.slice(0, -2))) add(exact.slice(0, -2), true);
  if (n >= 5 && exact.endsWith('ies')) add(`${exact.slice(0, -3)}y`, true);
  if (n >= 5 && exact.endsWith('ed')) {
    add(exact.slice(0, -2), false);
    add(exact.slice(0, -1), false);
  }
  if (n >= 6 && exact.endsWith('ing')) {
    add(exact.slice(0, -3), false);
    add(`${exact.slice(0, -3)}e`, false);
  }
  if (n >= 5 && exact.endsWith('er')) add(exact.slice(0, -2), false);
  if (n >= 6 && exact.endsWith('ers')) add(exact.slice(0, -3), false);
  return out;
}

function readingsOf(t: TextToken): readonly Reading[] {
  return t.alts ? [t, ...t.alts] : [t];
}

/** Key stream for substring search: token keys, one space at whitespace, with original offsets. */
interface Stream {
  text: string;
  starts: number[];
  ends: number[];
  tok: number[];
}

function buildStream(norm: NormalizedText): Stream {
  let text = '';
  const starts: number[] = [];
  const ends: number[] = [];
  const tok: number[] = [];
  const { tokens, exStart, exEnd } = norm;
  tokens.forEach((t, q) => {
    const prev = tokens[q - 1];
    if (prev && prev.gapAfter === 'strong') {
      text += ' ';
      starts.push(prev.end);
      ends.push(t.start);
      tok.push(-1);
    }
    let p = t.exFrom;
    for (const ch of t.exact) {
      const last = text.length - 1;
      if (last >= 0 && text.endsWith(ch) && ch !== ' ' && /\p{L}/u.test(ch)) {
        // Collapsed repeat: the kept character's span grows over the dropped one.
        ends[ends.length - 1] = exEnd[p] as number;
      } else {
        text += ch;
        for (let u = 0; u < ch.length; u++) {
          starts.push(exStart[p] as number);
          ends.push(exEnd[p] as number);
          tok.push(q);
        }
      }
      p++;
    }
  });
  return { text, starts, ends, tok };
}

const keyIndexCache = new WeakMap<ReadonlySet<string>, ReadonlyMap<string, readonly string[]>>();

/** Benign words grouped by match key; cached per vocabulary, since every bank reload reuses it. */
function benignKeyIndex(words: ReadonlySet<string>): ReadonlyMap<string, readonly string[]> {
  const hit = keyIndexCache.get(words);
  if (hit) return hit;
  const map = new Map<string, string[]>();
  for (const w of words) {
    const k = keyOf(w);
    const list = map.get(k);
    if (list) list.push(w);
    else map.set(k, [w]);
  }
  keyIndexCache.set(words, map);
  return map;
}

/** One-letter words that may stand right before spelled-out letters ("a l i m e", "u r a c a t"). */
const ONE_LETTER_WORDS = new Set(['a', 'i', 'u', 'o']);

function startsAfterWordLetter(tokens: readonly TextToken[], i: number): boolean {
  // Only the first letter of a glued run can be a word on its own.
  const prev = tokens[i - 1] as TextToken;
  return ONE_LETTER_WORDS.has(prev.exact) && (i < 2 || (tokens[i - 2] as TextToken).gapAfter !== 'glue');
}

/** Lengths of the runs of equal characters ("goood" → [1, 3, 1]). */
function runsOf(word: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < word.length; i++) {
    if (i > 0 && word[i] === word[i - 1]) out[out.length - 1] = (out[out.length - 1] as number) + 1;
    else out.push(1);
  }
  return out;
}

/** Letters to drop from a stretched word to reach a candidate with the same key (Infinity if it cannot). */
function stretchDistance(word: readonly number[], candidate: readonly number[]): number {
  if (word.length !== candidate.length) return Infinity;
  let d = 0;
  for (let i = 0; i < word.length; i++) {
    const diff = (word[i] as number) - (candidate[i] as number);
    if (diff < 0) return Infinity;
    d += diff;
  }
  return d;
}

const MAX_SPAN_TOKENS = 64;
const MAX_STEPS_PER_START = 512;

export class TermMatcher {
  private readonly terms: CompiledTerm[] = [];
  private readonly index = new Map<string, number[]>();
  private readonly prefixes: HashSet32;
  private readonly maxLen: number;
  private readonly ac: AhoCorasick | undefined;
  private readonly acTerms: number[] = [];
  private readonly benign: ReadonlySet<string>;
  private readonly benignByKey: ReadonlyMap<string, readonly string[]>;
  /** Exact forms of the terms themselves: a listed word never counts as benign, whatever the dictionary says. */
  private readonly termExacts = new Set<string>();
  private readonly banks: ReadonlyArray<{ id: string; version: string }>;
  readonly termCount: number;

  constructor(banks: readonly TermBankData[], options: TermMatcherOptions = {}) {
    this.benign = options.benignWords ?? new Set();
    this.benignByKey = benignKeyIndex(this.benign);
    this.banks = banks.map((b) => ({ id: b.id, version: b.version }));
    const acKeys: string[] = [];
    let prefixCount = 0;
    banks.forEach((bank, b) => {
      for (const entry of bank.entries) {
        const mode = entry.mode ?? 'whole-word';
        const norm = normalizeText(entry.phrase);
        if (norm.tokens.length === 0) continue;
        const k = phraseKey(norm);
        const ti = this.terms.length;
        this.terms.push({ bank: b, entry, mode, ...k, owner: -1 });
        prefixCount += k.joined.length;
        if (mode === 'substring') {
          acKeys.push(buildStream(norm).text);
          this.acTerms.push(ti);
        }
        for (const ex of entry.exceptions ?? []) {
          const en = normalizeText(ex);
          if (en.tokens.length === 0) continue;
          const ek = phraseKey(en);
          this.terms.push({ bank: b, entry, mode: 'joined', ...ek, owner: ti });
          prefixCount += ek.joined.length;
        }
      }
    });
    this.termCount = this.terms.filter((t) => t.owner === -1).length;
    for (const t of this.terms) if (t.owner === -1) this.termExacts.add(t.exact);
    this.prefixes = new HashSet32(prefixCount + 1);
    let maxLen = 0;
    this.terms.forEach((t, ti) => {
      const list = this.index.get(t.joined);
      if (list) list.push(ti);
      else this.index.set(t.joined, [ti]);
      maxLen = Math.max(maxLen, t.joined.length);
      let h = FNV_OFFSET;
      for (let i = 0; i < t.joined.length; i++) {
        h = Math.imul(h ^ t.joined.charCodeAt(i), 0x01000193) >>> 0;
        this.prefixes.add(h);
      }
    });
    this.maxLen = maxLen;
    this.ac = acKeys.length > 0 ? new AhoCorasick(acKeys) : undefined;
  }

  /** Hits in the normalized text, deduplicated per term, in order of start. */
  match(norm: NormalizedText): TermHit[] {
    const raw: Array<{ ti: number; start: number; end: number; exact: boolean }> = [];
    const allow: Array<{ owner: number; start: number; end: number }> = [];
    const { tokens } = norm;
    const n = tokens.length;
    const path: string[] = [];
    const gapPos: number[] = [];
    const gapKind: GapKind[] = [];
    let steps = 0;

    const guardHit = (i: number, j: number, lastExact: string, termExact: string): boolean => {
      if (this.benign.size === 0) return false;
      for (let k = i; k <= j; k++) {
        const ex = k === j ? lastExact : (path[k - i] as string);
        if (ex.length < 2 || termExact.includes(ex)) continue;
        if (this.isBenign(ex)) return true;
        if (this.closerToBenign(ex, termExact)) return true;
      }
      return false;
    };

    const check = (key: string, exact: string, i: number, j: number, lastExact: string, fuzzyEnding: boolean, fullExact = exact): void => {
      const list = this.index.get(key);
      if (!list) return;
      for (const ti of list) {
        const term = this.terms[ti] as CompiledTerm;
        if (term.mode === 'whole-word' && !this.wordsAlign(term, gapPos, gapKind)) continue;
        const start = (tokens[i] as TextToken).start;
        const end = (tokens[j] as TextToken).end;
        if (term.owner >= 0) {
          allow.push({ owner: term.owner, start, end });
          continue;
        }
        // A verb ending is exact only when it is the term's own regular form ("barred", not "bared").
        const isExact = fuzzyEnding ? (term.forms ??= new Set(inflectionsOf(term.exact))).has(fullExact) : exact === term.exact;
        if (!isExact && guardHit(i, j, lastExact, term.exact)) continue;
        raw.push({ ti, start, end, exact: isExact });
      }
    };

    const extend = (i: number, j: number, key: string, exact: string, h: number): void => {
      const tok = tokens[j] as TextToken;
      for (const r of readingsOf(tok)) {
        if (++steps > MAX_STEPS_PER_START) return;
        const k2 = appendKey(key, r.key);
        const e2 = exact + r.exact;
        path[j - i] = r.exact;
        if (tok.gapAfter !== 'glue') {
          check(k2, e2, i, j, r.exact, false);
          // Endings are read off the whole span, so spelled-out plurals ("l i m e s") count too.
          for (const v of variantsOf(e2)) check(v.key, v.exact, i, j, r.exact, !v.plural, e2);
        }
        if (j + 1 >= n || j - i + 1 >= MAX_SPAN_TOKENS || k2.length >= this.maxLen) continue;
        const h2 = fnv(h, k2, key.length);
        if (!this.prefixes.has(h2)) continue;
        gapPos.push(k2.length);
        gapKind.push(tok.gapAfter);
        extend(i, j + 1, k2, e2, h2);
        gapPos.pop();
        gapKind.pop();
      }
    };

    for (let i = 0; i < n; i++) {
      if (i > 0 && (tokens[i - 1] as TextToken).gapAfter === 'glue' && !startsAfterWordLetter(tokens, i)) continue;
      steps = 0;
      extend(i, i, '', '', FNV_OFFSET);
    }
    if (this.ac) this.matchSubstrings(norm, raw);
    return this.finish(raw, allow);
  }

  /**
   * "goood" is a stretched "good" before it is a stretched "god": a stretched word is read as the
   * benign word it is closest to (fewest letters to drop) unless the term is strictly closer.
   */
  private closerToBenign(word: string, termExact: string): boolean {
    const key = keyOf(word);
    const twins = this.benignByKey.get(key);
    if (!twins) return false;
    const runs = runsOf(word);
    let best = Infinity;
    for (const w of twins) if (!this.termExacts.has(w) && !termExact.includes(w)) best = Math.min(best, stretchDistance(runs, runsOf(w)));
    if (best === Infinity) return false;
    let own = Infinity;
    for (let a = 0; a < termExact.length; a++) {
      for (let b = a + 1; b <= termExact.length; b++) {
        const part = termExact.slice(a, b);
        if (keyOf(part) === key) own = Math.min(own, stretchDistance(runs, runsOf(part)));
      }
    }
    return best <= own;
  }

  private isBenign(word: string): boolean {
    return this.benign.has(word) && !this.termExacts.has(word);
  }

  /** A whole-word term's word boundaries must fall on gaps, and no whitespace may fall inside its words. */
  private wordsAlign(term: CompiledTerm, gapPos: readonly number[], gapKind: readonly GapKind[]): boolean {
    for (const b of term.bounds) if (!gapPos.includes(b)) return false;
    for (let g = 0; g < gapPos.length; g++) if (gapKind[g] === 'strong' && !term.bounds.includes(gapPos[g] as number)) return false;
    return true;
  }

  private matchSubstrings(norm: NormalizedText, raw: Array<{ ti: number; start: number; end: number; exact: boolean }>): void {
    const ac = this.ac as AhoCorasick;
    const s = buildStream(norm);
    ac.search(s.text, (p, end) => {
      const from = end - (ac.lengths[p] as number);
      const ti = this.acTerms[p] as number;
      const term = this.terms[ti] as CompiledTerm;
      if (this.benign.size > 0) {
        let lastTok = -2;
        for (let k = from; k < end; k++) {
          const q = s.tok[k] as number;
          if (q < 0 || q === lastTok) continue;
          lastTok = q;
          // Digits at the edges are numbers, not letters: "applications99" is still "applications".
          const ex = (norm.tokens[q] as TextToken).exact.replace(/^\d+|\d+$/g, '');
          if (ex.length >= 2 && this.isBenign(ex) && !term.exact.includes(ex)) return;
        }
      }
      raw.push({ ti, start: s.starts[from] as number, end: s.ends[end - 1] as number, exact: false });
    });
  }

  private finish(raw: Array<{ ti: number; start: number; end: number; exact: boolean }>, allow: ReadonlyArray<{ owner: number; start: number; end: number }>): TermHit[] {
    raw.sort((a, b) => a.start - b.start || b.end - a.end || a.ti - b.ti);
    const kept: Array<{ ti: number; start: number; end: number; exact: boolean }> = [];
    for (const h of raw) {
      if (allow.some((a) => a.owner === h.ti && a.start <= h.start && h.end <= a.end)) continue;
      // One hit per term per stretch of text: the first, longest one wins.
      const dup = kept.find((k) => k.ti === h.ti && h.start < k.end && k.start < h.end);
      if (dup) {
        dup.exact ||= h.exact;
        continue;
      }
      kept.push(h);
    }
    return kept.map((h) => {
      const term = this.terms[h.ti] as CompiledTerm;
      const bank = this.banks[term.bank] as { id: string; version: string };
      return {
        bankId: bank.id,
        bankVersion: bank.version,
        termId: term.entry.id,
        category: term.entry.category,
        severity: term.entry.severity,
        mode: term.mode,
        start: h.start,
        end: h.end,
        exact: h.exact,
      };
    });
  }
}
