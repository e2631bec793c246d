/**
 * `vigil replay --kafka-topic` against librdkafka's mock cluster and the real Redis, with a running
 * scan worker: a topic range by offset and by time, records judged by the bridge's parser (poison →
 * dead letter), flags deduplicated against the flag ledger.
 */
import { Queue } from 'bullmq';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Flag } from '../../src/core/contracts.js';
import type { DeadLetter } from '../../src/core/ports.js';
import { sampleEvents } from '../../src/demo/sample-events.js';
import { createLogger } from '../../src/logger.js';
import { parseRangeBound, resolveRange } from '../../src/adapters/kafka/range-reader.js';
import { startScanService } from '../../src/services/scan-service.js';
import { runCli } from '../helpers/cli.js';
import { messageEvent, produce, testKafka, uniqueName } from '../helpers/kafka.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';

let mock: KafkaMock;
let kafka: Kafka;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 1 });
  kafka = testKafka(mock.brokers);
});
afterEach(async () => {
  while (cleanups.length)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
});
afterAll(async () => {
  await mock?.stop();
});

const sample = (id: string, eventId: string) => {
  const s = sampleEvents().find((x) => (x.event as { eventId?: string }).eventId === id);
  return JSON.stringify({ ...(s?.event as Record<string, unknown>), eventId });
};

const OLD = Date.UTC(2026, 0, 1);
const NEW = Date.UTC(2026, 5, 1);

describe('replay range bounds', () => {
  it('an offset is digits, a time is ISO 8601; anything else is a usage error', () => {
    expect(parseRangeBound('42', '--from')).toEqual({ offset: 42n });
    expect(parseRangeBound('2026-06-01T00:00:00Z', '--to')).toEqual({ time: NEW });
    expect(() => parseRangeBound('yesterday', '--from')).toThrow(/--from must be an offset/);
    expect(() => parseRangeBound('-5', '--from')).toThrow(/--from must be an offset/);
  });
});

describe('vigil replay --kafka-topic', () => {
  it('replays a topic range by offsets at backfill priority; poison records are dead-lettered; replaying again raises no flag twice', async () => {
    const prefix = uniquePrefix('kreplay');
    const banks = mkdtempSync(join(tmpdir(), 'vigil-banks-'));
    cpSync('config/samples/banks', banks, { recursive: true });
    const config = testConfig(prefix, { banksDir: banks, kafkaBrokers: mock.brokers.join(',') });
    const service = await startScanService(config, createLogger('silent'));
    const moderation = new Queue(config.moderationQueue, { connection: { url: REDIS_URL }, prefix });
    const dead = new Queue(config.deadLetterQueue, { connection: { url: REDIS_URL }, prefix });
    cleanups.push(async () => {
      await service.stop();
      await Promise.all([moderation.close(), dead.close()]);
      await deletePrefix(prefix);
    });
    const topic = uniqueName('vigil.replay');
    // One partition, so offsets are the order produced.
    const rec = (value: string, ts: number) => ({ value, partition: 0, timestamp: String(ts) });
    await produce(kafka, topic, [
      rec(sample('demo-evt-002', 'k-img-old'), OLD),
      rec(JSON.stringify(messageEvent('kold', 1)), OLD),
      rec('{"schema":"vigil.message.v1"', OLD),
      rec(sample('demo-evt-004', 'k-txt-old'), OLD),
      rec(sample('demo-evt-004', 'k-txt-new'), NEW),
      rec(JSON.stringify(messageEvent('knew', 1)), NEW),
      rec(JSON.stringify(messageEvent('knew', 2)), NEW),
    ] as never);
    const env = { VIGIL_QUEUE_PREFIX: prefix, KAFKA_BROKERS: mock.brokers.join(',') };
    const replay = async (...args: string[]) => {
      const r = await runCli(['replay', '--kafka-topic', topic, '--json', '--timeout', '120', ...args], { env });
      expect(r.stderr).not.toMatch(/vigil: /);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    };
    const flags = async () => (await moderation.getJobs(['prioritized', 'waiting'])).map((j) => j.data as Flag);

    // Offsets 1..3 (end exclusive at 4): one benign event, one poison record, one flagged phrase.
    expect(await replay('--from', '1', '--to', '4')).toMatchObject({ events: 2, flagsNew: 1, flagsAlreadyKnown: 0, deadLetters: 1, complete: true });
    expect((await flags()).map((f) => [f.eventId, f.eventPriority])).toEqual([['k-txt-old', 'backfill']]);
    const dl = (await dead.getJobs(['waiting'])).map((j) => j.data as DeadLetter);
    expect(dl).toEqual([expect.objectContaining({ code: 'EVENT_NOT_JSON', origin: { kind: 'kafka', topic, partition: 0, offset: '2' } })]);

    // From an offset to the end. (Bounds by time go through ListOffsets by timestamp, which
    // librdkafka's mock cluster does not implement: it answers the end offset for any time.)
    const [range] = await resolveRange(kafka, topic, { offset: 4n }, undefined);
    expect(range).toMatchObject({ partition: 0, start: 4n, end: 7n });
    expect(await replay('--from', '4')).toMatchObject({ events: 3, flagsNew: 1, deadLetters: 0 });

    // Everything: the two flags raised before are known; only the old image is new.
    await moderation.obliterate({ force: true });
    expect(await replay()).toMatchObject({ events: 6, flagsNew: 1, flagsAlreadyKnown: 2, deadLetters: 1 });
    expect((await flags()).map((f) => f.eventId)).toEqual(['k-img-old']);
  }, 180_000);
});

