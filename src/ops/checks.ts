/** Readiness checks the ops server runs for /readyz. Each names what is wrong, never content. */
import type { RedisClient } from '../adapters/bullmq/connection.js';
import type { ReadinessCheck } from './server.js';

/**
 * Redis answers PING. A connection that is not 'ready' fails at once (a worker's connection would
 * otherwise queue the PING until Redis is back, and /readyz would hang rather than say so).
 */
export function redisCheck(redis: RedisClient, name = 'redis'): ReadinessCheck {
  const check = async () => {
    if (redis.status !== 'ready') return { name, ok: false, reason: `not connected (${redis.status})` };
    await redis.ping();
    return { name, ok: true };
  };
  Object.defineProperty(check, 'name', { value: name });
  return check;
}

/** Whatever the scan runtime reports about itself (banks and policy loaded, bank store not lost, models loaded). */
export interface RuntimeHealth {
  health(): { ready: boolean; reasons: string[] };
}

export function runtimeCheck(runtime: RuntimeHealth, name = 'runtime'): ReadinessCheck {
  const check = async () => {
    const h = runtime.health();
    return h.ready ? { name, ok: true } : { name, ok: false, reason: h.reasons.join('; ') || 'not ready' };
  };
  Object.defineProperty(check, 'name', { value: name });
  return check;
}
