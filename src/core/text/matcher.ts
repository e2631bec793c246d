/**
 * Term matching over normalized text.
 *
 * Every term is stored in one trie over its match key (the phrase's letters without spaces, repeated
 * letters collapsed). From every word start in a message the trie is walked over the message's
 * characters, ignoring the gaps between tokens, so a term is found however its letters are split
 * ("pin eapple", "velvetteapot", "t e a p o t"), as long as the match starts and ends at word edges.
 * A message character carries a class of letters (normalize.ts: "1" is i or l, "6" is g or b), and the
 * walk follows every letter of the class, so ambiguous glyphs are matched on both sides without
 * guessing one reading. Along the walk a repeated letter may be skipped ("haaam"), a padding or plural
 * suffix may follow the term ("hamzz", "teapots"), and in words of six letters or more one typo
 * (substitution, insertion, deletion or adjacent transposition) is allowed. Each start has a fixed step
 * budget, so the work is linear in the message length whatever the list size. Substring-mode terms
 * additionally go through Aho–Corasick over a key stream of the message.
 *
 * Generous matching is held back by the benign vocabulary: a hit that needed any fuzzy step (repeats
 * beyond the term's own, a suffix other than the term's plural, a typo) is dropped when one of the words
 * it covers is an ordinary dictionary word ("hammer", "hamming", "settle" are not "ham" or "kettle"), or
 * when a stretched word reads more like another dictionary word ("goood" is good, not god). A split
 * term whose word is shorter than six letters is dropped when every piece is a dictionary word
 * ("to ad" is not "toad"). Per-term exceptions drop hits inside listed phrases.
 */
import type { Severity } from '../signals.js';
import { AhoCorasick } from './aho-corasick.js';
import { appendKey, keyOf, normalizeText, type NormalizedText, type TextToken } from './normalize.js';
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
  /** True when the hit needed no fuzzy step: its letters read as the term, its plural or possessive. */
  exact: boolean;
}

export interface TermMatcherOptions {
  /**
   * Ordinary words (lower case, already plain ASCII letters in practice). Fuzzy hits that touch one of
   * these, and substring hits inside one, are dropped. Without it the matcher is more aggressive.
   */
  benignWords?: ReadonlySet<string>;
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
    const chars = [...t.exact];
    const from = t.softHead ?? 0;
    const to = chars.length - (t.softTail ?? 0);
    chars.forEach((ch, c) => {
      if (c < from || c >= to) {
        p++;
        return;
      }
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
    });
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

/** Regular English plural of a word (the one ending that never makes a different word of a term). */
export function pluralOf(w: string): string {
  if (/[^aeiou]y$/.test(w)) return `${w.slice(0, -1)}ies`;
  if (/(?:s|x|z|ch|sh)$/.test(w)) return `${w}es`;
  return `${w}s`;
}

/** The term's own surface forms (concatenated words): itself, its plural, its possessive ("cat's" → "cats"). */
export function ownFormsOf(words: readonly string[]): string[] {
  const exact = words.join('');
  const last = words[words.length - 1] ?? '';
  return [...new Set([exact, exact.slice(0, exact.length - last.length) + pluralOf(last), `${exact}s`])];
}

/** Endings read after a term: plurals, padding and regular endings. Fuzzy unless they make the plural. */
const SUFFIXES = ['s', 'es', 'z', 'zz', 'x', 'xx', 'ies', 'ed', 'd', 'ing', 'in', 'er', 'ers', 'y', 'ie', 'ey', 'ish', 'h'];

/** Words shorter than this get no typo tolerance and may not be split into dictionary words. */
const LONG_WORD = 6;

interface CompiledTerm {
  bank: number;
  entry: TermEntry;
  mode: TermMode;
  /** Concatenated exact forms of the phrase's words. */
  exact: string;
  /** Exact forms of the phrase's words. */
  words: string[];
  /** Offsets in `exact` where a word ends (the last one is exact.length). */
  wordEnds: number[];
  /** Per key position (0..key length): 1 when it lies in a word of LONG_WORD letters or more. */
  longAt: Uint8Array;
  /** Own surface forms: exact, plural, possessive. */
  forms: ReadonlySet<string>;
  /** For an exception: the index of the term it protects; -1 for a term. */
  owner: number;
  /** Whether a word shorter than LONG_WORD has a doubled letter ("moss"). */
  shortDouble: boolean;
  /**
   * Per code point that `exact` doubles: its longest run there ("kettle": t 2); every other letter
   * runs 1. Longer runs in a reading are stretches. Undefined when nothing is doubled (most terms).
   */
  maxRun: ReadonlyMap<number, number> | undefined;
}

/** Open-addressing table of trie edges (node, symbol) → child, in typed arrays. */
class EdgeTable {
  private readonly nodes: Int32Array;
  private readonly syms: Int32Array;
  private readonly kids: Int32Array;
  private readonly mask: number;
  constructor(edges: ReadonlyArray<readonly [number, number, number]>) {
    let size = 16;
    while (size < edges.length * 2) size *= 2;
    this.nodes = new Int32Array(size).fill(-1);
    this.syms = new Int32Array(size);
    this.kids = new Int32Array(size);
    this.mask = size - 1;
    for (const [node, sym, kid] of edges) {
      let i = this.slot(node, sym);
      while (this.nodes[i] !== -1) i = (i + 1) & this.mask;
      this.nodes[i] = node;
      this.syms[i] = sym;
      this.kids[i] = kid;
    }
  }
  private slot(node: number, sym: number): number {
    return (Math.imul(node, 0x9e3779b1) ^ Math.imul(sym, 0x85ebca6b)) & this.mask;
  }
  get(node: number, sym: number): number {
    for (let i = this.slot(node, sym); ; i = (i + 1) & this.mask) {
      const n = this.nodes[i] as number;
      if (n === -1) return -1;
      if (n === node && this.syms[i] === sym) return this.kids[i] as number;
    }
  }
}

/** A trie frozen into typed arrays: children by hash (walks) and as sibling lists (typo branches). */
class Trie {
  readonly edges: EdgeTable;
  readonly firstChild: Int32Array;
  readonly nextSibling: Int32Array;
  readonly symOf: Int32Array;
  /** 1 where some term through the node allows a typo at this depth. */
  readonly editOk: Uint8Array;
  readonly depth: Int32Array;
  readonly terminal: Array<number[] | undefined>;
  readonly maxLen: number;
  /** Per node: bit s set when it has a child for letter s (bit 26: a child for another symbol). */
  readonly childMask: Int32Array;

