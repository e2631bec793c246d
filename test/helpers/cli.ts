import { spawn } from 'node:child_process';
import { REDIS_URL } from './redis.js';

/** Runs the CLI as a user would (through tsx, so no build is needed), capturing both streams. */
export async function runCli(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...args], { env: { ...process.env, REDIS_URL, VIGIL_LOG_LEVEL: 'warn', ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(options.input ?? '');
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  return { code, stdout, stderr };
}
