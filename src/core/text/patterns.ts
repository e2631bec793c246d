/**
 * Pattern rules: regular expressions the safety team writes for contact sharing, moves to other
 * platforms, age questions and similar risk patterns.
 *
 * They run on RE2 (compiled to WebAssembly by `re2-wasm`, so it installs anywhere without a native
 * build): matching time is linear in the text whatever the pattern, so a rule with nested quantifiers
 * such as `(a+)+$` cannot stall a worker. RE2 refuses what it cannot run in linear time
 * (backreferences, lookaround), and such rules are refused when loaded, as are rules that match the
 * empty string. Matching happens on the "light" normalized text — case folded, compatibility and
 * lookalike folded, invisible characters removed — but without leetspeak or joining, because digits
 * and punctuation carry the meaning in phone numbers, handles and ages.
 */
import { createHash } from 'node:crypto';
import { RE2 } from 're2-wasm';
import { z } from 'zod';
import { VigilError, type ErrorCode } from '../errors.js';
import { SEVERITIES, type Severity } from '../signals.js';
import type { LightText } from './normalize.js';
import { parseIdJsonl, type LineError } from './term-bank.js';

export interface PatternRule {
  id: string;
  /** RE2 syntax (JavaScript-like, without backreferences or lookaround). */
  pattern: string;
  category: string;
  severity: Severity;
  /** Any of i (ignore case: mostly moot, the text is case-folded), m (multi-line), s (dot matches newline). */
  flags?: string;
}

export interface PatternRuleSet {
  id: string;
  version: string;
  rules: PatternRule[];
}

export interface PatternHit {
  ruleSetId: string;
  ruleSetVersion: string;
  ruleId: string;
  category: string;
  severity: Severity;
  start: number;
  end: number;
}

const MAX_PATTERN_CHARS = 2000;
/** A rule that matches more often than this in one message has made its point. */
const MAX_HITS_PER_RULE = 32;

export const patternRuleSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit'),
  pattern: z.string().min(1).max(MAX_PATTERN_CHARS),
  category: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'must be 1-64 characters of a-z 0-9 _ . -'),
  severity: z.enum(SEVERITIES),
  flags: z
    .string()
    .regex(/^(?!.*(.).*\1)[ims]*$/, 'must be a combination of i, m and s')
    .optional(),
});

// RE2 objects live in WebAssembly memory that is never collected; reuse them across reloads.
const compiled = new Map<string, RE2>();

function compileRule(rule: PatternRule): RE2 {
  const flags = `gu${[...(rule.flags ?? '')].sort().join('')}`;
  const cacheKey = `${flags}/${rule.pattern}`;
  const hit = compiled.get(cacheKey);
  if (hit) return hit;
  let re: RE2;
  try {
    re = new RE2(rule.pattern, flags);
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : 'invalid';
    throw new VigilError(
      'PATTERN_UNSAFE',
      `pattern rule ${rule.id}: refused by the linear-time engine (${why}); backreferences and lookaround are not supported`,
    );
  }
  re.lastIndex = 0;
  if (re.exec('') !== null) throw new VigilError('PATTERN_UNSAFE', `pattern rule ${rule.id}: matches the empty string`);
  compiled.set(cacheKey, re);
  return re;
}

/** Validates a rule (schema and engine); returns an error that names fields, never text. */
export function parsePatternRule(value: unknown): { rule: PatternRule } | { error: string; code?: ErrorCode } {
  const r = patternRuleSchema.safeParse(value);
  if (!r.success) {
    return {
      error: r.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'rule'}: ${i.message}`)
        .join('; '),
    };
  }
  const rule: PatternRule = { id: r.data.id, pattern: r.data.pattern, category: r.data.category, severity: r.data.severity };
  if (r.data.flags) rule.flags = [...r.data.flags].sort().join('');
  try {
    compileRule(rule);
  } catch (err) {
    if (err instanceof VigilError) return { error: err.message, code: err.code };
    return { error: 'pattern: invalid' };
  }
  return { rule };
}

/** Parses JSONL pattern rules, one error per bad line (blank and `#` lines skipped). */
export function parsePatternLines(text: string): { rules: PatternRule[]; errors: LineError[] } {
  const { values, errors } = parseIdJsonl(text, (v) => {
    const r = parsePatternRule(v);
    return 'error' in r ? r : { value: r.rule };
  });
  return { rules: values, errors };
}

/** A rule set with a content version (sha256 of the canonical rules, first 16 hex digits). */
export function makePatternRuleSet(id: string, rules: readonly PatternRule[]): PatternRuleSet {
  const sorted = [...rules].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const canonical = sorted
    .map((r) => JSON.stringify({ id: r.id, pattern: r.pattern, category: r.category, severity: r.severity, ...(r.flags ? { flags: r.flags } : {}) }))
    .join('\n');
  return { id, version: createHash('sha256').update(canonical).digest('hex').slice(0, 16), rules: sorted };
}

/** Parses a JSONL rule file or throws PATTERN_UNSAFE / BANK_INVALID naming the bad lines. */
export function parsePatternJsonl(id: string, text: string): PatternRuleSet {
  const { rules, errors } = parsePatternLines(text);
  if (errors.length > 0) {
    const code = errors.some((e) => e.code === 'PATTERN_UNSAFE') ? 'PATTERN_UNSAFE' : 'BANK_INVALID';
    const shown = errors
      .slice(0, 5)
      .map((e) => `line ${e.line}: ${e.message}`)
      .join('; ');
    throw new VigilError(code, `pattern rules ${id}: ${shown}${errors.length > 5 ? ` (and ${errors.length - 5} more)` : ''}`);
  }
  return makePatternRuleSet(id, rules);
}

/** Compiled rules, ready to run on light-normalized text. */
export class PatternMatcher {
  private readonly rules: ReadonlyArray<{ rule: PatternRule; re: RE2 }>;
  constructor(readonly set: PatternRuleSet) {
    this.rules = set.rules.map((rule) => ({ rule, re: compileRule(rule) }));
  }

  match(light: LightText): PatternHit[] {
    const hits: PatternHit[] = [];
    if (light.text.length === 0) return hits;
    for (const { rule, re } of this.rules) {
      re.lastIndex = 0;
      for (let count = 0; count < MAX_HITS_PER_RULE; count++) {
        const m = re.exec(light.text);
        if (m === null) break;
        const len = (m[0] ?? '').length;
        if (len === 0) break;
        const from = m.index;
        hits.push({
          ruleSetId: this.set.id,
          ruleSetVersion: this.set.version,
          ruleId: rule.id,
          category: rule.category,
          severity: rule.severity,
          start: light.starts[from] as number,
          end: light.ends[from + len - 1] as number,
        });
      }
    }
    return hits;
  }
}