  /** `keys[i]` is a symbol sequence ending at term `terms[i]`; `editAt(i, d)` says whether depth d allows a typo. */
  constructor(keys: ReadonlyArray<readonly number[]>, terms: readonly number[], editAt: (i: number, d: number) => boolean) {
    const first: number[] = [-1];
    const next: number[] = [-1];
    const sym: number[] = [-1];
    const editOk: number[] = [0];
    const depth: number[] = [0];
    const terminal: Array<number[] | undefined> = [undefined];
    const edges: Array<[number, number, number]> = [];
    let maxLen = 0;
    keys.forEach((syms, i) => {
      let node = ROOT;
      maxLen = Math.max(maxLen, syms.length);
      syms.forEach((sy, d) => {
        if (editAt(i, d)) editOk[node] = 1;
        // Sibling lists are short (at most the alphabet), so building needs no hash map.
        let kid = first[node] as number;
        while (kid >= 0 && sym[kid] !== sy) kid = next[kid] as number;
        if (kid < 0) {
          kid = first.length;
          first.push(-1);
          sym.push(sy);
          editOk.push(0);
          depth.push(d + 1);
          terminal.push(undefined);
          next.push(first[node] as number);
          first[node] = kid;
          edges.push([node, sy, kid]);
        }
        node = kid;
      });
      if (editAt(i, syms.length)) editOk[node] = 1;
      (terminal[node] ??= []).push(terms[i] as number);
    });
    this.edges = new EdgeTable(edges);
    this.firstChild = Int32Array.from(first);
    this.nextSibling = Int32Array.from(next);
    this.symOf = Int32Array.from(sym);
    this.editOk = Uint8Array.from(editOk);
    this.depth = Int32Array.from(depth);
    this.terminal = terminal;
    this.maxLen = maxLen;
    this.childMask = new Int32Array(first.length);
    for (const [node, sy] of edges) this.childMask[node] = (this.childMask[node] as number) | (sy < LETTERS ? 1 << sy : 1 << LETTERS);
  }
}

const ROOT = 0;
/** Symbols 0–25 are a–z; other code points in terms get ids from 26 on. */
const LETTERS = 26;
const MAX_STEPS_PER_START = 1024;
const MAX_SPAN_TOKENS = 64;

/** How a message character was read along a walk. */
const READ_EXACT = 0;
const READ_REPEAT = 1;
const READ_EDIT = 2;
const READ_SUFFIX = 3;

interface RawHit {
  ti: number;
  start: number;
  end: number;
  exact: boolean;
  /** Characters read other than as the term's own letters (typos, repeats, endings, soft edges). */
  cost: number;
}

/** Counters of the work done by the last `match` call (for the linear-time test). */
export interface MatchWork {
  steps: number;
  /** Characters fed to the substring automaton. */
  substringChars: number;
  /** Hits and exception spans visited while deduplicating. */
  finishOps: number;
}

export class TermMatcher {
  private readonly terms: CompiledTerm[] = [];
  private readonly main: Trie;
  /**
   * Keys without their first letter, for terms whose first word allows a typo: a wrong or missing first
   * letter is one walk here instead of one branch per letter at the root.
   */
  private readonly tail: Trie;
  private readonly symbols = new Map<number, number>();
  private readonly ac: AhoCorasick | undefined;
  private readonly acTerms: number[] = [];
  private readonly benign: ReadonlySet<string>;
  private readonly benignByKey: ReadonlyMap<string, readonly string[]>;
  /** UTF-16 length of the longest benign word. */
  private readonly longestBenign: number = 0;
  /** Exact forms of the terms' words: a listed word never counts as benign, whatever the dictionary says. */
  private readonly termWords = new Set<string>();
  private readonly banks: ReadonlyArray<{ id: string; version: string }>;
  readonly termCount: number;
  /** Work done by the last `match` call. */
  readonly work: MatchWork = { steps: 0, substringChars: 0, finishOps: 0 };

