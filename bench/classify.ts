/**
 * Classifiers: the image pipeline (ThreadedImageClassifier: sharp resize from the decoded raster, one
 * TF.js worker thread, batching) against the bare `model.predict` loop on the same model and backend
 * in the same run, at batch 1, 4 and 8; end to end from file bytes (decode + PDQ + classify) on one
 * process; and the text model (featurise + score) per 200-byte message.
 *
 *   npm run bench -- classify                     # 3 rounds, 32 images per batch size per round
 *   npm run bench -- classify --rounds 5 --images 48
 *   npm run bench -- classify --text-only         # the text model alone; the image figures are kept
 *
 * Images: the public PDQ reference images (shared/vectors/pdq) and the sample media, all benign.
 * Bare loop: a pre-built float input tensor, `tf.tidy(() => model.predict(x).dataSync())` on the main
 * thread, nothing else. Pipeline: `classify(raster)` calls kept 2 × batch deep on one thread, so the
 * thread always finds a full batch; its latency is call → scores, queueing included. The two alternate
 * in chunks of a few images within a round, so both are measured on the same (shared, noisy) host.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import type * as TF from '@tensorflow/tfjs';
import type * as SharpDecoder from '../src/adapters/sharp-decoder.js';
import type * as ImageClassifierMod from '../src/classify/image-classifier.js';
import type * as Manifest from '../src/classify/manifest.js';
import type * as Runtime from '../src/classify/runtime.js';
import type * as TfModel from '../src/classify/tf-model.js';
import type * as TextClassifierMod from '../src/classify/text-classifier.js';
import type * as TextFeatures from '../src/classify/text-features.js';
import type * as Text from '../src/core/text/index.js';
import type * as App from '../src/app.js';
import type * as ConfigMod from '../src/config.js';
import type * as Contracts from '../src/core/contracts.js';
import type * as Scan from '../src/core/scan.js';
import type * as LoggerMod from '../src/logger.js';
import type { DecodedImage } from '../src/core/ports.js';
import { built, intArg } from './_shared.js';
import { referenceText } from './_normalize-reference.js';
import { seededRandom } from '../test/helpers/seeded-random.js';

const { SharpImageDecoder } = await built<typeof SharpDecoder>('adapters/sharp-decoder.js');
const { ThreadedImageClassifier } = await built<typeof ImageClassifierMod>('classify/image-classifier.js');
const { defaultModelsDir, loadVerifiedModel, NSFW_MODEL_ID, DEMO_TEXT_MODEL_ID } = await built<typeof Manifest>('classify/manifest.js');
const { tfRuntime } = await built<typeof Runtime>('classify/runtime.js');
const { loadLayersModel } = await built<typeof TfModel>('classify/tf-model.js');
const { HashedTextClassifier } = await built<typeof TextClassifierMod>('classify/text-classifier.js');
const { normalizeText } = await built<typeof Text>('core/text/index.js');
const { featurize } = await built<typeof TextFeatures>('classify/text-features.js');
const { createScanRuntime } = await built<typeof App>('app.js');
const { contractLimits, loadConfig } = await built<typeof ConfigMod>('config.js');
const { parseMessageEvent } = await built<typeof Contracts>('core/contracts.js');
const { scanEvent } = await built<typeof Scan>('core/scan.js');
const { createLogger } = await built<typeof LoggerMod>('logger.js');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VECTORS = join(ROOT, '..', 'shared', 'vectors', 'pdq');

function imageFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(jpe?g|png)$/i.test(name)) out.push(p);
    }
  };
  walk(join(ROOT, 'config', 'samples', 'media'));
  try {
    walk(VECTORS);
  } catch {
    // The reference vectors sit beside the clone; without them the sample media alone are used.
  }
  return out;
}

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function rssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

interface Rate {
  perSec: number;
  p50: number;
  p99: number;
  /** Process CPU time (all threads: main, classifier thread, libuv pool) per image, ms. */
  cpuMs: number;
}

