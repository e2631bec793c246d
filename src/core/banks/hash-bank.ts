/**
 * Hash banks: the safety team's lists of known-bad (block) or known-benign (allow) media hashes.
 * Parsing of the python-threatexchange / HMA file convention (`TYPE VALUE` per line) lives here so
 * every importer (files, CLI, Redis) shares it.
 */
import { createHash } from 'node:crypto';
import { VigilError } from '../errors.js';
import { HASH_TYPES, type HashType } from '../signals.js';

export type BankKind = 'block' | 'allow';

export interface HashBankEntry {
  type: HashType;
  /** Lowercase hex. */
  value: string;
  /** Stable entry id reported as evidence; defaults to `TYPE:VALUE` prefix. */
  id: string;
}

export interface HashBankData {
  id: string;
  /** Content hash of the entries, or a store-assigned version. */
  version: string;
  kind: BankKind;
  enabled: boolean;
  entries: HashBankEntry[];
}

const HEX_LENGTH: Record<HashType, number> = { md5: 32, sha1: 40, sha256: 64, pdq: 64 };
const ENTRY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const BANK_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function validateBankId(id: string): string {
  if (!BANK_ID.test(id))
    throw new VigilError('BANK_INVALID', `bank id "${id}" must be 1-64 lowercase letters, digits, . _ - (starting with a letter or digit)`);
  return id;
}

/** Checks one hash value; returns it lowercased. */
export function normalizeHash(type: HashType, value: string): string {
  const v = value.toLowerCase();
  if (v.length !== HEX_LENGTH[type] || !/^[0-9a-f]+$/.test(v))
    throw new VigilError('BANK_INVALID', `${type} hash must be ${HEX_LENGTH[type]} hex digits (got ${v.length} characters)`);
  return v;
}

export function defaultEntryId(type: HashType, value: string): string {
  return `${type}:${value.slice(0, 16)}`;
}

export function isHashType(t: string): t is HashType {
  return (HASH_TYPES as readonly string[]).includes(t);
}

/**
 * Parses `TYPE VALUE [ID]` lines (the python-threatexchange convention, plus an optional entry id).
 * Blank lines and `#` comments are skipped. Errors name the line number; all bad lines are reported.
 */
export function parseHashBankText(text: string, source: string): HashBankEntry[] {
  const entries: HashBankEntry[] = [];
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [type, value, id, ...rest] = line.split(/\s+/);
    try {
      if (rest.length) throw new VigilError('BANK_INVALID', 'expected "TYPE VALUE [ID]"');
      if (!type || !isHashType(type.toLowerCase()))
        throw new VigilError('BANK_INVALID', `unknown hash type "${type ?? ''}" (expected ${HASH_TYPES.join(', ')})`);
      const t = type.toLowerCase() as HashType;
      if (!value) throw new VigilError('BANK_INVALID', 'missing hash value');
      const v = normalizeHash(t, value);
      if (id !== undefined && !ENTRY_ID.test(id)) throw new VigilError('BANK_INVALID', 'entry id must be 1-128 characters of letters, digits, . _ : -');
      entries.push({ type: t, value: v, id: id ?? defaultEntryId(t, v) });
    } catch (err) {
      problems.push(`${source}:${i + 1}: ${(err as Error).message}`);
    }
  });
  if (problems.length) {
    const more = problems.length > 10 ? `\n  … and ${problems.length - 10} more` : '';
    throw new VigilError('BANK_INVALID', `${problems.length} bad line(s):\n  ${problems.slice(0, 10).join('\n  ')}${more}`);
  }
  return entries;
}

/** Content version: identical entries give an identical version, whatever their order. */
export function contentVersion(entries: readonly HashBankEntry[]): string {
  const h = createHash('sha256');
  for (const line of entries.map((e) => `${e.type} ${e.value} ${e.id}`).sort()) h.update(line).update('\n');
  return `sha256:${h.digest('hex').slice(0, 16)}`;
}
