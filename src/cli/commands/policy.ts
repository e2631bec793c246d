/**
 * `vigil policy`: validate a policy file, and manage the versioned policy store in Redis (apply, diff,
 * history, rollback, show, shadow, shadow-report, brakes). Every change is audited (`vigil audit`).
 */
import type { Command } from 'commander';
import { toVigilError } from '../../core/errors.js';
import { parsePolicyText, readPolicyText } from '../../adapters/policy-file.js';
import { printErr, printJson } from '../io.js';

async function validateFile(file: string): Promise<{ ok: true; version: string; format: 1 | 2; rules: number } | { ok: false; code: string; message: string }> {
  try {
    const p = parsePolicyText(await readPolicyText(file), `policy file ${file}`);
    return { ok: true, version: p.version, format: p.sourceFormat, rules: p.document.rules.length };
  } catch (err) {
    const e = toVigilError(err);
    return { ok: false, code: e.code, message: e.message };
  }
}

export function register(program: Command): Command {
  const policy = program
    .command('policy')
    .description('Validate policy files; apply, diff, roll back and shadow-test policies in the policy store.')
    .addHelpText(
      'after',
      `
The policy decides which signals become flags (docs/policy.md). Workers read the live version from the
policy store (Redis, VIGIL_BANK_REDIS_URL) and swap to a new one within VIGIL_BANK_RELOAD_MS; with an
empty store they use the file VIGIL_POLICY_FILE. Every change is audited: \`vigil audit\`.

Examples:
  npx vigil policy validate config/policy.yaml
  npx vigil policy diff new-policy.yaml
  npx vigil policy apply new-policy.yaml --reason "lower PDQ radius for partner banks" --actor alice
  npx vigil policy history
  npx vigil policy rollback 3 --reason "v4 floods the review queue"
  npx vigil policy shadow candidate.yaml --reason "try the stricter grooming rules"
  npx vigil policy shadow-report`,
    );

  policy
    .command('validate')
    .description('Check a policy file: exit 0 and its version if valid, else exit 1 with every error by key path.')
    .argument('<file>', 'policy YAML')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  npx vigil policy validate config/policy.yaml\n  npx vigil policy validate draft.yaml --json')
    .action(async (file: string, opts: { json?: boolean }) => {
      const r = await validateFile(file);
      if (opts.json) printJson(r);
      else if (r.ok) process.stdout.write(`${file}: valid (format ${r.format}${r.format === 1 ? ', read as version 2' : ''}, ${r.rules} rule(s), version ${r.version})\n`);
      else printErr(r.message);
      if (!r.ok) process.exitCode = 1;
    });

  return policy;
}
