/** `vigil audit`: the append-only log of policy, brake and bank-entry changes (who, when, why, what). */
import type { Command } from 'commander';
import { RedisAuditLog } from '../../adapters/audit-log.js';
import { parseIntOption, printJson, withConfigOptions } from '../io.js';
import { withBankStore } from './policy.js';

export function register(program: Command): Command {
  return withConfigOptions(
    program
      .command('audit')
      .description('Show the audit log: policy applies, rollbacks, shadow candidates, quarantines, deconfirmed bank entries.')
      .option('--limit <n>', 'most recent N entries', parseIntOption('--limit', 1, 100_000), 50)
      .option('--action <action>', 'only this action (policy.apply, policy.rollback, brake.quarantine, bank.deconfirm, …; "policy." for a family)')
      .option('--json', 'one JSON object per entry')
      .addHelpText(
        'after',
        '\nEntries are oldest first. The log is a Redis stream in the bank store (${prefix}:vigil:audit), never trimmed.\n\nExamples:\n  npx vigil audit\n  npx vigil audit --action policy. --json',
      ),
    ['redis'],
  ).action(async (opts: Record<string, unknown>) => {
    const entries = await withBankStore(opts, (redis, prefix) =>
      new RedisAuditLog(redis, prefix).list({ limit: opts.limit as number, ...(opts.action ? { action: String(opts.action) } : {}) }),
    );
    if (opts.json) for (const e of entries) printJson(e);
    else if (entries.length === 0) process.stdout.write('the audit log is empty\n');
    else
      for (const e of entries) {
        const change = e.before || e.after ? `  ${e.before ?? '∅'} → ${e.after ?? '∅'}` : '';
        process.stdout.write(`${e.at}  ${e.actor}  ${e.action}  ${e.target}${change}${e.reason ? `  "${e.reason}"` : ''}\n`);
        if (e.diff) for (const line of e.diff.split('\n')) process.stdout.write(`    ${line}\n`);
      }
  });
}
