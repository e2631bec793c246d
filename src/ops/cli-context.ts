/** What the ops CLI commands (`dlq`, `flags`) open: one Redis connection, the queues, the audit log. */
import { Queue } from 'bullmq';
import { hostname, userInfo } from 'node:os';
import type { RedisClient } from '../adapters/bullmq/connection.js';
import type { Config } from '../config.js';
import { RedisAuditLog } from '../adapters/audit-log.js';
import { withRedis } from '../cli/io.js';

export interface OpsCliContext {
  config: Config;
  redis: RedisClient;
  scan: Queue;
  moderation: Queue;
  deadLetters: Queue;
  audit: RedisAuditLog;
}

/**
 * Opens the queue Redis and the bank store (where the audit log lives), each waiting at most
 * VIGIL_REDIS_CONNECT_TIMEOUT_MS, and closes both whatever happens.
 */
export async function withOpsContext<T>(config: Config, work: (ctx: OpsCliContext) => Promise<T>): Promise<T> {
  return withRedis(config, (redis) =>
    withRedis({ ...config, redisUrl: config.bankRedisUrl }, async (bankRedis) => {
      const opened: Queue[] = [];
      const open = (name: string) => {
        const q = new Queue(name, { connection: redis, prefix: config.queuePrefix });
        q.on('error', () => undefined);
        opened.push(q);
        return q;
      };
      try {
        return await work({
          config,
          redis,
          scan: open(config.scanQueue),
          moderation: open(config.moderationQueue),
          deadLetters: open(config.deadLetterQueue),
          audit: new RedisAuditLog(bankRedis, config.queuePrefix),
        });
      } finally {
        await Promise.all(opened.map((q) => q.close().catch(() => undefined)));
      }
    }),
  );
}

/** Who ran a CLI action, for the audit log: --actor, else the OS user and host. */
export function defaultActor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): keep "unknown".
  }
  return `${user}@${hostname()}`;
}
