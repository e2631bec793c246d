/** The retro scheduler: which bank revisions become retro-match jobs, under which job ids. */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBankStore, type StoredHashEntry } from '../../src/adapters/redis-bank-store.js';
import { createLogger } from '../../src/logger.js';
import { RetroScheduler, type RetroJobData } from '../../src/services/retro.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const entry = (seed: string): StoredHashEntry => ({ type: 'md5', value: md5(seed), id: `e-${seed}`, importedAt: '2026-12-03T00:00:00Z' });
async function* batches<T>(items: T[]): AsyncGenerator<T[]> {
  yield items;
}

async function setup() {
  const prefix = uniquePrefix('retro-sched');
  const redis = new Redis(REDIS_URL);
  const queue = new Queue<RetroJobData>('retro', { connection: { url: REDIS_URL }, prefix });
  cleanups.push(async () => {
    await queue.close();
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const store = new RedisBankStore(redis, prefix);
  const scheduler = () => new RetroScheduler({ store, redis, prefix, queue, logger: createLogger('silent') });
  const jobs = async () =>
    (await queue.getJobs(['wait']))
      .map((j) => j.data)
      .sort((a, b) => `${a.bankId}/${String(a.revision).padStart(4, '0')}`.localeCompare(`${b.bankId}/${String(b.revision).padStart(4, '0')}`));
  return { store, scheduler, jobs, queue };
}

describe('RetroScheduler', () => {
  it('banks standing when it first runs are the baseline; later revisions become one job each, once across schedulers', async () => {
    const { store, scheduler, jobs } = await setup();
    await store.importHashEntries('old', batches([entry('a')]));
    const a = scheduler();
    const b = scheduler();
    expect(await a.poll()).toBe(0);
    expect(await jobs()).toEqual([]);

    // Two appends to the old bank, a new bank, an allow bank, a disabled bank.
    await store.importHashEntries('old', batches([entry('b')]));
    await store.importHashEntries('old', batches([entry('c')]));
    await store.importHashEntries('fresh', batches([entry('d')]));
    await store.importHashEntries('allowed', batches([entry('e')]), { kind: 'allow' });
    await store.importHashEntries('off', batches([entry('f')]));
    await store.setEnabled('off', false);
    const generation = async (id: string) => (await store.get(id))?.generation ?? '';
    expect(await a.poll()).toBe(3);
    expect(await b.poll()).toBe(0);
    expect(await jobs()).toEqual([
      { bankId: 'fresh', generation: await generation('fresh'), from: 0, revision: 1 },
      { bankId: 'old', generation: await generation('old'), from: 1, revision: 2 },
      { bankId: 'old', generation: await generation('old'), from: 2, revision: 3 },
    ]);

    // Enabled again: what it gained while off is matched (the whole bank: it was never matched).
    await store.setEnabled('off', true);
    expect(await b.poll()).toBe(1);
    expect((await jobs()).filter((j) => j.bankId === 'off')).toEqual([{ bankId: 'off', generation: await generation('off'), from: 0, revision: 1 }]);
  });

  it('a scheduler that lost its mark (crash before marking) enqueues the same job ids again, which the queue keeps once', async () => {
    const { store, scheduler, jobs, queue } = await setup();
    await scheduler().poll();
    await store.importHashEntries('bank', batches([entry('x')]));
    expect(await scheduler().poll()).toBe(1);
    // As if it had crashed after enqueuing and before marking.
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => void redis.disconnect());
    const prefix = queue.opts.prefix ?? '';
    await redis.hdel(`${prefix}:retro:seen`, 'bank');
    expect(await scheduler().poll()).toBe(1);
    expect(await jobs()).toHaveLength(1);
  });
});
