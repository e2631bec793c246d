import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { lintTermBank, type LintIssue } from '../../core/text/lint.js';
import { canonicalJsonl, makeTermBank, type TermBankData } from '../../core/text/term-bank.js';
import { bankIdFromPath, loadBenignWords, readTermBankLines } from '../../adapters/term-files.js';
import { printErr, printJson, UsageError, withRedis } from '../io.js';
import { loadConfig } from '../../config.js';
import { validateBankId } from '../../core/banks/hash-bank.js';
import { RedisBankStore } from '../../adapters/redis-bank-store.js';

interface CommonOptions {
  json?: boolean;
  benignWords?: string;
}

/** Reads a bank file, reporting each bad line on stderr; returns the bank of the good lines. */
async function readBank(file: string, id?: string, json = false): Promise<{ bank: TermBankData; failed: number }> {
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const r = await readTermBankLines(file);
  for (const e of r.errors)
    printErr(
      json ? JSON.stringify({ file, line: e.line, error: { code: 'BANK_INVALID', message: e.message } }) : `vigil terms: ${file}:${e.line}: ${e.message}`,
    );
  return { bank: makeTermBank(id ?? r.id, r.entries), failed: r.errors.length };
}

/** Lint findings on stderr: text lines, or JSON lines with --json (stdout keeps the one summary object). */
function reportLint(issues: readonly LintIssue[], json: boolean | undefined): void {
  for (const i of issues) printErr(json ? JSON.stringify({ lint: i }) : `vigil terms: lint ${i.level}: ${i.termId}: ${i.code}: ${i.message}`);
}

async function benign(path: string | undefined): Promise<Set<string>> {
  if (path !== undefined && !existsSync(path)) throw new UsageError(`no such file: ${path}`);
  return loadBenignWords(path);
}

function printIssues(issues: readonly LintIssue[], json: boolean | undefined): void {
  for (const i of issues) {
    if (json) printJson(i);
    else process.stdout.write(`${i.level}\t${i.termId}\t${i.code}\t${i.message}\n`);
  }
}

function summary(bank: TermBankData): {
  bankId: string;
  version: string;
  entries: number;
  modes: Record<string, number>;
  categories: Record<string, number>;
  severities: Record<string, number>;
} {
  const count = (key: (e: TermBankData['entries'][number]) => string): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const e of bank.entries) out[key(e)] = (out[key(e)] ?? 0) + 1;
    return out;
  };
  return {
    bankId: bank.id,
    version: bank.version,
    entries: bank.entries.length,
    modes: count((e) => e.mode ?? 'whole-word'),
    categories: count((e) => e.category),
    severities: count((e) => e.severity),
  };
}

/**
 * Stores the bank in Redis, replacing its entries, unless the store already holds exactly this
 * content: an unchanged re-import keeps the revision (workers have nothing to reload).
 */
async function storeInRedis(bank: TermBankData, opts: { redisUrl?: string; prefix?: string }): Promise<{ revision: number; unchanged: boolean }> {
  const config = loadConfig({ overrides: { redisUrl: opts.redisUrl, queuePrefix: opts.prefix } });
  // Term banks live on the bank store (VIGIL_BANK_REDIS_URL, default REDIS_URL); an explicit --redis-url wins.
  return withRedis(opts.redisUrl ? config : { ...config, redisUrl: config.bankRedisUrl }, async (redis) => {
    const store = new RedisBankStore(redis, config.queuePrefix);
    const id = validateBankId(bank.id);
    const held = await store.get(id);
    if (held?.type === 'term' && canonicalJsonl(await store.termEntries(id)) === canonicalJsonl(bank.entries))
      return { revision: held.revision, unchanged: true };
    return { ...(await store.importTermEntries(id, bank.entries, { mode: 'replace' })), unchanged: false };
  });
}

