/**
 * Running precision from reviewer decisions. A flag is attributed to what produced it: the policy
 * rules that fired, the banks and bank entries whose signals are its evidence, and the classifier
 * labels (`model/label`) that scored. Precision of a key = (confirmed + escalated) / (confirmed +
 * escalated + rejected): an escalation says the flag was right.
 */
import type { Flag } from './contracts.js';
import type { DecisionKind } from './decision-contract.js';

export const PRECISION_KINDS = ['rule', 'bank', 'entry', 'label'] as const;
export type PrecisionKind = (typeof PRECISION_KINDS)[number];

/** Ids only: what a flag is attributed to. Entries are `bankId/entryId`, labels `modelId/label`. */
export interface FlagEvidence {
  rule: string[];
  bank: string[];
  entry: string[];
  label: string[];
}

export function evidenceOf(flag: Pick<Flag, 'ruleIds' | 'signals'>): FlagEvidence {
  const rule = new Set(flag.ruleIds ?? []);
  const bank = new Set<string>();
  const entry = new Set<string>();
  const label = new Set<string>();
  for (const s of flag.signals) {
    if (s.type === 'classifier') {
      if (s.label !== undefined) label.add(`${s.sourceId}/${s.label}`);
      continue;
    }
    bank.add(s.sourceId);
    // Same key as the brakes' per-entry counters and `vigil bank deconfirm BANK ENTRY`.
    if (s.entryId !== undefined) entry.add(`${s.sourceId}/${s.entryId}`);
  }
  return { rule: [...rule].sort(), bank: [...bank].sort(), entry: [...entry].sort(), label: [...label].sort() };
}

export type DecisionCounts = Record<DecisionKind, number>;

export interface PrecisionRow extends DecisionCounts {
  kind: PrecisionKind;
  id: string;
  /** Decisions in all. */
  decided: number;
  /** null until a decision counts. */
  precision: number | null;
}

export function precisionOf(c: DecisionCounts): number | null {
  const decided = c.confirmed + c.escalated + c.rejected;
  return decided === 0 ? null : (c.confirmed + c.escalated) / decided;
}

export function precisionRow(kind: PrecisionKind, id: string, c: DecisionCounts): PrecisionRow {
  return { kind, id, ...c, decided: c.confirmed + c.escalated + c.rejected, precision: precisionOf(c) };
}
