import type { Command } from 'commander';
import { QueueEvents, type Job } from 'bullmq';
import { loadConfig } from '../../config.js';
import { closeRedis, createRedis } from '../../adapters/bullmq/connection.js';
import type { Flag } from '../../core/contracts.js';
import { SEVERITIES } from '../../core/signals.js';
import { withOpsContext } from '../../ops/cli-context.js';
import { configOverrides, parseIntOption, printErr, printJson, UsageError, withConfigOptions } from '../io.js';

const STATES = ['prioritized', 'waiting', 'active', 'delayed', 'completed', 'failed'] as const;

interface FlagFilter {
  category?: string | undefined;
  severity?: string | undefined;
}

function filterOf(opts: Record<string, unknown>): FlagFilter {
  const severity = opts.severity as string | undefined;
  if (severity !== undefined && !(SEVERITIES as readonly string[]).includes(severity))
    throw new UsageError(`--severity must be one of ${SEVERITIES.join(', ')}, got "${severity}"`);
  return { category: opts.category as string | undefined, severity };
}

const matches = (f: Flag, filter: FlagFilter) => (!filter.category || f.category === filter.category) && (!filter.severity || f.severity === filter.severity);

function printFlag(job: Job, f: Flag, json: boolean): void {
  const at = new Date(job.timestamp).toISOString();
  if (json) {
    printJson({ enqueuedAt: at, ...f });
    return;
  }
  const evidence = [...new Set(f.signals.map((s) => `${s.type}:${s.sourceId}${s.entryId ? `/${s.entryId}` : ''}`))].join(' ');
  process.stdout.write(`${at}  ${f.severity.padEnd(8)} ${f.category.padEnd(22)} ${f.action.padEnd(18)} ${f.eventId.padEnd(24)} ${f.flagId}  ${evidence}\n`);
}

const filterOptions = (cmd: Command) =>
  cmd
    .option('--category <c>', 'only this category, e.g. sample_known_image')
    .option('--severity <s>', `only this severity (${SEVERITIES.join(', ')})`)
    .option('--json', 'one flag (vigil.flag.v1, plus enqueuedAt) per line');

export function register(program: Command): Command {
  const flags = program
    .command('flags')
    .description('Flags on the moderation queue, as reviewers receive them: ids, category, severity, action and evidence (never content).')
    .addHelpText(
      'after',
      '\nExamples:\n  npx vigil flags list --severity critical\n  npx vigil flags list --category sample_grooming --json\n  npx vigil flags tail\n  npx vigil flags tail --severity critical --max 1 --json',
    );
  withConfigOptions(
    filterOptions(flags.command('list').description('Flags on the moderation queue, newest first.')).option(
      '--limit <n>',
      'at most this many',
      parseIntOption('--limit', 1, 1_000_000),
      50,
    ),
    ['redis'],
  )
    .addHelpText(
      'after',
      '\nExamples:\n  npx vigil flags list\n  npx vigil flags list --severity critical --limit 10\n  npx vigil flags list --category sample_known_image --json | jq .flagId',
    )
    .action(async (opts: Record<string, unknown>) => {
      const filter = filterOf(opts);
      const config = loadConfig({ overrides: configOverrides(opts) });
      await withOpsContext(config, async (ctx) => {
        const jobs = (await ctx.moderation.getJobs([...STATES], 0, -1, false)).sort((a, b) => b.timestamp - a.timestamp);
        let shown = 0;
        for (const job of jobs) {
          if (shown >= (opts.limit as number)) break;
          const f = job.data as Flag;
          if (!matches(f, filter)) continue;
          printFlag(job, f, opts.json === true);
          shown++;
        }
      });
    });
  withConfigOptions(
    filterOptions(flags.command('tail').description('Print flags as they reach the moderation queue, until Ctrl-C (or --max).')).option(
      '--max <n>',
      'exit after this many flags',
      parseIntOption('--max', 1, 1_000_000_000),
    ),
    ['redis'],
  )
    .addHelpText(
      'after',
      '\nExamples:\n  npx vigil flags tail\n  npx vigil flags tail --severity critical --json\n  npx vigil flags tail --max 1 --json   # wait for the next flag, print it, exit',
    )
    .action(async (opts: Record<string, unknown>) => {
      const filter = filterOf(opts);
      const config = loadConfig({ overrides: configOverrides(opts) });
      await withOpsContext(config, async (ctx) => {
        // Its own connection: QueueEvents blocks on XREAD. On a cluster it must be a Cluster client (closed below).
        const own = config.redisCluster ? createRedis(config.redisUrl, 'worker', { cluster: true }) : undefined;
        const events = new QueueEvents(config.moderationQueue, { connection: own ?? { url: config.redisUrl }, prefix: config.queuePrefix });
        events.on('error', () => undefined);
        const max = (opts.max as number | undefined) ?? Number.POSITIVE_INFINITY;
        let printed = 0;
        let stop: () => void = () => undefined;
        try {
          await events.waitUntilReady();
          printErr(`following flags on ${config.moderationQueue} (Ctrl-C to stop)`);
          await new Promise<void>((resolve, reject) => {
            let chain = Promise.resolve();
            stop = () => resolve();
            process.once('SIGINT', stop);
            process.once('SIGTERM', stop);
            // Jobs are handled one after another, so output order is arrival order.
            events.on('added', ({ jobId }) => {
              chain = chain
                .then(async () => {
                  if (printed >= max) return;
                  const job = await ctx.moderation.getJob(jobId);
                  if (!job || !matches(job.data as Flag, filter)) return;
                  printFlag(job, job.data as Flag, opts.json === true);
                  if (++printed >= max) resolve();
                })
                .catch(reject);
            });
          });
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          await events.close();
          if (own) await closeRedis(own);
        }
      });
    });
  return flags;
}
