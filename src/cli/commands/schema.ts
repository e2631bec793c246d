import type { Command } from 'commander';
import { contractJsonSchema } from '../../core/contracts.js';
import { UsageError } from '../io.js';

export function register(program: Command): Command {
  return program
    .command('schema')
    .description('Print the JSON Schema of a contract, so producers and consumers can validate on their side.')
    .argument('<which>', 'message (vigil.message.v1, the input) or flag (vigil.flag.v1, the output)')
    .addHelpText('after', '\nExample:\n  npx vigil schema message > vigil.message.v1.json')
    .action((which: string) => {
      if (which !== 'message' && which !== 'flag') throw new UsageError(`schema: expected "message" or "flag", got "${which}"`);
      process.stdout.write(`${JSON.stringify(contractJsonSchema(which), null, 2)}\n`);
    });
}
