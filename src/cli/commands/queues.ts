import type { Command } from 'commander';
import { Queue } from 'bullmq';
import { loadConfig, type Config } from '../../config.js';
import { configOverrides, printJson, withConfigOptions, withRedis } from '../io.js';

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
          for (const [name, counts] of Object.entries(out))
            process.stdout.write(`${name.padEnd(24)}${[...STATES, 'workers'].map((s) => String(counts[s] ?? 0).padStart(12)).join('')}\n`);
        }
      });
    });
}
