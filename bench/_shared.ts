import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/**
 * Benchmarks measure the compiled build in dist/ — what `npx vigil`, the workers and the Docker image
 * run — not the TypeScript sources through tsx, whose helpers (esbuild's keepNames wrappers) make
 * hot JavaScript several times slower (text scanning: 7.4 µs vs 2.1 µs a message). `npm run bench`
 * builds first. Types still come from the sources: `built<typeof import(...)>` via `import type`.
 */
export async function built<T>(module: string): Promise<T> {
  // VIGIL_BENCH_DIST: another build's dist/ folder (an A/B of two builds in one run of farm-bench).
  const dist = process.env.VIGIL_BENCH_DIST ? pathToFileURL(`${process.env.VIGIL_BENCH_DIST.replace(/\/$/, '')}/`) : new URL('../dist/', import.meta.url);
  return (await import(new URL(`src/${module}`, dist).href)) as T;
}

/** `--name N` from a benchmark's arguments: a positive integer, or the default. */
export function intArg(args: readonly string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
  return v;
}

/**
 * Runs `node ARGV` as a benchmark child (stderr shown, stdout captured) and parses the last line it
 * prints as JSON: a measurement taken in a process of its own. Rejects when the child fails.
 */
export function runJsonChild<T>(argv: readonly string[], what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${what} exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
    });
  });
}