  constructor(banks: readonly TermBankData[], options: TermMatcherOptions = {}) {
    this.benign = options.benignWords ?? new Set();
    this.benignByKey = benignKeyIndex(this.benign);
    for (const w of this.benign) this.longestBenign = Math.max(this.longestBenign, w.length);
    this.banks = banks.map((b) => ({ id: b.id, version: b.version }));
    const acKeys: string[] = [];
    const keys: number[][] = [];
    const compile = (b: number, entry: TermEntry, mode: TermMode, phrase: string, owner: number): void => {
      const norm = normalizeText(phrase);
      if (norm.tokens.length === 0) return;
      // Spelled-out letters in a phrase ("t e a") are one word.
      const words: string[] = [];
      norm.tokens.forEach((t, q) => {
        if (q > 0 && (norm.tokens[q - 1] as TextToken).gapAfter === 'glue') words[words.length - 1] += t.exact;
        else words.push(t.exact);
      });
      let key = '';
      const longRanges: Array<[number, number]> = [];
      const wordEnds: number[] = [];
      let exactLen = 0;
      for (const w of words) {
        const from = [...key].length;
        key = appendKey(key, keyOf(w));
        exactLen += w.length;
        wordEnds.push(exactLen);
        if ([...w].length >= LONG_WORD) longRanges.push([from, [...key].length]);
      }
      const cps = [...key].map((c) => c.codePointAt(0) as number);
      const longAt = new Uint8Array(cps.length + 1);
      for (const [a, z] of longRanges) for (let d = a; d <= z; d++) longAt[d] = 1;
      const exact = words.join('');
      const shortDouble = words.some((w) => [...w].length < LONG_WORD && /(.)\1/u.test(w));
      let maxRun: Map<number, number> | undefined;
      for (let i = 1, run = 1; i < exact.length; i++) {
        run = exact[i] === exact[i - 1] ? run + 1 : 1;
        const c = exact.charCodeAt(i);
        if (run > 1 && run > ((maxRun ??= new Map()).get(c) ?? 1)) maxRun.set(c, run);
      }
      this.terms.push({ bank: b, entry, mode, exact, words, wordEnds, longAt, forms: new Set(ownFormsOf(words)), owner, shortDouble, maxRun });
      keys.push(cps);
      if (owner === -1 && mode === 'substring') {
        acKeys.push(buildStream(norm).text);
        this.acTerms.push(this.terms.length - 1);
      }
    };
    banks.forEach((bank, b) => {
      for (const entry of bank.entries) {
        const mode = entry.mode ?? 'whole-word';
        const ti = this.terms.length;
        compile(b, entry, mode, entry.phrase, -1);
        if (this.terms.length === ti) continue;
        for (const ex of entry.exceptions ?? []) compile(b, entry, 'joined', ex, ti);
      }
    });
    this.termCount = this.terms.filter((t) => t.owner === -1).length;
    for (const t of this.terms) if (t.owner === -1) for (const w of t.words) this.termWords.add(w);

    const syms = keys.map((cps) => cps.map((cp) => this.symbolOf(cp, true)));
    this.main = new Trie(
      syms,
      syms.map((_, ti) => ti),
      (ti, d) => (this.terms[ti] as CompiledTerm).longAt[d] === 1,
    );
    const tailOf: number[] = [];
    syms.forEach((k, ti) => {
      if (k.length >= 2 && (this.terms[ti] as CompiledTerm).longAt[0]) tailOf.push(ti);
    });
    this.tail = new Trie(
      tailOf.map((ti) => (syms[ti] as number[]).slice(1)),
      tailOf,
      () => false,
    );
    this.ac = acKeys.length > 0 ? new AhoCorasick(acKeys) : undefined;
  }

