/**
 * End-to-end pipeline throughput: events published → scanned → flagged by one worker, next to a
 * bare BullMQ no-op worker measured in the same run on the same Redis (the ceiling), with the CPU
 * each side costs per event: this process (every thread) and the Redis server.
 *
 *   npm run bench -- pipeline [--events 20000] [--concurrency 16] [--rounds 4] [--mixed-events 3000] [--sweep 4,8,16,32,64]
 *
 * Redis is a private `redis-server` on a free loopback port started by the bench (emptied between
 * runs), so its CPU is this bench's alone. Workloads: text-only (10% carry a stand-in term from the
 * sample bank, so the flag path runs) and mixed (the same text plus one small benign image per event,
 * drawn from 64 generated 320×240 JPEGs: exact hashes + decode + PDQ; the image classifier is off,
 * its cost is the classify bench's). Both sides enqueue in batches of 500 and count until every job
 * has completed; the Vigil side also checks every expected flag reached the moderation queue.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import sharp from 'sharp';
import { built, intArg } from './_shared.js';
import type * as ConfigModule from '../src/config.js';
import type * as LoggerModule from '../src/logger.js';
import type * as PathsModule from '../src/paths.js';
import type * as PublisherModule from '../src/publisher.js';
import type * as ScanServiceModule from '../src/services/scan-service.js';
import { startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';

const { loadConfig, CONFIG_KEYS } = await built<typeof ConfigModule>('config.js');
const { createLogger } = await built<typeof LoggerModule>('logger.js');
const { packageRoot } = await built<typeof PathsModule>('paths.js');
const { createPublisher } = await built<typeof PublisherModule>('publisher.js');
const { startScanService } = await built<typeof ScanServiceModule>('services/scan-service.js');

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

type Workload = 'text' | 'mixed';

/** 64 distinct small JPEGs (smooth gradients with a seeded pattern), base64: benign, generated here. */
async function smallImages(): Promise<string[]> {
  return Promise.all(
    Array.from({ length: 64 }, async (_, k) => {
      const w = 320;
      const h = 240;
      const px = Buffer.alloc(w * h * 3);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const o = (y * w + x) * 3;
          px[o] = (x * (k + 3) + y) & 255;
          px[o + 1] = (y * ((k % 7) + 2)) & 255;
          px[o + 2] = ((x ^ y) * (k + 1)) & 255;
        }
      return (
        await sharp(px, { raw: { width: w, height: h, channels: 3 } })
          .jpeg({ quality: 80 })
          .toBuffer()
      ).toString('base64');
    }),
  );
}

let images: string[] = [];

function events(n: number, tag: string, workload: Workload): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    schema: 'vigil.message.v1',
    eventId: `${tag}-${i}`,
    messageId: `m-${tag}-${i}`,
    conversationId: `c-${i % 97}`,
    senderId: `u-${i % 1013}`,
    recipientIds: [`u-${(i + 1) % 1013}`],
    sentAt: '2026-11-27T12:00:00Z',
    text: i % 10 === 0 ? `bring the velvet teapot, ${CHAT[i % CHAT.length]}` : (CHAT[i % CHAT.length] as string),
    ...(workload === 'mixed' ? { media: [{ id: 'img', mimeType: 'image/jpeg', bytes: images[i % images.length] }] } : {}),
  }));
}

interface Measured {
  rate: number;
  /** CPU seconds per event of this process (all threads: the worker's, the publisher's, libvips's). */
  nodeCpuUs: number;
  /** Of that, the main thread's (the event loop that runs the worker and the publisher). */
  mainCpuUs: number;
  /** CPU seconds per event of the Redis server. */
  redisCpuUs: number;
}

let redis: RedisServer;
let admin: Redis;

async function redisCpu(): Promise<number> {
  const info = String(await admin.info('cpu'));
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
  return sys + user;
}

