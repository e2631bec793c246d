/**
 * The policy document, version 2: what the safety team writes (YAML), validated by one zod schema so
 * that every error names its exact key path (`rules.3.when.all.1.signal.maxDistance`). Version 1 files
 * are translated to version 2 before validation, so they keep working unchanged.
 * See docs/policy.md for the reference of every key.
 */
import { z } from 'zod';
import { ACTIONS, PRIORITIES } from '../contracts.js';
import { SEVERITIES, SIGNAL_TYPES } from '../signals.js';
import { TERM_MODES } from '../text/term-bank.js';

const severity = z.enum(SEVERITIES);
const glob = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._*:-]+$/, 'globs use letters, digits, . _ - : and *');
const category = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'categories are lowercase identifiers like "csam" or "grooming"');
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]);
const ruleId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'rule ids are identifiers: letters, digits, . _ - (at most 64)');

/** Matches one signal of the scan report. Every key given must hold (they combine with AND). */
export const signalPredicateSchema = z.strictObject({
  type: oneOrMany(z.enum(SIGNAL_TYPES)).optional().describe('Signal type(s): md5, sha1, sha256, pdq, term, pattern, classifier.'),
  source: oneOrMany(glob).optional().describe('Bank, term list or model id glob(s) ("ncmec-*").'),
  entry: oneOrMany(glob).optional().describe('Bank entry, term or pattern id glob(s).'),
  category: oneOrMany(category).optional().describe('Category carried by the signal itself (term lists carry one).'),
  minSeverity: severity.optional().describe('Severity carried by the signal is at least this.'),
  maxDistance: z.number().int().min(0).max(256).optional().describe('Hash distance at most this (exact hashes have distance 0).'),
  label: oneOrMany(z.string().min(1).max(64)).optional().describe('Classifier label(s).'),
  minScore: z.number().min(0).max(1).optional().describe('Classifier score at least this.'),
  termMode: oneOrMany(z.enum([...TERM_MODES, 'pattern']))
    .optional()
    .describe('How a text entry matched: whole-word, joined, substring, or pattern.'),
});

/** Conditions on the event rather than its signals. */
export const contextPredicateSchema = z.strictObject({
  priority: oneOrMany(z.enum(PRIORITIES)).optional().describe('Event priority: report, normal, backfill.'),
  reported: z.boolean().optional().describe('true: the event carries a user report (context.reportId) or has priority report.'),
  locale: oneOrMany(glob).optional().describe('context.locale glob(s), case-insensitive ("pt-*").'),
});

const scalar = z.union([z.string().max(256), z.number(), z.boolean()]);

/** A condition on one value of `context.accountSignals` (free-form keys agreed with the ingest team). */
export const accountPredicateSchema = z
  .strictObject({
    key: z.string().min(1).max(64).describe('The accountSignals key, e.g. recipientAgeBand.'),
    equals: scalar.optional(),
    in: z.array(scalar).min(1).optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    gt: z.number().optional(),
    gte: z.number().optional(),
    exists: z.boolean().optional(),
  })
  .refine((a) => ['equals', 'in', 'lt', 'lte', 'gt', 'gte', 'exists'].some((k) => k in a), 'needs one of equals, in, lt, lte, gt, gte, exists');

export type SignalPredicate = z.output<typeof signalPredicateSchema>;
export type ContextPredicate = z.output<typeof contextPredicateSchema>;
export type AccountPredicate = z.output<typeof accountPredicateSchema>;

/** Exactly one key: all / any / not combine conditions; signal / context / account are leaves. */
export interface Condition {
  all?: Condition[] | undefined;
  any?: Condition[] | undefined;
  not?: Condition | undefined;
  signal?: SignalPredicate | undefined;
  context?: ContextPredicate | undefined;
  account?: AccountPredicate | undefined;
}

const CONDITION_KEYS = ['all', 'any', 'not', 'signal', 'context', 'account'] as const;

export const conditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z
    .strictObject({
      all: z.array(conditionSchema).min(1).optional(),
      any: z.array(conditionSchema).min(1).optional(),
      not: conditionSchema.optional(),
      signal: signalPredicateSchema.optional(),
      context: contextPredicateSchema.optional(),
      account: accountPredicateSchema.optional(),
    })
    .refine((c) => CONDITION_KEYS.filter((k) => c[k] !== undefined).length === 1, `a condition has exactly one of ${CONDITION_KEYS.join(', ')}`),
);

export const RULE_STATUSES = ['live', 'shadow', 'disabled'] as const;
export type RuleStatus = (typeof RULE_STATUSES)[number];

const ruleSchema = z.strictObject({
  id: ruleId,
  description: z.string().max(500).optional(),
  status: z.enum(RULE_STATUSES).default('live').describe('live: acts; shadow: evaluated and compared with live, never flags; disabled: skipped.'),
  rollout: z.number().min(0).max(100).default(100).describe('Percent of conversations the rule applies to, by a stable hash of conversationId.'),
  when: conditionSchema.describe('When the rule fires.'),
  category: category.optional().describe('Flag category; default: the category carried by each evidence signal.'),
  severity: severity.optional().describe('Flag severity; default: the severity carried by each evidence signal.'),
  action: z.enum(ACTIONS),
  dailyCap: z.number().int().min(0).optional().describe('Automated actions (escalate, remove_and_report) per UTC day; beyond it the rule acts as review.'),
});

