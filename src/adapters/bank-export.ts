/**
 * Whole-store export and restore (`vigil bank export --all`, `vigil bank import --all`): every bank,
 * hash and term, with its kind, state, description, entry ids and provenance, as JSONL (one line per
 * record, so a 10M-entry store streams in constant memory). Banks hold hashes and stand-in phrases,
 * never message content, so an export may be kept as a backup.
 *
 *   {"schema":"vigil.bank-export.v1","exportedAt":"…","epoch":{…},"revision":12}
 *   {"meta":{"id":"partner-pdq","type":"hash","kind":"block",…}}
 *   {"hash":{"type":"pdq","value":"…","id":"…","source":"…","listVersion":"…","importedAt":"…"}}
 *   {"meta":{"id":"kettles","type":"term",…}}
 *   {"term":{"id":"pk","phrase":"…",…}}
 *
 * A restore writes each bank as a replacement under a new generation (its flags name new versions,
 * recording the exported one as `restoredFrom`), then starts a new store epoch with reason `restored`:
 * that is what workers that reported the store lost wait for.
 */
import { VigilError } from '../core/errors.js';
import { isHashType, normalizeHash, validateBankId } from '../core/banks/hash-bank.js';
import type { StoreEpoch } from '../core/banks/store-continuity.js';
import { parseTermEntry, type TermEntry } from '../core/text/term-bank.js';
import { bankVersion, type BankMeta, type RedisBankStore, type StoredHashEntry } from './redis-bank-store.js';

export const BANK_EXPORT_SCHEMA = 'vigil.bank-export.v1';

/** Yields the export line by line (without newlines). */
export async function* exportStore(store: RedisBankStore): AsyncGenerator<string> {
  const state = await store.state();
  yield JSON.stringify({
    schema: BANK_EXPORT_SCHEMA,
    exportedAt: new Date().toISOString(),
    ...(state.epoch ? { epoch: state.epoch } : {}),
    revision: state.revision,
  });
  for (const meta of await store.list()) {
    yield JSON.stringify({ meta });
    if (meta.type === 'hash') {
      for await (const batch of store.hashEntries(meta.id)) for (const e of batch) yield JSON.stringify({ hash: e });
    } else {
      for (const e of await store.termEntries(meta.id)) yield JSON.stringify({ term: e });
    }
  }
}

export interface RestoreResult {
  banks: { id: string; type: BankMeta['type']; entries: number; revision: number; restoredFrom: string }[];
  epoch: StoreEpoch;
}

type Line = { n: number; record: Record<string, unknown> };

function bad(n: number, message: string): VigilError {
  return new VigilError('BANK_INVALID', `export line ${n}: ${message}`);
}

function parseMeta(n: number, value: unknown): BankMeta {
  const m = value as Partial<BankMeta> | null;
  if (
    !m ||
    typeof m !== 'object' ||
    typeof m.id !== 'string' ||
    (m.type !== 'hash' && m.type !== 'term') ||
    (m.kind !== 'block' && m.kind !== 'allow') ||
    typeof m.revision !== 'number'
  )
    throw bad(n, 'a "meta" record needs id, type (hash|term), kind (block|allow) and revision');
  validateBankId(m.id);
  return m as BankMeta;
}

function parseHash(n: number, value: unknown): StoredHashEntry {
  const e = value as Partial<StoredHashEntry> | null;
  if (
    !e ||
    typeof e !== 'object' ||
    typeof e.type !== 'string' ||
    !isHashType(e.type) ||
    typeof e.value !== 'string' ||
    typeof e.id !== 'string' ||
    typeof e.importedAt !== 'string'
  )
    throw bad(n, 'a "hash" record needs type, value, id and importedAt');
  const out: StoredHashEntry = { type: e.type, value: normalizeHash(e.type, e.value), id: e.id, importedAt: e.importedAt };
  if (typeof e.source === 'string') out.source = e.source;
  if (typeof e.listVersion === 'string') out.listVersion = e.listVersion;
  return out;
}

/**
 * Restores an export into the store. Lines are read once, in order; a bad line stops the restore with
 * its line number (banks restored before it stay restored, and no new epoch is started, so workers
 * that reported the store lost keep doing so).
 */
export async function restoreStore(
  store: RedisBankStore,
  lines: AsyncIterable<string>,
  options: { actor?: string; onProgress?: (bank: string, written: number) => void } = {},
): Promise<RestoreResult> {
  const it = (async function* (): AsyncGenerator<Line> {
    let n = 0;
    for await (const raw of lines) {
      n++;
      if (raw.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(raw);
      } catch {
        throw bad(n, 'not JSON');
      }
      if (!record || typeof record !== 'object' || Array.isArray(record)) throw bad(n, 'expected a JSON object');
      yield { n, record: record as Record<string, unknown> };
    }
  })();
  const first = await it.next();
  if (first.done || first.value.record.schema !== BANK_EXPORT_SCHEMA)
    throw new VigilError('BANK_INVALID', `not a bank export: the first line must have "schema":"${BANK_EXPORT_SCHEMA}" (made by \`vigil bank export --all\`)`);
  const restored: RestoreResult['banks'] = [];
  let pending = await it.next();
  while (!pending.done) {
    const { n, record } = pending.value;
    if (!('meta' in record)) throw bad(n, 'expected a "meta" record starting a bank');
    const meta = parseMeta(n, record.meta);
    const from = bankVersion(meta);
    // Entries up to the next "meta" line belong to this bank; `pending` ends on that line.
    const entries = async function* <T>(key: 'hash' | 'term', parse: (n: number, v: unknown) => T): AsyncGenerator<T[]> {
      let batch: T[] = [];
      for (pending = await it.next(); !pending.done && !('meta' in pending.value.record); pending = await it.next()) {
        const line = pending.value;
        if (!(key in line.record)) throw bad(line.n, `expected a "${key}" entry of ${meta.type} bank ${meta.id}`);
        batch.push(parse(line.n, line.record[key]));
        if (batch.length === 5000) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    };
    const common = {
      mode: 'replace' as const,
      kind: meta.kind,
      enabled: meta.enabled !== false,
      restoredFrom: from,
      ...(meta.description ? { description: meta.description } : {}),
    };
    let result;
    if (meta.type === 'hash') {
      result = await store.importHashEntries(meta.id, entries('hash', parseHash), { ...common, onProgress: (w) => options.onProgress?.(meta.id, w) });
    } else {
      const terms: TermEntry[] = [];
      for await (const batch of entries('term', (ln, v) => {
        const parsed = parseTermEntry(v);
        if ('error' in parsed) throw bad(ln, `term entry: ${parsed.error}`);
        return parsed.entry;
      }))
        terms.push(...batch);
      result = await store.importTermEntries(meta.id, terms, common);
    }
    restored.push({ id: meta.id, type: meta.type, entries: result.entries, revision: result.revision, restoredFrom: from });
  }
  const epoch = await store.newEpoch('restored', options.actor);
  return { banks: restored, epoch };
}