describe('decisions from a Kafka topic', () => {
  it('vigil worker counts vigil.decision.v1 records from VIGIL_DECISIONS_KAFKA_TOPIC; a bad record is dead-lettered with its coordinates', async () => {
    const prefix = uniquePrefix('kdec');
    const banks = mkdtempSync(join(tmpdir(), 'vigil-banks-'));
    cpSync('config/samples/banks', banks, { recursive: true });
    const decisionsTopic = uniqueName('vigil.decisions');
    const config = testConfig(prefix, {
      banksDir: banks,
      kafkaBrokers: mock.brokers.join(','),
      kafkaGroupId: uniqueName('g-kdec'),
      decisionsKafkaTopic: decisionsTopic,
      decisionsQueue: '',
    });
    const service = await startScanService(config, createLogger('silent'));
    const moderation = new Queue(config.moderationQueue, { connection: { url: REDIS_URL }, prefix });
    const dead = new Queue(config.deadLetterQueue, { connection: { url: REDIS_URL }, prefix });
    cleanups.push(async () => {
      await service.stop();
      await Promise.all([moderation.close(), dead.close()]);
      await deletePrefix(prefix);
    });
    expect(service.context.names()).toContain('kafka decision consumer');
    expect(service.context.names()).not.toContain('decision worker');
    const env = { VIGIL_QUEUE_PREFIX: prefix };
    const dir = mkdtempSync(join(tmpdir(), 'vigil-kdec-'));
    writeFileSync(join(dir, 'e.jsonl'), `${sample('demo-evt-004', 'kd-txt')}\n`);
    const r = await runCli(['replay', '--events', join(dir, 'e.jsonl'), '--json', '--timeout', '120'], { env });
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ events: 1, flagsNew: 1 });
    const [flag] = (await moderation.getJobs(['prioritized', 'waiting'])).map((j) => j.data as Flag);
    await produce(kafka, decisionsTopic, [
      { value: JSON.stringify({ schema: 'vigil.decision.v1', flagId: flag!.flagId, decision: 'rejected', at: '2026-12-01T09:00:00Z' }), partition: 0 },
      { value: '{"schema":"vigil.decision.v1","decision":"maybe"}', partition: 0 },
    ]);
    const bank = flag!.signals[0]!.sourceId;
    const rows = await waitFor(
      'decision counted',
      async () => {
        const p = await runCli(['precision', '--json', '--kind', 'bank'], { env });
        const parsed = p.stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        return parsed.some((x) => x.id === bank && x.rejected === 1) ? parsed : undefined;
      },
      60_000,
    );
    expect(rows).toEqual([{ kind: 'bank', id: bank, confirmed: 0, rejected: 1, escalated: 0, decided: 1, precision: 0 }]);
    const dl = await waitFor('bad decision dead-lettered', async () => {
      const entries = (await dead.getJobs(['waiting'])).map((j) => j.data as DeadLetter);
      return entries.length ? entries : undefined;
    });
    expect(dl).toEqual([expect.objectContaining({ code: 'DECISION_INVALID', origin: { kind: 'kafka', topic: decisionsTopic, partition: 0, offset: '1' } })]);
    expect(JSON.stringify(dl)).not.toContain('maybe');
  }, 180_000);
});
