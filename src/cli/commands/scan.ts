import type { Command } from 'commander';
import { createScanRuntime } from '../../app.js';
import { contractLimits, loadConfig } from '../../config.js';
import type { Flag } from '../../core/contracts.js';
import { toVigilError } from '../../core/errors.js';
import type { DeadLetter, DeadLetterSink, FlagSink } from '../../core/ports.js';
import { createLogger } from '../../logger.js';
import { createScanJobHandler } from '../../services/scan-job.js';
import { configOverrides, printErr, printJson, progress, readLines, UsageError, withConfigOptions } from '../io.js';

/** Flags to stdout, once per flagId: a duplicate event yields the same flag, as the queue would absorb it. */
class StdoutFlagSink implements FlagSink {
  readonly #seen = new Set<string>();
  emit(flags: readonly Flag[]): Promise<void> {
    for (const f of flags) {
      if (this.#seen.has(f.flagId)) continue;
      this.#seen.add(f.flagId);
      printJson(f);
    }
    return Promise.resolve();
  }
}

/** Dead letters as error lines on stderr: {"line":N,"eventId":…,"mediaId":…,"error":{"code":…,"message":…}}. */
class StderrDeadLetterSink implements DeadLetterSink {
  count = 0;
  deadLetter(entry: DeadLetter): Promise<void> {
    this.count++;
    const line = entry.origin.kind === 'cli' ? entry.origin.line : undefined;
    printErr(
      JSON.stringify({
        line,
        ...(entry.eventId ? { eventId: entry.eventId } : {}),
        ...(entry.mediaId ? { mediaId: entry.mediaId } : {}),
        error: { code: entry.code, message: entry.message },
      }),
    );
    return Promise.resolve();
  }
}

export function register(program: Command): Command {
  return withConfigOptions(
    program
      .command('scan')
      .description('Scan message events offline (no Redis) with the same code as the worker; print flags as JSONL.')
      .requiredOption('--events <file>', 'JSONL file of vigil.message.v1 events, one per line ("-" for stdin)')
      .option('--json', 'JSON output (the default: one vigil.flag.v1 per line on stdout)'),
    ['banks', 'policy'],
  )
    .addHelpText(
      'after',
      `
Flags go to stdout, one JSON object per line, each flag once (a duplicate event yields the same
flagId, which the moderation queue would absorb). Each event that fails (invalid, or a media item that
could not be decoded) prints one error line on stderr: {"line":N,"eventId":…,"error":{"code":…,"message":…}}
and makes the exit code 1. Message text and media bytes are never printed. Each event is tried once:
a retriable failure is reported as RETRIES_EXHAUSTED with its cause's code.

Examples:
  npx vigil scan --events config/samples/events.jsonl --banks config/samples/banks --patterns config/samples/patterns.jsonl
  cat events.jsonl | npx vigil scan --events - --policy config/policy.yaml > flags.jsonl`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const config = loadConfig({ overrides: configOverrides(opts) });
      // Failures are already error lines of their own; the log only adds what debugging asks for.
      const logger = createLogger(['debug', 'trace'].includes(config.logLevel) ? config.logLevel : 'error');
      const runtime = await createScanRuntime(config, logger, { watch: false }).catch((err: unknown) => {
        throw new UsageError(toVigilError(err).message);
      });
      const flags = new StdoutFlagSink();
      const deadLetters = new StderrDeadLetterSink();
      // The worker's handler, with stdout and stderr as its queues and no retries (nothing to wait for).
      const handle = createScanJobHandler({
        scanner: runtime.scanner,
        policy: runtime.policy,
        limits: contractLimits(config),
        flags,
        deadLetters,
        logger,
        retry: { maxAttempts: 1, backoffMs: 0 },
      });
      const file = String(opts.events);
      let events = 0;
      let flagged = 0;
      let failedEvents = 0;
      const tick = progress('scan');
      try {
        for await (const { line, text } of readLines(file)) {
          tick(events++);
          const before = deadLetters.count;
          const result = await handle({ payload: text, origin: { kind: 'cli', file, line }, attempt: 1 });
          if (result.status === 'scanned' && result.flagIds.length) flagged++;
          if (deadLetters.count > before) failedEvents++;
        }
      } finally {
        await runtime.close();
      }
      printErr(
        `scanned ${events} event(s): ${flagged} flagged, ${deadLetters.count} error(s)${failedEvents !== deadLetters.count ? ` in ${failedEvents} event(s)` : ''}`,
      );
      if (deadLetters.count) process.exitCode = 1;
    });
}
