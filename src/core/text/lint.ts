/**
 * Term bank lint: finds entries that would flag ordinary conversation before they reach a worker.
 *
 * Messages name terms by id and quote only benign vocabulary words, never phrases.
 */
import { AhoCorasick } from './aho-corasick.js';
import { keyOf, normalizeText } from './normalize.js';
import { ownFormsOf, phraseKey } from './matcher.js';
import { compileTextScanner } from './scanner.js';
import type { TermBankData, TermMode } from './term-bank.js';

export type LintLevel = 'error' | 'warning';

export type LintCode =
  | 'short-risky-mode'
  | 'duplicate-term'
  | 'common-word'
  | 'benign-lookalike'
  | 'benign-collision'
  | 'inside-benign-words'
  | 'splits-into-words'
  | 'typo-neighbours'
  | 'skeleton-neighbours'
  | 'exception-unrelated';

export interface LintIssue {
  level: LintLevel;
  termId: string;
  code: LintCode;
  message: string;
}

export interface LintOptions {
  /** The benign vocabulary (lower-case words). */
  benignWords: ReadonlySet<string>;
  /** Shortest key a substring-mode term may have. Default 5. */
  minSubstringLength?: number;
  /** Shortest key a joined-mode term may have. Default 4. */
  minJoinedLength?: number;
}

const EXAMPLES = 5;

function examples(words: readonly string[]): string {
  const shown = words.slice(0, EXAMPLES).join(', ');
  return words.length > EXAMPLES ? `${shown} and ${words.length - EXAMPLES} more` : shown;
}

/** Letters that one glyph may stand for, merged: i/l ("1", "|", "!"), b/g/q ("6", "9"). */
function skeletonOf(word: string): string {
  return word.replace(/l/g, 'i').replace(/[bq]/g, 'g');
}

function deletesOf(w: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < w.length; i++) out.push(w.slice(0, i) + w.slice(i + 1));
  return out;
}

/** One substitution, insertion, deletion or adjacent transposition apart. */
function oneEdit(a: string, b: string): boolean {
  if (a === b || Math.abs(a.length - b.length) > 1) return false;
  if (a.length === b.length) {
    const diff: number[] = [];
    for (let i = 0; i < a.length && diff.length <= 2; i++) if (a[i] !== b[i]) diff.push(i);
    if (diff.length === 1) return true;
    const [x, y] = diff as [number, number];
    return diff.length === 2 && y === x + 1 && a[x] === b[y] && a[y] === b[x];
  }
  const [s, l] = a.length < b.length ? [a, b] : [b, a];
  let i = 0;
  while (i < s.length && s[i] === l[i]) i++;
  return s.slice(i) === l.slice(i + 1);
}

function isPluralOf(word: string, exact: string): boolean {
  return word === `${exact}s` || word === `${exact}es` || (exact.endsWith('y') && word === `${exact.slice(0, -1)}ies`);
}

