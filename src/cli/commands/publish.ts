import type { Command } from 'commander';
import { contractLimits, loadConfig } from '../../config.js';
import { parseMessageEvent, salvageIds, type MessageEvent } from '../../core/contracts.js';
import { toVigilError } from '../../core/errors.js';
import { createPublisher } from '../../publisher.js';
import { configOverrides, printErr, printJson, progress, readLines, withConfigOptions } from '../io.js';

const BATCH = 500;

export function register(program: Command): Command {
  return withConfigOptions(
    program
      .command('publish')
      .description('Validate vigil.message.v1 events from a JSONL file and enqueue them on the scan queue.')
      .argument('<file>', 'JSONL file, one event per line ("-" for stdin)')
      .option('--json', 'one JSON result line per event on stdout instead of a summary'),
    ['redis'],
  )
    .addHelpText(
      'after',
      `
Each event is enqueued with jobId = eventId: publishing the same event again within the dedupe
window (VIGIL_DEDUPE_TTL_MS, default 24 h) is a no-op, counted as "duplicate" (status "duplicate"
with --json), not as published. Invalid lines print an error line on stderr
({"line":N,"error":{"code":…,"message":…}}) and make the exit code 1; valid lines are still published.

Examples:
  npx vigil publish events.jsonl
  npx vigil publish - --redis-url redis://127.0.0.1:6379 < events.jsonl`,
    )
    .action(async (file: string, opts: Record<string, unknown>) => {
      const config = loadConfig({ overrides: configOverrides(opts) });
      const limits = contractLimits(config);
      const publisher = createPublisher({
        connection: config.redisUrl,
        cluster: config.redisCluster,
        shards: config.scanShards,
        prefix: config.queuePrefix,
        queue: config.scanQueue,
        dedupeTtlMs: config.dedupeTtlMs,
        connectTimeoutMs: config.redisConnectTimeoutMs,
        failedRetentionS: config.failedRetentionS,
        limits,
      });
      let published = 0;
      let duplicates = 0;
      let failed = 0;
      let batch: { line: number; event: MessageEvent }[] = [];
      const tick = progress('publish');
      const flush = async () => {
        if (!batch.length) return;
        const result = await publisher.publishBatch(batch.map((b) => b.event));
        const absorbed = new Set(result.duplicates.map((d) => d.index));
        duplicates += absorbed.size;
        published += batch.length - absorbed.size;
        tick(published + duplicates);
        if (opts.json) batch.forEach((b, i) => printJson({ line: b.line, eventId: b.event.eventId, status: absorbed.has(i) ? 'duplicate' : 'published' }));
        batch = [];
      };
      try {
        for await (const { line, text } of readLines(file)) {
          try {
            batch.push({ line, event: parseMessageEvent(text, limits) });
          } catch (err) {
            failed++;
            const e = toVigilError(err);
            printErr(JSON.stringify({ line, ...salvageIds(text), error: { code: e.code, message: e.message } }));
          }
          if (batch.length >= BATCH) await flush();
        }
        await flush();
      } finally {
        await publisher.close();
      }
      if (!opts.json)
        printErr(
          `published ${published} event(s) to ${config.scanQueue}${duplicates ? `, ${duplicates} duplicate(s) absorbed (already accepted within the dedupe window)` : ''}${failed ? `, ${failed} invalid` : ''}`,
        );
      if (failed) process.exitCode = 1;
    });
}
