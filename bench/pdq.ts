/**
 * PDQ hashing throughput: Vigil's media hasher (decode with sharp + exact hashes + PDQ) in its three
 * modes, side by side with Meta's C++ reference CLI `pdq-photo-hasher` on the same files, plus the
 * fast mode's distance to the reference hashes.
 *
 * The reference is not part of this repository: build it from facebook/ThreatExchange `pdq/cpp`
 * (`make pdq-photo-hasher`; it shells out to ImageMagick `convert`) and point PDQ_REF_BIN at it.
 * Without it the section says "not available".
 *
 *   PDQ_REF_BIN=/path/to/pdq-photo-hasher npm run bench -- pdq [--rounds N]
 */
import { built } from './_shared.js';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as MediaHasherModule from '../src/adapters/media-hasher.js';
import type { PdqMode } from '../src/adapters/media-hasher.js';
import type * as Hex from '../src/core/pdq/hex.js';
const { hammingHex } = await built<typeof Hex>('core/pdq/hex.js');
const { createMediaHasher, FAST_MAX_DIMENSION } = await built<typeof MediaHasherModule>('adapters/media-hasher.js');

const VECTORS = fileURLToPath(new URL('../../shared/vectors/pdq/', import.meta.url));

function tsv(name: string): Map<string, { hash: string; quality: number }> {
  const rows = readFileSync(VECTORS + name, 'utf8').trim().split('\n').slice(1);
  return new Map(rows.map((r) => r.split('\t')).map(([file, hash, quality]) => [file as string, { hash: hash as string, quality: Number(quality) }]));
}

interface ModeResult {
  mode: PdqMode;
  perSecond: number;
  exact: number;
  maxFull: number;
  meanFull: number;
  maxCli: number;
  meanCli: number;
}