  private symbolOf(cp: number, create = false): number {
    if (cp >= 0x61 && cp <= 0x7a) return cp - 0x61;
    let s = this.symbols.get(cp);
    if (s === undefined && create) {
      s = LETTERS + this.symbols.size;
      if (s >= 4096) throw new Error('term alphabet too large');
      this.symbols.set(cp, s);
    }
    return s ?? -1;
  }

  private cpOfSymbol(s: number, fallback: number): number {
    if (s < LETTERS) return 0x61 + s;
    return fallback;
  }

  /** Hits in the normalized text, deduplicated per term, in order of start. */
  match(norm: NormalizedText): TermHit[] {
    const raw: RawHit[] = [];
    const allow: Array<{ owner: number; start: number; end: number }> = [];
    const { tokens, exStart, exEnd, exCp, exMask } = norm;
    const n = exCp.length;
    // Per character: its token, and the symbol of its own code point when that is not a–z.
    const tokOf = new Int32Array(n);
    const ownSym = new Int32Array(n);
    const softAt = new Uint8Array(n);
    // Tokens that are dictionary words: a typo inside one reads as that word, never as a term, so the
    // walk spends no typo branches there (which is most of ordinary chat).
    const benignTok = new Uint8Array(tokens.length);
    tokens.forEach((t, q) => {
      tokOf.fill(q, t.exFrom, t.exTo);
      // A token longer than every dictionary word is none (a soft edge character takes at most two
      // code units): long runs of letters skip the lookup, and the copy it needs.
      const soft = (t.softHead ?? 0) + (t.softTail ?? 0);
      if (this.benign.size > 0 && t.exact.length - 2 * soft <= this.longestBenign) {
        const chars = soft > 0 ? [...t.exact] : undefined;
        const word = chars ? chars.slice(t.softHead ?? 0, chars.length - (t.softTail ?? 0)).join('') : t.exact;
        if (word.length >= 2 && this.isBenign(word)) benignTok[q] = 1;
      }
      if (t.softHead) softAt.fill(1, t.exFrom, t.exFrom + t.softHead);
      if (t.softTail) softAt.fill(1, t.exTo - t.softTail, t.exTo);
    });
    for (let g = 0; g < n; g++) {
      const cp = exCp[g] as number;
      ownSym[g] = cp >= 0x61 && cp <= 0x7a ? -1 : this.symbolOf(cp);
    }
    const readCp = new Int32Array(n);
    const readKind = new Uint8Array(n);
    let steps = 0;
    let budget = 0;
    let gStart = 0;
    let edited = false;
    let editDepth = 0;
    let trie = this.main;
    // A match may end at a token's end (not inside a spelled-out run) or before its soft tail ("cat!").
    const wordEndAt = (g: number): boolean => {
      const t = tokens[tokOf[g - 1] as number] as TextToken;
      if (g < t.exTo) return g >= t.exTo - (t.softTail ?? 0);
      return g >= n || t.gapAfter !== 'glue';
    };

    const accept = (node: number, gEnd: number): void => {
      for (const ti of trie.terminal[node] as number[]) {
        const term = this.terms[ti] as CompiledTerm;
        if (edited && !term.longAt[editDepth]) continue;
        const start = exStart[gStart] as number;
        // Soft punctuation read only as repeats or endings ("owl!!") is not part of the span.
        let last = gEnd - 1;
        while (last > gStart && softAt[last] && (readKind[last] as number) !== READ_EXACT) last--;
        const end = exEnd[last] as number;
        if (term.owner >= 0) {
          allow.push({ owner: term.owner, start, end });
          continue;
        }
        const verdict = this.judge(term, tokOf, readCp, readKind, gStart, gEnd, edited);
        if (verdict === undefined) continue;
        let cost = edited ? 2 : 0;
        for (let g = gStart; g < gEnd; g++) if (readKind[g] !== READ_EXACT || softAt[g]) cost++;
        raw.push({ ti, start, end, exact: verdict, cost });
      }
    };

    const trySuffixes = (node: number, g: number): void => {
      for (const sfx of SUFFIXES) {
        let j = 0;
        let h = g;
        while (h < n && tokOf[h] === tokOf[g - 1]) {
          const m = exMask[h] as number;
          const want = sfx.charCodeAt(j) - 0x61;
          if (j < sfx.length && m & (1 << want)) j++;
          else if (j > 0 && m & (1 << (sfx.charCodeAt(j - 1) - 0x61))) {
            // Repeated suffix letters ("hamzzz").
          } else break;
          readCp[h] = sfx.charCodeAt(Math.max(0, j - 1));
          readKind[h] = READ_SUFFIX;
          h++;
          if (j === sfx.length && wordEndAt(h)) {
            accept(node, h);
            break;
          }
        }
      }
    };

    /**
     * A walk's step onto `node` before character g: counted against the budget, and a place where a
     * term may end (or take an ending). False when the walk stops here: budget spent, or the span too long.
     */
    const arrive = (node: number, g: number): boolean => {
      if (++budget > MAX_STEPS_PER_START) return false;
      steps++;
      if (trie.terminal[node] !== undefined && g > gStart) {
        if (wordEndAt(g)) accept(node, g);
        else trySuffixes(node, g);
      }
      return g >= n || (tokOf[g] as number) - (tokOf[gStart] as number) < MAX_SPAN_TOKENS;
    };

    /**
     * After a repeat at g - 1 where no term ends and nothing else could be read: the run's next
     * characters (the same letters, `m`, and symbol, `own`) can only be more repeats, so they are read
     * in one stride, each still a step of the budget. The position after them, or -1 when the budget
     * ran out.
     */
    const moreRepeats = (g: number, m: number, own: number): number => {
      const letter = readCp[g - 1] as number;
      while (g < n && exMask[g] === m && ownSym[g] === own && (tokOf[g] as number) - (tokOf[gStart] as number) < MAX_SPAN_TOKENS) {
        if (++budget > MAX_STEPS_PER_START) return -1;
        steps++;
        readCp[g] = letter;
        readKind[g] = READ_REPEAT;
        g++;
      }
      return g;
    };

    // After the typo: only the term's letters and their repeats. The moves `walk` makes once `edited`
    // is set, in the same order, in a smaller loop whose last move is its next turn rather than a call:
    // nearly all of a long message's steps come after a typo.
    const walkEdited = (node: number, g: number, prev: number): void => {
      for (;;) {
        if (!arrive(node, g) || g >= n) return;
        const m = exMask[g] as number;
        const own = ownSym[g] as number;
        const kids = trie.childMask[node] as number;
        let bits = m & kids;
        if (prev >= 0 && prev < LETTERS) bits &= ~(1 << prev);
        const ownKid = own >= 0 && own !== prev && (kids & (1 << LETTERS)) !== 0;
        if (prev >= 0 && ((prev < LETTERS && m & (1 << prev)) || own === prev)) {
          readCp[g] = this.cpOfSymbol(prev, exCp[g] as number);
          readKind[g] = READ_REPEAT;
          if (bits === 0 && !ownKid) {
            g = trie.terminal[node] === undefined ? moreRepeats(g + 1, m, own) : g + 1;
            if (g < 0) return;
            continue;
          }
          walkEdited(node, g + 1, prev);
        }
        let next = -1;
        let nextSym = -1;
        for (; bits !== 0; bits &= bits - 1) {
          const s = 31 - Math.clz32(bits & -bits);
          const kid = trie.edges.get(node, s);
          if (kid < 0) continue;
          if (next >= 0) {
            readCp[g] = 0x61 + nextSym;
            readKind[g] = READ_EXACT;
            walkEdited(next, g + 1, nextSym);
          }
          next = kid;
          nextSym = s;
        }
        let cp = 0x61 + nextSym;
        if (ownKid) {
          const kid = trie.edges.get(node, own);
          if (kid >= 0) {
            if (next >= 0) {
              readCp[g] = cp;
              readKind[g] = READ_EXACT;
              walkEdited(next, g + 1, nextSym);
            }
            next = kid;
            nextSym = own;
            cp = exCp[g] as number;
          }
        }
        if (next < 0) return;
        readCp[g] = cp;
        readKind[g] = READ_EXACT;
        node = next;
        prev = nextSym;
        g++;
      }
    };

    const walk = (node: number, g: number, prev: number): void => {
      let m: number;
      let own: number;
      // A repeated letter where the walk can do nothing else (no typo is allowed here) is the next turn
      // of this loop rather than a call.
      for (;;) {
        if (!arrive(node, g)) return;
        m = g < n ? (exMask[g] as number) : 0;
        own = g < n ? (ownSym[g] as number) : -1;
        // A repeated letter ("haaam", "kettttle") stays on the same node.
        if (g < n && prev >= 0 && ((prev < LETTERS && m & (1 << prev)) || own === prev)) {
          readCp[g] = this.cpOfSymbol(prev, exCp[g] as number);
          readKind[g] = READ_REPEAT;
          if (m === 1 << prev && own < 0 && !trie.editOk[node]) {
            g = trie.terminal[node] === undefined ? moreRepeats(g + 1, m, own) : g + 1;
            if (g < 0) return;
            continue;
          }
          walk(node, g + 1, prev);
        }
        break;
      }
      const kids = trie.childMask[node] as number;
      for (let bits = m & kids; bits !== 0; bits &= bits - 1) {
        const s = 31 - Math.clz32(bits & -bits);
        if (s === prev) continue;
        const kid = trie.edges.get(node, s);
        if (kid < 0) continue;
        readCp[g] = 0x61 + s;
        readKind[g] = READ_EXACT;
        walk(kid, g + 1, s);
      }
      if (own >= 0 && own !== prev && kids & (1 << LETTERS)) {
        const kid = trie.edges.get(node, own);
        if (kid >= 0) {
          readCp[g] = exCp[g] as number;
          readKind[g] = READ_EXACT;
          walk(kid, g + 1, own);
        }
      }
      // (`walk` only ever runs before the typo: after it, `walkEdited` does.)
      if (!trie.editOk[node]) return;
      const benignHere = g >= n || benignTok[tokOf[g] as number] === 1;
      if (benignHere && (g === gStart || benignTok[tokOf[g - 1] as number] === 1)) return;
      // One typo: the term's letter replaced, missing, doubled by another, or swapped with the next.
      edited = true;
      editDepth = trie.depth[node] as number;
      // Soft characters ("(", "!" at a word's edge) are read as they are or not at all, never as a typo;
      // an extra letter in front of the word would make the match start inside a word ("apurplekettle").
      const hard = g < n && !softAt[g] && !benignHere;
      // Around repeated letters many typo branches only retrace states that another branch reaches with
      // a reading the benign checks treat the same way (the same letters, runs as long): those are
      // skipped, as stretched words made the walk several times longer:
      // - an extra letter that repeats the one before or the one after is read as that repeat instead;
      // - a wrong letter that repeats the one before, or comes just before the same letter again
      //   ("kxete" read in "keete"), is the letter missing after, or before, the run;
      // - a letter missing inside a run reads the same one character earlier: only after the run's first
      //   letter does the walk branch.
      const tok = g < n ? (tokOf[g] as number) : -1;
      const single = m !== 0 && (m & (m - 1)) === 0;
      const afterSame = g > gStart && prev >= 0 && prev < LETTERS && m === 1 << prev && tokOf[g - 1] === tok;
      const beforeSame = single && g + 1 < n && exMask[g + 1] === m && tokOf[g + 1] === tok && !softAt[g + 1];
      const missingRetraced = afterSame && readKind[g - 1] === READ_REPEAT && !softAt[g - 1];
      if (hard && g > gStart) {
        readCp[g] = exCp[g] as number;
        readKind[g] = READ_EDIT;
        if (!afterSame && !beforeSame) walkEdited(node, g + 1, prev);
        // Repeats of an extra letter stay extra too ("kettttle" with a stray t).
        const extra = m !== 0 ? 31 - Math.clz32(m & -m) : own;
        if (extra !== prev) walkEdited(node, g + 1, extra);
      }
      if (node === ROOT) {
        // A wrong or missing first letter: the rest of the message against the keys' tails.
        trie = this.tail;
        if (hard) {
          readCp[g] = exCp[g] as number;
          readKind[g] = READ_EDIT;
          walkEdited(ROOT, g + 1, -1);
        }
        walkEdited(ROOT, g, -1);
        trie = this.main;
      }
      for (let kid = node === ROOT ? -1 : (trie.firstChild[node] as number); kid >= 0; kid = trie.nextSibling[kid] as number) {
        const s = trie.symOf[kid] as number;
        if (s === prev) continue;
        // (A first letter replaced by the letter that follows it is an extra letter in front: not a typo.)
        // Only branch where the walk can go on: the next character has a child (or the term ends here).
        const grand = trie.childMask[kid] as number;
        const ends = trie.terminal[kid] !== undefined;
        if (
          hard &&
          !afterSame &&
          !beforeSame &&
          !(s < LETTERS && m & (1 << s)) &&
          s !== own &&
          !(g === gStart && g + 1 < n && s < LETTERS && (exMask[g + 1] as number) & (1 << s))
        ) {
          if (ends || (g + 1 < n && (grand & ((exMask[g + 1] as number) | (1 << LETTERS))) !== 0)) {
            // What is written, not the term's letter: "settle" must read as settle for the benign check.
            readCp[g] = exCp[g] as number;
            readKind[g] = READ_EDIT;
            walkEdited(kid, g + 1, s);
          }
        }
        if (!missingRetraced && (ends || (g < n && (grand & (m | (1 << LETTERS))) !== 0))) walkEdited(kid, g, s);
      }
      if (hard && g + 1 < n && !softAt[g + 1]) {
        const m1 = exMask[g + 1] as number;
        for (let bits = m1; bits !== 0; bits &= bits - 1) {
          const s1 = 31 - Math.clz32(bits & -bits);
          const k1 = trie.edges.get(node, s1);
          if (k1 < 0) continue;
          for (let b0 = m; b0 !== 0; b0 &= b0 - 1) {
            const s0 = 31 - Math.clz32(b0 & -b0);
            if (s0 === s1) continue;
            const k2 = trie.edges.get(k1, s0);
            if (k2 < 0) continue;
            readCp[g] = 0x61 + s0;
            readCp[g + 1] = 0x61 + s1;
            readKind[g] = READ_EDIT;
            readKind[g + 1] = READ_EDIT;
            // Repeats after the swap repeat the message's last letter.
            walkEdited(k2, g + 2, s1);
          }
        }
      }
      edited = false;
    };

    for (let i = 0; i < tokens.length; i++) {
      if (i > 0 && (tokens[i - 1] as TextToken).gapAfter === 'glue' && !startsAfterWordLetter(tokens, i)) continue;
      const tok = tokens[i] as TextToken;
      if (tok.exTo <= tok.exFrom) continue;
      // A soft head ("@cat", "#ham") may be part of the word or not: start on both sides of it.
      for (let h = 0; h <= (tok.softHead ?? 0) && tok.exFrom + h < tok.exTo; h++) {
        gStart = tok.exFrom + h;
        budget = 0;
        edited = false;
        walk(ROOT, gStart, -1);
      }
    }
    this.work.steps = steps;
    this.work.substringChars = 0;
    this.work.finishOps = 0;
    if (this.ac) this.matchSubstrings(norm, raw);
    return this.finish(raw, allow);
  }

