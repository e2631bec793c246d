import type { Command } from 'commander';
import { createScanRuntime } from '../../app.js';
import { contractLimits, loadConfig } from '../../config.js';
import { salvageIds } from '../../core/contracts.js';
import { toVigilError } from '../../core/errors.js';
import { processPayload } from '../../core/pipeline.js';
import { createLogger } from '../../logger.js';
import { configOverrides, printErr, printJson, progress, readLines, UsageError, withConfigOptions } from '../io.js';

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
Flags go to stdout, one JSON object per line. Each event that fails (invalid, or a media item that
could not be decoded) prints one error line on stderr: {"line":N,"eventId":…,"error":{"code":…,"message":…}}
and makes the exit code 1. Message text and media bytes are never printed.

Examples:
  npx vigil scan --events events.jsonl --banks config/samples/banks
  cat events.jsonl | npx vigil scan --events - --policy config/policy.yaml > flags.jsonl`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const config = loadConfig({ overrides: configOverrides(opts) });
      const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
      const runtime = await createScanRuntime(config, logger, { watch: false }).catch((err: unknown) => {
        throw new UsageError(toVigilError(err).message);
      });
      const limits = contractLimits(config);
      let failed = 0;
      let events = 0;
      let flagged = 0;
      const tick = progress('scan');
      for await (const { line, text } of readLines(String(opts.events))) {
        tick(events++);
        try {
          const { report, flags } = await processPayload(text, runtime.scanner, runtime.policy(), limits);
          for (const flag of flags) printJson(flag);
          if (flags.length) flagged++;
          for (const m of report.mediaErrors) {
            failed++;
            printErr(JSON.stringify({ line, eventId: report.eventId, mediaId: m.mediaId, reason: m.reason, error: { code: m.code, message: m.message } }));
          }
          for (const t of report.textErrors ?? []) {
            failed++;
            printErr(JSON.stringify({ line, eventId: report.eventId, part: 'text', reason: t.reason, error: { code: t.code, message: t.message } }));
          }
        } catch (err) {
          failed++;
          const e = toVigilError(err);
          printErr(JSON.stringify({ line, ...salvageIds(text), error: { code: e.code, message: e.message } }));
        }
      }
      await runtime.close();
      printErr(`scanned ${events} event(s): ${flagged} flagged, ${failed} error(s)`);
      if (failed) process.exitCode = 1;
    });
}
