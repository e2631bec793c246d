/**
 * `vigil` command line. Exit codes (a stable contract other tools rely on):
 * 0 success, 1 some input failed (one error line per failed item), 2 usage error.
 */
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/index.js';
import { UsageError } from './io.js';
import { VigilError, type ErrorCode } from '../core/errors.js';

/** Bad configuration, policy or banks at start-up are usage errors: nothing was processed. */
const STARTUP_CODES: ReadonlySet<ErrorCode> = new Set(['CONFIG_INVALID', 'POLICY_INVALID', 'BANK_INVALID']);

export function buildProgram(): Command {
  const program = new Command('vigil')
    .description('Vigil: scan message events for known-bad media and text, decide by policy, emit flags for human review.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  for (const register of COMMANDS) {
    const sub = register(program);
    sub.exitOverride().showHelpAfterError('(run with --help for usage)');
  }
  program.addHelpText(
    'after',
    `
Exit codes: 0 success, 1 some input failed (one error line each), 2 usage error.
Configuration comes from flags, then VIGIL_* / REDIS_URL environment variables: see \`vigil config --help\`.`,
  );
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    if (err instanceof UsageError || (err instanceof VigilError && STARTUP_CODES.has(err.code))) {
      process.stderr.write(`vigil: ${err.message}\n`);
      return 2;
    }
    const msg = err instanceof VigilError ? `${err.code}: ${err.message}` : err instanceof Error ? (err.name === 'Error' ? err.message : `${err.name}: ${err.message}`) : String(err);
    process.stderr.write(`vigil: ${msg}\n`);
    return 1;
  }
}
