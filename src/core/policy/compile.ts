/**
 * Turns a parsed policy document into the immutable compiled `Policy` every job reads: validated,
 * v1 translated, globs compiled, thresholds ordered by specificity, content-hashed. A worker swaps
 * one compiled object for another by reference, so no job ever sees half a policy.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { VigilError } from '../errors.js';
import { SIGNAL_TYPES, type SignalType } from '../signals.js';
import { policyV2Schema, translateV1, type Condition, type PolicyDocument, type PolicyRule } from './schema.js';

export interface Policy {
  readonly document: PolicyDocument;
  /** Content hash of the canonical (v2) document, stamped on every flag as `policyVersion`. */
  readonly version: string;
  /** The policy store's version number (1, 2, …) when the policy came from the store. */
  readonly revision?: number;
  /** Format of the file as written (1 files are translated to 2). */
  readonly sourceFormat: 1 | 2;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const V1_KEYS: Record<string, string> = { type: 'types', source: 'banks', category: 'categories', minSeverity: 'minSeverity' };

/** Errors on a translated v1 file name the key the author wrote (`rules.0.match.types`). */
function v1Path(path: readonly PropertyKey[]): PropertyKey[] {
  if (path[0] === 'rules' && path[2] === 'when' && path[3] === 'signal' && typeof path[4] === 'string')
    return ['rules', path[1] as PropertyKey, 'match', V1_KEYS[path[4]] ?? path[4], ...path.slice(5)];
  return [...path];
}

function issueLines(error: z.ZodError, mapPath: (p: readonly PropertyKey[]) => PropertyKey[] = (p) => [...p]): string[] {
  const lines = error.issues.slice(0, 10).map((i) => `${mapPath(i.path).map(String).join('.') || '(root)'}: ${i.message}`);
  if (error.issues.length > 10) lines.push(`… and ${error.issues.length - 10} more`);
  return lines;
}