  /**
   * Whether a walk's reading of the message is a hit: true (exact: the term, its plural or possessive),
   * false (fuzzy but accepted) or undefined (dropped, because it reads as ordinary words).
   */
  private judge(
    term: CompiledTerm,
    tokOf: Int32Array,
    readCp: Int32Array,
    readKind: Uint8Array,
    gStart: number,
    gEnd: number,
    edited: boolean,
  ): boolean | undefined {
    const pieces: Array<{ text: string; from: number; fuzzy: boolean; stretched: boolean; suffixed: boolean }> = [];
    let full = '';
    let cur = { text: '', from: 0, fuzzy: false, stretched: false, suffixed: false };
    // A piece is stretched where a letter read as a repeat (or written again as the one extra letter)
    // runs longer than the term itself has it: "kettttle" is stretched, the tt of "kettle" + "es" is not.
    let runCp = -1;
    let runLen = 0;
    let runRead = false;
    const closeRun = (): void => {
      if (runRead && runLen > (term.maxRun?.get(runCp) ?? 1)) cur.stretched = true;
    };
    for (let g = gStart; g < gEnd; g++) {
      const cp = readCp[g] as number;
      const kind = readKind[g] as number;
      if (g > gStart && tokOf[g] !== tokOf[g - 1]) {
        closeRun();
        pieces.push(cur);
        cur = { text: '', from: full.length, fuzzy: false, stretched: false, suffixed: false };
        runCp = -1;
      }
      if (cp === runCp) {
        runLen++;
        if (kind === READ_REPEAT || kind === READ_EDIT) runRead = true;
      } else {
        closeRun();
        runCp = cp;
        runLen = 1;
        runRead = kind === READ_REPEAT || kind === READ_EDIT;
      }
      const c = String.fromCodePoint(cp);
      cur.text += c;
      full += c;
      if (kind === READ_EDIT || kind === READ_SUFFIX) cur.fuzzy = true;
      if (kind === READ_SUFFIX) cur.suffixed = true;
    }
    closeRun();
    pieces.push(cur);
    const exact = !edited && term.forms.has(full);
    // A doubled letter read once ("mos" for "moss") is a typo: only words of LONG_WORD letters may have one.
    let core = 0;
    for (let g = gStart; g < gEnd; g++) if (readKind[g] !== READ_SUFFIX) core++;
    if (!edited && core < term.exact.length && term.shortDouble) return undefined;
    if (this.benign.size === 0) return exact;
    if (pieces.length > 1) {
      // A short word split into ordinary words is those words ("to ad"), not the term.
      let ws = 0;
      for (let w = 0; w < term.words.length; w++) {
        const we = term.wordEnds[w] as number;
        if (we - ws < LONG_WORD) {
          const inside = pieces.filter((p) => p.from < we && p.from + p.text.length > ws);
          if (inside.length > 1 && inside.every((p) => p.text.length >= 2 && this.isBenign(p.text))) return undefined;
        }
        ws = we;
      }
    }
    if (exact) return true;
    for (const p of pieces) {
      // Offsets drift after a typo or a stretch, so a clean piece is any part of the term as written.
      const clean = !p.fuzzy && term.exact.includes(p.text);
      if (clean) continue;
      if (p.text.length >= 2 && (this.isBenign(p.text) || (p.suffixed && this.isBenignWithEnding(p.text)))) return undefined;
      if (p.stretched && this.closerToBenign(p.text, term.exact)) return undefined;
    }
    return false;
  }

