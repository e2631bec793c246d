/**
 * The text scanner the worker and `vigil text` share: term banks plus pattern rules behind the
 * `TextScanner` port. Pattern hits come back as `TextMatch` with `mode: "pattern"`, the rule set as
 * `bankId`/`bankVersion` and the rule id as `termId`.
 */
import { DEFAULT_LIMITS } from '../contracts.js';
import { VigilError } from '../errors.js';
import type { TextMatch, TextScanner } from '../ports.js';
import { TermMatcher } from './matcher.js';
import { normalizeText, normalizedDisplay, type NormalizedText } from './normalize.js';
import { PatternMatcher, type PatternRuleSet } from './patterns.js';
import type { TermBankData } from './term-bank.js';

export interface TextScannerOptions {
  /** Benign vocabulary that shields fuzzy and substring hits (see matcher.ts). Strongly recommended. */
  benignWords?: ReadonlySet<string>;
  /** Longer texts are refused with TEXT_TOO_LARGE (UTF-16 code units). Default 65,536. */
  maxTextChars?: number;
}

export interface TextScanResult {
  matches: TextMatch[];
  /** Human-readable normalized text (words the matcher saw). Message content: never log it. */
  normalized: string;
}

/**
 * The event contract's text limit (VIGIL_MAX_TEXT_BYTES' default), so a text that parses is never
 * refused here; the worker passes the configured limit. UTF-16 units never outnumber UTF-8 bytes.
 */
export const DEFAULT_MAX_TEXT_CHARS = DEFAULT_LIMITS.maxTextBytes;

export class CompiledTextScanner implements TextScanner {
  private readonly terms: TermMatcher;
  private readonly patterns: PatternMatcher | undefined;
  private readonly versionMap: Record<string, string>;
  private readonly maxTextChars: number;

  constructor(banks: readonly TermBankData[], patterns?: PatternRuleSet, options: TextScannerOptions = {}) {
    const ids = new Set<string>();
    for (const id of [...banks.map((b) => b.id), ...(patterns ? [patterns.id] : [])]) {
      if (ids.has(id)) throw new VigilError('BANK_INVALID', `text scanner: bank or rule set id ${id} is used twice`);
      ids.add(id);
    }
    this.terms = new TermMatcher(banks, options.benignWords ? { benignWords: options.benignWords } : {});
    this.patterns = patterns ? new PatternMatcher(patterns) : undefined;
    this.versionMap = Object.fromEntries([...banks.map((b) => [b.id, b.version] as const), ...(patterns ? [[patterns.id, patterns.version] as const] : [])]);
    this.maxTextChars = options.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
  }

  scan(text: string): TextMatch[] {
    return this.#match(text).matches;
  }

  /** Matches plus the normalized text, for the offline CLI (the worker's scan never builds the display string). */
  explain(text: string): TextScanResult {
    const { matches, norm } = this.#match(text);
    return { matches, normalized: normalizedDisplay(norm) };
  }

  #match(text: string): { matches: TextMatch[]; norm: NormalizedText } {
    if (text.length > this.maxTextChars) throw new VigilError('TEXT_TOO_LARGE', `text is ${text.length} UTF-16 units, limit ${this.maxTextChars}`);
    const norm = normalizeText(text);
    const matches: TextMatch[] = this.terms.match(norm).map((h) => ({
      bankId: h.bankId,
      bankVersion: h.bankVersion,
      termId: h.termId,
      category: h.category,
      severity: h.severity,
      mode: h.mode,
      start: h.start,
      end: h.end,
    }));
    if (this.patterns) {
      for (const p of this.patterns.match(norm.light())) {
        matches.push({
          bankId: p.ruleSetId,
          bankVersion: p.ruleSetVersion,
          termId: p.ruleId,
          category: p.category,
          severity: p.severity,
          mode: 'pattern',
          start: p.start,
          end: p.end,
        });
      }
      matches.sort((a, b) => a.start - b.start || a.end - b.end || (a.termId < b.termId ? -1 : a.termId > b.termId ? 1 : 0));
    }
    return { matches, norm };
  }

  versions(): Record<string, string> {
    return { ...this.versionMap };
  }

  /** Number of terms compiled (exceptions not counted). */
  get termCount(): number {
    return this.terms.termCount;
  }
}

/**
 * Compiles term banks and optional pattern rules into a scanner. Pure and synchronous; a worker builds
 * a new one when a bank version changes and swaps it in.
 */
export function compileTextScanner(banks: readonly TermBankData[], patterns?: PatternRuleSet, options?: TextScannerOptions): CompiledTextScanner {
  return new CompiledTextScanner(banks, patterns, options);
}
