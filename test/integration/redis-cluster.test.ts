/**
 * Cluster mode on a real local Redis Cluster (3 masters + 3 replicas on free loopback ports, started
 * here): publish → flags through 3 scan shards, each on its own master; a CLUSTER FAILOVER and a slot
 * migration while a worker runs; the Kafka bridge routing by conversationId.
 *
 * Shard key names are checked against the documented contract (`{PREFIX-sN}` under cluster mode's
 * hash tag), read straight from the cluster, not through Vigil's own helpers.
 */
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { Flag } from '../../src/core/contracts.js';
import { createLogger } from '../../src/logger.js';
import { shardFor, shardPrefix } from '../../src/core/shards.js';
import { createPublisher, type Publisher } from '../../src/publisher.js';
import { startBridgeService } from '../../src/services/bridge-service.js';
import { startScanService, type ScanService } from '../../src/services/scan-service.js';
import { runCli } from '../helpers/cli.js';
import { committedTotal, messageEvent, produce, testKafka, uniqueName } from '../helpers/kafka.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { testConfig, waitFor } from '../helpers/redis.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';

const SHARDS = 3;
let cluster: RedisCluster;
let admin: Cluster;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
  admin = new Cluster(
    cluster.ports.map((port) => ({ host: '127.0.0.1', port })),
    { redisOptions: { maxRetriesPerRequest: 20 } },
  );
  admin.on('error', () => undefined);
}, 60_000);

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

afterAll(async () => {
  admin?.disconnect();
  await cluster?.stop();
});

/** The key prefix of shard `i` under base prefix `base` (no tag of its own). */
const shardTag = (base: string, i: number) => shardPrefix(base, i, SHARDS);

/**
 * A fresh base prefix. Shard tags are placed by slot range (src/core/shards.ts), so any prefix puts
 * the three shards on the three masters of a cluster made by `redis-cli --cluster create`: asserted.
 */
async function spreadPrefix(label: string): Promise<string> {
  const masters = await cluster.masters();
  const base = `vt-${label}-${randomBytes(3).toString('hex')}`;
  const owners = await Promise.all(Array.from({ length: SHARDS }, (_, s) => cluster.masterOfKey(`${shardTag(base, s)}:vigil-scan:wait`)));
  expect(new Set(owners).size).toBe(SHARDS);
  expect(owners.every((o) => masters.includes(o))).toBe(true);
  return base;
}

function clusterConfig(base: string, overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  return testConfig(base, { redisUrl: cluster.url, redisCluster: true, scanShards: SHARDS, banksDir: 'config/samples/banks', concurrency: 8, ...overrides });
}

/** Every event carries the sample term bank's stand-in phrase: exactly one flag each. */
function flaggedEvent(tag: string, i: number, conversations: number) {
  return messageEvent(tag, i, { conversationId: `conv_${tag}_${i % conversations}`, text: `remember the velvet teapot, number ${i}` });
}

function queue(name: string, prefix: string): Queue {
  const q = new Queue(name, { connection: admin, prefix });
  q.on('error', () => undefined);
  cleanups.push(() => q.close());
  return q;
}

async function moderationFlags(config: Config): Promise<Flag[]> {
  const q = queue(config.moderationQueue, config.queuePrefix);
  return (await q.getJobs(['prioritized', 'waiting'], 0, -1)).map((j) => j.data as Flag);
}

async function startWorker(config: Config): Promise<ScanService> {
  const service = await startScanService(config, createLogger('silent'));
  cleanups.push(() => service.stop());
  return service;
}

function publisherFor(config: Config): Publisher {
  const publisher = createPublisher({
    connection: config.redisUrl,
    cluster: true,
    shards: SHARDS,
    prefix: config.queuePrefix,
    dedupeTtlMs: config.dedupeTtlMs,
  });
  cleanups.push(() => publisher.close());
  return publisher;
}

/** Conversation ids waiting on each shard's queue, read from the cluster under the documented key names. */
async function conversationsByShard(base: string, scanQueue: string): Promise<Set<string>[]> {
  return Promise.all(
    Array.from({ length: SHARDS }, async (_, s) => {
      const jobs = await queue(scanQueue, shardTag(base, s)).getJobs(['waiting', 'prioritized'], 0, -1);
      return new Set(jobs.map((j) => (j.data as { conversationId: string }).conversationId));
    }),
  );
}

/**
 * For a failure message: where the first unflagged events are. A job state of `unknown` with no
 * dedupe key means the write itself is gone from the cluster (as when an unsynced replica is promoted).
 */