export function register(program: Command): Command {
  const terms = program
    .command('terms')
    .description('Manage term banks (JSONL: {id, phrase, category, severity, locale?, mode?, exceptions?}).')
    .addHelpText(
      'after',
      `
Modes: whole-word (default), joined (also "velvetteapot", "vel vet tea pot"), substring (opt-in).
A bank's id is its file name without .jsonl; its version is a hash of its canonical content.

Examples:
  npx vigil terms import test/fixtures/text/sample-terms.jsonl --out banks/sample-terms.jsonl
  npx vigil terms list test/fixtures/text/sample-terms.jsonl --json
  npx vigil terms lint test/fixtures/text/sample-terms.jsonl`,
    );

  terms
    .command('import')
    .description('Validate and normalize a JSONL bank, lint it, print a summary, and write the canonical file.')
    .argument('<file>', 'JSONL term bank')
    .option('--out <file>', 'write the canonical JSONL (sorted by id, defaults filled in) here')
    .option('--id <bankId>', 'bank id (default: the file name without .jsonl)')
    .option('--force', 'write even when lint reports errors')
    .option('--benign-words <file>', 'benign vocabulary for lint (default: the bundled list)')
    .option('--json', 'summary as one JSON object')
    .option('--redis', 'also store the bank in Redis (replacing its entries; running workers reload it within seconds)')
    .option('--redis-url <url>', 'with --redis: Redis URL (env REDIS_URL)')
    .option('--prefix <prefix>', 'with --redis: key prefix (env VIGIL_QUEUE_PREFIX)')
    .addHelpText(
      'after',
      `
Bad lines are reported on stderr (file:line: field: problem; a JSON line each with --json) and left
out: the good lines are still written and stored, and the exit code is 1. Lint errors stop the
write and the store (unless --force), also with exit 1. Re-importing content the store already holds
keeps its revision ("unchanged").
With --redis the bank is stored like hash banks: versioned (r1, r2, …), listed by \`vigil bank list\`,
and switched off or removed with \`vigil bank disable|remove\`.

Examples:
  npx vigil terms import lists/new-terms.jsonl --out banks/new-terms.jsonl --json
  npx vigil terms import lists/grooming-terms.jsonl --redis`,
    )
    .action(async (file: string, opts: CommonOptions & { out?: string; id?: string; force?: boolean; redis?: boolean; redisUrl?: string; prefix?: string }) => {
      const id = opts.id ?? bankIdFromPath(file);
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id))
        throw new UsageError(`terms import: bank id must be 1-128 characters of A-Z a-z 0-9 . _ -, got "${id}"`);
      const { bank, failed } = await readBank(file, id, opts.json);
      const issues = lintTermBank(bank, { benignWords: await benign(opts.benignWords) });
      const errors = issues.filter((i) => i.level === 'error').length;
      reportLint(issues, opts.json);
      // Bad lines are left out and reported; the good ones go through. Lint errors stop everything
      // (unless --force), and a file with no good line never replaces a bank with nothing.
      const usable = (errors === 0 || opts.force === true) && !(bank.entries.length === 0 && failed > 0);
      const written = opts.out !== undefined && usable;
      if (written && opts.out) await writeFile(opts.out, canonicalJsonl(bank.entries));
      const stored = opts.redis === true && usable ? await storeInRedis(bank, opts) : null;
      const s = {
        ...summary(bank),
        badLines: failed,
        lintErrors: errors,
        lintWarnings: issues.length - errors,
        written: written ? opts.out : null,
        ...(stored ? { redisRevision: stored.revision, redisUnchanged: stored.unchanged } : {}),
      };
      if (opts.json) printJson(s);
      else
        process.stdout.write(
          `${s.bankId} version ${s.version}: ${s.entries} entries, ${failed} bad lines, ${errors} lint errors, ${s.lintWarnings} warnings${written ? `; wrote ${opts.out}` : ''}${stored ? (stored.unchanged ? `; unchanged in Redis (still r${stored.revision})` : `; stored in Redis as r${stored.revision}`) : ''}\n`,
        );
      if (failed > 0 || errors > 0) process.exitCode = 1;
    });

  terms
    .command('list')
    .description('Print the entries of a JSONL bank (canonical form).')
    .argument('<file>', 'JSONL term bank')
    .option('--json', 'one canonical entry per line')
    .addHelpText('after', '\nExample:\n  npx vigil terms list test/fixtures/text/sample-terms.jsonl')
    .action(async (file: string, opts: CommonOptions) => {
      const { bank, failed } = await readBank(file, undefined, opts.json);
      for (const e of bank.entries) {
        if (opts.json) printJson(e);
        else
          process.stdout.write(
            `${e.id}\t${e.mode ?? 'whole-word'}\t${e.category}\t${e.severity}\t${e.locale ?? '-'}\t${e.phrase}${e.exceptions ? `\t(except: ${e.exceptions.join(' | ')})` : ''}\n`,
          );
      }
      if (failed > 0) process.exitCode = 1;
    });

  terms
    .command('lint')
    .description('Check a bank for terms that would flag ordinary conversation.')
    .argument('<file>', 'JSONL term bank')
    .option('--benign-words <file>', 'benign vocabulary, one word per line (default: the bundled list from Debian wamerican)')
    .option('--json', 'one JSON issue per line: {level, termId, code, message}')
    .addHelpText(
      'after',
      `
Errors (exit 1): substring terms shorter than 5 characters, joined terms shorter than 4.
Warnings: the term is a common word, normalizes like other words ("god"/"good"), matches ordinary
words, sits inside them (substring), splits into them (joined), duplicates, useless exceptions.

Example:
  npx vigil terms lint test/fixtures/text/sample-terms.jsonl --json`,
    )
    .action(async (file: string, opts: CommonOptions) => {
      const { bank, failed } = await readBank(file, undefined, opts.json);
      const issues = lintTermBank(bank, { benignWords: await benign(opts.benignWords) });
      printIssues(issues, opts.json);
      if (!opts.json)
        process.stdout.write(
          `${bank.id}: ${issues.filter((i) => i.level === 'error').length} errors, ${issues.filter((i) => i.level === 'warning').length} warnings\n`,
        );
      if (failed > 0 || issues.some((i) => i.level === 'error')) process.exitCode = 1;
    });

  return terms;
}
