import type { Command } from 'commander';
import { contractJsonSchema } from '../../core/contracts.js';
import { decisionJsonSchema } from '../../core/decision-contract.js';
import { UsageError } from '../io.js';

const WHICH = ['message', 'flag', 'decision'] as const;

export function register(program: Command): Command {
  return program
    .command('schema')
    .description('Print the JSON Schema of a contract, so producers and consumers can validate on their side.')
    .argument('<which>', 'message (vigil.message.v1, the input), flag (vigil.flag.v1, the output) or decision (vigil.decision.v1, reviewer decisions fed back)')
    .option('--json', 'the schema as one JSON line (default: indented JSON)')
    .addHelpText('after', '\nExamples:\n  npx vigil schema message > vigil.message.v1.json\n  npx vigil schema flag --json\n  npx vigil schema decision')
    .action((which: string, opts: { json?: boolean }) => {
      if (!(WHICH as readonly string[]).includes(which)) throw new UsageError(`schema: expected "message", "flag" or "decision", got "${which}"`);
      const schema = which === 'decision' ? decisionJsonSchema() : contractJsonSchema(which as 'message' | 'flag');
      process.stdout.write(`${JSON.stringify(schema, null, opts.json ? undefined : 2)}\n`);
    });
}
