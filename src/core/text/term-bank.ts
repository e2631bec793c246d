/**
 * Term banks: the safety team's word and phrase lists. One entry per JSONL line:
 * `{id, phrase, category, severity, locale?, mode?, exceptions?}`.
 *
 * Errors name the line and the field, never the phrase: a bank can hold sensitive vocabulary, and
 * the same parser may one day see a message pasted by mistake.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { VigilError, type ErrorCode } from '../errors.js';
import { SEVERITIES, type Severity } from '../signals.js';
import { normalizeText } from './normalize.js';

/**
 * - `whole-word` (default): the phrase's words, each matched as a whole word; separators inside a word
 *   and spelled-out letters are tolerated ("tea-pot", "t e a p o t").
 * - `joined`: also across word boundaries and glued together ("velvetteapot", "vel vet tea pot"), as long
 *   as the match starts and ends at word edges.
 * - `substring`: anywhere, even inside other words (opt-in; benign dictionary words are shielded).
 */
export const TERM_MODES = ['whole-word', 'joined', 'substring'] as const;
export type TermMode = (typeof TERM_MODES)[number];

const TERM_ID = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit');
const BANK_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const termEntrySchema = z.strictObject({
  id: TERM_ID,
  phrase: z.string().min(1).max(256),
  category: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'must be 1-64 characters of a-z 0-9 _ . -'),
  severity: z.enum(SEVERITIES),
  locale: z
    .string()
    .regex(/^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$/, 'must be a BCP 47 tag like en or pt-BR')
    .optional(),
  mode: z.enum(TERM_MODES).optional(),
  /** Phrases in which a hit on this term is benign; a hit inside one of them is dropped. */
  exceptions: z.array(z.string().min(1).max(256)).max(100).optional(),
});

export interface TermEntry {
  id: string;
  phrase: string;
  category: string;
  severity: Severity;
  locale?: string;
  mode?: TermMode;
  exceptions?: string[];
}

/** A bank as held in memory and in stores. `version` is a content hash of the canonical entries. */
export interface TermBankData {
  id: string;
  version: string;
  entries: TermEntry[];
}

export interface LineError {
  line: number;
  message: string;
  /** The typed reason when it is not plain invalid input (e.g. PATTERN_UNSAFE), so callers never read the message. */
  code?: ErrorCode;
}

/** Entry with defaults filled in and keys in a fixed order, so equal content serializes equally. */
export function canonicalEntry(e: TermEntry): TermEntry {
  const out: TermEntry = { id: e.id, phrase: e.phrase.normalize('NFC'), category: e.category, severity: e.severity };
  if (e.locale !== undefined) out.locale = e.locale;
  out.mode = e.mode ?? 'whole-word';
  if (e.exceptions !== undefined && e.exceptions.length > 0) out.exceptions = [...new Set(e.exceptions.map((x) => x.normalize('NFC')))].sort();
  return out;
}

/** Canonical JSONL: canonical entries sorted by id, one per line. */
export function canonicalJsonl(entries: readonly TermEntry[]): string {
  return [...entries]
    .map(canonicalEntry)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((e) => JSON.stringify(e))
    .join('\n')
    .concat(entries.length > 0 ? '\n' : '');
}

/** sha256 of the canonical JSONL, first 16 hex digits: identical content gives an identical version. */
export function termBankVersion(entries: readonly TermEntry[]): string {
  return createHash('sha256').update(canonicalJsonl(entries)).digest('hex').slice(0, 16);
}

function describeIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'entry'}: ${i.message}`)
    .join('; ');
}

/** Parses one entry; returns an error message that names fields, never values. */
export function parseTermEntry(value: unknown): { entry: TermEntry } | { error: string } {
  const r = termEntrySchema.safeParse(value);
  if (!r.success) return { error: describeIssues(r.error) };
  const e = r.data as TermEntry;
  if (normalizeText(e.phrase).tokens.length === 0) return { error: 'phrase: has no letters or digits after normalization' };
  if (e.exceptions?.some((x) => normalizeText(x).tokens.length === 0))
    return { error: 'exceptions: an exception has no letters or digits after normalization' };
  return { entry: canonicalEntry(e) };
}

/**
 * Parses JSONL records with ids, one error per bad line (blank lines and lines starting with `#` are
 * skipped; a duplicate id is an error on the later line). Shared by term banks and pattern rules.
 */
export function parseIdJsonl<T extends { id: string }>(
  text: string,
  parseOne: (value: unknown) => { value: T } | { error: string; code?: ErrorCode },
): { values: T[]; errors: LineError[] } {
  const values: T[] = [];
  const errors: LineError[] = [];
  const seen = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      // JSON.parse messages quote the input; say only where.
      errors.push({ line, message: 'not valid JSON' });
      return;
    }
    const r = parseOne(json);
    if ('error' in r) {
      errors.push({ line, message: r.error, ...(r.code ? { code: r.code } : {}) });
      return;
    }
    const first = seen.get(r.value.id);
    if (first !== undefined) {
      errors.push({ line, message: `id: duplicate of line ${first}` });
      return;
    }
    seen.set(r.value.id, line);
    values.push(r.value);
  });
  return { values, errors };
}

/** Parses JSONL text into term entries, collecting one error per bad line. */
export function parseTermLines(text: string): { entries: TermEntry[]; errors: LineError[] } {
  const { values, errors } = parseIdJsonl(text, (v) => {
    const r = parseTermEntry(v);
    return 'error' in r ? r : { value: r.entry };
  });
  return { entries: values, errors };
}

/** Builds a bank from entries, computing its content version. */
export function makeTermBank(id: string, entries: readonly TermEntry[]): TermBankData {
  if (!BANK_ID.test(id)) throw new VigilError('BANK_INVALID', 'bank id must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');
  const canonical = [...entries].map(canonicalEntry).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { id, version: termBankVersion(canonical), entries: canonical };
}

/** Parses a whole JSONL bank or throws BANK_INVALID naming the bad lines (at most five). */
export function parseTermBankJsonl(id: string, text: string): TermBankData {
  const { entries, errors } = parseTermLines(text);
  if (errors.length > 0) {
    const shown = errors
      .slice(0, 5)
      .map((e) => `line ${e.line}: ${e.message}`)
      .join('; ');
    const more = errors.length > 5 ? ` (and ${errors.length - 5} more)` : '';
    throw new VigilError('BANK_INVALID', `term bank ${id}: ${shown}${more}`);
  }
  return makeTermBank(id, entries);
}