/** CPU time of the whole process (every thread), in ms: robust to other jobs on a shared host, unlike wall time. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Bare model: `count` images in batches of `batch` on one pre-built input tensor (warmed by the caller). */
function bareChunk(tf: typeof TF, model: TF.LayersModel, x: TF.Tensor, batch: number, count: number, acc: Acc): void {
  const c0 = cpuMs();
  const t0 = performance.now();
  for (let done = 0; done < count; done += batch) {
    const t = performance.now();
    tf.tidy(() => (model.predict(x) as TF.Tensor).dataSync());
    acc.lat.push(performance.now() - t);
    acc.images += batch;
  }
  acc.ms += performance.now() - t0;
  acc.cpu += cpuMs() - c0;
}

/** Pipeline: `count` classify() calls on rasters, kept `depth` deep; `next` walks the rasters across chunks. */
async function pipelineChunk(
  classifier: ImageClassifierMod.ThreadedImageClassifier,
  rasters: readonly DecodedImage[],
  depth: number,
  count: number,
  acc: Acc,
  cursor: { next: number },
): Promise<void> {
  let started = 0;
  const c0 = cpuMs();
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (started < count) {
      started++;
      const r = rasters[cursor.next++ % rasters.length] as DecodedImage;
      const t = performance.now();
      await classifier.classify(r);
      acc.lat.push(performance.now() - t);
      acc.images++;
    }
  };
  await Promise.all(Array.from({ length: depth }, lane));
  acc.ms += performance.now() - t0;
  acc.cpu += cpuMs() - c0;
}

interface Acc {
  images: number;
  ms: number;
  cpu: number;
  lat: number[];
}

const emptyAcc = (): Acc => ({ images: 0, ms: 0, cpu: 0, lat: [] });

function rate(acc: Acc): Rate {
  const lat = [...acc.lat].sort((a, b) => a - b);
  return { perSec: (acc.images * 1000) / acc.ms, p50: pct(lat, 50), p99: pct(lat, 99), cpuMs: acc.cpu / acc.images };
}

/**
 * One batch size, one round: the bare loop and the pipeline alternate in chunks of 8 images until each
 * has done `images`, so a change in the host's speed (other jobs, clock) falls on both alike; measuring
 * one for seconds and then the other made the batch-1 ratio swing by ±20% between runs here.
 */
async function compareBatch(
  tf: typeof TF,
  model: TF.LayersModel,
  rasters: readonly DecodedImage[],
  batch: number,
  images: number,
): Promise<{ bare: Rate; pipe: Rate; backend: string }> {
  const x = tf.tidy(() => tf.randomUniform([batch, 224, 224, 3], 0, 1, 'float32', 1));
  // One classifier (one thread) at a time, so the peak RSS is that of a worker's configuration.
  const classifier = await ThreadedImageClassifier.open({ maxBatch: batch, timeoutMs: 600_000, maxQueue: 1000 });
  const cursor = { next: 0 };
  // Both sides start from the same collected heap: what earlier phases left behind is not billed to either.
  gc();
  try {
    // Warm both sides alike: kernels compiled, heaps sized, the thread's JIT settled.
    bareChunk(tf, model, x, batch, 16, emptyAcc());
    await pipelineChunk(classifier, rasters, batch * 2, 16, emptyAcc(), cursor);
    const bare = emptyAcc();
    const pipe = emptyAcc();
    const chunk = Math.max(8, batch * 2);
    while (bare.images < images || pipe.images < images) {
      bareChunk(tf, model, x, batch, chunk, bare);
      await pipelineChunk(classifier, rasters, batch * 2, chunk, pipe, cursor);
    }
    return { bare: rate(bare), pipe: rate(pipe), backend: classifier.runtime.backend };
  } finally {
    x.dispose();
    await classifier.close();
  }
}

const CHAT = [
  'hey, are we still on for lunch tomorrow? i can bring the {w} and maybe the {v} if you want, just let me know before ten so i can plan the morning',
  'Meeting moved to 3:30pm re: the {w} budget, see the doc and bring the {v} numbers; ping me if the room changes again, thanks so much',
  'omg the {w} was sooo good 😂 we should totally get the {v} next time, my treat, and tell your sister she is welcome to come along',
  'Your parcel with the {w} is out for delivery today. Track it in the app or reply STOP to opt out of {v} updates from us, have a nice day',
];
const WORDS = ['teapot', 'garden', 'umbrella', 'bicycle', 'kettle', 'harbour', 'sunset', 'notebook', 'lantern', 'violin'];

