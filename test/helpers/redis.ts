/** Each test gets its own BullMQ prefix on the real Redis, removed afterwards. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(label: string): string {
  return `vt-${label}-${randomBytes(4).toString('hex')}`;
}

export async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export function testConfig(prefix: string, overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  return loadConfig({
    env: {},
    overrides: {
      redisUrl: REDIS_URL,
      queuePrefix: prefix,
      policyFile: 'config/policy.yaml',
      logLevel: 'silent',
      lockDurationMs: 2000,
      backoffMs: 50,
      // The image classifier is on by default; tests that exercise it turn it on (test/classify/scan-path.test.ts).
      imageModel: '',
      ...overrides,
    },
  });
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
