/**
 * The two versioned contracts: `vigil.message.v1` (what ingest sends) and `vigil.flag.v1` (what
 * reviewers' tooling receives). One parser serves every transport (BullMQ, Kafka, files), so a payload
 * is `unknown` until `parseMessageEvent` has accepted it.
 */
import { z } from 'zod';
import { VigilError } from './errors.js';
import { SEVERITIES, SIGNAL_TYPES, DIHEDRAL_NAMES, PART_OUTCOMES, UNSCANNED_REASONS } from './signals.js';
import { SNIFFED_FORMATS } from './sniff.js';

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

/**
 * BASE64.test(b), about ten times faster on a long string (what the regex costs on a 30 KB image is
 * paid by the publisher and again by the worker): where the length is a multiple of 4, Node's decoder
 * skips any character outside the alphabet and stops at a misplaced '=', so such a string decodes
 * short of the length its size and padding promise; only base64url's '-' and '_', which the decoder
 * takes as letters, need a look of their own. Decoded in 64 KiB pieces, so a 20 MB item costs no
 * 15 MB buffer. Other lengths are invalid anyway: the regex decides.
 * test/core/contracts.test.ts checks it against the regex on generated and mutated strings.
 */
function isBase64Alphabet(b: string): boolean {
  if (b.length % 4 !== 0) return BASE64.test(b);
  if (b.includes('-') || b.includes('_')) return false;
  const piece = 64 * 1024; // a multiple of 4: only the last piece may carry padding
  for (let at = 0; at < b.length; at += piece) {
    const part = b.slice(at, at + piece);
    const padding = part.endsWith('==') ? 2 : part.endsWith('=') ? 1 : 0;
    if (padding && at + piece < b.length) return false;
    if (Buffer.from(part, 'base64').length !== (part.length / 4) * 3 - padding) return false;
  }
  return true;
}

function base64DecodedLength(b64: string): number {
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.floor((b64.length * 3) / 4) - padding;
}

export function messageEventSchema(limits: ContractLimits = DEFAULT_LIMITS) {
  const media = z
    .strictObject({
      id: ID,
      mimeType: z
        .string()
        .regex(/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i, 'must be a MIME type like image/jpeg')
        .max(127),
      bytes: z
        .string()
        .max(Math.ceil(limits.maxMediaBytes / 3) * 4 + 4, `decodes to more than ${limits.maxMediaBytes} bytes (MEDIA_TOO_LARGE)`)
        .refine(isBase64Alphabet, 'must be standard base64')
        // The published JSON Schema still states the alphabet as a pattern.
        .meta({ pattern: BASE64.source })
        .refine((b) => b.length % 4 === 0, 'base64 length must be a multiple of 4')
        .refine((b) => base64DecodedLength(b) <= limits.maxMediaBytes, {
          message: `decodes to more than ${limits.maxMediaBytes} bytes (MEDIA_TOO_LARGE)`,
          params: { code: 'MEDIA_TOO_LARGE' },
        })
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
        .refine((t) => Buffer.byteLength(t, 'utf8') <= limits.maxTextBytes, {
          message: `is longer than ${limits.maxTextBytes} UTF-8 bytes (TEXT_TOO_LARGE)`,
          params: { code: 'TEXT_TOO_LARGE' },
        })
        .optional(),
      media: z.array(media).max(limits.maxMediaItems).default([]),
      context: z
        .strictObject({
          reportId: ID.optional().describe('Set when a user report triggered this scan.'),
          locale: z
            .string()
            .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/)
            .optional(),
          accountSignals: z
            .record(z.string().max(64), z.union([z.number(), z.boolean(), z.string().max(256)]))
            .optional()
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
  label: z.string().optional().describe('Classifier label the score is for.'),
  termMode: z.string().optional().describe('How a term matched: whole-word, joined or substring.'),
  variant: z.enum(DIHEDRAL_NAMES).optional(),
  mediaId: z.string().optional(),
  /** Where a text hit lies in the message text: UTF-16 code units (JavaScript string indices), end exclusive. */
  span: z
    .strictObject({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() })
    .optional()
    .describe('Text hits: offsets into the message text in UTF-16 code units (JavaScript string indices), end exclusive; an emoji outside the BMP counts 2.'),
});

export const flagMediaOutcomeSchema = z
  .strictObject({
    mediaId: z.string(),
    declaredType: z.string().describe('The MIME type the event declared: a hint, never what decides the decoder.'),
    sniffedFormat: z.enum(SNIFFED_FORMATS).optional().describe('What the bytes are, from their file signature (absent when they could not be fetched).'),
    mimeMismatch: z.boolean().describe('The declared type names another format than the bytes are: evidence in itself.'),
    outcome: z.enum(PART_OUTCOMES).describe('scanned: every source ran; partial: some evidence, not all (e.g. exact hashes only); unscanned: none.'),
    reason: z.enum(UNSCANNED_REASONS).optional().describe('Why the item was not fully scanned.'),
    code: z.string().optional().describe('The error code behind the reason.'),
  })
  .describe('How completely one media item of the event was scanned.');

export const flagTextOutcomeSchema = z
  .strictObject({ outcome: z.enum(PART_OUTCOMES), reason: z.enum(UNSCANNED_REASONS).optional(), code: z.string().optional() })
  .describe('How completely the event text was scanned.');

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
  policyRevision: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Version number of the policy in the policy store (`vigil policy history`), when it came from there.'),
  ruleIds: z.array(z.string()).optional().describe('Policy rules that fired for this flag, in policy order.'),
  brake: z
    .strictObject({
      codes: z.array(z.enum(['rule_quarantined', 'entry_quarantined', 'daily_cap'])).min(1),
      intendedAction: z.enum(ACTIONS),
    })
    .optional()
    .describe('Present when a false-positive brake lowered the action to review: which brakes, and the action the policy would have taken.'),
  bankVersions: z.record(z.string(), z.string()),
  modelVersions: z.record(z.string(), z.string()),
  mediaOutcomes: z
    .array(flagMediaOutcomeSchema)
    .optional()
    .describe('One entry per media item of the event, in event order (present when the event has media).'),
  textOutcome: flagTextOutcomeSchema.optional().describe('Present when the event has text.'),
  retroactive: z
    .literal(true)
    .optional()
    .describe(
      'Present on a flag from a retro-match (VIGIL_RETRO_WINDOW): the event was scanned clean earlier and a hash banked since matches one of its media items. Same flagId as a live flag of that event and category would have.',
    ),
});

