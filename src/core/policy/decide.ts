/**
 * `decide`: a pure, synchronous function of (scan report, compiled policy, counters snapshot).
 *
 * Rules run in file order. A rule fires when its `when` condition holds and at least one signal is
 * evidence for it; a live rule that fires *claims* its evidence, so later rules no longer see those
 * signals (v1's "first matching rule wins", generalised to combinations). Shadow rules see what a live
 * rule in their place would see, but claim nothing and flag nothing. All evidence of one category on
 * one message makes one flag (most severe signal, strongest action). Brakes (quarantine, daily cap)
 * come in the counters snapshot and can only lower an action to review.
 */
import { createHash } from 'node:crypto';
import type { Action, EventPriority, MessageEvent } from '../contracts.js';
import { SEVERITIES, type MediaOutcome, type Severity, type Signal, type TextOutcome } from '../signals.js';
import type { MediaHashes } from '../ports.js';
import { globMatches, type Policy } from './compile.js';
import type { AccountPredicate, Condition, ContextPredicate, PolicyRule, SignalPredicate } from './schema.js';

/** What of the event a policy may look at: ids and context, never content. */
export interface DecisionContext {
  conversationId?: string;
  priority?: EventPriority;
  reportId?: string;
  locale?: string;
  accountSignals?: Readonly<Record<string, number | boolean | string>>;
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
  /** The event's context, for context conditions and rollout; set by the pipeline (`decisionContext`). */
  context?: DecisionContext;
  /**
   * Hashes computed per media item (media id → exact digests and PDQ), for the retro-match window
   * (VIGIL_RETRO_WINDOW). Never copied onto flags or into logs; policy conditions do not read them.
   */
  hashes?: Readonly<Record<string, MediaHashes>>;
}

export function decisionContext(event: MessageEvent): DecisionContext {
  const c: DecisionContext = { conversationId: event.conversationId, priority: event.priority };
  if (event.context?.reportId) c.reportId = event.context.reportId;
  if (event.context?.locale) c.locale = event.context.locale;
  if (event.context?.accountSignals) c.accountSignals = event.context.accountSignals;
  return c;
}

/** Key of a bank entry in brakes and deconfirmations: `bankId/entryId`. */
export function entryKey(s: Pick<Signal, 'sourceId' | 'entryId'>): string {
  return `${s.sourceId}/${s.entryId ?? ''}`;
}

/**
 * State that brakes read, taken as a snapshot by the adapter before `decide` and updated by it after,
 * so `decide` stays pure.
 */
export interface DecisionCounters {
  /** Rule ids quarantined to review-only by the flood monitor (or by hand). */
  quarantinedRules: ReadonlySet<string>;
  /** Bank entries (`bankId/entryId`) quarantined to review-only. */
  quarantinedEntries: ReadonlySet<string>;
  /** Automated actions (escalate, remove_and_report) taken so far today (UTC), by rule id. */
  actionsToday: Readonly<Record<string, number>>;
  /** Bank entries (`bankId/entryId`) deconfirmed as known false positives: their signals are dropped. */
  deconfirmed: ReadonlySet<string>;
}

export const NO_COUNTERS: DecisionCounters = Object.freeze({
  quarantinedRules: new Set<string>(),
  quarantinedEntries: new Set<string>(),
  actionsToday: Object.freeze({}),
  deconfirmed: new Set<string>(),
});

export const BRAKE_CODES = ['rule_quarantined', 'entry_quarantined', 'daily_cap'] as const;
export type BrakeCode = (typeof BRAKE_CODES)[number];

export interface VerdictFlag {
  category: string;
  severity: Severity;
  action: Action;
  signals: Signal[];
  /** Live rules that contributed evidence to this flag, in policy order. */
  ruleIds: string[];
  /** Set when a brake lowered the action: which brakes, and the action the policy would have taken. */
  brake?: { codes: BrakeCode[]; intendedAction: Action };
}

/** One rule that fired on this event (live or shadow). */
export interface RuleHit {
  ruleId: string;
  status: 'live' | 'shadow';
  /** Category → action this rule took (live) or would have taken (shadow), after brakes. */
  outcomes: { category: string; severity: Severity; action: Action }[];
  /** Action before brakes. */
  intendedAction: Action;
  /** Brakes that lowered this rule's action to review. */
  brakes?: BrakeCode[];
  /** Bank entries (`bankId/entryId`) used as evidence, for the per-entry rate monitor. */
  entries: string[];
}

export interface Verdict {
  flags: VerdictFlag[];
  policyVersion: string;
  /** Live and shadow rules that fired, in policy order. */
  hits: RuleHit[];
  /** Signals dropped because their bank entry is deconfirmed. */
  deconfirmedSignals: number;
}

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };
export const ACTION_RANK: Record<Action, number> = { log: 0, review: 1, escalate: 2, remove_and_report: 3 };

