/**
 * Ground truth for `vigil tune`: which events are harmful, from a labels file
 * (`{"eventId", "labels": [category…]}`, empty = benign) or from reviewers' decisions on flags
 * (`vigil.decision.v1`). Pure: the command reads the files and hands the lines in.
 */
import { z } from 'zod';
import { decisionSchema, type Decision } from '../decision-contract.js';
import { VigilError } from '../errors.js';

const category = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'categories are lowercase identifiers like "csam" or "grooming"');

export const labelRecordSchema = z.strictObject({
  eventId: z.string().min(1).max(128),
  labels: z.array(category).max(64),
});

/** Event id → the categories it was labelled with (empty set: labelled benign). */
export type Labels = Map<string, ReadonlySet<string>>;

function issue(error: z.ZodError): string {
  const i = error.issues[0];
  return `${i?.path.map(String).join('.') || '(root)'}: ${i?.message ?? 'invalid'}`;
}

function parseLine(text: string, file: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new VigilError('DATA_INVALID', `${file} line ${line} is not JSON`);
  }
}

/** Parses a labels file's lines; an event labelled twice is an error (which line should win is not ours to guess). */
export function parseLabels(lines: Iterable<{ line: number; text: string }>, file: string): Labels {
  const labels: Labels = new Map();
  const at = new Map<string, number>();
  for (const { line, text } of lines) {
    const r = labelRecordSchema.safeParse(parseLine(text, file, line));
    if (!r.success) throw new VigilError('DATA_INVALID', `${file} line ${line}: ${issue(r.error)}`);
    const seen = at.get(r.data.eventId);
    if (seen !== undefined) throw new VigilError('DATA_INVALID', `${file} line ${line}: event ${r.data.eventId} is already labelled on line ${seen}`);
    at.set(r.data.eventId, line);
    labels.set(r.data.eventId, new Set(r.data.labels));
  }
  return labels;
}

/**
 * Parses a decisions file. A flag decided more than once keeps its latest decision (by `at`; on equal
 * times, the later line): a second review overrides the first.
 */
export function parseDecisions(lines: Iterable<{ line: number; text: string }>, file: string): Map<string, Decision> {
  const out = new Map<string, Decision>();
  for (const { line, text } of lines) {
    const r = decisionSchema.safeParse(parseLine(text, file, line));
    if (!r.success) throw new VigilError('DATA_INVALID', `${file} line ${line}: ${issue(r.error)}`);
    const prev = out.get(r.data.flagId);
    if (!prev || Date.parse(r.data.at) >= Date.parse(prev.at)) out.set(r.data.flagId, r.data);
  }
  return out;
}

/**
 * An event's labels from the decisions on its flags: confirmed and escalated flags are positive for
 * their category, rejected ones negative. `undefined` when no decision names a flag of this event
 * (with `category`, a flag of that category): the event was not reviewed.
 */
export function labelsFromDecisions(
  decided: readonly { category: string; decision: Decision['decision'] }[],
  category?: string,
): ReadonlySet<string> | undefined {
  const relevant = category === undefined ? decided : decided.filter((d) => d.category === category);
  if (relevant.length === 0) return undefined;
  return new Set(relevant.filter((d) => d.decision !== 'rejected').map((d) => d.category));
}

/** Whether labels make an event positive: any label, or `category` among them. */
export function isPositive(labels: ReadonlySet<string>, category?: string): boolean {
  return category === undefined ? labels.size > 0 : labels.has(category);
}
