import { Redis } from 'ioredis';

/**
 * Workers block on Redis and must retry forever (BullMQ requires maxRetriesPerRequest: null);
 * producers (publisher, bridge) should fail fast so the caller knows an enqueue did not happen.
 */
export function createRedis(url: string, role: 'worker' | 'producer'): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableOfflineQueue: role === 'worker',
    lazyConnect: false,
  });
  // Connection errors surface through the commands that fail; an unhandled 'error' event would crash.
  redis.on('error', () => undefined);
  return redis;
}

/** Resolves once Redis answers PING, or rejects after `timeoutMs` with a clear message (no URL secrets). */
export async function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await redis.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Redis did not answer within ${timeoutMs} ms (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