function chatMessages(n: number, seed: number): string[] {
  const r = seededRandom(seed);
  const pick = (): string => WORDS[Math.floor(r() * WORDS.length)] as string;
  return Array.from({ length: n }, (_, i) => {
    let s = (CHAT[i % CHAT.length] as string).replace('{w}', pick()).replace('{v}', pick());
    while (Buffer.byteLength(s) < 200) s += ` ${pick()}`;
    return s.slice(0, 200);
  });
}

/** µs per message, wall clock and CPU time of this thread's process (nothing else runs in it meanwhile). */
function timeText(lines: readonly string[], fn: (t: string) => unknown, minMs = 1500): { wall: number; cpu: number } {
  for (const l of lines) fn(l);
  let count = 0;
  const c0 = cpuMs();
  const t0 = performance.now();
  let elapsed: number;
  do {
    for (const l of lines) fn(l);
    count += lines.length;
    elapsed = performance.now() - t0;
  } while (elapsed < minMs);
  return { wall: (elapsed * 1000) / count, cpu: ((cpuMs() - c0) * 1000) / count };
}

const f1 = (v: number): string => v.toFixed(1);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

type TextTiming = { wall: number; cpu: number };
interface TextRound {
  score: TextTiming;
  normalise: TextTiming;
  features: TextTiming;
  refNormalise: TextTiming;
  refFeatures: TextTiming;
}

/**
 * The text model per 200-byte chat line: score (featurise + dot product), featurise and normalise
 * alone, and the normaliser as it was before the speed work (the frozen reference, compiled the same
 * way) with the featuriser on top of it, interleaved in every round so both see the same load.
 */
async function textBench(rounds: number): Promise<{ rounds: TextRound[]; lines: number }> {
  const text = HashedTextClassifier.load(defaultModelsDir(), { id: DEMO_TEXT_MODEL_ID });
  const ref = await referenceText();
  const lines = chatMessages(2000, 7);
  // The baseline must compute the same thing: the same features for every line.
  for (const l of lines)
    if (featurize(l, text.features).indices.join() !== ref.featurize(l, text.features).indices.join()) throw new Error('reference features differ');
  const out: TextRound[] = [];
  for (let round = 1; round <= rounds; round++)
    out.push({
      score: timeText(lines, (l) => text.score(l)),
      normalise: timeText(lines, (l) => normalizeText(l)),
      features: timeText(lines, (l) => featurize(l, text.features)),
      refNormalise: timeText(lines, (l) => ref.normalizeText(l)),
      refFeatures: timeText(lines, (l) => ref.featurize(l, text.features)),
    });
  return { rounds: out, lines: lines.length };
}

function textSection(t: { rounds: TextRound[]; lines: number }): string[] {
  const m = (f: (r: TextRound) => number): number => median(t.rounds.map(f));
  const scoreCpu = m((r) => r.score.cpu);
  const normCpu = m((r) => r.normalise.cpu);
  const featCpu = m((r) => r.features.cpu);
  const refNormCpu = m((r) => r.refNormalise.cpu);
  const refFeatCpu = m((r) => r.refFeatures.cpu);
  // Everything but the normaliser is the same code on both sides (the reference featuriser is today's
  // text-features.ts over the old normaliser), so the baseline's score costs the difference more.
  const refScoreCpu = scoreCpu + (refNormCpu - normCpu);
  const us = (v: number): string => v.toFixed(2);
  return [
    '### Text model (demo spam_scam, 200-byte chat messages, one thread)',
    '',
    `Featurise (the term matcher's \`normalizeText\` + hashing) and score: **${us(scoreCpu)} CPU µs/message** (${Math.round(1e6 / scoreCpu).toLocaleString('en')} messages per CPU-second; target ≤ 20 µs), of which \`normalizeText\` alone is ${us(normCpu)} CPU µs (the score hashes into unordered distinct buckets; \`featurize\`, the sorted copy training uses, takes ${us(featCpu)}). ` +
      `Baseline in the same run, interleaved in every round: the normaliser before the speed work (test/text/normalize-reference.ts, the differential test's oracle, compiled the same way) normalises in ${us(refNormCpu)} CPU µs and featurises in ${us(refFeatCpu)}, so its score is ≈ ${us(refScoreCpu)} CPU µs (today's score + the normalisers' difference: the hashing and dot product are the same code): normalise **${(refNormCpu / normCpu).toFixed(1)}×**, score ${(refScoreCpu / scoreCpu).toFixed(1)}× faster now, with identical features on all ${t.lines} lines (checked). ` +
      `Wall clock on this loaded host: score ${us(m((r) => r.score.wall))} µs, normalise ${us(m((r) => r.normalise.wall))} µs (reference ${us(m((r) => r.refNormalise.wall))} µs).`,
    '',
    `Rounds (CPU µs score / normalise / featurise / reference normalise / reference featurise): ${t.rounds.map((r) => [r.score, r.normalise, r.features, r.refNormalise, r.refFeatures].map((x) => us(x.cpu)).join(' / ')).join('; ')}.`,
  ];
}