  /**
   * "goood" is a stretched "good" before it is a stretched "god": a stretched word is read as the
   * benign word it is closest to (fewest letters to drop) when that is strictly closer than the term.
   */
  private closerToBenign(word: string, termExact: string): boolean {
    const key = keyOf(word);
    const twins = this.benignByKey.get(key);
    if (!twins) return false;
    const runs = runsOf(word);
    let best = Infinity;
    for (const w of twins) if (!this.termWords.has(w) && !termExact.includes(w)) best = Math.min(best, stretchDistance(runs, runsOf(w)));
    if (best === Infinity) return false;
    let own = Infinity;
    for (let a = 0; a < termExact.length; a++) {
      for (let b = a + 1; b <= termExact.length; b++) {
        const part = termExact.slice(a, b);
        if (keyOf(part) === key) own = Math.min(own, stretchDistance(runs, runsOf(part)));
      }
    }
    return best < own;
  }

  /** A dictionary word with a plural or possessive ending read as padding ("nickles's" reads "nicklesss"). */
  private isBenignWithEnding(word: string): boolean {
    for (const cut of [1, 2]) {
      const bare = word.slice(0, -cut);
      if (word.slice(-cut) === 's'.repeat(cut) && bare.length >= 2 && this.isBenign(bare)) return true;
    }
    return false;
  }

