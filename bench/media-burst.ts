/**
 * A burst of large banked images through one scan worker: do they all get flagged, and what is the
 * worker's peak memory? Issue 8 measured 10 of 16 flags lost to MEDIA_TIMEOUT and 3.5–5.5 GiB RSS
 * before the decode budget existed.
 *
 *   npm run bench -- media-burst [--images 16] [--side 10000] [--rounds 1]
 *
 * Each round starts a fresh worker process (`node dist/workers/scan.js`, everything at its defaults
 * but the queue prefix) on the shared Redis, publishes `images` events at once, each carrying a
 * side×side JPEG of the benign sample teapot (bytes differ per event, pixels do not), whose only
 * banked hash is the PDQ of the small original (config/samples/banks), and waits until every event
 * is flagged or dead-lettered. Peak RSS is the worker's VmHWM from /proc. The baseline, measured in
 * the same run, is the same worker with the decode budget lifted (VIGIL_DECODE_BUDGET_PIXELS at its
 * maximum): every decode at once, which is how the worker behaved before the budget.
 */
import { Queue } from 'bullmq';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { built, intArg } from './_shared.js';
import type * as PublisherModule from '../src/publisher.js';
import { deletePrefix } from '../test/helpers/redis.js';

const { createPublisher } = await built<typeof PublisherModule>('publisher.js');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const root = fileURLToPath(new URL('..', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

/** Encoding a 100-Mpx JPEG takes seconds to minutes on a loaded machine: do it once, keep it in the temp dir. */
async function bigImage(side: number): Promise<Buffer> {
  const file = join(tmpdir(), `vigil-bench-teapot-${side}.jpg`);
  if (existsSync(file)) return readFileSync(file);
  const bytes = await sharp(join(root, 'config/samples/media/teapot-still-life.png'))
    .resize(side, side, { fit: 'fill', kernel: 'cubic' })
    .jpeg({ quality: 80 })
    .toBuffer();
  writeFileSync(file, bytes);
  return bytes;
}

/** Distinct bytes, same pixels: a JPEG comment segment after SOI. */
function tagged(jpeg: Buffer, tag: string): Buffer {
  const text = Buffer.from(`benign copy ${tag}`);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(text.length + 2);
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xfe]), len, text, jpeg.subarray(2)]);
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

function metric(body: string, name: string): number {
  let total = 0;
  for (const line of body.split('\n'))
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) total += Number(line.split(' ').pop());
  return total;
}

interface Round {
  flagged: number;
  deadLettered: number;
  retried: number;
  peakMiB: number;
  seconds: number;
  decodeMeanS: number;
  waitMeanS: number;
}