/** CPU µs the main thread has run (Linux's per-thread scheduler statistics); NaN elsewhere. */
function mainThreadCpuUs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e3;
  } catch {
    return NaN;
  }
}

/** Times `work` (which must resolve once all n events are done) and its CPU on both sides. */
async function measure(n: number, work: () => Promise<void>): Promise<Measured> {
  const r0 = await redisCpu();
  const c0 = process.cpuUsage();
  const m0 = mainThreadCpuUs();
  const t0 = performance.now();
  await work();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const m = mainThreadCpuUs() - m0;
  const r1 = await redisCpu();
  return { rate: n / seconds, nodeCpuUs: (c.user + c.system) / n, mainCpuUs: m / n, redisCpuUs: ((r1 - r0) * 1e6) / n };
}

async function bare(n: number, concurrency: number, workload: Workload): Promise<Measured> {
  await admin.flushall();
  const queue = new Queue('bare', { connection: { url: redis.url } });
  let done = 0;
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  const worker = new Worker('bare', async () => undefined, { connection: { url: redis.url, maxRetriesPerRequest: null }, concurrency, autorun: false });
  worker.on('completed', () => {
    if (++done === n) resolve();
  });
  void worker.run();
  await worker.waitUntilReady();
  const payloads = events(n, 'bare', workload);
  const m = await measure(n, async () => {
    for (let i = 0; i < n; i += 500)
      await queue.addBulk(payloads.slice(i, i + 500).map((data, k) => ({ name: 'scan', data, opts: { jobId: `bare-${i + k}`, removeOnComplete: true } })));
    await finished;
  });
  await worker.close();
  await queue.close();
  return m;
}

