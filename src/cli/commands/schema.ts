import type { Command } from 'commander';
import { contractJsonSchema } from '../../core/contracts.js';
import { UsageError } from '../io.js';

export function register(program: Command): Command {
  return program
    .command('schema')
    .description('Print the JSON Schema of a contract, so producers and consumers can validate on their side.')
    .argument('<which>', 'message (vigil.message.v1, the input) or flag (vigil.flag.v1, the output)')
    .option('--json', 'the schema as one JSON line (default: indented JSON)')
    .addHelpText('after', '\nExamples:\n  npx vigil schema message > vigil.message.v1.json\n  npx vigil schema flag --json')
    .action((which: string, opts: { json?: boolean }) => {
      if (which !== 'message' && which !== 'flag') throw new UsageError(`schema: expected "message" or "flag", got "${which}"`);
      process.stdout.write(`${JSON.stringify(contractJsonSchema(which), null, opts.json ? undefined : 2)}\n`);
    });
}