async function round(label: string, images: number, jpeg: Buffer, env: Record<string, string>): Promise<Round> {
  const prefix = `bench-burst-${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  const worker: ChildProcess = spawn(process.execPath, [join(root, 'dist/workers/scan.js')], {
    cwd: root,
    env: {
      ...process.env,
      REDIS_URL,
      VIGIL_QUEUE_PREFIX: prefix,
      VIGIL_BANKS_DIR: join(root, 'config/samples/banks'),
      VIGIL_POLICY_FILE: join(root, 'config/policy.yaml'),
      VIGIL_LOG_LEVEL: 'error',
      VIGIL_METRICS_PORT: String(port),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((r) => worker.once('exit', () => r()));
  const q = (name: string) => new Queue(name, { connection: { url: REDIS_URL }, prefix });
  const moderation = q('vigil-moderation');
  const dead = q('vigil-dead-letter');
  const publisher = createPublisher({ connection: REDIS_URL, prefix, dedupeTtlMs: 3_600_000 });
  try {
    // Ready once it serves metrics.
    const ready = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/metrics`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > ready) throw new Error(`${label}: worker did not start`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const events = Array.from({ length: images }, (_, i) => ({
      schema: 'vigil.message.v1',
      eventId: `burst-${i}`,
      messageId: `m-${i}`,
      conversationId: 'c-1',
      senderId: 's-1',
      recipientIds: ['r-1'],
      sentAt: '2026-12-02T12:00:00Z',
      media: [{ id: 'img', mimeType: 'image/jpeg', bytes: tagged(jpeg, String(i)).toString('base64') }],
    }));
    const t0 = performance.now();
    await publisher.publishBatch(events);
    const deadline = Date.now() + 15 * 60_000;
    let flagged = 0;
    let deadLettered = 0;
    for (;;) {
      flagged = (await moderation.getJobCounts('prioritized', 'wait')).prioritized ?? 0;
      const deadJobs = await dead.getJobs(['waiting']);
      deadLettered = new Set(deadJobs.map((j) => (j.data as { eventId?: string }).eventId)).size;
      // An event counts as done once flagged; one that lost its PDQ shows up only in the dead letters.
      if (flagged >= images || flagged + deadLettered >= images) break;
      if (Date.now() > deadline) throw new Error(`${label}: not finished after 15 minutes (${flagged} flagged)`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (performance.now() - t0) / 1000;
    const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const peakMiB = peakRssMiB(worker.pid ?? 0);
    return {
      flagged,
      deadLettered,
      retried: metric(body, 'vigil_events_scanned_total{outcome="retried"}'),
      peakMiB,
      seconds,
      decodeMeanS: metric(body, 'vigil_decode_seconds_sum') / Math.max(1, metric(body, 'vigil_decode_seconds_count')),
      waitMeanS: metric(body, 'vigil_decode_wait_seconds_sum') / Math.max(1, metric(body, 'vigil_decode_wait_seconds_count')),
    };
  } finally {
    worker.kill('SIGTERM');
    await exited;
    await publisher.close();
    await Promise.all([moderation.close(), dead.close()]);
    await deletePrefix(prefix);
  }
}

export async function run(args: string[]): Promise<string> {
  const images = intArg(args, 'images', 16);
  const side = intArg(args, 'side', 10_000);
  const rounds = intArg(args, 'rounds', 1);
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  const jpeg = await bigImage(side);
  const configs: [string, Record<string, string>][] = [
    ['default settings (decode budget 150 Mpx)', {}],
    ['baseline: budget lifted (every decode at once)', { VIGIL_DECODE_BUDGET_PIXELS: '20000000000' }],
  ];
  const results = new Map<string, Round[]>(configs.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++) for (const [name, env] of configs) results.get(name)?.push(await round(name, images, jpeg, env));
  const rows = configs.map(([name]) => {
    const rs = results.get(name) ?? [];
    const worst = rs.reduce((a, b) => (b.peakMiB > a.peakMiB ? b : a));
    const fmt = (x: Round) =>
      `${x.flagged}/${images} flagged, ${x.deadLettered} dead-lettered, ${x.retried} retried, ${(x.peakMiB / 1024).toFixed(2)} GiB, ${x.seconds.toFixed(1)} s`;
    return `| ${name} | ${Math.min(...rs.map((x) => x.flagged))}/${images} | ${(worst.peakMiB / 1024).toFixed(2)} | ${Math.max(...rs.map((x) => x.seconds)).toFixed(1)} | ${worst.decodeMeanS.toFixed(2)} / ${worst.waitMeanS.toFixed(2)} | ${rs.map(fmt).join('; ')} |`;
  });
  const dflt = results.get(configs[0]?.[0] ?? '') ?? [];
  const peak = Math.max(...dflt.map((x) => x.peakMiB)) / 1024;
  const allFlagged = dflt.every((x) => x.flagged === images);
  return `## Burst of large banked images (decode budget)

Command: \`npm run bench -- media-burst --images ${images} --side ${side} --rounds ${rounds}\`. Load average at the start: ${load} (the machine is shared with other work; times are indicative, memory and flag counts are not load-dependent).
Each round: a fresh worker process (\`node dist/workers/scan.js\`, default settings: concurrency 16, \`VIGIL_DECODE_TIMEOUT_MS\` 5000, PDQ threads auto),
${images} events published at once, each a ${side}×${side} (${((side * side) / 1e6).toFixed(0)} Mpx) JPEG of the benign sample teapot (${(jpeg.length / 1e6).toFixed(1)} MB; bytes differ per event by a JPEG comment), banked only by the PDQ of the small original.
Peak RSS = the worker's VmHWM. Decode / wait = mean seconds per image of the decode itself and of the wait for the budget (from the worker's metrics).
Baseline in the same run: the same worker with the budget lifted, i.e. every decode at once as before the budget existed.

| configuration | flagged (worst round) | peak RSS GiB (worst) | seconds (worst) | decode / wait s | rounds |
| --- | ---: | ---: | ---: | ---: | --- |
${rows.join('\n')}

Target: ${images}/${images} flagged and peak RSS ≤ 2 GiB at default settings — ${allFlagged && peak <= 2 ? 'met' : 'NOT met'} (${peak.toFixed(2)} GiB).`;
}
