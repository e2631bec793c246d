/**
 * Meta's C++ `pdq-photo-hasher` as a same-run reference for bench/pdq.ts: taken from PDQ_REF_BIN, or
 * built outside the repository (in the OS temp folder) from facebook/ThreatExchange `pdq/cpp` sources
 * named by PDQ_REF_SRC (that folder, or a git mirror of the repository) with CImg's in-process
 * libjpeg/libpng loaders. Nothing here is committed; the sources are read, compiled and run.
 *
 * It also checks what the binary really does: run with an empty PATH (so CImg could not shell out to
 * ImageMagick `convert` if it tried) and, where strace exists, counts the processes it starts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Reference {
  bin: string;
  /** What the binary does, for the row label. */
  label: string;
  /** How it was obtained. */
  origin: string;
}

const SOURCES = [
  'common/pdqhashtypes.cpp',
  'io/hashio.cpp',
  'common/pdqhamming.cpp',
  'hashing/pdqhashing.cpp',
  'downscaling/downscaling.cpp',
  'io/pdqio.cpp',
  'hashing/torben.cpp',
  'common/pdqutils.cpp',
];

/** Copies pdq/cpp out of a git mirror (bare or not) into `dest`, skipping files that are not text sources. */
function extractFromGit(gitDir: string, dest: string): string {
  const files = execFileSync('git', ['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', 'HEAD', 'pdq/cpp'], { encoding: 'utf8' })
    .split('\n')
    .filter((f) => /\.(cpp|h)$/.test(f));
  for (const f of files) {
    const out = join(dest, f);
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(out, execFileSync('git', ['--git-dir', gitDir, 'show', `HEAD:${f}`], { maxBuffer: 64 * 1024 * 1024 }));
  }
  return join(dest, 'pdq/cpp');
}

/**
 * Builds pdq-photo-hasher with CImg's libjpeg and libpng loaders. One change to Meta's source, stated
 * in the row label: its CImg→luma step handles 1 or 3 channels and exits on any other count, so an RGBA
 * PNG (2 of the 40 vectors) would end the run; the patch treats 4 channels as RGB (alpha ignored) and 2
 * as grey, which is the vectors' stated convention (alpha dropped) and what Vigil's decoder does.
 */
function build(src: string): string {
  const dir = join(tmpdir(), 'vigil-pdq-ref');
  const bin = join(dir, 'pdq-photo-hasher-cimg');
  const patched = join(dir, 'pdqio-patched.cpp');
  mkdirSync(dir, { recursive: true });
  const pdqio = readFileSync(join(src, 'io/pdqio.cpp'), 'utf8');
  const fixed = pdqio
    .replace('if (img.spectrum() == 3)', 'if (img.spectrum() >= 3)')
    .replace('} else if (img.spectrum() == 1)', '} else if (img.spectrum() == 1 || img.spectrum() == 2)');
  if (fixed === pdqio) throw new Error('pdq reference: io/pdqio.cpp no longer has the expected channel checks; update bench/pdq-reference.ts');
  writeFileSync(patched, fixed);
  const sources = SOURCES.map((s) => (s === 'io/pdqio.cpp' ? patched : join(src, s)));
  const args = [
    '-O3',
    '-std=c++11',
    '-w',
    '-Dcimg_use_jpeg',
    '-Dcimg_use_png',
    '-Dcimg_display=0',
    `-I${src}/../..`,
    `-I${src}`,
    join(src, 'bin/pdq-photo-hasher.cpp'),
    ...sources,
    '-o',
    bin,
    '-ljpeg',
    '-lpng',
    '-lz',
    '-lpthread',
    '-lm',
  ];
  // Reused while the sources and flags are unchanged (the build takes half a minute).
  const key = createHash('sha256');
  for (const f of [join(src, 'bin/pdq-photo-hasher.cpp'), join(src, 'CImg.h'), ...sources]) key.update(readFileSync(f));
  const digest = key.update(args.join(' ')).digest('hex');
  const stamp = `${bin}.sha256`;
  if (existsSync(bin) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return bin;
  process.stderr.write('pdq bench: building the C++ reference (g++ -O3, CImg with libjpeg/libpng; about 30 s)…\n');
  const r = spawnSync('g++', args, { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`pdq reference build failed (install g++, libjpeg-dev, libpng-dev): ${(r.stderr || r.error?.message || '').slice(0, 2000)}`);
  writeFileSync(stamp, digest);
  return bin;
}

/** Processes the binary starts while hashing `files` (0 = all in-process), or undefined without strace. */
function childProcesses(bin: string, files: string[], cwd: string): number | undefined {
  const log = join(tmpdir(), 'vigil-pdq-ref', 'strace.log');
  const r = spawnSync('strace', ['-f', '-e', 'trace=execve,vfork,fork', '-o', log, bin, ...files], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error || r.status !== 0) return undefined;
  // The first execve is the binary itself; any other (or a fork) is a child such as `convert`.
  const lines = readFileSync(log, 'utf8').split('\n');
  return lines.filter((l) => /\b(execve|vfork|fork)\(/.test(l)).length - 1;
}

export function findReference(files: string[], cwd: string, expectOutput: (stdout: string) => number): Reference | undefined {
  let bin = process.env.PDQ_REF_BIN;
  let origin: string;
  let patched = false;
  if (bin) {
    if (!existsSync(bin)) throw new Error(`PDQ_REF_BIN=${bin} does not exist`);
    origin = `PDQ_REF_BIN (${bin})`;
  } else if (process.env.PDQ_REF_SRC) {
    let src = process.env.PDQ_REF_SRC;
    if (!existsSync(join(src, 'io/pdqio.cpp'))) src = extractFromGit(src, join(tmpdir(), 'vigil-pdq-ref', 'src'));
    bin = build(src);
    patched = true;
    origin = `built by the bench from ${process.env.PDQ_REF_SRC} into ${bin}`;
  } else return undefined;

  // Empty PATH: a binary that shells out to ImageMagick cannot find it and fails or hashes nothing.
  const noPath = spawnSync(bin, files, { cwd, encoding: 'utf8', env: { PATH: '' }, maxBuffer: 64 * 1024 * 1024 });
  const agreeNoPath = noPath.status === 0 ? expectOutput(noPath.stdout) : 0;
  const children = childProcesses(bin, files, cwd);
  const inProcess = agreeNoPath === files.length && (children === undefined || children === 0);
  const evidence =
    `with an empty PATH it reproduced ${agreeNoPath}/${files.length} reference hashes` +
    (children === undefined ? ' (strace not available)' : `; strace: ${children} child processes`);
  const label = inProcess
    ? `Meta C++ \`pdq-photo-hasher\`, in-process decode (CImg + libjpeg/libpng${patched ? '; RGBA read as RGB, one-line patch' : ''}), cli512 convention`
    : 'Meta C++ `pdq-photo-hasher`, decoding through a subprocess (ImageMagick `convert`), cli512 convention';
  return { bin, label, origin: `${origin}; ${evidence}` };
}
