/**
 * The ops server inside a Kafka bridge (librdkafka's mock cluster, real Redis): ready once the
 * consumer runs, and /metrics shows per-partition lag falling to 0 once every record is enqueued.
 */
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { startBridgeService } from '../../src/services/bridge-service.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { eventRecords, produce, testKafka, uniqueName } from '../helpers/kafka.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';
import { freePort, parseExposition, seriesValue } from './helpers.js';

let mock: KafkaMock;
beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 1 });
});
afterAll(async () => {
  await mock?.stop();
});
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('ops server in a Kafka bridge', () => {
  it('is ready once consuming; /metrics has lag per partition (0 when caught up), records enqueued and queue depth', async () => {
    const prefix = uniquePrefix('ops-bridge');
    cleanups.push(() => deletePrefix(prefix));
    const topic = uniqueName('vigil.ops');
    const kafka = testKafka(mock.brokers);
    await produce(kafka, topic, eventRecords('opsb', 40));
    const port = await freePort();
    const config = testConfig(prefix, {
      kafkaBrokers: mock.brokers.join(','),
      kafkaTopic: topic,
      kafkaGroupId: uniqueName('g-ops'),
      opsPort: port,
      kafkaSessionTimeoutMs: 6000,
    });
    const service = await startBridgeService(config, createLogger('silent'));
    cleanups.push(() => service.stop());
    const scan = new Queue(config.scanQueue, { connection: { url: REDIS_URL }, prefix });
    cleanups.push(() => scan.close());
    await waitFor('40 events enqueued', async () => ((await scan.getJobCounts('wait')).wait === 40 ? true : undefined), 25_000);

    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Array<{ name: string }> }).checks.map((c) => c.name)).toEqual(['redis', 'kafka']);
    const series = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const lag = series.filter((s) => s.name === 'vigil_bridge_lag');
    expect(lag.length).toBeGreaterThan(0);
    for (const s of lag) {
      expect(s.labels.partition).toMatch(/^\d+$/);
      expect(s.value).toBe(0);
    }
    expect(seriesValue(series, 'vigil_bridge_records_total', { outcome: 'enqueued' })).toBe(40);
    expect(seriesValue(series, 'vigil_queue_jobs', { queue: 'scan', state: 'waiting' })).toBe(40);
  });
});
