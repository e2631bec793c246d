import { Redis } from 'ioredis';
import { VigilError } from '../../core/errors.js';
import { maskUrl } from '../../core/secrets.js';
import type { Logger } from '../../logger.js';

/** The last connection error a client saw, by client, so a timeout can say why (ECONNREFUSED…). */
const lastErrors = new WeakMap<Redis, string>();

/**
 * Workers block on Redis and must retry forever (BullMQ requires maxRetriesPerRequest: null);
 * producers (publisher, bridge) should fail fast so the caller knows an enqueue did not happen.
 * Neither waits unboundedly for a first connection: callers go through `waitForRedis` first.
 */
export function createRedis(url: string, role: 'worker' | 'producer'): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableOfflineQueue: role === 'worker',
    lazyConnect: false,
    // Reconnect quickly at first, then every 2 s at most, so an outage that ends is noticed soon.
    retryStrategy: (times) => Math.min(times * 100, 2000),
    // After a refused connection ioredis still arms this timer on disconnect(), holding the process
    // open for its length (2 s by default): a failed command should exit at once.
    disconnectTimeout: 200,
  });
  // Connection errors surface through the commands that fail; an unhandled 'error' event would crash.
  redis.on('error', (err: NodeJS.ErrnoException) => lastErrors.set(redis, err.code ?? err.name));
  return redis;
}

/** The typed error every Redis-backed command and the library report when Redis does not answer. */
export function redisUnavailable(url: string, timeoutMs: number, reason: string | undefined): VigilError {
  return new VigilError('QUEUE_UNAVAILABLE', `Redis at ${maskUrl(url)} did not answer within ${timeoutMs} ms${reason ? ` (${reason})` : ''}`);
}

/**
 * Resolves once Redis answers PING, or rejects after `timeoutMs` with QUEUE_UNAVAILABLE naming the
 * URL (password masked). A PING on a worker-role client would wait forever in the offline queue, so
 * each try is raced against the deadline.
 */
export async function waitForRedis(redis: Redis, timeoutMs: number, url = redisUrlOf(redis)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw redisUnavailable(url, timeoutMs, lastErrors.get(redis));
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      redis.ping().then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          lastErrors.set(redis, err.code ?? err.name);
          return false;
        },
      ),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.min(left, 1000)))),
    ]);
    clearTimeout(timer);
    if (answered) return;
    const pause = Math.min(100, deadline - Date.now());
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  }
}

function redisUrlOf(redis: Redis): string {
  const o = redis.options;
  return `redis://${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
}

/** Closes a client without waiting on a connection that is not there (QUIT would queue forever). */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([redis.quit().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2000)))]);
  clearTimeout(timer);
  if ((redis.status as string) !== 'end') redis.disconnect();
}

export interface OutageWatch {
  /** Settles with QUEUE_UNAVAILABLE once Redis has been unreachable for longer than the grace. */
  fatal: Promise<VigilError>;
  close(): void;
}

/**
 * For long-running processes: while Redis is unreachable, logs "Redis unreachable, retrying" every
 * `everyMs`; after `graceMs` without Redis settles `fatal`, so the process exits non-zero and its
 * supervisor restarts it instead of a silent zombie holding no work.
 */
export function watchRedisOutage(redis: Redis, options: { url: string; graceMs: number; everyMs?: number; logger: Logger }): OutageWatch {
  const every = options.everyMs ?? 2000;
  let downSince: number | undefined;
  let onFatal: (err: VigilError) => void = () => undefined;
  const fatal = new Promise<VigilError>((resolve) => (onFatal = resolve));
  const timer = setInterval(() => {
    const up = redis.status === 'ready';
    if (up) {
      if (downSince !== undefined) options.logger.info({ url: maskUrl(options.url), downMs: Date.now() - downSince }, 'Redis reachable again');
      downSince = undefined;
      return;
    }
    downSince ??= Date.now();
    const downMs = Date.now() - downSince;
    options.logger.warn({ url: maskUrl(options.url), downMs, reason: lastErrors.get(redis), graceMs: options.graceMs }, 'Redis unreachable, retrying');
    if (downMs >= options.graceMs) {
      clearInterval(timer);
      onFatal(
        new VigilError(
          'QUEUE_UNAVAILABLE',
          `Redis at ${maskUrl(options.url)} unreachable for ${Math.round(downMs / 1000)} s (grace ${Math.round(options.graceMs / 1000)} s)${lastErrors.get(redis) ? ` (${lastErrors.get(redis)})` : ''}`,
        ),
      );
    }
  }, every);
  timer.unref();
  return { fatal, close: () => clearInterval(timer) };
}
