/**
 * The two versioned contracts: `vigil.message.v1` (what ingest sends) and `vigil.flag.v1` (what
 * reviewers' tooling receives). One parser serves every transport (BullMQ, Kafka, files), so a payload
 * is `unknown` until `parseMessageEvent` has accepted it.
 */
import { z } from 'zod';
import { VigilError } from './errors.js';
import { SEVERITIES, SIGNAL_TYPES, DIHEDRAL_NAMES } from './signals.js';

export interface ContractLimits {
  /** Max UTF-8 bytes of `text`. */
  maxTextBytes: number;
  /** Max items in `media`. */
  maxMediaItems: number;
  /** Max decoded bytes of one media item. */
  maxMediaBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ContractLimits> = Object.freeze({
  maxTextBytes: 64 * 1024,
  maxMediaItems: 10,
  maxMediaBytes: 20 * 1024 * 1024,
});

/**
 * Ids become BullMQ job ids and Redis key parts, so they are restricted to a safe alphabet. Purely
 * numeric ids are refused because BullMQ reserves integer job ids for its own counter: prefix them
 * (`evt_123`).
 */
const ID = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit')
  .refine((s) => !/^\d+$/.test(s), 'must not be purely numeric (prefix it, e.g. "evt_123")');
const REF = z.string().min(1).max(1024);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const PRIORITIES = ['report', 'normal', 'backfill'] as const;
export type EventPriority = (typeof PRIORITIES)[number];

function base64DecodedLength(b64: string): number {
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.floor((b64.length * 3) / 4) - padding;
}

export function messageEventSchema(limits: ContractLimits = DEFAULT_LIMITS) {
  const media = z
    .strictObject({
      id: ID,
      mimeType: z.string().regex(/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i, 'must be a MIME type like image/jpeg').max(127),
      bytes: z
        .string()
        .max(Math.ceil(limits.maxMediaBytes / 3) * 4 + 4, `decodes to more than ${limits.maxMediaBytes} bytes (MEDIA_TOO_LARGE)`)
        .regex(BASE64, 'must be standard base64')
        .refine((b) => b.length % 4 === 0, 'base64 length must be a multiple of 4')
        .refine((b) => base64DecodedLength(b) <= limits.maxMediaBytes, `decodes to more than ${limits.maxMediaBytes} bytes (MEDIA_TOO_LARGE)`)
        .optional()
        .describe('The media item inline, standard base64.'),
      ref: REF.optional().describe('A reference resolved by the configured media store instead of inline bytes.'),
    })
    .refine((m) => (m.bytes === undefined) !== (m.ref === undefined), 'exactly one of bytes or ref is required');

  return z
    .strictObject({
      schema: z.literal('vigil.message.v1'),
      eventId: ID.describe('Idempotency key: the same eventId is scanned and flagged at most once per dedupe window.'),
      messageId: ID,
      conversationId: ID,
      senderId: ID,
      recipientIds: z.array(ID).min(1).max(1024),
      sentAt: z.iso.datetime({ offset: true }),
      text: z
        .string()
        .refine((t) => Buffer.byteLength(t, 'utf8') <= limits.maxTextBytes, `is longer than ${limits.maxTextBytes} UTF-8 bytes (TEXT_TOO_LARGE)`)
        .optional(),
      media: z.array(media).max(limits.maxMediaItems).default([]),
      context: z
        .strictObject({
          reportId: ID.optional().describe('Set when a user report triggered this scan.'),
          locale: z.string().regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/).optional(),
          accountSignals: z.record(z.string().max(64), z.union([z.number(), z.boolean(), z.string().max(256)])).optional()
            .refine((r) => r === undefined || Object.keys(r).length <= 32, 'has more than 32 keys'),
        })
        .optional(),
      priority: z.enum(PRIORITIES).default('normal'),
    })
    .refine((e) => new Set(e.media.map((m) => m.id)).size === e.media.length, { message: 'media ids must be unique', path: ['media'] });
}

export type MessageEvent = z.output<ReturnType<typeof messageEventSchema>>;
export type MessageEventInput = z.input<ReturnType<typeof messageEventSchema>>;
export type MediaItem = MessageEvent['media'][number];

const severity = z.enum(SEVERITIES);

export const ACTIONS = ['log', 'review', 'escalate', 'remove_and_report'] as const;
export type Action = (typeof ACTIONS)[number];