const pdqDefaults = { default: 31, banks: {}, minQuality: 50, dihedral: true };

const classifierCascade = z.strictObject({
  run: z.enum(['always', 'unmatched', 'never']).describe('always; unmatched: only media (or text) with no hash (term/pattern) match; never.'),
  when: conditionSchema.optional().describe('Also required: a condition on the event and the signals found so far.'),
  sampleRate: z.number().min(0).max(1).default(1).describe('Fraction of otherwise eligible items classified, by a stable hash of eventId (and media id).'),
});

export const CASCADE_DEFAULTS = {
  image: { run: 'unmatched', sampleRate: 1 },
  text: { run: 'always', sampleRate: 1 },
} as const;

export const policyV2Schema = z.strictObject({
  version: z.literal(2).describe('Policy format version.'),
  description: z.string().max(2000).optional(),
  thresholds: z
    .strictObject({
      pdq: z
        .strictObject({
          default: z.number().int().min(0).max(256).default(31),
          banks: z.record(glob, z.number().int().min(0).max(256)).default({}),
          minQuality: z.number().int().min(0).max(100).default(50),
          dihedral: z
            .union([
              z.boolean(),
              z.strictObject({
                default: z.boolean().default(true).describe('For banks no entry of `banks` names.'),
                banks: z.record(glob, z.boolean()).default({}).describe('Per bank id or glob (the most specific wins, as for thresholds).'),
              }),
            ])
            .default(true)
            .describe('Also match rotated and flipped copies (the 8 dihedral variants): for every bank, or per bank.'),
        })
        .default(pdqDefaults),
    })
    .default({ pdq: pdqDefaults }),
  classifiers: z
    .strictObject({ image: classifierCascade.default({ ...CASCADE_DEFAULTS.image }), text: classifierCascade.default({ ...CASCADE_DEFAULTS.text }) })
    .default({ image: { ...CASCADE_DEFAULTS.image }, text: { ...CASCADE_DEFAULTS.text } }),
  brakes: z
    .strictObject({
      flood: z
        .strictObject({
          factor: z.number().min(1).default(10).describe('Quarantine when this hour count exceeds factor × the hourly baseline.'),
          minCount: z.number().int().min(1).default(50).describe('… and is at least this many hits in the current hour.'),
          baselineHours: z.number().int().min(1).max(168).default(24).describe('Hours before the current one that make the baseline (their mean).'),
        })
        .default({ factor: 10, minCount: 50, baselineHours: 24 }),
      dailyCap: z.number().int().min(0).optional().describe('Default daily cap on automated actions for rules without their own.'),
    })
    .default({ flood: { factor: 10, minCount: 50, baselineHours: 24 } }),
  rules: z.array(ruleSchema).min(1),
});

export type PolicyDocument = z.output<typeof policyV2Schema>;
export type PolicyRule = PolicyDocument['rules'][number];
export type ClassifierCascade = PolicyDocument['classifiers']['image'];

/** Version 1, kept only so old files can be translated (one signal at a time, first rule wins). */
const policyV1Schema = z.strictObject({
  version: z.literal(1),
  thresholds: z.unknown().optional(),
  rules: z
    .array(
      z.strictObject({
        id: z.unknown(),
        match: z
          .strictObject({
            types: z.unknown().optional(),
            banks: z.unknown().optional(),
            categories: z.unknown().optional(),
            minSeverity: z.unknown().optional(),
          })
          .default({}),
        category: z.unknown().optional(),
        severity: z.unknown().optional(),
        action: z.unknown(),
      }),
    )
    .min(1),
});

/**
 * A v1 rule `match: {types, banks, categories, minSeverity}` is the v2 rule `when: {signal: {type,
 * source, category, minSeverity}}`: v2's claiming (a signal is evidence for the first live rule that
 * fires with it) is exactly v1's "first matching rule wins" for single-signal rules. Key paths in
 * errors stay those of the v1 file, because the translation keeps rule positions.
 */
export function translateV1(raw: unknown): { ok: true; value: unknown } | { ok: false; error: z.ZodError } {
  const r = policyV1Schema.safeParse(raw);
  if (!r.success) return { ok: false, error: r.error };
  const v1 = r.data;
  return {
    ok: true,
    value: {
      version: 2,
      ...(v1.thresholds !== undefined ? { thresholds: v1.thresholds } : {}),
      rules: v1.rules.map((rule) => {
        const m = rule.match;
        const signal: Record<string, unknown> = {};
        if (m.types !== undefined) signal.type = m.types;
        if (m.banks !== undefined) signal.source = m.banks;
        if (m.categories !== undefined) signal.category = m.categories;
        if (m.minSeverity !== undefined) signal.minSeverity = m.minSeverity;
        const out: Record<string, unknown> = { id: rule.id, when: { signal }, action: rule.action };
        if (rule.category !== undefined) out.category = rule.category;
        if (rule.severity !== undefined) out.severity = rule.severity;
        return out;
      }),
    },
  };
}
