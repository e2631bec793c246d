/**
 * `vigil` command line. Exit codes (a stable contract other tools rely on), decided by the error's
 * code (src/core/errors.ts `exitCodeFor`): 0 success; 1 some input failed (one error line per failed
 * item) or a dependency did not answer (one line naming it); 2 usage or configuration error.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/index.js';
import { UsageError } from './io.js';
import { exitCodeFor, isVigilError } from '../core/errors.js';
import { maskSecrets } from '../core/secrets.js';
import { packageRoot } from '../paths.js';

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Builds the program with only the commands needed: the one named in `argv`, or all of them for the
 * top-level help and for an unknown name (so commander can list and suggest).
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('vigil')
    .description('Vigil: scan message events for known-bad media and text, decide by policy, emit flags for human review.')
    .version(version(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  const named = argv.find((a) => !a.startsWith('-'));
  const wanted = named !== undefined && named in COMMANDS ? [named] : Object.keys(COMMANDS);
  for (const name of wanted) {
    const register = await (COMMANDS[name] as () => Promise<(p: Command) => Command>)();
    const sub = register(program);
    sub.exitOverride().showHelpAfterError('(run with --help for usage)');
  }
  program.addHelpText(
    'after',
    `
Exit codes: 0 success, 1 some input failed (one error line each) or a service did not answer,
2 usage or configuration error.
Configuration comes from flags, then VIGIL_* / REDIS_URL environment variables: see \`vigil config --help\`.

Examples:
  npx vigil demo
  npx vigil scan --events config/samples/events.jsonl --banks config/samples/banks
  npx vigil queues --json
  npx vigil <command> --help`,
  );
  return program;
}

/** One line for a failure, secrets masked; `vigil: CODE: message`. */
export function errorLine(err: unknown): string {
  const msg = isVigilError(err)
    ? `${err.code}: ${err.message}`
    : err instanceof Error
      ? err.name === 'Error' || err instanceof UsageError
        ? err.message
        : `${err.name}: ${err.message}`
      : String(err);
  return `vigil: ${maskSecrets(msg).replace(/\s*\n\s*/g, '; ')}`;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`vigil: ${maskSecrets(err.message)}\n`);
      return 2;
    }
    process.stderr.write(`${errorLine(err)}\n`);
    return isVigilError(err) ? exitCodeFor(err.code) : 1;
  }
}