/** The scan worker's throughput with its defaults (but the image classifier off), or with PDQ threads set. */
async function vigil(n: number, concurrency: number, workload: Workload, pdqThreads?: number): Promise<Measured & { flags: number }> {
  await admin.flushall();
  const root = packageRoot();
  const config = loadConfig({
    env: {},
    overrides: {
      redisUrl: redis.url,
      concurrency,
      banksDir: join(root, 'config/samples/banks'),
      policyFile: join(root, 'config/policy.yaml'),
      imageModel: '',
      logLevel: 'silent',
      ...(pdqThreads === undefined ? {} : { pdqThreads }),
    },
  });
  const service = await startScanService(config, createLogger('silent'));
  let done = 0;
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  service.worker.worker.on('completed', () => {
    if (++done === n) resolve();
  });
  const publisher = createPublisher({ connection: redis.url });
  const moderation = new Queue(config.moderationQueue, { connection: { url: redis.url } });
  const payloads = events(n, 'vigil', workload);
  const m = await measure(n, async () => {
    for (let i = 0; i < n; i += 500) {
      const r = await publisher.publishBatch(payloads.slice(i, i + 500));
      if (r.rejected.length) throw new Error(`bench events rejected: ${r.rejected[0]?.error.message}`);
    }
    await finished;
  });
  const flags = (await moderation.getJobCounts('prioritized')).prioritized ?? 0;
  if (flags !== Math.ceil(n / 10)) throw new Error(`expected ${Math.ceil(n / 10)} flags, found ${flags}`);
  await service.stop();
  await publisher.close();
  await moderation.close();
  return { ...m, flags };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const best = (xs: number[]) => Math.max(...xs);
const f0 = (x: number) => x.toFixed(0);

export async function run(args: string[]): Promise<string> {
  const n = intArg(args, 'events', 20_000);
  const mixedN = intArg(args, 'mixed-events', 3000);
  const concurrency = intArg(args, 'concurrency', 16);
  const rounds = intArg(args, 'rounds', 4);
  const sweepAt = args.indexOf('--sweep');
  const sweep = (sweepAt >= 0 ? (args[sweepAt + 1] ?? '') : '4,8,16,32,64').split(',').map(Number);
  if (sweep.some((c) => !Number.isInteger(c) || c <= 0)) throw new Error('--sweep takes positive integers, comma-separated');
  const loadStart = loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
  redis = await startRedisServer();
  admin = new Redis(redis.url);
  try {
    images = await smallImages();
    const rows: Record<string, Measured[]> = { 'bare text': [], 'vigil text': [], 'bare mixed': [], 'vigil mixed': [], 'vigil mixed no-threads': [] };
    let flags = 0;
    // Warm-up (JIT, Redis scripts, thread start-up), not recorded.
    await bare(2000, concurrency, 'text');
    await vigil(2000, concurrency, 'text');
    await vigil(500, concurrency, 'mixed');
    await vigil(500, concurrency, 'mixed', 0);
    for (let r = 0; r < rounds; r++) {
      // Alternate which side goes first, so neither always runs on the warmer (or quieter) minute.
      const pair = async (workload: Workload, count: number) => {
        const sides = r % 2 === 0 ? (['bare', 'vigil'] as const) : (['vigil', 'bare'] as const);
        for (const side of sides) {
          if (side === 'bare') rows[`bare ${workload}`]!.push(await bare(count, concurrency, workload));
          else {
            const v = await vigil(count, concurrency, workload);
            rows[`vigil ${workload}`]!.push(v);
            if (workload === 'text') flags = v.flags;
          }
        }
      };
      await pair('text', n);
      await pair('mixed', mixedN);
      // The same mixed events with no PDQ threads: decode on libvips's own threads, PDQ on the event loop.
      rows['vigil mixed no-threads']!.push(await vigil(mixedN, concurrency, 'mixed', 0));
      process.stderr.write(
        `round ${r + 1}: text bare ${f0(rows['bare text']!.at(-1)!.rate)}/s vigil ${f0(rows['vigil text']!.at(-1)!.rate)}/s; mixed bare ${f0(rows['bare mixed']!.at(-1)!.rate)}/s vigil ${f0(rows['vigil mixed']!.at(-1)!.rate)}/s\n`,
      );
    }
    // Concurrency sweep (text-only): runs ascending, descending, ascending; each value's median counts.
    const sweepRates = new Map<number, number[]>(sweep.map((c) => [c, []]));
    for (let pass = 0; pass < 3; pass++)
      for (const c of pass % 2 === 0 ? sweep : [...sweep].reverse()) {
        sweepRates.get(c)!.push((await vigil(n, c, 'text')).rate);
        process.stderr.write(`sweep concurrency ${c}: ${f0(sweepRates.get(c)!.at(-1)!)}/s\n`);
      }
    const loadEnd = loadavg()
      .map((l) => l.toFixed(2))
      .join(' / ');

    const ratio = (w: Workload) => best(rows[`vigil ${w}`]!.map((m) => m.rate)) / best(rows[`bare ${w}`]!.map((m) => m.rate));
    const line = (label: string, key: string, w: Workload) => {
      const ms = rows[key]!;
      const rates = ms.map((m) => m.rate);
      const total = ms.map((m) => m.nodeCpuUs + m.redisCpuUs);
      const vsBare = key.startsWith('bare') ? 1 : best(rates) / best(rows[`bare ${w}`]!.map((m) => m.rate));
      return `| ${label} | ${f0(best(rates))} | ${rates.map(f0).join(', ')} | ${f0(median(ms.map((m) => m.nodeCpuUs)))} µs | ${f0(median(ms.map((m) => m.mainCpuUs)))} µs | ${f0(median(ms.map((m) => m.redisCpuUs)))} µs | ${f0(median(total))} µs | ${vsBare.toFixed(2)}× |`;
    };
    const [bestSweep, bestRates] = [...sweepRates].sort((a, b) => median(b[1]) - median(a[1]))[0]!;
    const atDefault = median(sweepRates.get(defaultScanConcurrency) ?? []) / median(bestRates);
    const textRatio = ratio('text');
    return `## Pipeline throughput (publish → scan → flag)

Command: \`npm run bench -- pipeline --events ${n} --mixed-events ${mixedN} --concurrency ${concurrency} --rounds ${rounds} --sweep ${sweep.join(',')}\`. One scan worker (the compiled build in dist/) and the publisher in the benchmark process; Redis is a private \`redis-server\` on a loopback port, started by the bench and emptied before every run, so its CPU is the bench's alone. Load average (1/5/15 min) at the start: ${loadStart}, at the end: ${loadEnd}, on ${cpus().length} cores — a machine shared with other work, so absolute rates move with it; ratios come from rounds run side by side.

Events are \`vigil.message.v1\`, published with \`publishBatch\` in batches of 500 (validation, jobId = eventId, dedupe key, a duplicate check); 10% carry a stand-in term from \`config/samples/banks\`, so ${flags} of ${n} flags reach the moderation queue (checked every run). **Text-only**: chat lines. **Mixed**: the same plus one 320×240 JPEG per event (64 generated benign images): exact hashes, one decode, PDQ, bank matching; the image classifier is off here (its cost: the classify bench). Scanned with the sample banks and \`config/policy.yaml\`. Baseline: bare BullMQ — \`addBulk\` of the same payloads (jobId, removeOnComplete), a no-op worker with the same concurrency. Timed from the first enqueue until every job completed; ${rounds} rounds, the two sides alternating which goes first (the no-threads mixed run after each pair). CPU per event: this process (every thread: worker, publisher, libvips, PDQ threads), its main thread alone (the event loop the worker and the publisher share; Linux's per-thread scheduler statistics), and the Redis server, medians of the rounds.

| workload, side | events/s (best) | all rounds | process CPU / event | of which main thread | Redis CPU / event | together | vs bare BullMQ (best) |
| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |
${line('text-only, bare BullMQ no-op worker', 'bare text', 'text')}
${line('text-only, Vigil scan worker', 'vigil text', 'text')}
${line('mixed, bare BullMQ no-op worker', 'bare mixed', 'mixed')}
${line(`mixed, Vigil scan worker (${defaultPdqThreads} PDQ thread(s), the default here: decode + PDQ as one task on them)`, 'vigil mixed', 'mixed')}
${line('mixed, Vigil scan worker, VIGIL_PDQ_THREADS=0 (decode on libvips threads, PDQ on the event loop)', 'vigil mixed no-threads', 'mixed')}

Concurrency (\`VIGIL_CONCURRENCY\`), text-only, three passes (ascending, descending, ascending), events/s: ${[...sweepRates].map(([c, rs]) => `${c}: ${rs.map(f0).join(' / ')} (median ${f0(median(rs))})`).join('; ')}. Best median: ${bestSweep}; the default, ${defaultScanConcurrency}, ${Number.isFinite(atDefault) ? `runs at ${(100 * atDefault).toFixed(0)}% of it` : 'was not in the sweep'}.

Target (issue "Honest, faster media path"): text-only ≥ 0.80× of bare BullMQ — ${textRatio.toFixed(2)}×, ${textRatio >= 0.8 ? 'met' : '**not met**'}.`;
  } finally {
    admin.disconnect();
    await redis.stop();
  }
}

/** VIGIL_CONCURRENCY's default. */
export const defaultScanConcurrency = CONFIG_KEYS.concurrency[1];

/** VIGIL_PDQ_THREADS's default on this machine. */
const defaultPdqThreads = loadConfig({ env: {} }).pdqThreads;

/** The scan worker's text-only rate on a private Redis; the bridge benchmark measures it in its own run. */
export async function vigilTextRate(n: number, concurrency: number): Promise<number> {
  redis = await startRedisServer();
  admin = new Redis(redis.url);
  try {
    await vigil(2000, concurrency, 'text');
    return (await vigil(n, concurrency, 'text')).rate;
  } finally {
    admin.disconnect();
    await redis.stop();
  }
}
