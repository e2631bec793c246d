import type { Command } from 'commander';
import { basename } from 'node:path';
import { loadConfig } from '../../config.js';
import { HASH_TYPES, type HashType } from '../../core/signals.js';
import { openHashList, type HashListFormat } from '../../adapters/hash-list-reader.js';
import { RedisBankStore, type BankMeta, type StoredHashEntry } from '../../adapters/redis-bank-store.js';
import { canonicalJsonl } from '../../core/text/term-bank.js';
import { exportStore, restoreStore } from '../../adapters/bank-export.js';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { configOverrides, printErr, printJson, UsageError, withConfigOptions, withRedis } from '../io.js';
import { registerDeconfirm } from './bank-deconfirm.js';

async function withStore<T>(opts: Record<string, unknown>, work: (store: RedisBankStore) => Promise<T>): Promise<T> {
  const config = loadConfig({ overrides: configOverrides(opts) });
  // Banks live on the bank store (VIGIL_BANK_REDIS_URL, default REDIS_URL); an explicit --redis-url wins.
  const target = opts.redisUrl ? config : { ...config, redisUrl: config.bankRedisUrl };
  return withRedis(target, (redis) => work(new RedisBankStore(redis, config.queuePrefix)));
}

function parseFormat(v: string): HashListFormat {
  if (v !== 'te' && v !== 'hex' && v !== 'csv') throw new UsageError(`--format must be te, hex or csv, got "${v}"`);
  return v;
}

function parseType(v: string): HashType {
  const t = v.toLowerCase();
  if (!(HASH_TYPES as readonly string[]).includes(t)) throw new UsageError(`--type must be one of ${HASH_TYPES.join(', ')}, got "${v}"`);
  return t as HashType;
}

function describe(meta: BankMeta): string {
  return `${meta.id.padEnd(24)} ${meta.type.padEnd(5)} ${meta.kind.padEnd(6)} ${(meta.enabled ? 'enabled' : 'DISABLED').padEnd(9)} r${String(meta.revision).padEnd(5)} ${String(meta.entries).padStart(10)} entries  ${meta.updatedAt}${meta.description ? `  ${meta.description}` : ''}`;
}

function progressReporter(label: string, totalBytes: () => number, bytesRead: () => number): (written: number) => void {
  let last = 0;
  return (written) => {
    const now = Date.now();
    if (now - last < 1000 && bytesRead() < totalBytes()) return;
    last = now;
    const pct = totalBytes() ? Math.min(100, (100 * bytesRead()) / totalBytes()).toFixed(0) : '100';
    printErr(`${label}: ${written} entries written (${pct}% of the file)`);
  };
}

