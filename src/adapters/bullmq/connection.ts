import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { VigilError } from '../../core/errors.js';
import { maskUrl, splitRedisUrls } from '../../core/secrets.js';
import type { Logger } from '../../logger.js';

/** A single-node client or a Redis Cluster client: every Vigil connection is one of the two. */
export type RedisClient = Redis | Cluster;

/** Whether `value` is an ioredis client of either kind (a BullMQ connection may also be options). */
export function isRedisClient(value: unknown): value is RedisClient {
  return value instanceof Redis || value instanceof Cluster;
}

/** The seed URLs a Cluster client was made from, for messages (masked there). */
const clusterUrls = new WeakMap<Cluster, string>();

/** The last connection error a client saw, by client, so a timeout can say why (ECONNREFUSED…). */
const lastErrors = new WeakMap<RedisClient, string>();

export interface CreateRedisOptions {
  /** VIGIL_REDIS_CLUSTER: `url` lists seed nodes of a Redis Cluster. */
  cluster?: boolean;
}

/**
 * The one factory of Redis connections: a single-node client by default, an ioredis Cluster with
 * `cluster` (VIGIL_REDIS_CLUSTER), seeded from the comma-separated URLs.
 *
 * Workers block on Redis and must retry forever (BullMQ requires maxRetriesPerRequest: null);
 * producers (publisher, bridge) should fail fast so the caller knows an enqueue did not happen.
 * Neither waits unboundedly for a first connection: callers go through `waitForRedis` first.
 */
export function createRedis(url: string, role: 'worker' | 'producer', options?: { cluster?: false }): Redis;
export function createRedis(url: string, role: 'worker' | 'producer', options: CreateRedisOptions): RedisClient;
export function createRedis(url: string, role: 'worker' | 'producer', options: CreateRedisOptions = {}): RedisClient {
  if (options.cluster) return createCluster(url, role);
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

/** Seed nodes and the credentials they share (the first URL that carries any), from `redis://…,redis://…`. */
export function clusterSeeds(url: string): { nodes: { host: string; port: number }[]; username?: string; password?: string; tls: boolean } {
  const parsed = splitRedisUrls(url).map((u) => {
    try {
      return new URL(u);
    } catch {
      throw new VigilError('CONFIG_INVALID', `not a Redis URL: ${maskUrl(u)}`);
    }
  });
  const withAuth = parsed.find((u) => u.password !== '' || u.username !== '');
  return {
    nodes: parsed.map((u) => ({ host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? 6379 : Number(u.port) })),
    ...(withAuth?.username ? { username: decodeURIComponent(withAuth.username) } : {}),
    ...(withAuth?.password ? { password: decodeURIComponent(withAuth.password) } : {}),
    tls: parsed.some((u) => u.protocol === 'rediss:'),
  };
}

/**
 * A Cluster client. Both roles keep the cluster's offline queue: during a failover or a slot move
 * commands wait for the new topology instead of failing (producers are still bounded, by the
 * publisher's per-call timeout and the bridge's retries; nodes' own retries stay fail-fast for them).
 */
function createCluster(url: string, role: 'worker' | 'producer'): Cluster {
  const seeds = clusterSeeds(url);
  const options: ClusterOptions = {
    enableOfflineQueue: true,
    // Every command goes to the master of its slot (BullMQ's scripts write).
    scaleReads: 'master',
    clusterRetryStrategy: (times) => Math.min(times * 100, 2000),
    // A failover promotes a replica within a few seconds; a resharding answers ASK/MOVED/TRYAGAIN.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    maxRedirections: 64,
    slotsRefreshTimeout: 2000,
    redisOptions: {
      maxRetriesPerRequest: role === 'worker' ? null : 3,
      disconnectTimeout: 200,
      ...(seeds.username ? { username: seeds.username } : {}),
      ...(seeds.password ? { password: seeds.password } : {}),
      ...(seeds.tls ? { tls: {} } : {}),
    },
  };
  const cluster = new Cluster(seeds.nodes, options);
  clusterUrls.set(cluster, url);
  const remember = (err: NodeJS.ErrnoException) => lastErrors.set(cluster, err.code ?? err.name);
  cluster.on('error', remember);
  cluster.on('node error', remember);
  return cluster;
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
export async function waitForRedis(redis: RedisClient, timeoutMs: number, url = redisUrlOf(redis)): Promise<void> {
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

function redisUrlOf(redis: RedisClient): string {
  if (redis instanceof Cluster) return clusterUrls.get(redis) ?? 'redis cluster';
  const o = redis.options;
  return `redis://${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
}

/** Closes a client without waiting on a connection that is not there (QUIT would queue forever). */
export async function closeRedis(redis: RedisClient): Promise<void> {
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
export function watchRedisOutage(redis: RedisClient, options: { url: string; graceMs: number; everyMs?: number; logger: Logger }): OutageWatch {
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
