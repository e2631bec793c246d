/**
 * `vigil.decision.v1`: what a reviewer decided about one flag, as the moderation tool reports it back.
 * Ids and codes only, never content: the flag is named by its deterministic `flagId`
 * (`flagIdFor(eventId, category)` in flags.ts), the reviewer by an opaque reference.
 */
import { z } from 'zod';

export const DECISION_SCHEMA = 'vigil.decision.v1';
export const DECISIONS = ['confirmed', 'rejected', 'escalated'] as const;
export type DecisionValue = (typeof DECISIONS)[number];

export const decisionSchema = z.object({
  schema: z.literal(DECISION_SCHEMA),
  flagId: z.string().regex(/^flg_[0-9a-f]{32}$/, 'a flagId: flg_ and 32 lowercase hex digits'),
  decision: z.enum(DECISIONS),
  at: z.iso.datetime({ offset: true }),
  reasonCode: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'a code: letters, digits, . _ : - (at most 64)')
    .optional(),
  reviewerRef: z.string().min(1).max(128).optional(),
});

export type Decision = z.output<typeof decisionSchema>;