/** Glob specificity: more literal characters first, then fewer wildcards, then by text (deterministic). */
export function compareGlobSpecificity(a: string, b: string): number {
  const literal = (g: string) => g.replace(/\*/g, '').length;
  const stars = (g: string) => g.length - literal(g);
  return literal(b) - literal(a) || stars(a) - stars(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Positive signal predicates (not under `not`) reachable in a condition, and whether any exists. */
function positiveSignalTypes(c: Condition, negated = false, out: { types: Set<SignalType>; any: boolean } = { types: new Set(), any: false }) {
  if (c.all) for (const x of c.all) positiveSignalTypes(x, negated, out);
  if (c.any) for (const x of c.any) positiveSignalTypes(x, negated, out);
  if (c.not) positiveSignalTypes(c.not, !negated, out);
  if (c.signal && !negated) {
    out.any = true;
    const t = c.signal.type;
    for (const type of t === undefined ? SIGNAL_TYPES : Array.isArray(t) ? t : [t]) out.types.add(type);
  }
  return out;
}

function checkRules(rules: readonly PolicyRule[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  rules.forEach((rule, i) => {
    if (seen.has(rule.id)) problems.push(`rules.${i}.id: duplicate rule id "${rule.id}"`);
    seen.add(rule.id);
    const reach = positiveSignalTypes(rule.when);
    if (!reach.any) problems.push(`rules.${i}.when: needs at least one signal condition outside "not" (a flag must carry evidence)`);
    // Hash and classifier signals carry no severity or category of their own, so the rule must supply them.
    const bare = [...reach.types].filter((t) => t !== 'term' && t !== 'pattern');
    if (bare.length && !rule.severity)
      problems.push(`rules.${i}.severity: required, because rule "${rule.id}" can match ${bare.join('/')} signals, which carry no severity`);
    if (bare.length && !rule.category)
      problems.push(`rules.${i}.category: required, because rule "${rule.id}" can match ${bare.join('/')} signals, which carry no category`);
  });
  return problems;
}

/**
 * Validates and compiles a parsed policy document (`version: 1` or `2`). Errors are POLICY_INVALID and
 * name the bad key path (e.g. `rules.2.when.any.0.signal.maxDistance`).
 */
export function compilePolicy(raw: unknown, source = 'policy', options: { revision?: number } = {}): Policy {
  const declared = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>).version : undefined;
  let input = raw;
  let format: 1 | 2 = 2;
  let mapPath: ((p: readonly PropertyKey[]) => PropertyKey[]) | undefined;
  if (declared === 1) {
    const t = translateV1(raw);
    if (!t.ok) throw new VigilError('POLICY_INVALID', `${source} is invalid:\n  ${issueLines(t.error).join('\n  ')}`);
    input = t.value;
    format = 1;
    mapPath = v1Path;
  } else if (declared !== 2) {
    throw new VigilError(
      'POLICY_INVALID',
      `${source} is invalid:\n  version: must be 2 (or 1, the previous format, which is translated), got ${JSON.stringify(declared ?? null)}`,
    );
  }
  const result = policyV2Schema.safeParse(input);
  if (!result.success) throw new VigilError('POLICY_INVALID', `${source} is invalid:\n  ${issueLines(result.error, mapPath).join('\n  ')}`);
  const doc = result.data;
  const problems = checkRules(doc.rules);
  if (problems.length) throw new VigilError('POLICY_INVALID', `${source} is invalid:\n  ${problems.join('\n  ')}`);
  const version = `sha256:${createHash('sha256').update(canonicalJson(doc)).digest('hex').slice(0, 16)}`;
  return deepFreeze({
    document: doc,
    version,
    sourceFormat: format,
    ...(options.revision !== undefined ? { revision: options.revision } : {}),
  });
}

/** Compiled globs, shared by every policy version (globs are few; matching runs per signal). */
const GLOBS = new Map<string, RegExp>();

export function globMatches(pattern: string, value: string, caseInsensitive = false): boolean {
  if (!pattern.includes('*')) return caseInsensitive ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  const key = `${caseInsensitive ? 'i' : 's'}${pattern}`;
  let re = GLOBS.get(key);
  if (!re) {
    re = new RegExp(
      `^${pattern
        .split('*')
        .map((p) => p.replace(/[.]/g, '\\.'))
        .join('.*')}$`,
      caseInsensitive ? 'i' : '',
    );
    GLOBS.set(key, re);
  }
  return re.test(value);
}

/** Each per-bank table's globs, most specific first; tables are frozen with their policy, so compiled once. */
const sortedGlobs = new WeakMap<object, readonly [string, unknown][]>();

/**
 * A per-bank setting (`thresholds.pdq.banks`, `thresholds.pdq.dihedral.banks`). Precedence: an exact
 * bank id, else the most specific matching glob (most literal characters; ties: fewer `*`, then
 * alphabetical), else `fallback`. Order in the file never matters.
 */
function perBank<T>(banks: Readonly<Record<string, T>>, bankId: string, fallback: T): T {
  const exact = banks[bankId];
  if (exact !== undefined) return exact;
  let globs = sortedGlobs.get(banks);
  if (!globs) sortedGlobs.set(banks, (globs = Object.entries(banks).sort(([a], [b]) => compareGlobSpecificity(a, b))));
  const hit = globs.find(([pattern]) => globMatches(pattern, bankId));
  return hit ? (hit[1] as T) : fallback;
}

const thresholdCache = new WeakMap<Policy, Map<string, number>>();

/** PDQ radius for a bank: `thresholds.pdq.banks` by `perBank`'s precedence, else `thresholds.pdq.default`. */
export function pdqThresholdFor(policy: Policy, bankId: string): number {
  let cache = thresholdCache.get(policy);
  if (!cache) thresholdCache.set(policy, (cache = new Map()));
  const hit = cache.get(bankId);
  if (hit !== undefined) return hit;
  const { banks, default: fallback } = policy.document.thresholds.pdq;
  const t = perBank(banks, bankId, fallback);
  if (cache.size < 10_000) cache.set(bankId, t);
  return t;
}

/** Whether PDQ matches against `bankId` also try the 7 other dihedral variants (`thresholds.pdq.dihedral`). */
export function dihedralFor(policy: Policy, bankId: string): boolean {
  const setting = policy.document.thresholds.pdq.dihedral;
  return typeof setting === 'boolean' ? setting : perBank(setting.banks, bankId, setting.default);
}

/** Whether any bank may want dihedral variants: only then are the 7 extra hashes computed. */
export function dihedralAny(policy: Policy): boolean {
  const setting = policy.document.thresholds.pdq.dihedral;
  return typeof setting === 'boolean' ? setting : setting.default || Object.values(setting.banks).some(Boolean);
}
