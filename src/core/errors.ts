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
  /** Retriable: under load a decode can run out of time through no fault of the image; retried with backoff. */
  MEDIA_TIMEOUT: true,
  /** The process's decode budget stayed full for too long (congestion); retried with backoff. */
  MEDIA_BUSY: true,
  MEDIA_REF_UNRESOLVED: false,
  MEDIA_STORE_UNAVAILABLE: true,
  TEXT_TOO_LARGE: false,
  BANK_INVALID: false,
  /** Another import or removal holds the bank's lock: try again shortly. */
  BANK_BUSY: true,
  /** The bank store (Redis) did not answer or failed a command. */
  BANK_STORE_UNAVAILABLE: true,
  /** The bank store lost banks a worker held (emptied, rolled back): the worker keeps its last good snapshot. */
  BANK_STORE_LOST: false,
  /** A bank snapshot in the store is missing, altered or malformed: the worker reads the bank's records instead. */
  BANK_SNAPSHOT_INVALID: false,
  POLICY_INVALID: false,
  POLICY_VERSION_UNKNOWN: false,
  CONFIG_INVALID: false,
  PATTERN_UNSAFE: false,
  QUEUE_UNAVAILABLE: true,
  /** A port this process must listen on (ops server) is taken or not allowed. */
  PORT_UNAVAILABLE: false,
  /** A command was called wrongly (flags, arguments): nothing was done. */
  USAGE: false,
  RETRIES_EXHAUSTED: false,
  /** A vigil.decision.v1 that does not parse: dead-lettered, never retried. */
  DECISION_INVALID: false,
  /** `vigil replay` gave up waiting for the workers to finish the replayed events (they keep going). */
  REPLAY_TIMEOUT: false,
  // Classifiers: a model whose files are missing, altered (sha256) or malformed never loads; a
  // classification that overran its time budget, or whose worker thread died, may be retried.
  MODEL_INVALID: false,
  DATA_INVALID: false,
  CLASSIFIER_TIMEOUT: true,
  CLASSIFIER_UNAVAILABLE: true,
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

/**
 * What kind of failure a code is, which decides the CLI exit code and how a service reports it:
 * config (bad configuration, policy or bank files, or a bad invocation: fix and rerun, exit 2),
 * unavailable (a dependency did not answer: exit 1 with one clear line; services retry),
 * input (this item was bad: exit 1, the rest went through), internal (a bug or unknown fault: exit 1).
 */
export type ErrorKind = 'config' | 'unavailable' | 'input' | 'internal';

const KIND: Record<ErrorCode, ErrorKind> = {
  EVENT_NOT_JSON: 'input',
  EVENT_INVALID: 'input',
  EVENT_TOO_LARGE: 'input',
  MEDIA_TOO_LARGE: 'input',
  MEDIA_UNDECODABLE: 'input',
  MEDIA_UNSUPPORTED: 'input',
  MEDIA_TIMEOUT: 'unavailable',
  MEDIA_BUSY: 'unavailable',
  MEDIA_REF_UNRESOLVED: 'input',
  MEDIA_STORE_UNAVAILABLE: 'unavailable',
  TEXT_TOO_LARGE: 'input',
  BANK_INVALID: 'config',
  BANK_BUSY: 'unavailable',
  BANK_STORE_UNAVAILABLE: 'unavailable',
  BANK_STORE_LOST: 'unavailable',
  BANK_SNAPSHOT_INVALID: 'unavailable',
  POLICY_INVALID: 'config',
  POLICY_VERSION_UNKNOWN: 'input',
  CONFIG_INVALID: 'config',
  PATTERN_UNSAFE: 'config',
  QUEUE_UNAVAILABLE: 'unavailable',
  PORT_UNAVAILABLE: 'unavailable',
  USAGE: 'config',
  RETRIES_EXHAUSTED: 'input',
  DECISION_INVALID: 'input',
  REPLAY_TIMEOUT: 'unavailable',
  MODEL_INVALID: 'config',
  DATA_INVALID: 'input',
  CLASSIFIER_TIMEOUT: 'unavailable',
  CLASSIFIER_UNAVAILABLE: 'unavailable',
  INTERNAL: 'internal',
};

export function errorKind(code: ErrorCode): ErrorKind {
  return KIND[code];
}

/** The process exit code a failure of this code gives: 2 for usage and configuration, else 1. */
export function exitCodeFor(code: ErrorCode): 1 | 2 {
  return KIND[code] === 'config' ? 2 : 1;
}
