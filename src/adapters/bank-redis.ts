/**
 * The bank-store Redis connection (banks, policy versions, audit log, brakes counters, shadow log):
 * state that should persist, unlike the queue Redis. The one place that picks its URL, so switching
 * to a dedicated `VIGIL_BANK_REDIS_URL` is a one-line change here.
 */
import type { Config } from '../config.js';
import { createRedis, type RedisClient } from './bullmq/connection.js';

export function bankStoreRedisUrl(config: Config): string {
  return config.bankRedisUrl;
}

export function openBankStoreRedis(config: Config, role: 'worker' | 'producer' = 'worker'): RedisClient {
  return createRedis(bankStoreRedisUrl(config), role, { cluster: config.redisCluster });
}
