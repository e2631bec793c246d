/** `vigil bank deconfirm|reconfirm|deconfirmed`: mark bank entries known false positives (audited, reversible). */
import type { Command } from 'commander';
import { validateBankId } from '../../core/banks/hash-bank.js';
import { RedisBrakes } from '../../adapters/brakes.js';
import { printErr, printJson, UsageError, withConfigOptions } from '../io.js';
import { actorOf, requireReason, withBankStore } from './policy.js';

const ENTRY = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function checkIds(bank: string, entry: string): void {
  try {
    validateBankId(bank);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (!ENTRY.test(entry)) throw new UsageError('ENTRY is the entry id as `vigil bank export` prints it (third column)');
}

export function registerDeconfirm(bank: Command): void {
  for (const [name, on] of [
    ['deconfirm', true],
    ['reconfirm', false],
  ] as const) {
    withConfigOptions(
      bank
        .command(name)
        .description(
          on
            ? 'Mark a bank entry a known false positive: it stops matching on every worker within seconds (audited).'
            : 'Undo `bank deconfirm`: the entry matches again (audited).',
        )
        .argument('<bank>', 'bank id')
        .argument('<entry>', "entry id (third column of `vigil bank export`, the signal's entryId on a flag)")
        .requiredOption('--reason <text>', 'why (recorded in the audit log)')
        .option('--actor <name>', 'who (default: the OS user name)')
        .addHelpText('after', `\nExamples:\n  npx vigil bank ${name} partner-pdq e-1234 --reason "${on ? 'matches a stock photo' : 'deconfirmed by mistake'}"`),
      ['redis'],
    ).action(async (bankId: string, entry: string, opts: Record<string, unknown>) => {
      checkIds(bankId, entry);
      const reason = requireReason(opts);
      const changed = await withBankStore(opts, (redis, prefix) => {
        const brakes = new RedisBrakes(redis, prefix);
        return on ? brakes.deconfirm(bankId, entry, { actor: actorOf(opts), reason }) : brakes.reconfirm(bankId, entry, { actor: actorOf(opts), reason });
      });
      printErr(
        changed
          ? `${bankId}/${entry} ${on ? 'deconfirmed: it no longer matches' : 'reconfirmed: it matches again'}`
          : `${bankId}/${entry} was already ${on ? 'deconfirmed' : 'confirmed'}; nothing changed`,
      );
    });
  }
  withConfigOptions(
    bank
      .command('deconfirmed')
      .description('List deconfirmed bank entries (known false positives).')
      .option('--json', 'one JSON object per entry')
      .addHelpText('after', '\nExamples:\n  npx vigil bank deconfirmed\n  npx vigil bank deconfirmed --json'),
    ['redis'],
  ).action(async (opts: Record<string, unknown>) => {
    const list = await withBankStore(opts, (redis, prefix) => new RedisBrakes(redis, prefix).deconfirmed());
    if (opts.json) for (const d of list) printJson(d);
    else if (list.length === 0) process.stdout.write('no deconfirmed entries\n');
    else for (const d of list) process.stdout.write(`${d.bank}/${d.entry}  ${d.at}  ${d.actor}: ${d.reason}\n`);
  });
}
