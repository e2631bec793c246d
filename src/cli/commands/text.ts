import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { isVigilError, toVigilError } from '../../core/errors.js';
import type { PatternRuleSet } from '../../core/text/patterns.js';
import { compileTextScanner, type CompiledTextScanner } from '../../core/text/scanner.js';
import type { TermBankData } from '../../core/text/term-bank.js';
import { loadBenignWords, loadPatternFile, loadTermBankFile } from '../../adapters/term-files.js';
import { printErr, printJson, UsageError } from '../io.js';

interface TextOptions {
  terms: string[];
  patterns?: string;
  text?: string;
  input: string;
  json?: boolean;
  benignWords?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Builds the scanner the same way the worker does: banks, rules, and the benign vocabulary. */
export async function scannerFromFiles(
  termFiles: readonly string[],
  patternFile: string | undefined,
  benignWords: string | undefined,
): Promise<CompiledTextScanner> {
  for (const f of [...termFiles, ...(patternFile ? [patternFile] : [])]) if (!existsSync(f)) throw new UsageError(`no such file: ${f}`);
  const banks: TermBankData[] = [];
  for (const f of termFiles) banks.push(await loadTermBankFile(f));
  const patterns: PatternRuleSet | undefined = patternFile ? await loadPatternFile(patternFile) : undefined;
  if (benignWords !== undefined && benignWords !== 'none' && !existsSync(benignWords)) throw new UsageError(`no such file: ${benignWords}`);
  const words = benignWords === 'none' ? undefined : await loadBenignWords(benignWords);
  return compileTextScanner(banks, patterns, words ? { benignWords: words } : {});
}

/** Every line, blank ones included, so output line N always answers input line N. */
async function* allLines(file: string): AsyncGenerator<string> {
  if (file !== '-' && !existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const rl = createInterface({ input: file === '-' ? process.stdin : createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) yield line;
}

export function register(program: Command): Command {
  return program
    .command('text')
    .description('Scan messages (one per line) against term banks and pattern rules; print one result line per message.')
    .requiredOption('--terms <file.jsonl>', 'term bank (JSONL); repeat for several banks', collect, [])
    .option('--patterns <file.jsonl>', 'pattern rules (JSONL: {id, pattern, category, severity, flags?})')
    .option('--text <message>', 'scan this one message instead of reading lines')
    .option('--input <file>', 'read messages from this file ("-" for stdin)', '-')
    .option('--benign-words <file>', 'benign vocabulary that shields fuzzy and substring hits ("none" to disable); default: the bundled list')
    .option('--json', 'one JSON object per message: {matches: [{termId, category, severity, mode, start, end, bankId, bankVersion}], normalized}')
    .addHelpText(
      'after',
      `
Offsets are UTF-16 code units in the original message, end exclusive. Pattern hits have mode "pattern"
and the rule id as termId. Messages are never echoed; "normalized" is what the matcher saw.

Examples:
  npx vigil text --terms test/fixtures/text/sample-terms.jsonl --text 'my v3lv3t t.e.a.p.o.t' --json
  cat messages.txt | npx vigil text --terms banks/a.jsonl --terms banks/b.jsonl --patterns rules.jsonl --json`,
    )
    .action(async (opts: TextOptions) => {
      if (opts.terms.length === 0) throw new UsageError('text: give at least one --terms file');
      const scanner = await scannerFromFiles(opts.terms, opts.patterns, opts.benignWords);
      const lines: AsyncIterable<string> | string[] = opts.text !== undefined ? [opts.text] : allLines(opts.input);
      let n = 0;
      let failed = 0;
      for await (const line of lines) {
        n++;
        try {
          const r = scanner.explain(line);
          const matches = r.matches.map((m) => ({
            termId: m.termId,
            category: m.category,
            severity: m.severity,
            mode: m.mode,
            start: m.start,
            end: m.end,
            bankId: m.bankId,
            bankVersion: m.bankVersion,
          }));
          if (opts.json) printJson({ matches, normalized: r.normalized });
          else
            process.stdout.write(
              `${n}\t${matches.length === 0 ? '-' : matches.map((m) => `${m.termId}[${m.start},${m.end}) ${m.category}/${m.severity} ${m.mode}`).join('; ')}\n`,
            );
        } catch (err) {
          const e = isVigilError(err) ? err : toVigilError(err);
          failed++;
          printErr(`vigil text: line ${n}: ${e.code}: ${e.message}`);
          if (opts.json) printJson({ matches: [], normalized: null, error: { code: e.code, message: e.message } });
          else process.stdout.write(`${n}\terror ${e.code}\n`);
        }
      }
      if (failed > 0) process.exitCode = 1;
    });
}
