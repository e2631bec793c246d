/**
 * The one place pino is built. Logs go to stderr so CLI commands keep stdout for their JSONL output.
 * Log lines carry ids only; `redact` is a second line of defence should a caller pass content by mistake.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Field names that could hold message content or media bytes, wherever they appear. */
export const REDACT_PATHS = ['text', 'bytes', 'data', 'event', 'payload', 'media', 'normalized', '*.text', '*.bytes', '*.data', '*.event', '*.payload', '*.media', '*.normalized', 'err.input'];

export function createLogger(level: string, destination: pino.DestinationStream | number = 2): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ fd: destination, sync: false }) : destination;
  return pino(
    {
      level,
      base: { service: 'vigil' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Error objects: code and message only (ours never quote content); no third-party `input` fields.
      serializers: { err: (e: unknown) => (e instanceof Error ? { type: e.name, code: (e as { code?: unknown }).code, message: e.message } : { message: String(e) }) },
    },
    dest,
  );
}