export const flagSignalSchema = z.strictObject({
  type: z.enum(SIGNAL_TYPES),
  sourceId: z.string(),
  sourceVersion: z.string(),
  entryId: z.string().optional(),
  category: z.string().optional(),
  severity: severity.optional(),
  distance: z.number().optional(),
  score: z.number().optional(),
  threshold: z.number().optional(),
  quality: z.number().optional(),
  variant: z.enum(DIHEDRAL_NAMES).optional(),
  mediaId: z.string().optional(),
  /** Where a text hit lies in the message text: UTF-16 code units (JavaScript string indices), end exclusive. */
  span: z
    .strictObject({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() })
    .optional()
    .describe('Text hits: offsets into the message text in UTF-16 code units (JavaScript string indices), end exclusive; an emoji outside the BMP counts 2.'),
});

export const flagSchema = z.strictObject({
  schema: z.literal('vigil.flag.v1'),
  flagId: z.string().describe('Deterministic from eventId and category: re-processing an event never creates a second flag.'),
  eventId: z.string(),
  messageId: z.string(),
  conversationId: z.string(),
  senderId: z.string(),
  sentAt: z.string(),
  eventPriority: z.enum(PRIORITIES),
  category: z.string(),
  severity,
  action: z.enum(ACTIONS),
  signals: z.array(flagSignalSchema).min(1),
  policyVersion: z.string(),
  bankVersions: z.record(z.string(), z.string()),
  modelVersions: z.record(z.string(), z.string()),
});

export type Flag = z.output<typeof flagSchema>;

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * Parses a payload from any transport. Error messages name field paths and rules, never values, so
 * they are safe to log and to dead-letter.
 */
export function parseMessageEvent(payload: unknown, limits: ContractLimits = DEFAULT_LIMITS): MessageEvent {
  let value = payload;
  if (typeof payload === 'string' || payload instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
    } catch {
      throw new VigilError('EVENT_NOT_JSON', 'event is not valid JSON');
    }
  }
  const result = schemaFor(limits).safeParse(value);
  if (!result.success) {
    const tooLarge = result.error.issues.find((i) => i.message.includes('(MEDIA_TOO_LARGE)') || i.message.includes('(TEXT_TOO_LARGE)'));
    const code = tooLarge?.message.includes('TEXT_TOO_LARGE') ? 'TEXT_TOO_LARGE' : tooLarge ? 'MEDIA_TOO_LARGE' : 'EVENT_INVALID';
    throw new VigilError(code, `invalid vigil.message.v1 event: ${describeIssues(result.error)}`);
  }
  return result.data;
}

/** Best-effort ids from a payload that failed to parse, so a dead-letter entry can still be traced. */
export function salvageIds(payload: unknown): { eventId?: string; messageId?: string } {
  let value = payload;
  if (typeof payload === 'string') {
    try {
      value = JSON.parse(payload);
    } catch {
      return {};
    }
  }
  if (typeof value !== 'object' || value === null) return {};
  const pick = (k: string): string | undefined => {
    const v = (value as Record<string, unknown>)[k];
    return ID.safeParse(v).success ? (v as string) : undefined;
  };
  const out: { eventId?: string; messageId?: string } = {};
  const eventId = pick('eventId');
  const messageId = pick('messageId');
  if (eventId) out.eventId = eventId;
  if (messageId) out.messageId = messageId;
  return out;
}

const schemaCache = new Map<string, ReturnType<typeof messageEventSchema>>();
function schemaFor(limits: ContractLimits): ReturnType<typeof messageEventSchema> {
  const key = `${limits.maxTextBytes}/${limits.maxMediaItems}/${limits.maxMediaBytes}`;
  let schema = schemaCache.get(key);
  if (!schema) {
    schema = messageEventSchema(limits);
    schemaCache.set(key, schema);
  }
  return schema;
}

/** JSON Schema (draft 2020-12) of either contract, for the ingest team to validate on their side. */
export function contractJsonSchema(which: 'message' | 'flag', limits: ContractLimits = DEFAULT_LIMITS): Record<string, unknown> {
  const schema = which === 'message' ? messageEventSchema(limits) : flagSchema;
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { $id: `https://vigil.dev/schemas/vigil.${which}.v1.json`, title: `vigil.${which}.v1`, ...json };
}
