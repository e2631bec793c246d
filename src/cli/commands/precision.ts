/** `vigil precision`: running precision from reviewer decisions, per rule, bank, bank entry and model label. */
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { PRECISION_KINDS, type PrecisionKind } from '../../core/precision.js';
import { flagLedger } from '../../adapters/flag-ledger.js';
import { configOverrides, printJson, UsageError, withConfigOptions } from '../io.js';
import { withBankStore } from './policy.js';

export function register(program: Command): Command {
  return withConfigOptions(
    program
      .command('precision')
      .description('Running precision from reviewer decisions (vigil.decision.v1) per rule, bank, bank entry and model label.')
      .option('--kind <kind>', `only one kind: ${PRECISION_KINDS.join(', ')}`)
      .option('--json', 'one JSON line per key: {"kind","id","confirmed","rejected","escalated","decided","precision"}'),
    ['redis'],
  )
    .addHelpText(
      'after',
      `
precision = (confirmed + escalated) / (confirmed + escalated + rejected); null until a decision counts.
Entries are BANK/ENTRY (as \`vigil bank deconfirm BANK ENTRY\` takes them), labels MODEL/LABEL. Decisions
are read by \`vigil worker\` from VIGIL_DECISIONS_QUEUE; each flag counts once, with its latest decision.

Examples:
  npx vigil precision
  npx vigil precision --kind entry --json`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const kind = opts.kind as string | undefined;
      if (kind !== undefined && !(PRECISION_KINDS as readonly string[]).includes(kind))
        throw new UsageError(`--kind must be one of ${PRECISION_KINDS.join(', ')}`);
      const config = loadConfig({ overrides: configOverrides(opts) });
      const rows = await withBankStore(opts, (redis) => flagLedger(redis, config).precision(kind ? [kind as PrecisionKind] : PRECISION_KINDS));
      if (opts.json) {
        for (const r of rows) printJson(r);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('no decisions counted yet\n');
        return;
      }
      const idWidth = Math.min(60, Math.max(4, ...rows.map((r) => r.id.length)));
      const head = ['kind'.padEnd(6), 'id'.padEnd(idWidth), ...['confirmed', 'escalated', 'rejected', 'decided', 'precision'].map((h) => h.padStart(10))];
      process.stdout.write(`${head.join(' ')}\n`);
      for (const r of rows)
        process.stdout.write(
          `${[
            r.kind.padEnd(6),
            r.id.padEnd(idWidth),
            ...[r.confirmed, r.escalated, r.rejected, r.decided].map((n) => String(n).padStart(10)),
            (r.precision === null ? '-' : r.precision.toFixed(3)).padStart(10),
          ].join(' ')}\n`,
        );
    });
}