export type Flag = z.output<typeof flagSchema>;

/** Field names of vigil.message.v1 (every level): only these may appear in an error's field path. */
const CONTRACT_FIELDS: ReadonlySet<string> = new Set([
  'schema',
  'eventId',
  'messageId',
  'conversationId',
  'senderId',
  'recipientIds',
  'sentAt',
  'text',
  'media',
  'context',
  'priority',
  'id',
  'mimeType',
  'bytes',
  'ref',
  'reportId',
  'locale',
  'accountSignals',
]);

/**
 * A field path that names only contract fields and indexes: any other segment (a key chosen by the
 * sender, e.g. inside accountSignals) becomes `*`, since key names can carry content.
 */
export function safePath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p) => (typeof p === 'number' ? String(p) : typeof p === 'string' && CONTRACT_FIELDS.has(p) ? p : '*')).join('.');
}

/**
 * What went wrong with one issue, from its code and the schema's own parameters, never from the
 * input: zod's "Unrecognized key" message quotes the payload's key names.
 */
export function safeIssueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `${issue.keys.length} unknown field(s) (not part of vigil.message.v1)`;
    case 'invalid_key':
      return 'invalid key';
    case 'invalid_type': // "expected string, received number": type names, not values
    case 'invalid_value': // the schema's allowed values
    case 'invalid_union':
    case 'invalid_element':
    case 'not_multiple_of':
    case 'too_big':
    case 'too_small':
    case 'invalid_format':
    case 'custom':
      // Our schema's messages, or zod's templates built from the schema's limits: no input in them.
      return issue.message;
    default:
      return (issue as { code: string }).code;
  }
}

/** Size violations have codes of their own, recognised by issue code, params and path (never message text). */
function sizeCode(issue: z.core.$ZodIssue): 'MEDIA_TOO_LARGE' | 'TEXT_TOO_LARGE' | undefined {
  if (issue.code === 'custom') {
    const c = (issue.params as { code?: unknown } | undefined)?.code;
    return c === 'MEDIA_TOO_LARGE' || c === 'TEXT_TOO_LARGE' ? c : undefined;
  }
  // The base64 string's max length: a string too long to decode within the media limit.
  if (issue.code === 'too_big' && issue.path.at(-1) === 'bytes' && issue.path.at(-3) === 'media') return 'MEDIA_TOO_LARGE';
  return undefined;
}

/** Field paths and rules only: safe to log, to dead-letter and to print. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${safePath(i.path)}: ${safeIssueMessage(i)}`)
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
    const code = result.error.issues.map(sizeCode).find((c) => c !== undefined) ?? 'EVENT_INVALID';
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