export function register(program: Command): Command {
  const bank = program
    .command('bank')
    .description('Manage hash banks in Redis (versioned; running workers reload them within seconds).')
    .addHelpText(
      'after',
      `
A bank is a named list of hashes: "block" banks flag matches; "allow" banks (--allow) hold known
false positives and suppress matches. Every change bumps the bank's revision (r1, r2, …), which
flags report as the bank version. Workers poll the store every VIGIL_BANK_RELOAD_MS.

Examples:
  npx vigil bank import ncmec-md5 list.txt                       # python-threatexchange "md5 <hex>" lines
  npx vigil bank import partner-pdq hashes.txt --format hex --type pdq --source partner-x --list-version 2026-11
  npx vigil bank import vendor export.csv --format csv --column hash --type-column type
  npx vigil bank import false-positives fp.txt --allow
  npx vigil bank list
  npx vigil bank disable partner-pdq
  npx vigil bank export --all > banks-backup.jsonl                # every bank, ids and provenance
  npx vigil bank import --all banks-backup.jsonl                 # restore a store (e.g. after a Redis loss)
  npx vigil bank accept --reason "banks intentionally cleared"   # accept the store as it is

Banks live on VIGIL_BANK_REDIS_URL (default REDIS_URL), which should persist (AOF). A worker whose
bank store loses banks it holds keeps matching its last good snapshot, sets vigil_bank_store_lost
and reports not ready until an operator restores the store (import --all) or accepts it (accept).`,
    );

  withConfigOptions(
    bank
      .command('import')
      .description('Import hashes from a file into a bank (created if new). Prints progress on stderr.')
      .argument('<bank>', 'bank id: lowercase letters, digits, . _ -; with --all, the export file')
      .argument('[file]', 'hash list file')
      .option('--all', 'restore a whole-store export made by `bank export --all` (every bank it holds, hash and term) and start a new store epoch')
      .option('--format <format>', 'te (TYPE VALUE [ID] lines, python-threatexchange/HMA), hex, or csv', parseFormat, 'te')
      .option('--type <type>', `hash type for hex/csv: ${HASH_TYPES.join(', ')}`, parseType)
      .option('--column <name>', 'csv: column holding the hash', 'hash')
      .option('--type-column <name>', 'csv: column holding the hash type')
      .option('--id-column <name>', 'csv: column holding the entry id')
      .option('--source <name>', 'provenance kept with every entry (default: the file name)')
      .option('--list-version <version>', 'version of the list being imported, kept with every entry')
      .option('--allow', 'an allow bank: its hashes are known false positives that suppress matches')
      .option('--replace', 'the bank becomes exactly this file (atomically); default adds to it')
      .option('--description <text>', 'what this bank is, for `bank list`')
      .option('--json', 'print the result as JSON')
      .addHelpText(
        'after',
        `
Bad lines are reported on stderr (one JSON line each) and skipped; the rest is imported; exit 1.

Examples:
  npx vigil bank import ncmec-md5 list.txt
  npx vigil bank import partner-pdq hashes.txt --format hex --type pdq --source partner-x --list-version 2026-11 --json`,
      ),
    ['redis'],
  ).action(async (id: string, file: string | undefined, opts: Record<string, unknown>) => {
    if (opts.all) {
      if (file !== undefined) throw new UsageError('with --all, give only the export file: vigil bank import --all banks-backup.jsonl');
      let last = 0;
      const onProgress = (bank: string, written: number) => {
        if (Date.now() - last < 1000) return;
        last = Date.now();
        printErr(`restore ${bank}: ${written} entries written`);
      };
      // The reader is opened only once the store answers: lines read before anyone iterates would be lost.
      const result = await withStore(opts, (store) =>
        restoreStore(store, createInterface({ input: createReadStream(id), crlfDelay: Infinity }), { onProgress }),
      );
      if (opts.json) printJson(result);
      else
        printErr(
          `restored ${result.banks.length} bank(s) (${result.banks.map((b) => `${b.id} ${b.entries}`).join(', ')}); new store epoch ${result.epoch.id}: workers that reported the store lost serve it again`,
        );
      return;
    }
    if (file === undefined) throw new UsageError('missing the hash list file: vigil bank import BANK FILE (or --all EXPORT)');
    const { batches, progress } = await openHashList(file, {
      format: opts.format as HashListFormat,
      type: opts.type as HashType | undefined,
      column: opts.column as string,
      typeColumn: opts.typeColumn as string | undefined,
      idColumn: opts.idColumn as string | undefined,
    });
    const importedAt = new Date().toISOString();
    const source = (opts.source as string | undefined) ?? basename(file);
    const listVersion = opts.listVersion as string | undefined;
    const withProvenance = async function* () {
      for await (const batch of batches) yield batch.map((e): StoredHashEntry => ({ ...e, source, importedAt, ...(listVersion ? { listVersion } : {}) }));
    };
    const result = await withStore(opts, (store) =>
      store.importHashEntries(id, withProvenance(), {
        mode: opts.replace ? 'replace' : 'append',
        ...(opts.allow ? { kind: 'allow' as const } : {}),
        ...(opts.description ? { description: String(opts.description) } : {}),
        onProgress: progressReporter(
          `import ${id}`,
          () => progress.totalBytes,
          () => progress.bytesRead,
        ),
      }),
    );
    for (const e of progress.errors) printErr(JSON.stringify({ file, line: e.line, error: { code: 'BANK_INVALID', message: e.message } }));
    if (progress.errorCount > progress.errors.length) printErr(`… and ${progress.errorCount - progress.errors.length} more bad line(s)`);
    if (opts.json) printJson({ bank: id, ...result, badLines: progress.errorCount });
    else
      printErr(
        `bank ${id}: ${result.written} entries written, ${result.entries} in the bank, now r${result.revision}${progress.errorCount ? `; ${progress.errorCount} bad line(s) skipped` : ''}`,
      );
    if (progress.errorCount) process.exitCode = 1;
  });

  withConfigOptions(
    bank
      .command('list')
      .description('List banks with type, kind, state, revision and size.')
      .option('--json', 'one JSON object per bank')
      .addHelpText('after', '\nExamples:\n  npx vigil bank list\n  npx vigil bank list --json | jq .id'),
    ['redis'],
  ).action(async (opts: Record<string, unknown>) => {
    const banks = await withStore(opts, (store) => store.list());
    if (opts.json) for (const b of banks) printJson(b);
    else if (banks.length === 0) printErr('no banks in the store yet: `vigil bank import --help`');
    else for (const b of banks) process.stdout.write(`${describe(b)}\n`);
  });

  withConfigOptions(
    bank
      .command('stats')
      .description('Hash banks: entries by hash type, source and list version; term banks: by mode, category and severity.')
      .argument('<bank>')
      .option('--json', 'JSON output')
      .addHelpText('after', '\nExamples:\n  npx vigil bank stats partner-pdq\n  npx vigil bank stats grooming-terms --json'),
    ['redis'],
  ).action(async (id: string, opts: Record<string, unknown>) => {
    const stats = await withStore(opts, async (store) => {
      const meta = await store.get(id);
      if (!meta) throw new UsageError(`no bank "${id}" (see \`vigil bank list\`)`);
      const byType: Record<string, number> = {};
      const bySource: Record<string, number> = {};
      const listVersions: Record<string, number> = {};
      const count = (into: Record<string, number>, key: string) => (into[key] = (into[key] ?? 0) + 1);
      if (meta.type === 'term') {
        // Term banks: counts by mode, category and severity (never the phrases).
        const byMode: Record<string, number> = {};
        const byCategory: Record<string, number> = {};
        const bySeverity: Record<string, number> = {};
        for (const e of await store.termEntries(id)) {
          count(byMode, e.mode ?? 'whole-word');
          count(byCategory, e.category);
          count(bySeverity, e.severity);
        }
        return { ...meta, byMode, byCategory, bySeverity };
      }
      {
        for await (const batch of store.hashEntries(id)) {
          for (const e of batch) {
            byType[e.type] = (byType[e.type] ?? 0) + 1;
            if (e.source) bySource[e.source] = (bySource[e.source] ?? 0) + 1;
            if (e.listVersion) listVersions[e.listVersion] = (listVersions[e.listVersion] ?? 0) + 1;
          }
        }
      }
      return { ...meta, byType, bySource, listVersions };
    });
    if (opts.json) printJson(stats);
    else if ('byMode' in stats)
      process.stdout.write(
        `${describe(stats)}\n  by mode: ${JSON.stringify(stats.byMode)}\n  by category: ${JSON.stringify(stats.byCategory)}\n  by severity: ${JSON.stringify(stats.bySeverity)}\n`,
      );
    else
      process.stdout.write(
        `${describe(stats)}\n  by type: ${JSON.stringify(stats.byType)}\n  by source: ${JSON.stringify(stats.bySource)}\n  list versions: ${JSON.stringify(stats.listVersions)}\n`,
      );
  });

  withConfigOptions(
    bank
      .command('export')
      .description('Write a bank to stdout: hash banks in the python-threatexchange format (TYPE VALUE ID) or CSV; term banks as canonical JSONL.')
      .argument('[bank]')
      .option('--format <format>', 'hash banks: te or csv (default te); term banks: jsonl')
      .option('--json', 'one JSON object per entry (hash banks: {type, value, id, source, listVersion, importedAt})')
      .option('--all', 'every bank (hash and term) with ids, provenance, kind and state, as JSONL for `bank import --all`')
      .addHelpText(
        'after',
        `
Examples:
  npx vigil bank export partner-pdq > partner-pdq.txt
  npx vigil bank export partner-pdq --format csv > partner-pdq.csv
  npx vigil bank export grooming-terms > grooming-terms.jsonl     # a term bank stored with \`terms import --redis\`
  npx vigil bank export --all > banks-backup.jsonl                # the whole store, to restore with \`bank import --all\``,
      ),
    ['redis'],
  ).action(async (id: string | undefined, opts: Record<string, unknown>) => {
    if (opts.all) {
      if (id !== undefined) throw new UsageError('--all exports every bank; give no bank id');
      await withStore(opts, async (store) => {
        let lines: string[] = [];
        for await (const line of exportStore(store)) {
          lines.push(line);
          if (lines.length === 5000) {
            process.stdout.write(`${lines.join('\n')}\n`);
            lines = [];
          }
        }
        if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
      });
      return;
    }
    if (id === undefined) throw new UsageError('missing the bank id (or --all for every bank)');
    await withStore(opts, async (store) => {
      const meta = await store.get(id);
      if (!meta) throw new UsageError(`no bank "${id}" (see \`vigil bank list\`)`);
      if (meta.type === 'term') {
        if (opts.format !== undefined && opts.format !== 'jsonl')
          throw new UsageError(`bank "${id}" is a term bank: its export format is jsonl, not ${String(opts.format)}`);
        // Canonical JSONL is JSON lines already, with or without --json.
        process.stdout.write(canonicalJsonl(await store.termEntries(id)));
        return;
      }
      const format = opts.format ?? 'te';
      if (format !== 'te' && format !== 'csv') throw new UsageError(`--format for a hash bank must be te or csv, got "${String(format)}"`);
      if (format === 'csv' && !opts.json) process.stdout.write('type,hash,id,source,list_version,imported_at\n');
      const csvField = (v: string | undefined) => (v === undefined ? '' : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
      for await (const batch of store.hashEntries(id)) {
        if (batch.length === 0) continue;
        const out = batch.map((e) =>
          opts.json
            ? JSON.stringify(e)
            : format === 'csv'
              ? [e.type, e.value, e.id, e.source, e.listVersion, e.importedAt].map(csvField).join(',')
              : `${e.type} ${e.value} ${e.id}`,
        );
        process.stdout.write(`${out.join('\n')}\n`);
      }
    });
  });

  withConfigOptions(
    bank
      .command('remove')
      .description('Remove a whole bank, or (with --entries) only the hashes listed in a file.')
      .argument('<bank>')
      .option('--entries <file>', 'remove only these hashes (a file in --format)')
      .option('--format <format>', 'format of --entries: te, hex or csv', parseFormat, 'te')
      .option('--type <type>', 'hash type for hex/csv', parseType)
      .option('--json', 'print the result as one JSON object')
      .addHelpText('after', '\nExamples:\n  npx vigil bank remove old-list\n  npx vigil bank remove partner-pdq --entries withdrawn.txt --json'),
    ['redis'],
  ).action(async (id: string, opts: Record<string, unknown>) => {
    await withStore(opts, async (store) => {
      if (!opts.entries) {
        await store.removeBank(id);
        if (opts.json) printJson({ bank: id, removed: true });
        else printErr(`bank ${id} removed`);
        return;
      }
      const { batches, progress } = await openHashList(String(opts.entries), {
        format: opts.format as HashListFormat,
        type: opts.type as HashType | undefined,
      });
      const keys: string[] = [];
      for await (const batch of batches) for (const e of batch) keys.push(`${e.type}:${e.value}`);
      const result = await store.removeEntries(id, keys);
      if (opts.json) printJson({ bank: id, removed: result.written, entries: result.entries, revision: result.revision, badLines: progress.errorCount });
      else printErr(`bank ${id}: ${result.written} entries removed, ${result.entries} left, now r${result.revision}`);
      if (progress.errorCount) process.exitCode = 1;
    });
  });

  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    withConfigOptions(
      bank
        .command(name)
        .description(`${enabled ? 'Enable' : 'Disable'} a bank (entries are kept).`)
        .argument('<bank>')
        .option('--json', 'print the bank afterwards as one JSON object')
        .addHelpText('after', `\nExamples:\n  npx vigil bank ${name} partner-pdq\n  npx vigil bank ${name} partner-pdq --json`),
      ['redis'],
    ).action(async (id: string, opts: Record<string, unknown>) => {
      const meta = await withStore(opts, (store) => store.setEnabled(id, enabled));
      if (opts.json) printJson(meta);
      else printErr(`bank ${id} ${meta.enabled ? 'enabled' : 'disabled'}`);
    });
  }
  registerDeconfirm(bank);
  withConfigOptions(
    bank
      .command('accept')
      .description('Accept the bank store as it is now (even empty): workers that reported it lost load it and report ready again.')
      .option('--reason <text>', 'why, kept with the new store epoch (no content)')
      .addHelpText(
        'after',
        '\nUse after a bank-store loss only when restoring an export (`bank import --all`) is not wanted.\n\nExample:\n  npx vigil bank accept --reason "banks intentionally cleared"',
      ),
    ['redis'],
  ).action(async (opts: Record<string, unknown>) => {
    const epoch = await withStore(opts, (store) => store.newEpoch('accepted', typeof opts.reason === 'string' ? opts.reason.slice(0, 200) : undefined));
    printErr(`bank store accepted as it is: new epoch ${epoch.id}`);
  });
  return bank;
}