export async function run(args: string[]): Promise<string> {
  const roundsArg = args.indexOf('--rounds');
  const rounds = roundsArg >= 0 ? Math.max(1, Number(args[roundsArg + 1]) || 3) : 3;
  if (!existsSync(VECTORS)) throw new Error(`vectors not found at ${VECTORS}`);
  const full = tsv('expected-noresize.tsv');
  const cli = tsv('expected.tsv');
  const files = [...full.keys()];
  const bytes = files.map((f) => readFileSync(VECTORS + f));
  const total = files.length * rounds;

  const modes = ['full', 'cli512', 'fast'] as const;
  const hashers = new Map(modes.map((mode) => [mode, createMediaHasher({ mode })]));
  // What the scan worker does: several images in flight, PDQ on worker threads beside the event loop.
  const threads = Math.max(1, availableParallelism() - 1);
  const pooledModes = ['full', 'fast'] as const;
  const pooled = new Map(pooledModes.map((mode) => [mode, createMediaHasher({ mode, threads })]));
  const inFlight = threads + 2;
  for (const h of pooled.values()) for (const b of bytes) await h.hash(b, 'application/octet-stream', { dihedral: false });
  const results: ModeResult[] = [];
  for (const mode of modes) {
    const hasher = hashers.get(mode) ?? createMediaHasher({ mode });
    // Warm-up (JIT, sharp's thread pool) and the distances, outside the timed loop.
    const dFull: number[] = [];
    const dCli: number[] = [];
    let exact = 0;
    for (let i = 0; i < files.length; i++) {
      const pdq = (await hasher.hash(bytes[i] as Buffer, 'application/octet-stream', { dihedral: false })).pdq;
      const ref = (mode === 'cli512' ? cli : full).get(files[i] as string);
      if (pdq && ref && pdq.hash === ref.hash && pdq.quality === ref.quality) exact++;
      dFull.push(hammingHex(pdq?.hash ?? '0'.repeat(64), full.get(files[i] as string)?.hash ?? ''));
      dCli.push(hammingHex(pdq?.hash ?? '0'.repeat(64), cli.get(files[i] as string)?.hash ?? ''));
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    results.push({ mode, perSecond: 0, exact, maxFull: Math.max(...dFull), meanFull: mean(dFull), maxCli: Math.max(...dCli), meanCli: mean(dCli) });
  }

  // Rounds interleave every hasher (the reference included), so load from other processes on a
  // shared machine falls on all of them alike rather than on whichever ran last.
  const bin = process.env.PDQ_REF_BIN;
  const haveRef = bin !== undefined && existsSync(bin);
  const seconds = new Map<string, number>();
  const add = (key: string, s: number): void => void seconds.set(key, (seconds.get(key) ?? 0) + s);
  let refFailure: string | undefined;
  let refStdout = '';
  for (let r = 0; r < rounds; r++) {
    for (const mode of modes) {
      const hasher = hashers.get(mode);
      if (!hasher) continue;
      const started = process.hrtime.bigint();
      for (const b of bytes) await hasher.hash(b, 'application/octet-stream', { dihedral: false });
      add(mode, Number(process.hrtime.bigint() - started) / 1e9);
    }
    for (const [mode, hasher] of pooled) {
      const started = process.hrtime.bigint();
      let next = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < bytes.length) await hasher.hash(bytes[next++] as Buffer, 'application/octet-stream', { dihedral: false });
        }),
      );
      add(`pooled-${mode}`, Number(process.hrtime.bigint() - started) / 1e9);
    }
    if (haveRef && !refFailure) {
      // One process over the whole list: the reference's best case (one start-up for all files).
      const started = process.hrtime.bigint();
      const out = spawnSync(bin, files, { cwd: VECTORS, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      add('ref', Number(process.hrtime.bigint() - started) / 1e9);
      if (out.status !== 0) refFailure = `failed (exit ${out.status ?? 'signal'})`;
      refStdout = out.stdout;
    }
  }
  for (const r of results) r.perSecond = total / (seconds.get(r.mode) ?? Infinity);
  const pooledPerSecond = (mode: string): number => total / (seconds.get(`pooled-${mode}`) ?? Infinity);
  for (const h of pooled.values()) await h.close();
  for (const h of hashers.values()) await h.close();

  let refLine = '| Meta C++ `pdq-photo-hasher` | not available (set PDQ_REF_BIN) | | |';
  let refPerSecond: number | undefined;
  let refCheck = '';
  if (haveRef && refFailure) refLine = `| Meta C++ \`pdq-photo-hasher\` | ${refFailure} | | |`;
  else if (haveRef) {
    refPerSecond = total / (seconds.get('ref') ?? Infinity);
    const agree = refStdout
      .trim()
      .split('\n')
      .filter((l) => {
        const [hash, quality, file] = l.split(',');
        const e = cli.get(file ?? '');
        return e?.hash === hash && e?.quality === Number(quality);
      }).length;
    refCheck = `The reference run reproduced ${agree}/${files.length} hashes of expected.tsv.`;
    refLine = `| Meta C++ \`pdq-photo-hasher\` (cli512 convention, ImageMagick decode) | ${refPerSecond.toFixed(1)} | 1.00× | ${agree}/${files.length} |`;
  }
  const ratio = (x: number): string => (refPerSecond ? `${(x / refPerSecond).toFixed(2)}×` : 'n/a');
  const label: Record<PdqMode, string> = {
    full: 'Vigil `full` (sharp, full resolution)',
    cli512: 'Vigil `cli512` (sharp, >512 px squashed to 512×512)',
    fast: `Vigil \`fast\` (sharp shrink-on-load, long side ≤ ${FAST_MAX_DIMENSION})`,
  };
  const rows = results.map((r) => `| ${label[r.mode]} | ${r.perSecond.toFixed(1)} | ${ratio(r.perSecond)} | ${r.mode === 'fast' ? 'approximate' : `${r.exact}/${files.length}`} |`);
  const fast = results.find((r) => r.mode === 'fast');
  return [
    '## PDQ hashing',
    '',
    `Command: \`PDQ_REF_BIN=… npm run bench -- pdq --rounds ${rounds}\`. Workload: the ${files.length} public reference images in \`shared/vectors/pdq\``,
    `(34×42 to 1600×1004 px, JPEG and PNG), each hashed ${rounds} times (rounds interleaved across hashers), one at a time, in one process; Vigil's figure covers`,
    'decode + MD5/SHA-1/SHA-256 + PDQ, the reference\'s covers its `convert` decode + PDQ. Timed after one warm-up pass.',
    '',
    '| Hasher | images/s | vs C++ reference | bit-exact with its reference |',
    '| --- | ---: | ---: | ---: |',
    refLine,
    ...rows,
    ...pooledModes.map((mode) => `| Vigil \`${mode}\`, ${inFlight} images in flight, PDQ on ${threads} worker thread(s) (how the scan worker runs) | ${pooledPerSecond(mode).toFixed(1)} | ${ratio(pooledPerSecond(mode))} | same digests as \`${mode}\` (tested) |`),
    '',
    refCheck,
    fast
      ? `\`fast\` mode distance to the reference hashes over all ${files.length} images: to Meta's CLI (expected.tsv) max ${fast.maxCli}, mean ${fast.meanCli.toFixed(2)} bits; to \`full\` (expected-noresize.tsv) max ${fast.maxFull}, mean ${fast.meanFull.toFixed(2)} bits (images no larger than ${FAST_MAX_DIMENSION} px hash exactly as in \`full\`).`
      : '',
  ].join('\n');
}
