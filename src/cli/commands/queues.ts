import type { Command } from 'commander';
import { Queue } from 'bullmq';
import { loadConfig, type Config } from '../../config.js';
import type { DeadLetter } from '../../core/ports.js';
import { ERROR_CODES, type ErrorCode } from '../../core/errors.js';
import { configOverrides, parseIntOption, printJson, UsageError, withConfigOptions, withRedis } from '../io.js';

const PAGE = 1000;

function parseCode(value: string): ErrorCode {
  if (!(value in ERROR_CODES)) throw new UsageError(`--code must be one of ${Object.keys(ERROR_CODES).join(', ')}; got "${value}"`);
  return value as ErrorCode;
}

const STATES = ['wait', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

async function withQueues<T>(opts: Record<string, unknown>, work: (config: Config, queue: (name: string) => Queue) => Promise<T>): Promise<T> {
  const config = loadConfig({ overrides: configOverrides(opts) });
  return withRedis(config, async (redis) => {
    const opened: Queue[] = [];
    try {
      return await work(config, (name) => {
        const q = new Queue(name, { connection: redis, prefix: config.queuePrefix });
        q.on('error', () => undefined);
        opened.push(q);
        return q;
      });
    } finally {
      await Promise.all(opened.map((q) => q.close()));
    }
  });
}

export function registerDeadLetters(program: Command): Command {
  return withConfigOptions(
    program
      .command('dead-letters')
      .description('List dead-letter entries, newest first: ids, typed reason and origin (never content).')
      .option('--limit <n>', 'how many', parseIntOption('--limit', 1, 100_000), 50)
      .option('--code <code>', 'only this error code, e.g. MEDIA_UNDECODABLE', parseCode)
      .option('--json', 'one JSON entry per line'),
    ['redis'],
  )
    .addHelpText('after', `\nEntries are kept VIGIL_DEAD_LETTER_RETENTION_S (default 7 days), at most VIGIL_DEAD_LETTER_MAX_ENTRIES (default 100,000; the oldest go first).\nCodes: ${Object.keys(ERROR_CODES).join(', ')}.\n\nExamples:\n  npx vigil dead-letters\n  npx vigil dead-letters --code EVENT_INVALID --limit 500 --json`)
    .action(async (opts: Record<string, unknown>) => {
      await withQueues(opts, async (config, queue) => {
        const limit = Number(opts.limit);
        const q = queue(config.deadLetterQueue);
        // Entries are named after their code, so a code filter pages through the queue until it has `limit` of them.
        const found: DeadLetter[] = [];
        const page = opts.code ? PAGE : limit;
        for (let start = 0; found.length < limit; start += page) {
          const jobs = await q.getJobs(['waiting', 'prioritized', 'completed', 'failed'], start, start + page - 1, false);
          for (const job of jobs) if (!opts.code || (job.data as DeadLetter).code === opts.code) found.push(job.data as DeadLetter);
          if (jobs.length < page || !opts.code) break;
        }
        for (const d of found.slice(0, limit)) {
          if (opts.json) printJson(d);
          else {
            const where = d.origin.kind === 'bullmq' ? `${d.origin.queue}/${d.origin.jobId}` : d.origin.kind === 'kafka' ? `${d.origin.topic}[${d.origin.partition}]@${d.origin.offset}` : `${d.origin.file}:${d.origin.line}`;
            process.stdout.write(`${d.at}  ${d.code.padEnd(20)} ${(d.eventId ?? '-').padEnd(24)} ${d.mediaId ? `media ${d.mediaId}  ` : ''}${where}  ${d.message}\n`);
          }
        }
      });
    });
}

export function register(program: Command): Command {
  return withConfigOptions(
    program
      .command('queues')
      .description('Counts of the scan, moderation and dead-letter queues, and the scan workers connected.')
      .option('--json', 'one JSON object'),
    ['redis'],
  )
    .addHelpText('after', '\nExamples:\n  npx vigil queues\n  watch -n 5 npx vigil queues')
    .action(async (opts: Record<string, unknown>) => {
      await withQueues(opts, async (config, queue) => {
        const out: Record<string, Record<string, number>> = {};
        for (const name of [config.scanQueue, config.moderationQueue, config.deadLetterQueue]) {
          const q = queue(name);
          out[name] = { ...(await q.getJobCounts(...STATES)), workers: await q.getWorkersCount() };
        }
        if (opts.json) printJson(out);
        else {
          process.stdout.write(`${'queue'.padEnd(24)}${[...STATES, 'workers'].map((s) => s.padStart(12)).join('')}\n`);
          for (const [name, counts] of Object.entries(out)) process.stdout.write(`${name.padEnd(24)}${[...STATES, 'workers'].map((s) => String(counts[s] ?? 0).padStart(12)).join('')}\n`);
        }
      });
    });
}
