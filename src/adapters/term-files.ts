/**
 * Term banks, pattern rules and the benign vocabulary from files. A bank's id is its file name
 * without `.jsonl`; its version is the content hash computed by the core.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VigilError } from '../core/errors.js';
import { parsePatternJsonl, parsePatternLines, type PatternRule, type PatternRuleSet } from '../core/text/patterns.js';
import { parseTermBankJsonl, parseTermLines, type LineError, type TermBankData, type TermEntry } from '../core/text/term-bank.js';

/** `sample-terms.jsonl` → `sample-terms`. */
export function bankIdFromPath(path: string): string {
  return basename(path).replace(/\.(jsonl|ndjson|txt)$/i, '');
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new VigilError('BANK_INVALID', `${what} ${basename(path)}: cannot read (${code})`, { cause: err });
  }
}

/** Loads a JSONL term bank, or throws BANK_INVALID naming the bad lines. */
export async function loadTermBankFile(path: string): Promise<TermBankData> {
  return parseTermBankJsonl(bankIdFromPath(path), await readText(path, 'term bank'));
}

/** Reads a JSONL term bank without failing on bad lines: the CLI reports each one. */
export async function readTermBankLines(path: string): Promise<{ id: string; entries: TermEntry[]; errors: LineError[] }> {
  return { id: bankIdFromPath(path), ...parseTermLines(await readText(path, 'term bank')) };
}

/** Loads JSONL pattern rules (`{id, pattern, category, severity, flags?}`); refuses unsafe ones. */
export async function loadPatternFile(path: string): Promise<PatternRuleSet> {
  return parsePatternJsonl(bankIdFromPath(path), await readText(path, 'pattern rules'));
}

export async function readPatternLines(path: string): Promise<{ id: string; rules: PatternRule[]; errors: LineError[] }> {
  return { id: bankIdFromPath(path), ...parsePatternLines(await readText(path, 'pattern rules')) };
}

/**
 * The bundled benign vocabulary (config/text/benign-words.txt, generated from Debian's wamerican),
 * found from both the source tree and the compiled dist/ tree.
 */
export function defaultBenignWordsPath(): string | undefined {
  for (const rel of ['../../config/text/benign-words.txt', '../../../config/text/benign-words.txt']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** One word per line, `#` comments skipped, lower-cased; words of fewer than two letters dropped. */
export async function loadBenignWords(path: string | undefined = defaultBenignWordsPath()): Promise<Set<string>> {
  if (path === undefined) throw new VigilError('CONFIG_INVALID', 'benign vocabulary not found: config/text/benign-words.txt is missing');
  const text = await readText(path, 'benign vocabulary');
  const words = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    if (raw.startsWith('#')) continue;
    const w = raw.trim().toLowerCase();
    if (/^\p{L}{2,}$/u.test(w)) words.add(w);
  }
  return words;
}
