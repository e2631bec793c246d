/**
 * End-to-end pipeline throughput: text-only events published → scanned → flagged, one worker
 * process, next to a bare BullMQ no-op worker measured in the same run on the same Redis (the ceiling).
 *
 *   npm run bench -- pipeline [--events 20000] [--concurrency 50] [--rounds 2]
 *
 * Both sides enqueue with addBulk in batches of 500 and count until every job has completed; the
 * Vigil side also waits until every expected flag is on the moderation queue. 10% of events carry a
 * stand-in term from the sample bank, so the flag path is exercised.
 */
import { Queue, Worker } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { built, intArg } from './_shared.js';
import type * as ConfigModule from '../src/config.js';
import type * as LoggerModule from '../src/logger.js';
import type * as PathsModule from '../src/paths.js';
import type * as PublisherModule from '../src/publisher.js';
import type * as ScanServiceModule from '../src/services/scan-service.js';

const { loadConfig } = await built<typeof ConfigModule>('config.js');
const { createLogger } = await built<typeof LoggerModule>('logger.js');
const { packageRoot } = await built<typeof PathsModule>('paths.js');
const { createPublisher } = await built<typeof PublisherModule>('publisher.js');
const { startScanService } = await built<typeof ScanServiceModule>('services/scan-service.js');
import { deletePrefix } from '../test/helpers/redis.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const CHAT = [
  'are we still on for lunch tomorrow?',
  'haha that video was great',
  'can you send me the notes from class',
  'running 10 min late, sorry!',
  'what time does the game start',
  'did you feed the cat',
  'happy birthday!! 🎉',
  'ok see you there',
];

function events(n: number, tag: string): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    schema: 'vigil.message.v1',
    eventId: `${tag}-${i}`,
    messageId: `m-${tag}-${i}`,
    conversationId: `c-${i % 97}`,
    senderId: `u-${i % 1013}`,
    recipientIds: [`u-${(i + 1) % 1013}`],
    sentAt: '2026-11-27T12:00:00Z',
    text: i % 10 === 0 ? `bring the velvet teapot, ${CHAT[i % CHAT.length]}` : (CHAT[i % CHAT.length] as string),
  }));
}

async function bare(n: number, concurrency: number): Promise<number> {
  const prefix = `bench-bare-${randomBytes(3).toString('hex')}`;
  const queue = new Queue('bare', { connection: { url: REDIS_URL }, prefix });
  let done = 0;
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  const worker = new Worker('bare', async () => undefined, { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix, concurrency, autorun: false });
  worker.on('completed', () => {
    if (++done === n) resolve();
  });
  void worker.run();
  await worker.waitUntilReady();
  const payloads = events(n, 'bare');
  const t0 = performance.now();
  for (let i = 0; i < n; i += 500)
    await queue.addBulk(payloads.slice(i, i + 500).map((data, k) => ({ name: 'scan', data, opts: { jobId: `bare-${i + k}`, removeOnComplete: true } })));
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.close();
  await deletePrefix(prefix);
  return n / seconds;
}

/** The scan worker's text-only throughput; also measured by the bridge benchmark in its own run. */
export async function vigil(n: number, concurrency: number): Promise<{ rate: number; flags: number }> {
  const prefix = `bench-vigil-${randomBytes(3).toString('hex')}`;
  const root = packageRoot();
  const config = loadConfig({
    env: {},
    overrides: {
      redisUrl: REDIS_URL,
      queuePrefix: prefix,
      concurrency,
      banksDir: join(root, 'config/samples/banks'),
      policyFile: join(root, 'config/policy.yaml'),
      logLevel: 'silent',
    },
  });
  const service = await startScanService(config, createLogger('silent'));
  let done = 0;
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  service.worker.worker.on('completed', () => {
    if (++done === n) resolve();
  });
  const publisher = createPublisher({ connection: REDIS_URL, prefix });
  const moderation = new Queue(config.moderationQueue, { connection: { url: REDIS_URL }, prefix });
  const payloads = events(n, 'vigil');
  const t0 = performance.now();
  for (let i = 0; i < n; i += 500) {
    const r = await publisher.publishBatch(payloads.slice(i, i + 500));
    if (r.rejected.length) throw new Error(`bench events rejected: ${r.rejected[0]?.error.message}`);
  }
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const flags = (await moderation.getJobCounts('prioritized')).prioritized ?? 0;
  await service.stop();
  await publisher.close();
  await moderation.close();
  await deletePrefix(prefix);
  return { rate: n / seconds, flags };
}

export async function run(args: string[]): Promise<string> {
  const n = intArg(args, 'events', 20_000);
  const concurrency = intArg(args, 'concurrency', 50);
  const rounds = intArg(args, 'rounds', 4);
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  const bareRates: number[] = [];
  const vigilRates: number[] = [];
  let flags = 0;
  // Warm-up (JIT, Redis scripts), not recorded.
  await bare(2000, concurrency);
  await vigil(2000, concurrency);
  for (let r = 0; r < rounds; r++) {
    bareRates.push(await bare(n, concurrency));
    const v = await vigil(n, concurrency);
    vigilRates.push(v.rate);
    flags = v.flags;
    process.stderr.write(`round ${r + 1}: bare ${bareRates.at(-1)?.toFixed(0)}/s, vigil ${v.rate.toFixed(0)}/s\n`);
  }
  const best = (xs: number[]) => Math.max(...xs);
  const ratio = best(vigilRates) / best(bareRates);
  return `## Pipeline throughput (publish → scan → flag)

Command: \`npm run bench -- pipeline --events ${n} --concurrency ${concurrency} --rounds ${rounds}\`. One worker in the benchmark process, Redis ${REDIS_URL.replace(/\/\/[^@/]*@/, '//***@')} on the same machine. Load average at the start: ${load} (shared machine).
The compiled build (dist/). Text-only \`vigil.message.v1\` events (10% contain a stand-in term from \`config/samples/banks\`), published with \`publishBatch\` in batches of 500
(validation, jobId = eventId, dedupe key, priority, attempts), scanned with the sample banks and \`config/policy.yaml\`; flags enqueued
on the moderation queue (${flags} of ${n} in the last round). Baseline: bare BullMQ — \`addBulk\` of the same payloads, a no-op worker with the same concurrency.
Timed from the first enqueue until every job completed; best of ${rounds} rounds each, rounds interleaved.
Load average when the run started: ${load} on ${cpus().length} cores (a machine shared with other work: absolute rates move with it).

| | events/s (best) | all rounds | vs bare BullMQ |
| --- | ---: | --- | ---: |
| bare BullMQ no-op worker | ${best(bareRates).toFixed(0)} | ${bareRates.map((x) => x.toFixed(0)).join(', ')} | 1.00× |
| Vigil scan worker | ${best(vigilRates).toFixed(0)} | ${vigilRates.map((x) => x.toFixed(0)).join(', ')} | ${ratio.toFixed(2)}× |

Target (issue "Honest, faster media path"): ≥ 0.80× of bare BullMQ — ${ratio >= 0.8 ? 'met' : 'not met'}.`;
}