  private isBenign(word: string): boolean {
    return this.benign.has(word) && !this.termWords.has(word);
  }

  private matchSubstrings(norm: NormalizedText, raw: RawHit[]): void {
    const ac = this.ac as AhoCorasick;
    const s = buildStream(norm);
    this.work.substringChars = s.text.length;
    // A token's word without soft edges, once per token (a long token may hold many hits).
    const words = new Map<number, string>();
    const wordOf = (q: number): string => {
      let w = words.get(q);
      if (w === undefined) {
        const t = norm.tokens[q] as TextToken;
        const chars = [...t.exact];
        // Digits at the edges are numbers, not letters: "applications99" is still "applications".
        w = chars
          .slice(t.softHead ?? 0, chars.length - (t.softTail ?? 0))
          .join('')
          .replace(/^\d+|\d+$/g, '');
        words.set(q, w);
      }
      return w;
    };
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
          const ex = wordOf(q);
          if (ex.length >= 2 && this.isBenign(ex) && !term.exact.includes(ex)) return;
        }
      }
      raw.push({ ti, start: s.starts[from] as number, end: s.ends[end - 1] as number, exact: false, cost: 0 });
    });
  }

  /**
   * Drops hits inside exceptions and keeps one hit per term per stretch of overlapping hits (the one
   * read with the fewest fuzzy characters). One sort, then one pass: per term only the current stretch
   * can overlap the next hit, and per exception owner a sweep keeps the furthest end of the
   * exceptions started so far.
   */
  private finish(raw: RawHit[], allow: ReadonlyArray<{ owner: number; start: number; end: number }>): TermHit[] {
    raw.sort((a, b) => a.start - b.start || b.end - a.end || a.ti - b.ti);
    const allowBy = new Map<number, { list: Array<{ start: number; end: number }>; i: number; maxEnd: number }>();
    for (const a of allow) {
      const e = allowBy.get(a.owner) ?? { list: [], i: 0, maxEnd: -1 };
      e.list.push(a);
      allowBy.set(a.owner, e);
    }
    for (const e of allowBy.values()) e.list.sort((x, y) => x.start - y.start);
    const kept: RawHit[] = [];
    // Per term: the kept hit of the current stretch and the furthest end of the hits in it.
    const stretch = new Map<number, { at: number; end: number }>();
    for (const h of raw) {
      this.work.finishOps++;
      const a = allowBy.get(h.ti);
      if (a) {
        while (a.i < a.list.length && (a.list[a.i] as { start: number }).start <= h.start) {
          this.work.finishOps++;
          a.maxEnd = Math.max(a.maxEnd, (a.list[a.i++] as { end: number }).end);
        }
        if (a.maxEnd >= h.end) continue;
      }
      const cur = stretch.get(h.ti);
      if (cur && h.start < cur.end) {
        // One hit per term per stretch: the best reading (exact first, then fewest fuzzy characters).
        const best = kept[cur.at] as RawHit;
        cur.end = Math.max(cur.end, h.end);
        if ((h.exact && !best.exact) || (h.exact === best.exact && h.cost < best.cost)) kept[cur.at] = { ...h, exact: h.exact || best.exact };
        else best.exact ||= h.exact;
        continue;
      }
      stretch.set(h.ti, { at: kept.length, end: h.end });
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
