import { spawn } from 'node:child_process';
import { REDIS_URL } from './redis.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from start to exit. */
  ms: number;
}

export interface CliOptions {
  /** Given on stdin: the command then runs in its own process. */
  input?: string;
  env?: Record<string, string>;
  /** Run as a separate process (`node bin/vigil.js`) even without input, e.g. to time start-up or check exit behaviour. */
  spawn?: boolean;
}

/**
 * Runs the CLI. In-process by default (the same `main` that bin/vigil.js runs, with stdout, stderr,
 * the environment and the exit code captured): on a loaded machine a fresh Node process per call is
 * what made CLI tests slow. With `input` or `spawn`, runs the compiled CLI (`node bin/vigil.js`; the
 * vitest globalSetup keeps dist/ fresh) as a user would.
 */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  if (options.input !== undefined || options.spawn) return runNode(['bin/vigil.js', ...args], options);
  return runInProcess(args, options.env ?? {});
}

let queue: Promise<unknown> = Promise.resolve();

/** One at a time: stdout, stderr, env and exitCode are process-wide. */
function runInProcess(args: string[], env: Record<string, string>): Promise<CliResult> {
  const run = queue.then(async () => {
    const { main } = await import('../../src/cli/main.js');
    const started = Date.now();
    const overlay: Record<string, string> = { REDIS_URL, VIGIL_LOG_LEVEL: 'warn', ...env };
    const saved = new Map(Object.keys(overlay).map((k) => [k, process.env[k]]));
    Object.assign(process.env, overlay);
    let stdout = '';
    let stderr = '';
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += chunk.toString()), true)) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += chunk.toString()), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(args);
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
      process.exitCode = undefined;
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    return { code, stdout, stderr, ms: Date.now() - started };
  });
  queue = run.catch(() => undefined);
  return run;
}

/** Runs a compiled entry point (e.g. dist/workers/scan.js, bin/vigil.js) in its own process. */
export async function runNode(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const started = Date.now();
  const child = spawn(process.execPath, args, { env: { ...process.env, REDIS_URL, VIGIL_LOG_LEVEL: 'warn', ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input ?? '');
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  return { code, stdout, stderr, ms: Date.now() - started };
}
