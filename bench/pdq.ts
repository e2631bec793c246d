/**
 * PDQ hashing cost: Vigil's media hasher (decode with sharp + exact hashes + PDQ) in its three modes,
 * side by side with Meta's C++ reference CLI `pdq-photo-hasher` on the same files in the same run,
 * in images/s and in CPU-seconds per image (user + system of the whole process, every thread), plus
 * where Vigil's CPU goes (decode, exact hashes, PDQ on the decoded pixels) and the fast mode's
 * distance to the reference hashes.
 *
 * The reference is not part of this repository (bench/_pdq-reference.ts): PDQ_REF_BIN=path uses a
 * built binary; PDQ_REF_SRC=dir builds one with CImg's in-process libjpeg/libpng loaders into the OS
 * temp folder, from facebook/ThreatExchange `pdq/cpp` (the folder, or a git mirror of the repository).
 * Without either the section says "not available".
 *
 *   PDQ_REF_SRC=/path/to/ThreatExchange npm run bench -- pdq [--rounds N]
 */
import { built, intArg } from './_shared.js';
import { findReference, type Reference } from './_pdq-reference.js';
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as MediaHasherModule from '../src/adapters/media-hasher.js';
import type * as DecoderModule from '../src/adapters/sharp-decoder.js';
import type * as ExactModule from '../src/core/exact-hashes.js';
import type * as PdqModule from '../src/core/pdq/pdq.js';
import type { PdqMode } from '../src/adapters/media-hasher.js';
import type { DecodedImage } from '../src/core/ports.js';
import type * as Hex from '../src/core/pdq/hex.js';
const { hammingHex } = await built<typeof Hex>('core/pdq/hex.js');
const { createMediaHasher, FAST_MAX_DIMENSION, INLINE_MAX_PIXELS } = await built<typeof MediaHasherModule>('adapters/media-hasher.js');
const { SharpImageDecoder } = await built<typeof DecoderModule>('adapters/sharp-decoder.js');
const { exactHashes } = await built<typeof ExactModule>('core/exact-hashes.js');
const pdq = await built<typeof PdqModule>('core/pdq/pdq.js');

const VECTORS = fileURLToPath(new URL('../../shared/vectors/pdq/', import.meta.url));

function tsv(name: string): Map<string, { hash: string; quality: number }> {
  const rows = readFileSync(VECTORS + name, 'utf8')
    .trim()
    .split('\n')
    .slice(1);
  return new Map(rows.map((r) => r.split('\t')).map(([file, hash, quality]) => [file as string, { hash: hash as string, quality: Number(quality) }]));
}

interface ModeResult {
  mode: PdqMode;
  exact: number;
  maxFull: number;
  meanFull: number;
  maxCli: number;
  meanCli: number;
}

/**
 * CPU seconds the main thread (the event loop) has run, from Linux's per-thread scheduler statistics:
 * unlike Node's event-loop utilisation (wall time), it does not count the time the thread waited for
 * a core on a loaded machine. Elsewhere: the busy wall time of the event loop.
 */
function mainThreadSeconds(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e9;
  } catch {
    return performance.eventLoopUtilization().active / 1000;
  }
}

/**
 * Wall seconds, CPU seconds (user + system, all threads of this process) and event-loop seconds (the
 * main thread's CPU: what the other jobs of a worker wait behind) of one run of `work`.
 */
async function measure(work: () => Promise<void> | void): Promise<{ wall: number; cpu: number; loop: number }> {
  const loop0 = mainThreadSeconds();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await work();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(cpu0);
  return { wall, cpu: (c.user + c.system) / 1e6, loop: mainThreadSeconds() - loop0 };
}

