/**
 * Streams hash lists from files in the formats safety teams receive them in, in batches, with byte
 * progress and per-line errors (a bad line is reported with its number and skipped, never echoed).
 *   te   python-threatexchange / HMA convention: `TYPE VALUE [ID]` per line, `#` comments
 *   hex  one hex value per line (optionally followed by an entry id); the type comes from --type
 *   csv  a header row; the hash in --column (default "hash"), its type in --type-column or from --type
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import { defaultEntryId, isHashType, normalizeHash, type HashBankEntry } from '../core/banks/hash-bank.js';
import { VigilError } from '../core/errors.js';
import type { HashType } from '../core/signals.js';

export type HashListFormat = 'te' | 'hex' | 'csv';

export interface HashListOptions {
  format: HashListFormat;
  /** Required for hex; for csv unless typeColumn is given. */
  type?: HashType;
  column?: string;
  typeColumn?: string;
  idColumn?: string;
  batchSize?: number;
}

export interface HashListProgress {
  bytesRead: number;
  totalBytes: number;
  errors: { line: number; message: string }[];
  /** Lines (records) that failed; only the first 100 are kept in `errors`. */
  errorCount: number;
}

const ENTRY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function entry(typeRaw: string | undefined, valueRaw: string | undefined, idRaw: string | undefined): HashBankEntry {
  const type = typeRaw?.toLowerCase();
  if (!type || !isHashType(type)) throw new VigilError('BANK_INVALID', `unknown hash type${type ? ` "${type.slice(0, 16)}"` : ''}`);
  if (!valueRaw) throw new VigilError('BANK_INVALID', 'missing hash value');
  const value = normalizeHash(type, valueRaw);
  if (idRaw !== undefined && idRaw !== '' && !ENTRY_ID.test(idRaw))
    throw new VigilError('BANK_INVALID', 'entry id must be 1-128 characters of letters, digits, . _ : -');
  return { type, value, id: idRaw || defaultEntryId(type, value) };
}

export async function openHashList(path: string, options: HashListOptions): Promise<{ batches: AsyncGenerator<HashBankEntry[]>; progress: HashListProgress }> {
  let totalBytes: number;
  try {
    totalBytes = (await stat(path)).size;
  } catch (err) {
    throw new VigilError('BANK_INVALID', `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (options.format === 'hex' && !options.type) throw new VigilError('BANK_INVALID', 'the hex format needs --type (md5, sha1, sha256 or pdq)');
  if (options.format === 'csv' && !options.type && !options.typeColumn) throw new VigilError('BANK_INVALID', 'the csv format needs --type or --type-column');
  const progress: HashListProgress = { bytesRead: 0, totalBytes, errors: [], errorCount: 0 };
  const batchSize = options.batchSize ?? 10_000;
  const fail = (line: number, err: unknown) => {
    progress.errorCount++;
    if (progress.errors.length < 100) progress.errors.push({ line, message: err instanceof Error ? err.message : String(err) });
  };
  const stream = createReadStream(path);
  // Read lazily through the stream's own counter: a 'data' listener here would start the flow before
  // the consumer attaches, and lose the file's beginning.
  Object.defineProperty(progress, 'bytesRead', { get: () => stream.bytesRead, enumerable: true });

  async function* lines(): AsyncGenerator<HashBankEntry[]> {
    let batch: HashBankEntry[] = [];
    let n = 0;
    for await (const raw of createInterface({ input: stream, crlfDelay: Infinity })) {
      n++;
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const parts = line.split(/\s+/);
      try {
        if (options.format === 'te') {
          if (parts.length > 3) throw new VigilError('BANK_INVALID', 'expected "TYPE VALUE [ID]"');
          batch.push(entry(parts[0], parts[1], parts[2]));
        } else {
          if (parts.length > 2) throw new VigilError('BANK_INVALID', 'expected "VALUE [ID]"');
          batch.push(entry(options.type, parts[0], parts[1]));
        }
      } catch (err) {
        fail(n, err);
      }
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  }

  async function* csv(): AsyncGenerator<HashBankEntry[]> {
    const column = options.column ?? 'hash';
    const parser = stream.pipe(parseCsv({ columns: true, skip_empty_lines: true, trim: true, relax_column_count: true, bom: true }));
    let batch: HashBankEntry[] = [];
    let row = 1; // the header is line 1
    try {
      for await (const record of parser as AsyncIterable<Record<string, string>>) {
        row++;
        if (row === 2 && !(column in record))
          throw new VigilError('BANK_INVALID', `CSV has no column "${column}" (columns: ${Object.keys(record).join(', ')}); use --column`);
        try {
          batch.push(
            entry(options.typeColumn ? record[options.typeColumn] : options.type, record[column], options.idColumn ? record[options.idColumn] : undefined),
          );
        } catch (err) {
          fail(row, err);
        }
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    } catch (err) {
      if (err instanceof VigilError) throw err;
      throw new VigilError('BANK_INVALID', `CSV could not be parsed near record ${row} (${(err as { code?: string }).code ?? 'error'})`);
    }
    if (batch.length) yield batch;
  }

  return { batches: options.format === 'csv' ? csv() : lines(), progress };
}
