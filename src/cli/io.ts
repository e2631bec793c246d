/** Shared helpers for CLI subcommands: output lines, usage errors, JSONL input. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

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
