/**
 * `npm run bench -- cluster [--events N] [--concurrency C] [--rounds R]`: text events/s through the
 * scan worker on a local Redis Cluster (3 masters + 3 replicas on loopback, started here), with the
 * scan queue as 1 shard and as 3 shards (each shard's slot on a different master), in the same run,
 * and the Redis CPU each event costs: INFO cpu (used_cpu_sys + used_cpu_user) of every node read
 * before and after each round, so the per-master split shows how the load spreads and how far it
 * scales once Redis, not this machine's two cores, is the limit. Same total worker concurrency in
 * both (C for one shard, C/3 per shard for three); one worker process (this one) publishes and scans.
 */
import { Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { built, intArg } from './_shared.js';
import type * as ShardsModule from '../src/core/shards.js';
import type * as ConfigModule from '../src/config.js';
import type * as LoggerModule from '../src/logger.js';
import type * as PathsModule from '../src/paths.js';
import type * as PublisherModule from '../src/publisher.js';
import type * as ScanServiceModule from '../src/services/scan-service.js';
import { startRedisCluster, type RedisCluster } from '../test/helpers/redis-cluster.js';
const { loadConfig } = await built<typeof ConfigModule>('config.js');
const { createLogger } = await built<typeof LoggerModule>('logger.js');
const { packageRoot } = await built<typeof PathsModule>('paths.js');
const { createPublisher } = await built<typeof PublisherModule>('publisher.js');
const { startScanService } = await built<typeof ScanServiceModule>('services/scan-service.js');
const { shardPrefix } = await built<typeof ShardsModule>('core/shards.js');

function events(n: number, tag: string): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    schema: 'vigil.message.v1',
    eventId: `evt_${tag}_${i}`,
    messageId: `msg_${tag}_${i}`,
    conversationId: `conv_${tag}_${i % 1009}`,
    senderId: `user_${i % 31}`,
    recipientIds: [`user_${(i + 1) % 31}`],
    sentAt: new Date().toISOString(),
    text: i % 50 === 0 ? `remember the velvet teapot, number ${i}` : `hello number ${i}, see you at the park`,
  }));
}

/** CPU seconds (user + sys) each node has used so far, by host:port. */
async function cpuByNode(cluster: RedisCluster): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await Promise.all(
    cluster.ports.map(async (port) => {
      const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
      c.on('error', () => undefined);
      try {
        const info = await c.info('cpu');
        const v = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
        out.set(`127.0.0.1:${port}`, v('used_cpu_sys') + v('used_cpu_user'));
      } finally {
        c.disconnect();
      }
    }),
  );
  return out;
}

/** A base prefix whose `shards` shard tags land on `shards` different masters (for 1: any). */
async function spreadPrefix(cluster: RedisCluster, shards: number): Promise<string> {
  for (let i = 0; i < 1000; i++) {
    const base = `bench-cl-${randomBytes(3).toString('hex')}`;
    if (shards === 1) return base;
    const owners = await Promise.all(Array.from({ length: shards }, (_, s) => cluster.masterOfKey(`${shardPrefix(base, s, shards)}:vigil-scan:wait`)));
    if (new Set(owners).size === shards) return base;
  }
  throw new Error('no prefix spreads the shards over the masters');
}

interface Round {
  shards: number;
  rate: number;
  /** Redis CPU µs per event, all masters together. */
  masterUsPerEvent: number;
  /** Redis CPU µs per event on each master, busiest first. */
  perMaster: number[];
  replicaUsPerEvent: number;
  /** This process (publisher + worker) CPU µs per event. */
  workerUsPerEvent: number;
  flags: number;
}

async function round(cluster: RedisCluster, admin: Cluster, shards: number, n: number, concurrency: number): Promise<Round> {
  const base = await spreadPrefix(cluster, shards);
  const root = packageRoot();
  const config = loadConfig({
    env: {},
    overrides: {
      redisUrl: cluster.url,
      redisCluster: true,
      scanShards: shards,
      queuePrefix: base,
      concurrency: Math.max(1, Math.round(concurrency / shards)),
      banksDir: join(root, 'config/samples/banks'),
      policyFile: join(root, 'config/policy.yaml'),
      imageModel: '',
      logLevel: 'silent',
    },
  });
  const service = await startScanService(config, createLogger('silent'));
  let done = 0;
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  for (const w of service.workers)
    w.worker.on('completed', () => {
      if (++done === n) resolve();
    });
  const publisher = createPublisher({ connection: cluster.url, cluster: true, shards, prefix: config.queuePrefix });
  const payloads = events(n, `${shards}s${randomBytes(2).toString('hex')}`);
  const masters = await cluster.masters();
  const cpu0 = await cpuByNode(cluster);
  const proc0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i += 500) {
    const r = await publisher.publishBatch(payloads.slice(i, i + 500));
    if (r.rejected.length) throw new Error(`bench events rejected: ${r.rejected[0]?.error.message}`);
  }
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const proc = process.cpuUsage(proc0);
  const cpu1 = await cpuByNode(cluster);
  const moderation = new Queue(config.moderationQueue, { connection: admin, prefix: config.queuePrefix });
  const flags = (await moderation.getJobCounts('prioritized')).prioritized ?? 0;
  await moderation.close();
  await service.stop();
  await publisher.close();
  const delta = (addr: string) => ((cpu1.get(addr) ?? 0) - (cpu0.get(addr) ?? 0)) * 1e6;
  const perMaster = masters.map((m) => delta(m) / n).sort((a, b) => b - a);
  const replicas = [...cpu1.keys()].filter((a) => !masters.includes(a));
  return {
    shards,
    rate: n / seconds,
    masterUsPerEvent: perMaster.reduce((a, b) => a + b, 0),
    perMaster,
    replicaUsPerEvent: replicas.reduce((a, r) => a + delta(r), 0) / n,
    workerUsPerEvent: (proc.user + proc.system) / n,
    flags,
  };
}