/** `--text-only`: this run's text figures spliced into the classify section as last written (image figures kept). */
function spliceTextSection(text: string[], load: string): string {
  const file = new URL('../BENCHMARKS.md', import.meta.url);
  const doc = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const i = doc.indexOf('<!-- bench:classify -->');
  const j = doc.indexOf('<!-- /bench:classify -->');
  const body = i >= 0 && j > i ? doc.slice(i + '<!-- bench:classify -->'.length, j).trim() : '';
  // run.ts appends its own "Measured … on …" line again.
  const kept = body.replace(/\n+_Measured [^\n]*_$/, '');
  const from = kept.indexOf('### Text model');
  const to = kept.indexOf('\nPeak RSS', from);
  const section = [
    ...text,
    '',
    `(Text-only rerun, \`npm run bench -- classify --text-only\`; load average ${load}. The image and end-to-end figures are from the last full run.)`,
    '',
  ].join('\n');
  if (from < 0 || to < 0) return ['## Classifiers (`npm run bench -- classify`)', '', section].join('\n');
  return `${kept.slice(0, from)}${section}${kept.slice(to)}`;
}

/**
 * End to end on one worker, in its own function so that its runtime, events and closures are garbage
 * by the time the image rounds run (a larger live heap makes every later GC dearer for whoever allocates).
 */
