import { spawn } from 'node:child_process';
import { REDIS_URL } from './redis.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
}

/**
 * Runs the compiled CLI as a user would (`node bin/vigil.js`; the vitest globalSetup keeps dist/
 * fresh), capturing both streams.
 */
export async function runCli(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return runNode(['bin/vigil.js', ...args], options);
}

/** Runs a compiled entry point (e.g. dist/workers/scan.js) the same way. */
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
