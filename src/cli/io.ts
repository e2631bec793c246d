/** Shared helpers for CLI subcommands: output lines, usage errors, JSONL input. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { Config } from '../config.js';
import { closeRedis, createRedis, waitForRedis, type RedisClient } from '../adapters/bullmq/connection.js';

/**
 * A Redis connection for one command: waits at most VIGIL_REDIS_CONNECT_TIMEOUT_MS for it (then
 * QUEUE_UNAVAILABLE naming the URL, password masked: exit 1), and always closes it.
 */
export async function withRedis<T>(config: Config, work: (redis: RedisClient) => Promise<T>): Promise<T> {
  const redis = createRedis(config.redisUrl, 'worker', { cluster: config.redisCluster });
  try {
    await waitForRedis(redis, config.redisConnectTimeoutMs, config.redisUrl);
    return await work(redis);
  } finally {
    await closeRedis(redis);
  }
}

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function printErr(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Lines of a file ('-' for stdin), numbered from 1, without the newline. Blank lines are skipped. */
export async function* readLines(file: string): AsyncGenerator<{ line: number; text: string }> {
  const input = file === '-' ? process.stdin : createReadStream(file);
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of rl) {
      line++;
      if (text.trim() === '') continue;
      yield { line, text };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`no such file: ${file}`);
    throw err;
  }
}

export function parseIntOption(name: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
    return n;
  };
}

/** Adds the options shared by commands that read configuration; values override the environment. */
export function withConfigOptions<T extends Command>(cmd: T, which: readonly ('redis' | 'banks' | 'policy' | 'concurrency')[]): T {
  if (which.includes('redis')) {
    cmd.option('--redis-url <url>', 'Redis URL (env REDIS_URL)');
    cmd.option('--prefix <prefix>', 'BullMQ key prefix (env VIGIL_QUEUE_PREFIX)');
  }
  if (which.includes('banks')) {
    cmd.option('--banks <dir>', 'folder of bank files: *.txt hash banks, *.jsonl term banks (env VIGIL_BANKS_DIR)');
    cmd.option('--patterns <file>', 'pattern rules, JSONL (env VIGIL_PATTERNS_FILE)');
  }
  if (which.includes('policy')) cmd.option('--policy <file>', 'policy YAML (env VIGIL_POLICY_FILE)');
  if (which.includes('concurrency')) cmd.option('--concurrency <n>', 'jobs run at once (env VIGIL_CONCURRENCY)');
  return cmd;
}

export function configOverrides(opts: Record<string, unknown>): Record<string, unknown> {
  return {
    redisUrl: opts.redisUrl,
    queuePrefix: opts.prefix,
    banksDir: opts.banks,
    patternsFile: opts.patterns,
    policyFile: opts.policy,
    concurrency: opts.concurrency,
  };
}

/**
 * A progress line on stderr at most every `intervalMs` (a long `scan` or `publish` should show it is
 * alive); silent for runs shorter than the interval.
 */
export function progress(label: string, intervalMs = 5000): (done: number) => void {
  const started = Date.now();
  let last = started;
  return (done) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    printErr(`${label}: ${done} so far (${Math.round((done * 1000) / (now - started))}/s)`);
  };
}

/**
 * A progress bar on stderr for a run whose total is known (or not yet: `total` < 0). On a terminal
 * it redraws one line; otherwise it prints a line at most every `intervalMs`, so logs stay short.
 * `done()` ends the line.
 */
export function progressBar(label: string, intervalMs = 5000): { update(done: number, total: number, note?: string): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let drawn = false;
  const line = (done: number, total: number, note = '') => {
    const width = 30;
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(ratio * width);
    const bar = total >= 0 ? `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}` : `${done} so far`;
    return `${label}: ${bar}${note ? ` ${note}` : ''}`;
  };
  return {
    update(done, total, note) {
      const now = Date.now();
      if (tty) {
        if (now - last < 200) return;
        last = now;
        drawn = true;
        process.stderr.write(`\r${line(done, total, note)}\x1b[K`);
      } else if (now - last >= intervalMs) {
        last = now;
        printErr(line(done, total, note));
      }
    },
    done() {
      if (tty && drawn) process.stderr.write('\n');
    },
  };
}
