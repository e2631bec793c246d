import type { Command } from 'commander';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { loadConfig, type Config } from '../../config.js';
import { shardPrefix } from '../../core/shards.js';
import type { RedisClient } from '../../adapters/bullmq/connection.js';
import { configOverrides, printJson, withConfigOptions, withRedis } from '../io.js';

const STATES = ['wait', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

type Counts = Record<string, number>;

async function withQueues<T>(
  opts: Record<string, unknown>,
  work: (config: Config, queue: (name: string, prefix?: string) => Queue, redis: RedisClient) => Promise<T>,
): Promise<T> {
  const config = loadConfig({ overrides: configOverrides(opts) });
  return withRedis(config, async (redis) => {
    const opened: Queue[] = [];
    try {
      return await work(
        config,
        (name, prefix = config.queuePrefix) => {
          const q = new Queue(name, { connection: redis, prefix });
          q.on('error', () => undefined);
          opened.push(q);
          return q;
        },
        redis,
      );
    } finally {
      await Promise.all(opened.map((q) => q.close()));
    }
  });
}

async function countsOf(q: Queue): Promise<Counts> {
  return { ...(await q.getJobCounts(...STATES)), workers: await q.getWorkersCount() };
}

/** On a cluster: the master holding a shard's slot (host:port), so an operator can see shards spread over masters. */
async function masterOf(redis: RedisClient, key: string): Promise<string | undefined> {
  if (!(redis instanceof Cluster)) return undefined;
  const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', key));
  return redis.slots[slot]?.[0];
}

export function register(program: Command): Command {
  return withConfigOptions(
    program
      .command('queues')
      .description(
        'Counts of the scan, moderation and dead-letter queues, and the scan workers connected. With VIGIL_SCAN_SHARDS > 1 the scan queue is the sum of its shards, and each shard is listed too.',
      )
      .option('--json', 'one JSON object'),
    ['redis'],
  )
    .addHelpText(
      'after',
      `
With several scan shards, --json adds "shards" to the scan queue's entry: one object per shard with
shard, prefix, the same counts, and (on Redis Cluster) node, the master holding the shard's slot.

Examples:
  npx vigil queues
  npx vigil queues --json
  watch -n 5 npx vigil queues`,
    )
    .action(async (opts: Record<string, unknown>) => {
      await withQueues(opts, async (config, queue, redis) => {
        const out: Record<string, Counts> = {};
        const shardRows: { shard: number; prefix: string; node?: string; counts: Counts }[] = [];
        const n = config.scanShards;
        if (n === 1) out[config.scanQueue] = await countsOf(queue(config.scanQueue));
        else {
          for (let shard = 0; shard < n; shard++) {
            const prefix = shardPrefix(config.queuePrefix, shard, n);
            const q = queue(config.scanQueue, prefix);
            const node = await masterOf(redis, q.toKey('wait'));
            shardRows.push({ shard, prefix, ...(node ? { node } : {}), counts: await countsOf(q) });
          }
          const total: Counts = {};
          for (const s of shardRows) for (const k of [...STATES, 'workers']) total[k] = (total[k] ?? 0) + (s.counts[k] ?? 0);
          out[config.scanQueue] = total;
        }
        for (const name of [config.moderationQueue, config.deadLetterQueue]) out[name] = await countsOf(queue(name));
        const scanShards = shardRows.map(({ counts, ...where }) => ({ ...where, ...counts }));
        if (opts.json) printJson(n === 1 ? out : { ...out, [config.scanQueue]: { ...out[config.scanQueue], shards: scanShards } });
        else {
          const row = (name: string, counts: Counts) =>
            process.stdout.write(`${name.padEnd(24)}${[...STATES, 'workers'].map((s) => String(counts[s] ?? 0).padStart(12)).join('')}\n`);
          process.stdout.write(`${'queue'.padEnd(24)}${[...STATES, 'workers'].map((s) => s.padStart(12)).join('')}\n`);
          for (const [name, counts] of Object.entries(out)) {
            row(name, counts);
            if (name === config.scanQueue) for (const s of shardRows) row(`  shard ${s.shard}${s.node ? ` @${s.node}` : ''}`, s.counts);
          }
        }
      });
    });
}
