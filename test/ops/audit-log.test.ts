/** The audit log on the real Redis (own prefix): an append-only stream at `${prefix}:vigil:audit`. */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisAuditLog } from '../../src/adapters/audit-log.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('RedisAuditLog', () => {
  it('appends entries with a time, lists the most recent oldest first, filters by action, across pages', async () => {
    const prefix = uniquePrefix('audit');
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => {
      await deletePrefix(prefix);
      redis.disconnect();
    });
    const log = new RedisAuditLog(redis, prefix);
    const first = await log.append({ actor: 'alice', action: 'dlq.retry', target: 'dl_1 event=e1', reason: 'store repaired' });
    expect(first).toMatchObject({ actor: 'alice', action: 'dlq.retry', target: 'dl_1 event=e1', reason: 'store repaired' });
    expect(Date.parse(first.at)).toBeGreaterThan(Date.now() - 60_000);
    for (let i = 0; i < 250; i++) await log.append({ actor: 'bob', action: i % 2 ? 'dlq.purge' : 'dashboard.job.remove', target: `t${i}` });
    expect(await redis.xlen(`${prefix}:vigil:audit`)).toBe(251);
    const recent = await log.list({ limit: 3 });
    expect(recent.map((e) => e.target)).toEqual(['t247', 't248', 't249']);
    const retries = await log.list({ action: 'dlq.retry' });
    expect(retries).toEqual([first]);
    expect((await log.list({ action: 'dlq.purge', limit: 1000 })).length).toBe(125);
  });
});
