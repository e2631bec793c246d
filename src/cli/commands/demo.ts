import { maskUrl } from '../../core/secrets.js';
import type { Command } from 'commander';
import { Queue } from 'bullmq';
import { join } from 'node:path';
import { loadConfig } from '../../config.js';
import type { Flag } from '../../core/contracts.js';
import type { DeadLetter } from '../../core/ports.js';
import { closeRedis, createRedis, waitForRedis } from '../../adapters/bullmq/connection.js';
import { ensureRedis } from '../../demo/local-redis.js';
import { sampleEvents } from '../../demo/sample-events.js';
import { createLogger } from '../../logger.js';
import { packageRoot } from '../../paths.js';
import { createPublisher } from '../../publisher.js';
import { startScanService } from '../../services/scan-service.js';
import { printJson } from '../io.js';

/** Deletes every key under `prefix:` (the demo's own, private prefix). */
export async function removePrefix(url: string, prefix: string, timeoutMs: number): Promise<number> {
  const client = createRedis(url, 'producer');
  try {
    await waitForRedis(client, timeoutMs, url);
    let removed = 0;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) removed += await client.del(...keys);
    } while (cursor !== '0');
    return removed;
  } finally {
    await closeRedis(client);
  }
}

function describeFlag(f: Flag): string {
  const ev = f.signals
    .map(
      (s) =>
        `${s.type} ${s.sourceId}/${s.entryId ?? '?'}${s.distance !== undefined ? ` d=${s.distance}` : ''}${s.variant && s.variant !== 'orig' ? ` (${s.variant})` : ''}${s.mediaId ? ` on media ${s.mediaId}` : ''}${s.span ? ` at text ${s.span.start}-${s.span.end}` : ''}`,
    )
    .join('; ');
  return `  ${f.eventId}  ${f.category}  ${f.severity}  ${f.action}\n      evidence: ${ev}`;
}

export function register(program: Command): Command {
  return program
    .command('demo')
    .description('Run the whole loop on this machine: worker, sample events in, flags out. Exits when done.')
    .option('--json', 'print the flags as JSONL on stdout (progress still goes to stderr)')
    .addHelpText(
      'after',
      `
Uses Redis at REDIS_URL (default redis://127.0.0.1:6379) if it answers, else starts a throwaway
redis-server on a free port. Queues get a private prefix (vigil-demo-PID) that is removed afterwards,
so a demo never touches real queues. Sample banks: config/samples/banks; patterns:
config/samples/patterns.jsonl; policy: config/policy.yaml;
sample media are benign synthetic pictures and the terms harmless stand-in phrases.

Example:
  npm run demo`,
    )
    .action(async (opts: { json?: boolean }) => {
      const say = (line: string) => process.stderr.write(`${line}\n`);
      const root = packageRoot();
      const base = loadConfig();
      const redis = await ensureRedis(base.redisUrl);
      const config = loadConfig({
        overrides: {
          redisUrl: redis.url,
          queuePrefix: `vigil-demo-${process.pid}`,
          banksDir: join(root, 'config/samples/banks'),
          policyFile: join(root, 'config/policy.yaml'),
          patternsFile: join(root, 'config/samples/patterns.jsonl'),
          logLevel: base.logLevel === 'info' ? 'error' : base.logLevel,
          concurrency: 8,
          metricsPort: 0,
        },
      });
      say(`Vigil demo: Redis at ${redis.startedHere ? `${redis.url} (started for this demo)` : maskUrl(redis.url)}, queue prefix ${config.queuePrefix}`);
      const logger = createLogger(config.logLevel);
      const service = await startScanService(config, logger);
      const publisher = createPublisher({ connection: config.redisUrl, prefix: config.queuePrefix, queue: config.scanQueue, dedupeTtlMs: config.dedupeTtlMs });
      const queues = [config.scanQueue, config.moderationQueue, config.deadLetterQueue].map(
        (name) => new Queue(name, { connection: { url: config.redisUrl }, prefix: config.queuePrefix }),
      );
      const [scanQ, modQ, dlQ] = queues as [Queue, Queue, Queue];
      const started = Date.now();
      try {
        const samples = sampleEvents();
        for (const s of samples) {
          if (s.expect === 'dead-letter' && !('senderId' in s.event && s.event.senderId)) {
            // A producer that skipped validation: the worker must dead-letter it, not crash.
            await scanQ.add('scan', s.event, { jobId: String(s.event.eventId), removeOnComplete: true });
          } else {
            await publisher.publish(s.event);
          }
        }
        say(`published ${samples.length} sample events (one of them a duplicate, one malformed)`);
        const deadline = Date.now() + 60_000;
        for (;;) {
          const c = await scanQ.getJobCounts('wait', 'active', 'prioritized', 'delayed');
          if (Object.values(c).every((n) => n === 0)) break;
          if (Date.now() > deadline) throw new Error('the worker did not drain the demo queue within 60 s');
          await new Promise((r) => setTimeout(r, 100));
        }
        const flags = (await modQ.getJobs(['prioritized', 'waiting'])).map((j) => j.data as Flag).sort((a, b) => a.eventId.localeCompare(b.eventId));
        const dead = (await dlQ.getJobs(['waiting', 'prioritized'])).map((j) => j.data as DeadLetter);
        say(`\nflags on ${config.moderationQueue} (${flags.length}):`);
        for (const f of flags) {
          if (opts.json) printJson(f);
          say(describeFlag(f));
        }
        say(`\ndead-letter entries on ${config.deadLetterQueue} (${dead.length}):`);
        for (const d of dead)
          say(
            `  ${d.eventId ?? `(job ${d.origin.kind === 'bullmq' ? d.origin.jobId : '?'})`}  ${d.code}${d.mediaId ? ` media ${d.mediaId}` : ''}: ${d.message}`,
          );
        const expectedFlagged = new Set(samples.filter((s) => s.expect.startsWith('flag')).map((s) => String(s.event.eventId)));
        const flagged = new Set(flags.map((f) => f.eventId));
        const missing = [...expectedFlagged].filter((id) => !flagged.has(id));
        const unexpected = [...flagged].filter((id) => !expectedFlagged.has(id));
        say(
          `\ndone in ${((Date.now() - started) / 1000).toFixed(1)} s: ${flagged.size} event(s) flagged, ${dead.length} dead-lettered, duplicate absorbed: ${flags.filter((f) => f.eventId === 'demo-evt-002').length <= 1 ? 'yes' : 'NO'}`,
        );
        if (missing.length || unexpected.length) {
          say(`unexpected result: missing flags for ${missing.join(', ') || '-'}; unexpected flags for ${unexpected.join(', ') || '-'}`);
          process.exitCode = 1;
        }
        say(
          'next: `npx vigil scan --events config/samples/events.jsonl --banks config/samples/banks --patterns config/samples/patterns.jsonl`\nscans the same events offline, without Redis; `npx vigil --help` lists every command.',
        );
      } finally {
        await service.stop();
        await publisher.close();
        for (const q of queues) {
          await q.obliterate({ force: true }).catch(() => undefined);
          await q.close();
        }
        // obliterate leaves the dedupe keys (P:queue:de:<id>) and bank keys: remove the whole private prefix.
        await removePrefix(config.redisUrl, config.queuePrefix, config.redisConnectTimeoutMs).catch((err: unknown) =>
          say(`could not remove the demo's keys under ${config.queuePrefix}: ${(err as Error).message}`),
        );
        await redis.stop();
      }
    });
}