async function whereMissing(config: Config, published: string[]): Promise<string> {
  const flagged = new Set((await moderationFlags(config)).map((f) => f.eventId));
  const missing = published.filter((id) => !flagged.has(id));
  const dead = await queue(config.deadLetterQueue, config.queuePrefix).count();
  const states = await Promise.all(
    missing.slice(0, 8).map(async (id) => {
      const shard = shardFor(`conv_fo_${Number(id.split('_').pop()) % 40}`, SHARDS);
      const q = queue(config.scanQueue, shardTag(config.queuePrefix.slice(1, -1), shard));
      return `${id} on shard ${shard}: ${await q.getJobState(id)}, dedupe key ${(await admin.exists(q.toKey(`de:${id}`))) ? 'kept' : 'gone'}`;
    }),
  );
  return `${missing.length} missing, first ${states.join('; ')}; ${dead} dead letters`;
}

function expectDisjoint(sets: Set<string>[]): void {
  const seen = new Map<string, number>();
  sets.forEach((set, shard) => {
    for (const c of set) {
      expect(seen.get(c), `conversation ${c} on shards ${seen.get(c)} and ${shard}`).toBeUndefined();
      seen.set(c, shard);
    }
  });
}

describe('Redis Cluster mode with sharded scan queues', () => {
  it('publish → one flag per event through 3 shards, each shard on a different master; one conversation stays on one shard', async () => {
    const base = await spreadPrefix('cl');
    const config = clusterConfig(base);
    expect(config.queuePrefix).toBe(`{${base}}`);
    const owners = await Promise.all(Array.from({ length: SHARDS }, (_, s) => cluster.masterOfKey(`${shardTag(base, s)}:vigil-scan:wait`)));
    expect(new Set(owners).size).toBe(SHARDS);

    const publisher = publisherFor(config);
    const events = Array.from({ length: 90 }, (_, i) => flaggedEvent('pub', i, 30));
    const result = await publisher.publishBatch(events);
    expect(result.rejected).toEqual([]);
    // Before any worker runs: the events sit on the shards, each conversation on exactly one.
    const byShard = await conversationsByShard(base, config.scanQueue);
    expect(byShard.map((s) => s.size).reduce((a, b) => a + b, 0)).toBe(30);
    for (const s of byShard) expect(s.size).toBeGreaterThan(0);
    expectDisjoint(byShard);
    // `vigil queues` lists each shard's depth and the master holding it.
    const cli = await runCli(['queues', '--json'], {
      env: { REDIS_URL: cluster.url, VIGIL_REDIS_CLUSTER: 'true', VIGIL_SCAN_SHARDS: String(SHARDS), VIGIL_QUEUE_PREFIX: base },
    });
    expect(cli.code, cli.stderr).toBe(0);
    const listed = (JSON.parse(cli.stdout) as Record<string, { wait: number; shards?: { shard: number; node: string; wait: number }[] }>)[config.scanQueue];
    expect(listed?.wait).toBe(90);
    expect(listed?.shards?.map((s) => s.node)).toEqual(owners);
    expect(listed?.shards?.reduce((a, s) => a + s.wait, 0)).toBe(90);
    // Dedupe keys live in the shard's slot: re-publishing is absorbed.
    const again = await publisher.publishBatch(events.slice(0, 10));
    expect(again.duplicates).toHaveLength(10);

    const worker = await startWorker(config);
    expect(worker.workers).toHaveLength(SHARDS);
    await waitFor('90 flags', async () => ((await moderationFlags(config)).length >= 90 ? true : undefined), 60_000);
    const flags = await moderationFlags(config);
    expect(flags.map((f) => f.eventId).sort()).toEqual(events.map((e) => e.eventId).sort());
    const metrics = await worker.metrics.registry.getSingleMetricAsString('vigil_scan_shard_events_total');
    for (let s = 0; s < SHARDS; s++) expect(metrics).toMatch(new RegExp(`shard="${s}"} [1-9]`));
    // Moderation queue and bank store stay under the base tag, in one slot.
    expect(await cluster.masterOfKey(`{${base}}:vigil-moderation:prioritized`)).toBe(await cluster.masterOfKey(`{${base}}:banks:meta`));
  }, 120_000);

  it('a CLUSTER FAILOVER and a slot migration while the worker runs: every event is still flagged, exactly once', async () => {
    const base = await spreadPrefix('clf');
    const config = clusterConfig(base);
    const worker = await startWorker(config);
    const publisher = publisherFor(config);
    const published: string[] = [];
    let stop = false;
    let n = 0;
    // Publishes small batches until told to stop; a batch that fails mid-failover is retried (eventId dedupe makes that safe).
    const publishing = (async () => {
      while (!stop) {
        const batch = Array.from({ length: 10 }, () => flaggedEvent('fo', n++, 40));
        for (;;) {
          try {
            await publisher.publishBatch(batch);
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        published.push(...batch.map((e) => e.eventId));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await waitFor('a first share of the flags', async () => ((await moderationFlags(config)).length >= 50 ? true : undefined), 60_000);

    const shard0Master = await cluster.masterOfKey(`${shardTag(base, 0)}:vigil-scan:wait`);
    const promoted = await cluster.failover(shard0Master);
    expect(await cluster.masterOfKey(`${shardTag(base, 0)}:vigil-scan:wait`)).toBe(promoted);

    const slot = await cluster.keySlot(`${shardTag(base, 1)}:vigil-scan:wait`);
    const from = await cluster.masterOfKey(`${shardTag(base, 1)}:vigil-scan:wait`);
    const to = (await cluster.masters()).find((m) => m !== from)!;
    await cluster.migrateSlot(slot, to);
    expect(await cluster.masterOfKey(`${shardTag(base, 1)}:vigil-scan:wait`)).toBe(to);

    // The worker keeps taking jobs after both moves: more events, then stop.
    const after = published.length;
    await waitFor('events published after the moves', async () => (published.length >= after + 100 ? true : undefined), 60_000);
    stop = true;
    await publishing;
    const total = published.length;
    await waitFor(`all ${total} events flagged`, async () => ((await moderationFlags(config)).length >= total ? true : undefined), 90_000).catch(
      async (err: Error) => {
        throw new Error(`${err.message} (got ${(await moderationFlags(config)).length}; ${await whereMissing(config, published)})`);
      },
    );
    const flags = await moderationFlags(config);
    expect(flags).toHaveLength(total);
    expect(new Set(flags.map((f) => f.eventId))).toEqual(new Set(published));
    expect(worker.health().ready).toBe(true);
  }, 240_000);

  describe('Kafka bridge', () => {
    let mock: KafkaMock;
    let kafka: Kafka;
    beforeAll(async () => {
      mock = await startKafkaMock({ brokers: 3 });
      kafka = testKafka(mock.brokers);
    });
    afterAll(async () => {
      await mock?.stop();
    });

    it('routes each event by its conversationId, so a conversation lands on one shard, and commits once the outcomes are final', async () => {
      const base = await spreadPrefix('clb');
      const topic = uniqueName('vigil.cl');
      const config = clusterConfig(base, {
        kafkaBrokers: mock.brokers.join(','),
        kafkaTopic: topic,
        kafkaGroupId: uniqueName('g-cl'),
        kafkaSessionTimeoutMs: 6000,
      });
      const N = 120;
      await produce(
        kafka,
        topic,
        Array.from({ length: N }, (_, i) => {
          const e = flaggedEvent('br', i, 24);
          // Keys spread a conversation over partitions: the shard must still be the conversation's.
          return { key: `k${i}`, value: JSON.stringify(e) };
        }),
      );
      const bridge = await startBridgeService(config, createLogger('silent'));
      cleanups.push(() => bridge.stop());
      await waitFor('every record on a shard', async () => (bridge.bridge.stats().enqueued >= N ? true : undefined), 60_000);
      const byShard = await conversationsByShard(base, config.scanQueue);
      expect(byShard.map((s) => s.size).reduce((a, b) => a + b, 0)).toBe(24);
      for (const s of byShard) expect(s.size).toBeGreaterThan(0);
      expectDisjoint(byShard);
      // The publisher picks the same shard for a conversation as the bridge did.
      const publisher = publisherFor(config);
      const dup = await publisher.publishBatch(Array.from({ length: 24 }, (_, i) => flaggedEvent('br', i, 24)));
      expect(dup.duplicates).toHaveLength(24);

      await startWorker(config);
      await waitFor(`${N} flags`, async () => ((await moderationFlags(config)).length >= N ? true : undefined), 60_000);
      await waitFor('offsets committed', async () => ((await committedTotal(kafka, config.kafkaGroupId, topic)) >= N ? true : undefined), 60_000);
      expect(await moderationFlags(config)).toHaveLength(N);
    }, 180_000);
  });
});
