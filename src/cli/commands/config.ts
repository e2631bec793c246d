import type { Command } from 'commander';
import { configReference, describeConfig, loadConfig } from '../../config.js';
import { printJson } from '../io.js';

export function register(program: Command): Command {
  return program
    .command('config')
    .description('Show the effective configuration (secrets masked), or every key with its env var, default and meaning.')
    .option('--reference', 'print every configuration key instead of the effective values')
    .addHelpText('after', `\nPrecedence: command-line flags > environment > YAML file named by VIGIL_CONFIG > defaults.\n\n${configReference()}`)
    .action((opts: { reference?: boolean }) => {
      if (opts.reference) process.stdout.write(`${configReference()}\n`);
      else printJson(describeConfig(loadConfig()));
    });
}