/** CPU seconds (user + system) of the reference process over all files, from bash's `times` for its children. */
function referenceCpu(bin: string, files: string[]): number {
  const out = join(tmpdir(), 'vigil-pdq-ref-out.txt');
  const r = spawnSync('bash', ['-c', 'out=$1; shift; "$@" > "$out" || exit 3; times', 'bash', out, bin, ...files], { cwd: VECTORS, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`reference run failed (exit ${r.status ?? 'signal'})`);
  const children = r.stdout.trim().split('\n')[1] ?? '';
  const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (secs.length !== 2) throw new Error(`could not read the reference's CPU time from bash times: ${r.stdout}`);
  return (secs[0] as number) + (secs[1] as number);
}

export async function run(args: string[]): Promise<string> {
  const rounds = intArg(args, 'rounds', 4);
  if (!existsSync(VECTORS)) throw new Error(`vectors not found at ${VECTORS}`);
  const load = loadavg();
  const full = tsv('expected-noresize.tsv');
  const cli = tsv('expected.tsv');
  const files = [...full.keys()];
  const bytes = files.map((f) => readFileSync(VECTORS + f));
  const total = files.length * rounds;
  const agreeWithCli = (stdout: string): number =>
    stdout
      .trim()
      .split('\n')
      .filter((l) => {
        const [hash, quality, file] = l.split(',');
        const e = cli.get(file ?? '');
        return e?.hash === hash && e?.quality === Number(quality);
      }).length;
  const ref: Reference | undefined = findReference(files, VECTORS, agreeWithCli);

  const modes = ['full', 'cli512', 'fast'] as const;
  const hashers = new Map(modes.map((mode) => [mode, createMediaHasher({ mode })]));
  // What the scan worker does: several images in flight, decode and PDQ on worker threads beside the event loop.
  const threads = Math.max(1, availableParallelism() - 1);
  // `full` and `fast` as the worker runs them (images up to 2 Mpx, all 40 here, decoded and hashed in one
  // task on a thread); `full` decoded here with every raster's PDQ sent to a thread (the trip of a raster
  // priced); and `full` with no threads: decoded by libvips's own threads, PDQ on the event loop.
  const pooledModes = ['full', 'fast', 'full-raster-trip', 'full-no-threads'] as const;
  const pooledOptions = {
    full: { mode: 'full', threads },
    fast: { mode: 'fast', threads },
    'full-raster-trip': { mode: 'full', threads, inlineMaxPixels: 0 },
    'full-no-threads': { mode: 'full', threads: 0 },
  } as const;
  const pooled = new Map(pooledModes.map((key) => [key, createMediaHasher(pooledOptions[key])]));
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
      const digest = (await hasher.hash(bytes[i] as Buffer, 'application/octet-stream', { dihedral: false })).pdq;
      const want = (mode === 'cli512' ? cli : full).get(files[i] as string);
      if (digest && want && digest.hash === want.hash && digest.quality === want.quality) exact++;
      dFull.push(hammingHex(digest?.hash ?? '0'.repeat(64), full.get(files[i] as string)?.hash ?? ''));
      dCli.push(hammingHex(digest?.hash ?? '0'.repeat(64), cli.get(files[i] as string)?.hash ?? ''));
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    results.push({ mode, exact, maxFull: Math.max(...dFull), meanFull: mean(dFull), maxCli: Math.max(...dCli), meanCli: mean(dCli) });
  }

  // The parts of `full`, each on its own: the safe decode (header read + sharp decode, as the hasher does
  // it), the three exact digests, and PDQ on already-decoded pixels — TypeScript and, when built, WebAssembly.
  const decoder = new SharpImageDecoder();
  const decoded: DecodedImage[] = [];
  for (const b of bytes) decoded.push(await decoder.decode(b, 'application/octet-stream'));
  const engines = pdq.pdqEngines();
  for (const e of engines) for (const img of decoded) pdq.pdqHash(img, { engine: e });

  // Rounds interleave every hasher (the reference included), so load from other processes on a
  // shared machine falls on all of them alike rather than on whichever ran last.
  const wall = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  const loop = new Map<string, number[]>();
  const add = (key: string, m: { wall: number; cpu: number; loop: number }): void => {
    wall.set(key, [...(wall.get(key) ?? []), m.wall]);
    cpu.set(key, [...(cpu.get(key) ?? []), m.cpu]);
    loop.set(key, [...(loop.get(key) ?? []), m.loop]);
  };
  for (let r = 0; r < rounds; r++) {
    process.stderr.write(`pdq bench: round ${r + 1}/${rounds}\n`);
    for (const mode of modes) {
      const hasher = hashers.get(mode);
      if (!hasher) continue;
      add(
        mode,
        await measure(async () => {
          for (const b of bytes) await hasher.hash(b, 'application/octet-stream', { dihedral: false });
        }),
      );
    }
    for (const [mode, hasher] of pooled) {
      add(
        `pooled-${mode}`,
        await measure(async () => {
          let next = 0;
          await Promise.all(
            Array.from({ length: inFlight }, async () => {
              while (next < bytes.length) await hasher.hash(bytes[next++] as Buffer, 'application/octet-stream', { dihedral: false });
            }),
          );
        }),
      );
    }
    add(
      'decode',
      await measure(async () => {
        for (const b of bytes) await decoder.decode(b, 'application/octet-stream');
      }),
    );
    add(
      'exact',
      await measure(() => {
        for (const b of bytes) exactHashes(b);
      }),
    );
    for (const e of engines) {
      add(
        `pdq-${e}`,
        await measure(() => {
          for (const img of decoded) pdq.pdqHash(img, { engine: e });
        }),
      );
    }
    if (ref) {
      // One process over the whole list: the reference's best case (one start-up for all files).
      add(
        'ref',
        await measure(() => {
          const out = spawnSync(ref.bin, files, { cwd: VECTORS, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
          if (out.status !== 0) throw new Error(`reference failed (exit ${out.status ?? 'signal'})`);
        }),
      );
      (cpu.get('ref') as number[])[r] = referenceCpu(ref.bin, files);
    }
  }
  for (const h of pooled.values()) await h.close();
  for (const h of hashers.values()) await h.close();

  const sum = (xs: readonly number[] | undefined): number => (xs ?? []).reduce((a, b) => a + b, 0);
  const perSecond = (key: string): number => total / sum(wall.get(key));
  const cpuMs = (key: string): number => (1000 * sum(cpu.get(key))) / total;
  const loopMs = (key: string): string => ((1000 * sum(loop.get(key))) / total).toFixed(2);
  const rawRounds = (key: string): string => (cpu.get(key) ?? []).map((c) => ((1000 * c) / files.length).toFixed(2)).join(', ');
  const refCpu = ref ? cpuMs('ref') : undefined;
  const refRate = ref ? perSecond('ref') : undefined;
  const vs = (key: string): string => (refRate && refCpu ? `${(perSecond(key) / refRate).toFixed(2)}× | ${(refCpu / cpuMs(key)).toFixed(2)}×` : 'n/a | n/a');
  const row = (label: string, key: string, exactness: string): string =>
    `| ${label} | ${perSecond(key).toFixed(1)} | ${cpuMs(key).toFixed(2)} | ${key === 'ref' ? 'n/a' : loopMs(key)} | ${vs(key)} | ${exactness} | ${rawRounds(key)} |`;

  const label: Record<PdqMode, string> = {
    full: 'Vigil `full` (sharp, full resolution)',
    cli512: 'Vigil `cli512` (sharp, >512 px squashed to 512×512)',
    fast: `Vigil \`fast\` (sharp shrink-on-load, long side ≤ ${FAST_MAX_DIMENSION})`,
  };
  const refRow = ref
    ? `| ${ref.label} | ${perSecond('ref').toFixed(1)} | ${cpuMs('ref').toFixed(2)} | n/a | 1.00× | 1.00× | ${agreeWithCli(spawnSync(ref.bin, files, { cwd: VECTORS, encoding: 'utf8' }).stdout)}/${files.length} | ${rawRounds('ref')} |`
    : '| Meta C++ `pdq-photo-hasher` | not available (set PDQ_REF_SRC or PDQ_REF_BIN) | | | | | | |';
  const rows = results.map((r) => row(label[r.mode], r.mode, r.mode === 'fast' ? 'approximate' : `${r.exact}/${files.length}`));
  const inlineLimit = `${(INLINE_MAX_PIXELS / 2 ** 20).toFixed(0)} Mpx`;
  const pooledLabel: Record<(typeof pooledModes)[number], string> = {
    full: `Vigil \`full\`, ${inFlight} images in flight, decode + PDQ as one task on ${threads} worker thread(s) up to ${inlineLimit} (how the scan worker runs)`,
    fast: `Vigil \`fast\`, ${inFlight} images in flight, decode + PDQ as one task on ${threads} worker thread(s) up to ${inlineLimit} (how the scan worker runs)`,
    'full-raster-trip': `Vigil \`full\`, ${inFlight} images in flight, decoded here, every raster's PDQ on ${threads} worker thread(s) (the trip of a raster priced; how images over ${inlineLimit} go)`,
    'full-no-threads': `Vigil \`full\`, ${inFlight} images in flight, no threads: decoded by libvips's own threads, PDQ on the event loop (VIGIL_PDQ_THREADS=0)`,
  };
  const pooledRows = pooledModes.map((key) => row(pooledLabel[key], `pooled-${key}`, `same digests as \`${key === 'fast' ? 'fast' : 'full'}\` (tested)`));
  const fast = results.find((r) => r.mode === 'fast');
  const fullCpu = cpuMs('full');
  const share = (key: string): string => `${cpuMs(key).toFixed(2)} ms (${((100 * cpuMs(key)) / fullCpu).toFixed(0)}%)`;
  const engineLabel: Record<string, string> = { ts: 'PDQ in TypeScript', wasm: 'PDQ in WebAssembly (the default when built)' };
  return [
    '## PDQ hashing',
    '',
    `Command: \`PDQ_REF_SRC=… npm run bench -- pdq --rounds ${rounds}\`. Workload: the ${files.length} public reference images in \`shared/vectors/pdq\``,
    `(34×42 to 1600×1004 px, JPEG and PNG), each hashed ${rounds} times (rounds interleaved across hashers), one at a time, in one process; Vigil's figure covers`,
    "decode + MD5/SHA-1/SHA-256 + PDQ, the reference's covers its own decode + PDQ (one process over all files per round, start-up included). Timed after one warm-up pass.",
    "CPU = user + system seconds of the whole process (every thread: libvips's included) per image; for the reference, of its process (bash `times`). Event loop = the main thread's own CPU per image (Linux's per-thread scheduler statistics): what every other job of a scan worker waits behind.",
    `Load average at the start: ${load.map((x) => x.toFixed(2)).join(' / ')} (1/5/15 min) on ${cpus().length} cores — a shared machine, loaded by other work during the run, so images/s (wall time) depends on how the scheduler shared the cores; CPU per image is the comparable figure.`,
    ref ? `Reference: ${ref.origin}.` : '',
    '',
    '| Hasher | images/s | CPU ms / image | event loop ms / image | img/s vs C++ | C++ CPU ÷ this CPU | bit-exact with its reference | CPU ms / image per round |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    refRow,
    ...rows,
    ...pooledRows,
    '',
    `Where \`full\`'s ${fullCpu.toFixed(2)} ms CPU per image goes (each part timed alone over the same images, same rounds):`,
    '',
    '| part | CPU ms / image (share of `full`) | CPU ms / image per round |',
    '| --- | ---: | --- |',
    `| safe decode (header read from the bytes for JPEG, PNG and WebP; sharp decode to raw pixels) | ${share('decode')} | ${rawRounds('decode')} |`,
    `| MD5 + SHA-1 + SHA-256 of the bytes | ${share('exact')} | ${rawRounds('exact')} |`,
    ...engines.map((e) => `| ${engineLabel[e] ?? e}, on decoded pixels | ${share(`pdq-${e}`)} | ${rawRounds(`pdq-${e}`)} |`),
    '',
    fast
      ? `\`fast\` mode distance to the reference hashes over all ${files.length} images: to Meta's CLI (expected.tsv) max ${fast.maxCli}, mean ${fast.meanCli.toFixed(2)} bits; to \`full\` (expected-noresize.tsv) max ${fast.maxFull}, mean ${fast.meanFull.toFixed(2)} bits (images no larger than ${FAST_MAX_DIMENSION} px hash exactly as in \`full\`).`
      : '',
  ].join('\n');
}
