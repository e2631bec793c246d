/**
 * Banks from a folder: every `*.txt` is a hash bank (`TYPE VALUE [ID]` lines; `NAME.allow.txt` is an
 * allow bank of known false positives), every `*.jsonl` a term bank. Each bank is named after its file.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { VigilError } from '../core/errors.js';
import { contentVersion, parseHashBankText, validateBankId, type HashBankData } from '../core/banks/hash-bank.js';

export interface BankFiles {
  hashFiles: string[];
  termFiles: string[];
  /** Changes whenever a bank file is added, removed or modified: cheap to poll for hot reload. */
  fingerprint: string;
}

export async function listBankFiles(dir: string): Promise<BankFiles> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    throw new VigilError('BANK_INVALID', `cannot read banks folder ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'}); set VIGIL_BANKS_DIR or --banks`);
  }
  const hashFiles = names.filter((n) => n.endsWith('.txt')).map((n) => join(dir, n));
  const termFiles = names.filter((n) => n.endsWith('.jsonl')).map((n) => join(dir, n));
  const stamps = await Promise.all(
    [...hashFiles, ...termFiles].map(async (f) => {
      const s = await stat(f);
      return `${basename(f)}:${s.size}:${s.mtimeMs}`;
    }),
  );
  return { hashFiles, termFiles, fingerprint: stamps.join('|') };
}

export async function loadHashBankFile(path: string): Promise<HashBankData> {
  const file = basename(path);
  const allow = file.endsWith('.allow.txt');
  const id = validateBankId(file.slice(0, allow ? -'.allow.txt'.length : -'.txt'.length));
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new VigilError('BANK_INVALID', `cannot read bank file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const entries = parseHashBankText(text, file);
  return { id, version: contentVersion(entries), kind: allow ? 'allow' : 'block', enabled: true, entries };
}