export function severityRank(s: Severity): number {
  return SEVERITY_RANK[s];
}

/** Actions a machine takes on its own; `review` and `log` leave the decision to a person. */
export function isAutomated(action: Action): boolean {
  return ACTION_RANK[action] > ACTION_RANK.review;
}

const list = <T>(v: T | readonly T[] | undefined): readonly T[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? (v as readonly T[]) : [v as T];

export function signalMatches(p: SignalPredicate, s: Signal): boolean {
  const types = list(p.type);
  if (types && !types.includes(s.type)) return false;
  const sources = list(p.source);
  if (sources && !sources.some((g) => globMatches(g, s.sourceId))) return false;
  const entries = list(p.entry);
  if (entries && (s.entryId === undefined || !entries.some((g) => globMatches(g, s.entryId as string)))) return false;
  const cats = list(p.category);
  if (cats && (!s.category || !cats.includes(s.category))) return false;
  if (p.minSeverity && (!s.severity || SEVERITY_RANK[s.severity] < SEVERITY_RANK[p.minSeverity])) return false;
  if (p.maxDistance !== undefined && (s.distance === undefined || s.distance > p.maxDistance)) return false;
  const labels = list(p.label);
  if (labels && (s.label === undefined || !labels.includes(s.label))) return false;
  if (p.minScore !== undefined && (s.score === undefined || s.score < p.minScore)) return false;
  const modes = list(p.termMode);
  if (modes) {
    const mode = s.type === 'pattern' ? 'pattern' : s.termMode;
    if (mode === undefined || !(modes as readonly string[]).includes(mode)) return false;
  }
  return true;
}

export function contextMatches(p: ContextPredicate, c: DecisionContext): boolean {
  const prio = list(p.priority);
  if (prio && (c.priority === undefined || !prio.includes(c.priority))) return false;
  if (p.reported !== undefined && (c.reportId !== undefined || c.priority === 'report') !== p.reported) return false;
  const locales = list(p.locale);
  if (locales && (c.locale === undefined || !locales.some((g) => globMatches(g, c.locale as string, true)))) return false;
  return true;
}

export function accountMatches(p: AccountPredicate, c: DecisionContext): boolean {
  const v = c.accountSignals?.[p.key];
  if (p.exists !== undefined && (v !== undefined) !== p.exists) return false;
  if (p.equals !== undefined && v !== p.equals) return false;
  if (p.in !== undefined && (v === undefined || !p.in.includes(v))) return false;
  // Numeric comparisons need a number: a string "12" in accountSignals is not 12 (the contract keeps types).
  const num = typeof v === 'number' ? v : undefined;
  if (p.lt !== undefined && !(num !== undefined && num < p.lt)) return false;
  if (p.lte !== undefined && !(num !== undefined && num <= p.lte)) return false;
  if (p.gt !== undefined && !(num !== undefined && num > p.gt)) return false;
  if (p.gte !== undefined && !(num !== undefined && num >= p.gte)) return false;
  return true;
}

/**
 * Evaluates a condition over the signals a rule may still use. `evidence` gathers the signals that
 * made positive signal conditions true (nothing under `not` is evidence).
 */
export function evaluate(c: Condition, signals: readonly Signal[], ctx: DecisionContext, evidence: Set<Signal>): boolean {
  if (c.all) {
    const scratch = new Set<Signal>();
    for (const x of c.all) if (!evaluate(x, signals, ctx, scratch)) return false;
    for (const s of scratch) evidence.add(s);
    return true;
  }
  if (c.any) {
    let ok = false;
    // Every true branch contributes evidence, so a flag shows all the reasons it fired.
    for (const x of c.any) if (evaluate(x, signals, ctx, evidence)) ok = true;
    return ok;
  }
  if (c.not) return !evaluate(c.not, signals, ctx, new Set());
  if (c.signal) {
    let ok = false;
    for (const s of signals)
      if (signalMatches(c.signal, s)) {
        evidence.add(s);
        ok = true;
      }
    return ok;
  }
  if (c.context) return contextMatches(c.context, ctx);
  if (c.account) return accountMatches(c.account, ctx);
  return false;
}

/** Stable bucket in [0, 100) for a rule and a key: the same conversation is always in or out of a rollout. */
export function rolloutBucket(ruleId: string, key: string): number {
  const h = createHash('sha256').update(`vigil.rollout\0${ruleId}\0${key}`).digest();
  return (h.readUInt32BE(0) % 10_000) / 100;
}

export function inRollout(rule: Pick<PolicyRule, 'id' | 'rollout'>, report: Pick<ScanReport, 'eventId' | 'context'>): boolean {
  if (rule.rollout >= 100) return true;
  if (rule.rollout <= 0) return false;
  return rolloutBucket(rule.id, report.context?.conversationId ?? report.eventId) < rule.rollout;
}

/** Every brake that applies, so a reviewer sees all the reasons an action was lowered. */
function brakesFor(rule: PolicyRule, action: Action, evidence: readonly Signal[], counters: DecisionCounters, defaultCap: number | undefined): BrakeCode[] {
  if (!isAutomated(action)) return []; // brakes only ever lower an action to review
  const codes: BrakeCode[] = [];
  if (counters.quarantinedRules.has(rule.id)) codes.push('rule_quarantined');
  if (evidence.some((s) => counters.quarantinedEntries.has(entryKey(s)))) codes.push('entry_quarantined');
  const cap = rule.dailyCap ?? defaultCap;
  if (cap !== undefined && (counters.actionsToday[rule.id] ?? 0) >= cap) codes.push('daily_cap');
  return codes;
}

interface Draft extends VerdictFlag {
  unbrakedAction: Action;
  codes: Set<BrakeCode>;
}

export function decide(report: ScanReport, policy: Policy, counters: DecisionCounters = NO_COUNTERS): Verdict {
  const ctx = report.context ?? {};
  const signals = counters.deconfirmed.size ? report.signals.filter((s) => !counters.deconfirmed.has(entryKey(s))) : report.signals;
  const claimed = new Set<Signal>();
  const byCategory = new Map<string, Draft>();
  const hits: RuleHit[] = [];
  const defaultCap = policy.document.brakes.dailyCap;

  for (const rule of policy.document.rules) {
    if (rule.status === 'disabled' || !inRollout(rule, report)) continue;
    const available = claimed.size ? signals.filter((s) => !claimed.has(s)) : signals;
    if (available.length === 0) continue;
    const found = new Set<Signal>();
    if (!evaluate(rule.when, available, ctx, found) || found.size === 0) continue;
    const evidence = available.filter((s) => found.has(s));

    const brakes = rule.status === 'live' ? brakesFor(rule, rule.action, evidence, counters, defaultCap) : [];
    const action: Action = brakes.length ? 'review' : rule.action;
    const outcomes = new Map<string, { category: string; severity: Severity; action: Action; signals: Signal[] }>();
    for (const s of evidence) {
      const category = rule.category ?? s.category;
      const severity = rule.severity ?? s.severity;
      if (!category || !severity) continue; // compilePolicy requires both on rules that can match bare signals
      const o = outcomes.get(category);
      if (!o) outcomes.set(category, { category, severity, action, signals: [s] });
      else {
        o.signals.push(s);
        if (SEVERITY_RANK[severity] > SEVERITY_RANK[o.severity]) o.severity = severity;
      }
    }
    if (outcomes.size === 0) continue;
    hits.push({
      ruleId: rule.id,
      status: rule.status,
      outcomes: [...outcomes.values()].map(({ category, severity, action: a }) => ({ category, severity, action: a })),
      intendedAction: rule.action,
      ...(brakes.length ? { brakes } : {}),
      entries: [...new Set(evidence.filter((s) => s.entryId !== undefined && s.type !== 'classifier').map(entryKey))],
    });
    if (rule.status === 'shadow') continue;

    for (const s of evidence) claimed.add(s);
    for (const o of outcomes.values()) {
      const existing = byCategory.get(o.category);
      if (!existing) {
        byCategory.set(o.category, {
          category: o.category,
          severity: o.severity,
          action: o.action,
          signals: [...o.signals],
          ruleIds: [rule.id],
          unbrakedAction: rule.action,
          codes: new Set(brakes),
        });
        continue;
      }
      existing.signals.push(...o.signals);
      if (!existing.ruleIds.includes(rule.id)) existing.ruleIds.push(rule.id);
      if (SEVERITY_RANK[o.severity] > SEVERITY_RANK[existing.severity]) existing.severity = o.severity;
      if (ACTION_RANK[o.action] > ACTION_RANK[existing.action]) existing.action = o.action;
      if (ACTION_RANK[rule.action] > ACTION_RANK[existing.unbrakedAction]) existing.unbrakedAction = rule.action;
      for (const b of brakes) existing.codes.add(b);
    }
  }

  const flags = [...byCategory.values()]
    .sort((a, b) => (a.category < b.category ? -1 : 1))
    .map(({ unbrakedAction, codes, ...flag }): VerdictFlag => {
      // A brake is reported only where it changed the outcome: another unbraked rule may still have acted.
      if (ACTION_RANK[unbrakedAction] > ACTION_RANK[flag.action])
        flag.brake = { codes: BRAKE_CODES.filter((c) => codes.has(c)), intendedAction: unbrakedAction };
      return flag;
    });
  return { flags, policyVersion: policy.version, hits, deconfirmedSignals: report.signals.length - signals.length };
}

export { SEVERITIES };
