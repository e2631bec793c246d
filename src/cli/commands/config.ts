import type { Command } from 'commander';
import { CONFIG_KEYS, configReference, describeConfig, loadConfig, type ConfigKey } from '../../config.js';
import { printJson } from '../io.js';

export function register(program: Command): Command {
  return program
    .command('config')
    .description('Show the effective configuration (secrets masked), or every key with its env var, default and meaning.')
    .option('--reference', 'print every configuration key instead of the effective values')
    .option('--json', 'JSON: the effective values as one object (the default), or with --reference one {key, env, default, doc} per line')
    .addHelpText(
      'after',
      `
Precedence: command-line flags > environment > YAML file named by VIGIL_CONFIG > defaults.
A YAML file that does not parse, or holds unknown keys, is a configuration error (exit 2).

Examples:
  npx vigil config
  VIGIL_CONFIG=vigil.yaml npx vigil config --json
  npx vigil config --reference

${configReference()}`,
    )
    .action((opts: { reference?: boolean; json?: boolean }) => {
      if (opts.reference && opts.json) {
        for (const [key, [env, dflt, , doc]] of Object.entries(CONFIG_KEYS) as [ConfigKey, readonly [string, unknown, unknown, string]][])
          printJson({ key, env, default: dflt ?? null, doc });
      } else if (opts.reference) process.stdout.write(`${configReference()}\n`);
      else printJson(describeConfig(loadConfig()));
    });
}
