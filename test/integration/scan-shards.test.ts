/**
 * Scan shards on the single-node Redis: one shard keeps the existing key names; with several, a
 * worker consumes exactly the shards it is configured for (VIGIL_SCAN_SHARDS_CONSUMED).
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Flag } from '../../src/core/contracts.js';
import { createLogger } from '../../src/logger.js';
import { shardPrefix } from '../../src/core/shards.js';
import { createPublisher } from '../../src/publisher.js';
import { startScanService } from '../../src/services/scan-service.js';
import { messageEvent } from '../helpers/kafka.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** Removes a base prefix's keys and its shards'. */
async function deleteShards(base: string, shards: number): Promise<void> {
  await deletePrefix(base);
  const redis = new Redis(REDIS_URL);
  try {
    for (let s = 0; s < shards; s++) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${shardPrefix(base, s, shards)}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

function queue(name: string, prefix: string): Queue {
  const q = new Queue(name, { connection: { url: REDIS_URL }, prefix });
  q.on('error', () => undefined);
  cleanups.push(() => q.close());
  return q;
}

describe('scan shards on one Redis', () => {
  it('one shard (the default) keeps the existing keys: PREFIX:vigil-scan:*', async () => {
    const prefix = uniquePrefix('sh1');
    cleanups.push(() => deletePrefix(prefix));
    const publisher = createPublisher({ connection: REDIS_URL, prefix });
    cleanups.push(() => publisher.close());
    await publisher.publish(messageEvent('sh1', 1));
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    expect(await redis.exists(`${prefix}:vigil-scan:evt_sh1_1`, `${prefix}:vigil-scan:de:evt_sh1_1`)).toBe(2);
    expect((await redis.scan('0', 'MATCH', `{${prefix}-s*`, 'COUNT', 100_000))[1]).toEqual([]);
  });

  it('a worker consuming shards 0 and 2 of 3 scans exactly their events; shard 1 waits for its own worker', async () => {
    const prefix = uniquePrefix('sh3');
    cleanups.push(() => deleteShards(prefix, 3));
    const config = testConfig(prefix, { banksDir: 'config/samples/banks', scanShards: 3, scanShardsConsumed: '0,2' });
    const publisher = createPublisher({ connection: REDIS_URL, prefix, shards: 3 });
    cleanups.push(() => publisher.close());
    const events = Array.from({ length: 60 }, (_, i) => messageEvent('sh3', i, { conversationId: `c_${i % 15}`, text: `remember the velvet teapot ${i}` }));
    await publisher.publishBatch(events);
    const waiting = await Promise.all([0, 1, 2].map((s) => queue(config.scanQueue, shardPrefix(prefix, s, 3)).getWaiting(0, -1)));
    expect(waiting.map((w) => w.length).reduce((a, b) => a + b, 0)).toBe(60);
    const onShard1 = new Set(waiting[1]!.map((j) => j.id));
    expect(onShard1.size).toBeGreaterThan(0);
    expect(onShard1.size).toBeLessThan(60);

    const worker = await startScanService(config, createLogger('silent'));
    cleanups.push(() => worker.stop());
    expect(worker.workers).toHaveLength(2);
    const moderation = queue(config.moderationQueue, prefix);
    const flagged = async () => (await moderation.getJobs(['prioritized', 'waiting'], 0, -1)).map((j) => (j.data as Flag).eventId);
    await waitFor('flags of shards 0 and 2', async () => ((await flagged()).length >= 60 - onShard1.size ? true : undefined), 30_000);
    expect(new Set(await flagged())).toEqual(new Set(events.map((e) => e.eventId).filter((id) => !onShard1.has(id))));
    expect(await queue(config.scanQueue, shardPrefix(prefix, 1, 3)).getWaitingCount()).toBe(onShard1.size);
    const metric = await worker.metrics.registry.getSingleMetricAsString('vigil_scan_shard_events_total');
    expect(metric).not.toMatch(/shard="1"/);

    // A second worker for shard 1 only takes the rest.
    const second = await startScanService({ ...config, scanShardsConsumed: '1' }, createLogger('silent'));
    cleanups.push(() => second.stop());
    await waitFor('every event flagged', async () => ((await flagged()).length >= 60 ? true : undefined), 30_000);
    expect((await flagged()).sort()).toEqual(events.map((e) => e.eventId).sort());
  }, 90_000);
});
