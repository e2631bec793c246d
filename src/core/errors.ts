/**
 * Typed errors with a stable `code` and a `retriable` flag.
 *
 * Messages must never contain message text, media bytes or decoded pixels: they end up in logs,
 * dead-letter entries and CLI output. Say what was wrong (sizes, ids, field paths), not what the content was.
 */
export const ERROR_CODES = {
  EVENT_NOT_JSON: false,
  EVENT_INVALID: false,
  EVENT_TOO_LARGE: false,
  MEDIA_TOO_LARGE: false,
  MEDIA_UNDECODABLE: false,
  MEDIA_UNSUPPORTED: false,
  MEDIA_TIMEOUT: false,
  MEDIA_REF_UNRESOLVED: false,
  MEDIA_STORE_UNAVAILABLE: true,
  TEXT_TOO_LARGE: false,
  BANK_INVALID: false,
  /** The bank store lost banks a worker held (emptied, rolled back): the worker keeps its last good snapshot. */
  BANK_STORE_LOST: false,
  POLICY_INVALID: false,
  CONFIG_INVALID: false,
  PATTERN_UNSAFE: false,
  QUEUE_UNAVAILABLE: true,
  RETRIES_EXHAUSTED: false,
  INTERNAL: true,
} as const satisfies Record<string, boolean>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class VigilError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retriable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VigilError';
    this.code = code;
    this.retriable = options?.retriable ?? ERROR_CODES[code];
  }

  toJSON(): { code: ErrorCode; message: string; retriable: boolean } {
    return { code: this.code, message: this.message, retriable: this.retriable };
  }
}

export function isVigilError(err: unknown): err is VigilError {
  return err instanceof VigilError;
}

/**
 * Anything that is not already a VigilError becomes INTERNAL (retriable): an unknown failure is more
 * likely a bug or a transient fault than a property of the message, so we retry rather than drop.
 * The original message is not copied, since third-party errors can quote their input.
 */
export function toVigilError(err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  const name = err instanceof Error ? err.name : typeof err;
  return new VigilError('INTERNAL', `unexpected ${name}`, { cause: err });
}