export async function run(args: string[]): Promise<string> {
  const n = intArg(args, 'events', 10_000);
  const concurrency = intArg(args, 'concurrency', 48);
  const rounds = intArg(args, 'rounds', 3);
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  const cluster = await startRedisCluster();
  const admin = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
  admin.on('error', () => undefined);
  const results: Record<number, Round[]> = { 1: [], 3: [] };
  try {
    // Warm-up (JIT, scripts loaded on every master), not recorded.
    await round(cluster, admin, 1, 1000, concurrency);
    await round(cluster, admin, 3, 1000, concurrency);
    for (let r = 0; r < rounds; r++)
      for (const shards of [1, 3]) {
        const x = await round(cluster, admin, shards, n, concurrency);
        results[shards]!.push(x);
        process.stderr.write(
          `round ${r + 1}, ${shards} shard(s): ${x.rate.toFixed(0)} events/s, Redis ${x.masterUsPerEvent.toFixed(1)} µs/event on masters (${x.perMaster.map((m) => m.toFixed(1)).join(' / ')}), worker ${x.workerUsPerEvent.toFixed(0)} µs/event\n`,
        );
      }
  } finally {
    admin.disconnect();
    await cluster.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const summary = (rs: Round[]) => ({
    rate: median(rs.map((r) => r.rate)),
    master: median(rs.map((r) => r.masterUsPerEvent)),
    busiest: median(rs.map((r) => r.perMaster[0] ?? 0)),
    perMaster: [0, 1, 2].map((i) => median(rs.map((r) => r.perMaster[i] ?? 0))),
    replica: median(rs.map((r) => r.replicaUsPerEvent)),
    worker: median(rs.map((r) => r.workerUsPerEvent)),
    flags: rs.at(-1)?.flags ?? 0,
  });
  const one = summary(results[1]!);
  const three = summary(results[3]!);
  // A Redis master is single-threaded: it saturates at about 1 CPU second per second. The busiest
  // master's µs/event therefore bounds the rate one scan queue (or one shard layout) can reach.
  const ceiling = (busiestUs: number) => (busiestUs > 0 ? 1e6 / busiestUs : 0);
  const k = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
  const row = (label: string, s: ReturnType<typeof summary>) =>
    `| ${label} | ${k(s.rate)} | ${s.master.toFixed(1)} | ${s.perMaster.map((m) => m.toFixed(1)).join(' / ')} | ${s.replica.toFixed(1)} | ${s.worker.toFixed(0)} | ${k(ceiling(s.busiest))} |`;
  return `### Redis Cluster: 1 scan shard vs 3 (\`bench/cluster.ts\`)

Command: \`npm run bench -- cluster --events ${n} --concurrency ${concurrency} --rounds ${rounds}\`. A local Redis Cluster (3 masters + 3 replicas, redis-server ${'7'}, loopback, no persistence) started by the benchmark; one scan worker in the benchmark process (total concurrency ${concurrency}: ${concurrency} on one shard, ${Math.round(concurrency / 3)} per shard on three), publishing ${n} text events a round through the cluster-mode publisher (2% carry the sample term and are flagged). 3 shards: each shard's slot on a different master (checked with CLUSTER KEYSLOT/SLOTS). Redis CPU per event: INFO cpu (user + sys) delta of each node over the round. Each column is the median over ${rounds} rounds (layouts alternate within a round). Load average at the start: ${load} (${cpus().length} cores, shared with other work: absolute rates are low and noisy).

| Layout | events/s | Redis CPU µs/event, all masters | per master, busiest first | replicas µs/event | worker process CPU µs/event | projected ceiling: 1 / busiest master |
|---|---|---|---|---|---|---|
${row('1 shard', one)}
${row('3 shards', three)}

Measured ratio in this run: 3 shards / 1 shard = ${(three.rate / one.rate).toFixed(2)}× events/s. On ${cpus().length} cores the worker process (${one.worker.toFixed(0)} µs/event of its own CPU, ≈ ${k(1e6 / one.worker)} events/s per worker core) and the six redis-servers share the same CPUs, so the measured rate is bound by the machine, not by Redis: the gain cannot show here. What does show is where the Redis work goes: with one shard every event's queue work (enqueue, take, complete, flag, dedupe key) lands on one master (${one.busiest.toFixed(1)} µs/event there, a ceiling of about ${k(ceiling(one.busiest))} events/s when that master has a core to itself); with three shards the busiest master carries ${three.busiest.toFixed(1)} µs/event (whichever master also holds the moderation queue, under the base tag, carries that too), so the Redis ceiling projects to about ${k(ceiling(three.busiest))} events/s, ${(ceiling(three.busiest) / Math.max(1, ceiling(one.busiest))).toFixed(1)}× the single shard's, once masters and workers have their own cores. Total Redis CPU per event is ${three.master >= one.master ? 'not lower' : 'lower'} with shards (${one.master.toFixed(1)} → ${three.master.toFixed(1)} µs): sharding spreads the work, it does not remove it. Sizing from these figures: docs/architecture.md.`;
}
