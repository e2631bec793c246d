/**
 * `vigil.decision.v1`: what a reviewer decided about one flag, fed back from the moderation tooling
 * (BullMQ queue `vigil-decisions`, or a Kafka topic). Decisions are the labels behind running
 * precision (`vigil precision`) and `vigil tune --decisions`. A decision names the flag only: the
 * rules, banks, entries and model labels it is attributed to come from Vigil's own record of that
 * flag, never from the sender. `reviewerRef` is opaque (a pseudonymous id in the sender's system),
 * stored as given and never interpreted.
 */
import { z } from 'zod';
import { VigilError } from './errors.js';

export const DECISIONS = ['confirmed', 'rejected', 'escalated'] as const;
export type DecisionKind = (typeof DECISIONS)[number];

const TOKEN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const decisionSchema = z.strictObject({
  schema: z.literal('vigil.decision.v1'),
  flagId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be a flag id as vigil.flag.v1 carries it')
    .describe('The flagId of the vigil.flag.v1 the reviewer decided on.'),
  decision: z.enum(DECISIONS).describe('confirmed: the flag was right; rejected: a false positive; escalated: right and passed on for further action.'),
  at: z.iso.datetime({ offset: true }).describe('When the reviewer decided (ISO 8601).'),
  reasonCode: z
    .string()
    .regex(TOKEN, 'must be a short code (A-Z a-z 0-9 . _ : -)')
    .optional()
    .describe('A reason code from the reviewing tool (never free text).'),
  reviewerRef: z.string().regex(TOKEN, 'must be an opaque id (A-Z a-z 0-9 . _ : -)').optional().describe('Opaque reference to the reviewer, stored as given.'),
});

export type Decision = z.output<typeof decisionSchema>;

const FIELDS = new Set(['schema', 'flagId', 'decision', 'at', 'reasonCode', 'reviewerRef']);

/** Parses a decision from any transport; messages name field paths and rules, never values. */
export function parseDecision(payload: unknown): Decision {
  let value = payload;
  if (typeof payload === 'string' || payload instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
    } catch {
      throw new VigilError('DECISION_INVALID', 'decision is not valid JSON');
    }
  }
  const result = decisionSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 5)
      .map((i) => {
        const path = i.path.map((p) => (typeof p === 'string' && FIELDS.has(p) ? p : '*')).join('.') || '(root)';
        const message = i.code === 'unrecognized_keys' ? `${i.keys.length} unknown field(s) (not part of vigil.decision.v1)` : i.message;
        return `${path}: ${message}`;
      })
      .join('; ');
    throw new VigilError('DECISION_INVALID', `invalid vigil.decision.v1: ${issues}`);
  }
  return result.data;
}

/** JSON Schema (draft 2020-12) of vigil.decision.v1, for the moderation tooling to validate on its side. */
export function decisionJsonSchema(): Record<string, unknown> {
  const json = z.toJSONSchema(decisionSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { $id: 'https://vigil.dev/schemas/vigil.decision.v1.json', title: 'vigil.decision.v1', ...json };
}
