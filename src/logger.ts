/**
 * The one place pino is built. Logs go to stderr so CLI commands keep stdout for their JSONL output.
 * Log lines carry ids only; `redact` is a second line of defence should a caller pass content by mistake.
 */
import { pino, type Logger } from 'pino';
import { maskSecrets } from './core/secrets.js';

export type { Logger };

/** Field names that could hold message content or media bytes, wherever they appear. */
export const REDACT_PATHS = [
  'text',
  'bytes',
  'data',
  'event',
  'payload',
  'media',
  'normalized',
  '*.text',
  '*.bytes',
  '*.data',
  '*.event',
  '*.payload',
  '*.media',
  '*.normalized',
  'err.input',
];

export function createLogger(level: string, destination: pino.DestinationStream | number = 2): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ fd: destination, sync: false }) : destination;
  return pino(
    {
      level,
      base: { service: 'vigil' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Error objects: code and message only (ours never quote content; secrets masked); no third-party `input` fields.
      serializers: {
        err: (e: unknown) =>
          e instanceof Error ? { type: e.name, code: (e as { code?: unknown }).code, message: maskSecrets(e.message) } : { message: maskSecrets(String(e)) },
      },
      hooks: {
        // Messages (and URLs passed as fields by name, e.g. `url`) are masked like errors.
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? maskSecrets(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    dest,
  );
}
