/**
 * End to end on the Kafka path across a queue-Redis restart: bridge + scan worker + Kafka flag
 * mirror, the queue Redis (our own redis-server, no persistence) killed and started empty
 * mid-stream. The bridge commits only what is final, so every expected flag still reaches the Kafka
 * flag topic: 0 lost; duplicates only ever with the same flagId.
 */
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flagSchema } from '../../src/core/contracts.js';
import { createLogger } from '../../src/logger.js';
import { startBridgeService, type BridgeService } from '../../src/services/bridge-service.js';
import { startScanService, type ScanService } from '../../src/services/scan-service.js';
import { messageEvent, produce, testKafka, uniqueName } from '../helpers/kafka.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

let mock: KafkaMock;
let kafka: Kafka;
let queueRedis: RedisServer;
const stops: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  [mock, queueRedis] = await Promise.all([startKafkaMock({ brokers: 3 }), startRedisServer()]);
  kafka = testKafka(mock.brokers);
});

afterAll(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await queueRedis?.stop();
  await mock?.stop();
});

describe('Kafka path across a queue-Redis restart', () => {
  it('every expected flag reaches the Kafka flag topic: none lost, duplicates only with the same flagId', async () => {
    const N = 1500;
    const prefix = uniquePrefix('qrestart');
    const topic = uniqueName('vigil.msgs');
    const flagTopic = uniqueName('vigil.flags');
    const logs: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void logs.push(line) });
    const config = testConfig(prefix, {
      redisUrl: queueRedis.url,
      kafkaBrokers: mock.brokers.join(','),
      kafkaTopic: topic,
      kafkaFlagTopic: flagTopic,
      kafkaGroupId: uniqueName('g-qrestart'),
      kafkaSessionTimeoutMs: 6000,
      banksDir: 'config/samples/banks',
      concurrency: 8,
      lockDurationMs: 5000,
    });

    // Every event carries the stand-in term of the sample term bank: one flag each.
    await produce(
      kafka,
      topic,
      Array.from({ length: N }, (_, i) => {
        const e = messageEvent('qr', i, { text: `remember the velvet teapot, number ${i}` });
        return { key: e.conversationId, value: JSON.stringify(e) };
      }),
    );

    const flags = new Map<string, Set<string>>();
    const reader = kafka.consumer({ groupId: uniqueName('flag-reader'), maxWaitTimeInMs: 200 });
    stops.push(() => reader.disconnect());
    await reader.connect();
    await reader.subscribe({ topics: [flagTopic], fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        const flag = flagSchema.parse(JSON.parse(message.value?.toString() ?? 'null'));
        let ids = flags.get(flag.eventId);
        if (!ids) flags.set(flag.eventId, (ids = new Set()));
        ids.add(flag.flagId);
      },
    });

    const worker: ScanService = await startScanService(config, logger);
    stops.push(() => worker.stop());
    const bridge: BridgeService = await startBridgeService(config, logger);
    stops.push(() => bridge.stop());

    // Mid-stream: some flags out, most events still queued or unscanned.
    await waitFor('a first share of the flags', async () => (flags.size >= 200 ? true : undefined), 90_000);
    expect(flags.size).toBeLessThan(N);
    await queueRedis.restart();

    await waitFor(`all ${N} events flagged on the Kafka flag topic`, async () => (flags.size >= N ? true : undefined), 150_000).catch((err: Error) => {
      throw new Error(`${err.message} (got ${flags.size}); bridge: ${JSON.stringify(bridge.bridge.stats())}`);
    });
    expect([...flags.keys()].sort()).toEqual(Array.from({ length: N }, (_, i) => `evt_qr_${i}`).sort());
    // A replayed event may be flagged twice, always under the same deterministic flagId.
    for (const ids of flags.values()) expect(ids.size).toBe(1);
    expect(bridge.bridge.stats().queueRestarts).toBeGreaterThanOrEqual(1);
    expect(logs.some((l) => l.includes('queue Redis restarted: replaying unsettled records from Kafka'))).toBe(true);
    // Nothing is left open once the worker has caught up.
    await waitFor('every record settled', async () => (bridge.bridge.stats().unsettled === 0 ? true : undefined), 30_000);
    expect(logs.join('')).not.toContain('velvet teapot');
  }, 280_000);
});
