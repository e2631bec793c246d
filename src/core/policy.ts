/**
 * The safety team's policy: which signals become flags, with what category, severity and action, and
 * every matching threshold. `decide` is a pure, synchronous function of a scan report and a policy.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ACTIONS, type Action } from './contracts.js';
import { VigilError } from './errors.js';
import { SEVERITIES, SIGNAL_TYPES, type MediaOutcome, type Severity, type Signal, type SignalType, type TextOutcome } from './signals.js';

const severity = z.enum(SEVERITIES);
const glob = z.string().min(1).regex(/^[A-Za-z0-9._*-]+$/, 'bank globs use letters, digits, . _ - and *');
const category = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'categories are lowercase identifiers like "csam" or "grooming"');

const ruleSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'rule ids are identifiers'),
    match: z
      .strictObject({
        types: z.array(z.enum(SIGNAL_TYPES)).min(1).optional(),
        banks: z.array(glob).min(1).optional(),
        categories: z.array(category).min(1).optional(),
        minSeverity: severity.optional(),
      })
      .default({}),
    category: category.optional(),
    severity: severity.optional(),
    action: z.enum(ACTIONS),
  })
  .describe('A rule: signals it matches become flags with this category/severity/action; first matching rule wins.');

export const policySchema = z.strictObject({
  version: z.literal(1).describe('Policy file format version.'),
  thresholds: z
    .strictObject({
      pdq: z
        .strictObject({
          default: z.number().int().min(0).max(128).default(31),
          banks: z.record(glob, z.number().int().min(0).max(128)).default({}),
          minQuality: z.number().int().min(0).max(100).default(50),
          dihedral: z.boolean().default(true),
        })
        .default({ default: 31, banks: {}, minQuality: 50, dihedral: true }),
    })
    .default({ pdq: { default: 31, banks: {}, minQuality: 50, dihedral: true } }),
  rules: z.array(ruleSchema).min(1),
});

export type PolicyDocument = z.output<typeof policySchema>;
export type PolicyRule = PolicyDocument['rules'][number];

export interface Policy {
  readonly document: PolicyDocument;
  /** Content hash of the canonical policy, stamped on every flag as `policyVersion`. */
  readonly version: string;
}

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const ACTION_RANK: Record<Action, number> = { log: 0, review: 1, escalate: 2, remove_and_report: 3 };

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/** Validates a parsed policy document. Errors name the bad key path (e.g. `rules.2.action`). */
export function compilePolicy(raw: unknown, source = 'policy'): Policy {
  const result = policySchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.slice(0, 10).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new VigilError('POLICY_INVALID', `${source} is invalid:\n  ${lines.join('\n  ')}`);
  }
  const doc = result.data;
  const problems: string[] = [];
  const seen = new Set<string>();
  doc.rules.forEach((rule, i) => {
    if (seen.has(rule.id)) problems.push(`rules.${i}.id: duplicate rule id "${rule.id}"`);
    seen.add(rule.id);
    // Hash and classifier signals carry no severity of their own, so the rule must supply one.
    const types = rule.match.types ?? SIGNAL_TYPES;
    const needsSeverity = types.some((t) => t !== 'term' && t !== 'pattern');
    if (needsSeverity && !rule.severity) problems.push(`rules.${i}.severity: required, because rule "${rule.id}" can match ${types.filter((t) => t !== 'term' && t !== 'pattern').join('/')} signals, which carry no severity`);
    const needsCategory = types.some((t) => t !== 'term' && t !== 'pattern');
    if (needsCategory && !rule.category) problems.push(`rules.${i}.category: required, because rule "${rule.id}" can match signals that carry no category`);
  });
  if (problems.length) throw new VigilError('POLICY_INVALID', `${source} is invalid:\n  ${problems.join('\n  ')}`);
  const version = `sha256:${createHash('sha256').update(canonicalJson(doc)).digest('hex').slice(0, 16)}`;
  return Object.freeze({ document: deepFreeze(doc), version });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Compiled bank globs, shared by every policy version (globs are few; this runs per signal). */
const GLOBS = new Map<string, RegExp>();

function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  let re = GLOBS.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.]/g, '\\.')).join('.*')}$`);
    GLOBS.set(pattern, re);
  }
  return re.test(value);
}

/** PDQ radius for a bank: the most specific glob in thresholds.pdq.banks wins (exact id first). */
export function pdqThresholdFor(policy: Policy, bankId: string): number {
  const { banks, default: dflt } = policy.document.thresholds.pdq;
  if (banks[bankId] !== undefined) return banks[bankId];
  for (const [pattern, t] of Object.entries(banks)) if (globMatches(pattern, bankId)) return t;
  return dflt;
}

function ruleMatches(rule: PolicyRule, signal: Signal): boolean {
  const m = rule.match;
  if (m.types && !m.types.includes(signal.type)) return false;
  if (m.banks && !m.banks.some((b) => globMatches(b, signal.sourceId))) return false;
  if (m.categories && (!signal.category || !m.categories.includes(signal.category))) return false;
  if (m.minSeverity && (!signal.severity || SEVERITY_RANK[signal.severity] < SEVERITY_RANK[m.minSeverity])) return false;
  return true;
}

export interface ScanReport {
  eventId: string;
  signals: Signal[];
  /** Media items that could not be fully scanned, one entry per failure (each is dead-lettered). */
  mediaErrors: { mediaId: string; code: string; message: string; reason?: string; sourceId?: string }[];
  /** Text sources that failed on this event's text (each is dead-lettered); the media was still scanned. */
  textErrors?: { code: string; message: string; reason?: string; sourceId?: string }[];
  /** Per media item: what its bytes were and how completely it was scanned (in event order). */
  media?: MediaOutcome[];
  /** How completely the text was scanned (absent when the event has no text). */
  text?: TextOutcome;
  bankVersions: Record<string, string>;
  modelVersions: Record<string, string>;
}

export interface VerdictFlag {
  category: string;
  severity: Severity;
  action: Action;
  signals: Signal[];
}

export interface Verdict {
  flags: VerdictFlag[];
}

/**
 * One flag per category: reviewers work category queues, and one message can carry, say, a known
 * image and a grooming phrase that belong to different teams. Within a category the most severe
 * signal sets severity, and the strongest action wins.
 */
export function decide(report: ScanReport, policy: Policy): Verdict {
  const byCategory = new Map<string, VerdictFlag>();
  for (const signal of report.signals) {
    const rule = policy.document.rules.find((r) => ruleMatches(r, signal));
    if (!rule) continue;
    const cat = rule.category ?? signal.category;
    const sev = rule.severity ?? signal.severity;
    if (!cat || !sev) continue; // compilePolicy guarantees one of each for non-text signals
    const existing = byCategory.get(cat);
    if (!existing) {
      byCategory.set(cat, { category: cat, severity: sev, action: rule.action, signals: [signal] });
      continue;
    }
    existing.signals.push(signal);
    if (SEVERITY_RANK[sev] > SEVERITY_RANK[existing.severity]) existing.severity = sev;
    if (ACTION_RANK[rule.action] > ACTION_RANK[existing.action]) existing.action = rule.action;
  }
  return { flags: [...byCategory.values()].sort((a, b) => (a.category < b.category ? -1 : 1)) };
}

export function severityRank(s: Severity): number {
  return SEVERITY_RANK[s];
}

export type { SignalType };