async function endToEnd(
  files: readonly string[],
  rounds: number,
  images: number,
  classifierThreads?: number,
): Promise<{ e2eRounds: number[]; e2eCpu: number[]; pdqThreads: number; classifierThreads: number }> {
  // End to end on one worker: the worker's own scan (createScanRuntime + scanEvent) over events of one
  // image each: sniff, safe decode under the decode budget, exact hashes, PDQ (its threads), bank match,
  // then the image classifier (its TF.js threads, batches ≤ 8) on the same raster; 8 events in flight.
  const policyFile = join(mkdtempSync(join(tmpdir(), 'vigil-bench-')), 'policy.yaml');
  writeFileSync(
    policyFile,
    'version: 2\nclassifiers: { image: { run: always } }\nrules:\n  - { id: model, when: { signal: { type: classifier, minScore: 0.99 } }, category: bench, severity: low, action: log }\n',
  );
  const config = loadConfig({
    env: {},
    overrides: {
      policyFile,
      banksDir: join(ROOT, 'config/samples/banks'),
      imageModel: NSFW_MODEL_ID,
      classifierTimeoutMs: 600_000,
      classifierMaxQueue: 1000,
      ...(classifierThreads ? { classifierThreads } : {}),
      logLevel: 'silent',
    },
  });
  const runtime = await createScanRuntime(config, createLogger('silent'), { watch: false });
  const events = files.map((f, i) =>
    parseMessageEvent(
      {
        schema: 'vigil.message.v1',
        eventId: `bench-${i}`,
        messageId: `bench-msg-${i}`,
        conversationId: 'bench',
        senderId: 'a',
        recipientIds: ['b'],
        sentAt: '2026-01-01T00:00:00.000Z',
        media: [{ id: 'm1', mimeType: 'application/octet-stream', bytes: readFileSync(f).toString('base64') }],
      },
      contractLimits(config),
    ),
  );
  const e2eRounds: number[] = [];
  const e2eCpu: number[] = [];
  let classified = 0;
  for (let round = 1; round <= rounds; round++) {
    let next = 0;
    const count = Math.max(images, events.length);
    const c0 = cpuMs();
    const t0 = performance.now();
    const lane = async (): Promise<void> => {
      while (next < count) {
        const report = await scanEvent(events[next++ % events.length]!, runtime.scanner, runtime.policy());
        if (report.media?.[0]?.outcome !== 'scanned') throw new Error(`bench event not fully scanned: ${JSON.stringify(report.mediaErrors)}`);
        if (report.signals.some((s) => s.type === 'classifier')) classified++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    e2eRounds.push((count * 1000) / (performance.now() - t0));
    e2eCpu.push((cpuMs() - c0) / count);
  }
  await runtime.close();
  if (classified !== rounds * Math.max(images, events.length)) throw new Error(`only ${classified} events were classified`);
  return { e2eRounds, e2eCpu, pdqThreads: config.pdqThreads, classifierThreads: config.classifierThreads };
}

export async function run(args: string[]): Promise<string> {
  const rounds = intArg(args, 'rounds', 3);
  const images = intArg(args, 'images', 32);
  const loadStart = loadavg();
  if (args.includes('--text-only')) {
    const t = await textBench(rounds);
    const load = `${loadStart.map((l) => l.toFixed(2)).join(' / ')} at start, ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' / ')} at end (1/5/15 min; the 2-core host is shared with other jobs)`;
    return spliceTextSection(textSection(t), load);
  }
  const files = imageFiles();
  const decoder = new SharpImageDecoder();
  const rasters = await Promise.all(files.map(async (f) => decoder.decode(readFileSync(f), 'application/octet-stream')));

  // Text: the shipped demo model, 200-byte chat lines, beside the normaliser as it was before.
  const textRounds = await textBench(rounds);
  const rssText = rssMiB();

  // The worker's defaults (classifier threads: one per core), then one classifier thread for comparison.
  const e2e = await endToEnd(files, rounds, images);
  const rssE2e = rssMiB();
  const e2eOne = e2e.classifierThreads === 1 ? e2e : await endToEnd(files, rounds, images, 1);
  const { e2eRounds, e2eCpu, pdqThreads } = e2e;

  // Bare model on this thread, same files as the threads load (verified the same way).
  const { tf, backend, reason, simd } = await tfRuntime();
  const model = await loadLayersModel(tf, loadVerifiedModel(defaultModelsDir(), { id: NSFW_MODEL_ID }));
  let threadBackend = '';

  const raw: string[] = [];
  const results = new Map<number, { bare: Rate[]; pipe: Rate[] }>();
  for (let round = 1; round <= rounds; round++) {
    for (const b of [1, 4, 8]) {
      const { bare, pipe, backend: used } = await compareBatch(tf, model, rasters, b, images);
      threadBackend = used;
      const r = results.get(b) ?? { bare: [], pipe: [] };
      r.bare.push(bare);
      r.pipe.push(pipe);
      results.set(b, r);
      raw.push(
        `| ${round} | ${b} | ${f1(bare.perSec)} | ${f1(bare.cpuMs)} | ${f1(bare.p50)} | ${f1(pipe.perSec)} | ${f1(pipe.cpuMs)} | ${f1(pipe.p50)} | ${f1(pipe.p99)} | ${loadavg()[0]!.toFixed(2)} |`,
      );
    }
  }
  model.dispose();
  const rssImages = rssMiB();
  const loadEnd = loadavg();

  const table = [1, 4, 8].map((b) => {
    const r = results.get(b)!;
    const bareCpu = median(r.bare.map((x) => x.cpuMs));
    const pipeCpu = median(r.pipe.map((x) => x.cpuMs));
    const bare = median(r.bare.map((x) => x.perSec));
    const pipe = median(r.pipe.map((x) => x.perSec));
    return `| ${b} | ${f1(bareCpu)} | ${f1(pipeCpu)} | **${((bareCpu / pipeCpu) * 100).toFixed(0)}%** | ${f1(bare)} | ${f1(pipe)} | ${((pipe / bare) * 100).toFixed(0)}% | ${f1(median(r.bare.map((x) => x.p50)))} | ${f1(median(r.pipe.map((x) => x.p50)))} | ${f1(median(r.pipe.map((x) => x.p99)))} |`;
  });
  const e2eCpuMs = median(e2eCpu);
  return [
    '## Classifiers (`npm run bench -- classify`)',
    '',
    `Command: \`npm run bench -- classify --rounds ${rounds} --images ${images}\`. Backend: TF.js **${backend}**${simd ? ' (SIMD)' : ''} on this thread (${reason}), **${threadBackend}** on the classifier thread. ` +
      `Images: ${files.length} benign files (sample media + public PDQ reference images, ${Math.min(...rasters.map((r) => r.width))}–${Math.max(...rasters.map((r) => r.width))} px wide). ` +
      `Load average at start ${loadStart.map((l) => l.toFixed(2)).join(' / ')}, at end ${loadEnd.map((l) => l.toFixed(2)).join(' / ')} (1/5/15 min; the host is shared with other jobs, so absolute figures are pessimistic; the ratios are measured side by side).`,
    '',
    '### Image model: pipeline vs bare `model.predict` (median of rounds)',
    '',
    'Bare: pre-built input tensor, `tf.tidy(() => model.predict(x).dataSync())` on the main thread. Pipeline: `ThreadedImageClassifier.classify(raster)` from decoded rasters (sharp resize to 224×224, transfer to one TF.js worker thread, batch, scores back), 2 × batch calls in flight. The two alternate in chunks of 8 images (16 at batch 8) within each round, after a warm-up of each, so both see the same host. ' +
      "CPU ms/image is the whole process's CPU time (every thread) per image: on a host shared with other jobs it is the fair comparison, since wall time depends on how much of the CPUs the run got. Efficiency = bare CPU / pipeline CPU. Latency is per call for the pipeline (queueing included), per batch for the bare loop.",
    '',
    '| batch | bare CPU ms/image | pipeline CPU ms/image | pipeline efficiency (CPU) | bare images/s (wall) | pipeline images/s (wall) | pipeline / bare (wall) | bare p50 ms/batch | pipeline p50 ms | pipeline p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...table,
    '',
    `### End to end on one worker`,
    '',
    `The worker's own scan (\`createScanRuntime\` + \`scanEvent\`, policy \`classifiers.image.run: always\`) over events of one image each: sniff, safe decode under the decode budget, exact hashes, PDQ (${pdqThreads} PDQ thread(s)), bank match, then the image classifier on the same raster (the default ${e2e.classifierThreads} TF.js thread(s): one per core, batches ≤ 8); 8 events in flight, every one classified: **${f1(e2eCpuMs)} CPU ms per image** (all threads), i.e. ${f1(1000 / e2eCpuMs)} images per CPU-second, ${f1(2000 / e2eCpuMs)} images/s if the process had both cores to itself; wall clock: ${f1(median(e2eRounds))} images/s (rounds: ${e2eRounds.map(f1).join(', ')} images/s; ${e2eCpu.map(f1).join(', ')} CPU ms/image). ` +
      `With one classifier thread instead, same run: ${f1(median(e2eOne.e2eRounds))} images/s wall, ${f1(median(e2eOne.e2eCpu))} CPU ms/image (rounds: ${e2eOne.e2eRounds.map(f1).join(', ')} images/s): one thread at the model's speed is the ceiling there.`,
    '',
    ...textSection(textRounds),
    '',
    `Peak RSS (process-wide, all threads): ${rssText.toFixed(0)} MiB after the text rounds, ${rssE2e.toFixed(0)} MiB after end to end (${e2e.classifierThreads} classifier thread(s), batches ≤ 8, the images decoded), ${rssImages.toFixed(0)} MiB after the image rounds (the bare model on the main thread as well).`,
    '',
    '<details><summary>Raw rounds</summary>',
    '',
    '| round | batch | bare images/s | bare CPU ms/image | bare p50 ms/batch | pipeline images/s | pipeline CPU ms/image | pipeline p50 ms | pipeline p99 ms | load (1 min) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...raw,
    '',
    '</details>',
  ].join('\n');
}