/** Lints one bank against a benign vocabulary; errors mean the bank should not be deployed. */
export function lintTermBank(bank: TermBankData, options: LintOptions): LintIssue[] {
  const issues: LintIssue[] = [];
  const minSub = options.minSubstringLength ?? 5;
  const minJoined = options.minJoinedLength ?? 4;
  const benign = options.benignWords;
  const byKey = new Map<string, string[]>();
  for (const w of benign) {
    const k = keyOf(w);
    const list = byKey.get(k);
    if (list) list.push(w);
    else byKey.set(k, [w]);
  }

  const compiled = bank.entries.map((e) => {
    const mode: TermMode = e.mode ?? 'whole-word';
    const norm = normalizeText(e.phrase);
    return { e, mode, words: norm.tokens.length, tokens: norm.tokens.map((t) => t.exact), ...phraseKey(norm) };
  });

  const seen = new Map<string, string>();
  for (const c of compiled) {
    const id = c.e.id;
    if (c.mode === 'substring' && c.joined.length < minSub) {
      issues.push({
        level: 'error',
        termId: id,
        code: 'short-risky-mode',
        message: `substring mode needs a normalized term of at least ${minSub} characters (this one has ${c.joined.length}); use whole-word`,
      });
    }
    if (c.mode === 'joined' && c.joined.length < minJoined) {
      issues.push({
        level: 'error',
        termId: id,
        code: 'short-risky-mode',
        message: `joined mode needs a normalized term of at least ${minJoined} characters (this one has ${c.joined.length}); use whole-word`,
      });
    }
    const dupKey = `${c.mode}\u0000${c.joined}\u0000${c.bounds.join(',')}`;
    const other = seen.get(dupKey);
    if (other !== undefined)
      issues.push({ level: 'warning', termId: id, code: 'duplicate-term', message: `normalizes to the same term as ${other}; only one of them is needed` });
    else seen.set(dupKey, id);

    if (c.words === 1 && benign.has(c.exact)) {
      issues.push({ level: 'warning', termId: id, code: 'common-word', message: 'is itself a common word: every ordinary use of it will match' });
    }
    const twins = (byKey.get(c.joined) ?? []).filter((w) => w !== c.exact && !isPluralOf(w, c.exact));
    if (twins.length > 0) {
      issues.push({
        level: 'warning',
        termId: id,
        code: 'benign-lookalike',
        message: `normalizes like benign words (${examples(twins)}); hits on them are dropped only while the benign vocabulary is loaded`,
      });
    }
    if (c.mode !== 'whole-word' && c.bounds.length === 0) {
      const splits: string[] = [];
      for (let p = 2; p <= c.exact.length - 2; p++) {
        const a = c.exact.slice(0, p);
        const b = c.exact.slice(p);
        if (benign.has(a) && benign.has(b)) splits.push(`${a} + ${b}`);
      }
      if (splits.length > 0) {
        issues.push({
          level: 'warning',
          termId: id,
          code: 'splits-into-words',
          message: `${c.mode} mode also matches ordinary words side by side (${examples(splits)})`,
        });
      }
    }
    for (const ex of c.e.exceptions ?? []) {
      const ek = phraseKey(normalizeText(ex));
      if (!ek.joined.includes(c.joined)) {
        issues.push({ level: 'warning', termId: id, code: 'exception-unrelated', message: 'an exception does not contain the term, so it can never apply' });
      }
    }
  }

  // Substring terms inside benign words: shielded at run time only while the vocabulary is loaded.
  const subs = compiled.filter((c) => c.mode === 'substring' && c.joined.length > 0);
  if (subs.length > 0) {
    const ac = new AhoCorasick(subs.map((c) => c.joined));
    const inside = subs.map(() => [] as string[]);
    for (const w of benign) {
      const k = keyOf(w);
      const found = new Set<number>();
      ac.search(k, (p) => found.add(p));
      for (const p of found) {
        const c = subs[p];
        if (c && w !== c.exact && !isPluralOf(w, c.exact)) inside[p]?.push(w);
      }
    }
    subs.forEach((c, p) => {
      const words = (inside[p] ?? []).sort();
      if (words.length > 0) {
        issues.push({
          level: 'warning',
          termId: c.e.id,
          code: 'inside-benign-words',
          message: `occurs inside ${words.length} benign words (${examples(words)}); hits inside them are dropped only while the benign vocabulary is loaded`,
        });
      }
    });
  }

  // Neighbourhoods: dictionary words one typo away from a long word of a term, and words that read the
  // same once ambiguous glyphs are allowed for (with "1" and "6" about, "bold" and "gold" look alike).
  // The matcher drops fuzzy hits on dictionary words, but a sender who types one of these is read as
  // the word, never as the term: worth knowing, and worth an exception when it is the term.
  const tokenLengths = new Set(compiled.flatMap((c) => c.tokens.map((w) => w.length)));
  const bySkeleton = new Map<string, string[]>();
  for (const w of benign) {
    if (!tokenLengths.has(w.length)) continue;
    const k = skeletonOf(w);
    const list = bySkeleton.get(k);
    if (list) list.push(w);
    else bySkeleton.set(k, [w]);
  }
  const deletions = new Map<string, string[]>();
  const longWords = new Set<string>();
  for (const c of compiled) for (const w of c.tokens) if (w.length >= 6) longWords.add(w);
  if (longWords.size > 0) {
    // Symmetric deletions: two words one edit apart share a deletion (or one is the other's deletion).
    const wanted = new Set<string>();
    for (const w of longWords) for (const d of [w, ...deletesOf(w)]) wanted.add(d);
    const lengths = [...longWords].map((w) => w.length);
    const [lo, hi] = [Math.min(...lengths) - 1, Math.max(...lengths) + 1];
    for (const w of benign) {
      if (w.length < lo || w.length > hi) continue;
      for (const d of [w, ...deletesOf(w)]) {
        if (!wanted.has(d)) continue;
        const list = deletions.get(d);
        if (list) list.push(w);
        else deletions.set(d, [w]);
      }
    }
  }
  for (const c of compiled) {
    const typo = new Set<string>();
    for (const w of c.tokens) {
      if (w.length < 6) continue;
      for (const d of [w, ...deletesOf(w)]) for (const b of deletions.get(d) ?? []) if (b !== w && !isPluralOf(b, w) && oneEdit(b, w)) typo.add(b);
    }
    if (typo.size > 0) {
      issues.push({
        level: 'warning',
        termId: c.e.id,
        code: 'typo-neighbours',
        message: `one typo away from common words (${examples([...typo].sort())}); such typos read as those words, not as the term`,
      });
    }
    const skel = new Set<string>();
    for (const w of c.tokens) for (const b of bySkeleton.get(skeletonOf(w)) ?? []) if (b !== w && !isPluralOf(b, w)) skel.add(b);
    if (skel.size > 0) {
      issues.push({
        level: 'warning',
        termId: c.e.id,
        code: 'skeleton-neighbours',
        message: `reads like common words once ambiguous glyphs are allowed for (${examples([...skel].sort())}); a glyph such as 1 or 6 may stand for either`,
      });
    }
  }

  // What still fires with every shield up: run the term's neighbourhood (words starting like it, its
  // typo and skeleton neighbours) through a scanner of this bank.
  const scanner = compileTextScanner([bank], undefined, { benignWords: benign });
  const exactById = new Map(compiled.map((c) => [c.e.id, c.exact]));
  const prefixes = new Set(compiled.map((c) => [...c.joined].slice(0, 3).join('')));
  const lengths = new Set([...prefixes].map((p) => p.length));
  const collisions = new Map<string, string[]>();
  for (const w of benign) {
    const k = keyOf(w);
    if (![...lengths].some((n) => prefixes.has(k.slice(0, n)))) continue;
    for (const m of scanner.scan(w)) {
      const exact = exactById.get(m.termId) ?? '';
      // A term's own plural and possessive are expected; anything else is news ("thi" → "this").
      if (w === exact || ownFormsOf([exact]).includes(w)) continue;
      const list = collisions.get(m.termId);
      if (list) list.push(w);
      else collisions.set(m.termId, [w]);
    }
  }
  for (const [termId, words] of collisions) {
    issues.push({
      level: 'warning',
      termId,
      code: 'benign-collision',
      message: `matches ordinary words even with the benign vocabulary loaded (${examples([...new Set(words)].sort())})`,
    });
  }
  return issues.sort((a, b) => (a.termId < b.termId ? -1 : a.termId > b.termId ? 1 : a.code < b.code ? -1 : 1));
}
