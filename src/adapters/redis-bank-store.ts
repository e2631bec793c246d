/**
 * Banks in Redis, versioned: the safety team's hash banks and term banks, shared by every worker.
 *
 * Keys (all under one prefix, so a hash-tag prefix like `{vigil}` keeps them in one Cluster slot):
 *   P:banks:meta          HASH  bank id → JSON BankMeta
 *   P:banks:rev           STRING  global revision, bumped on every change; workers poll it
 *   P:banks:e:<id>        HASH  entry key → JSON entry (hash banks: "TYPE:VALUE" → {id, source, listVersion, importedAt})
 *   P:banks:lock:<id>     STRING  held while an import writes, so two imports of one bank cannot interleave
 * A replacing import writes a staging hash and swaps it in with RENAME in one MULTI, so a worker never
 * loads half a replacement.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { VigilError } from '../core/errors.js';
import { defaultEntryId, validateBankId, type BankKind, type HashBankEntry } from '../core/banks/hash-bank.js';
import type { HashType } from '../core/signals.js';
import { canonicalEntry, parseTermEntry, type TermEntry } from '../core/text/term-bank.js';

export type StoredBankType = 'hash' | 'term';

const LOCK_TTL_S = 30;

export interface BankMeta {
  id: string;
  type: StoredBankType;
  /** block: matches flag; allow: known false positives that suppress matches. */
  kind: BankKind;
  enabled: boolean;
  /** Bumped on every content change; reported on flags as `r<revision>`. */
  revision: number;
  entries: number;
  updatedAt: string;
  description?: string;
}

/** A hash bank entry as stored, with its provenance. */
export interface StoredHashEntry extends HashBankEntry {
  source?: string;
  listVersion?: string;
  importedAt: string;
}

export interface ImportOptions {
  /** replace: the bank becomes exactly the imported entries; append (default): entries are added or updated. */
  mode?: 'append' | 'replace';
  kind?: BankKind;
  description?: string;
  onProgress?: (written: number) => void;
}

export interface ImportResult {
  written: number;
  /** Entries the bank holds afterwards. */
  entries: number;
  revision: number;
}

/**
 * Hash entries are stored as `id\tsource\tlistVersion\timportedAt` (an empty id = the default id
 * derived from the hash): a worker loading 10M entries splits strings instead of parsing JSON.
 */
function encodeHashRecord(e: StoredHashEntry): string {
  const fields = [e.id === defaultEntryId(e.type, e.value) ? '' : e.id, e.source ?? '', e.listVersion ?? '', e.importedAt];
  if (fields.some((f) => /[\t\r\n]/.test(f))) throw new VigilError('BANK_INVALID', 'entry ids, sources and list versions cannot contain tabs or line breaks');
  return fields.join('\t');
}

function decodeHashRecord(type: HashType, value: string, record: string): StoredHashEntry {
  const [id = '', source = '', listVersion = '', importedAt = ''] = record.split('\t');
  return { type, value, id: id || defaultEntryId(type, value), ...(source ? { source } : {}), ...(listVersion ? { listVersion } : {}), importedAt };
}

export function bankVersion(meta: BankMeta): string {
  return `r${meta.revision}`;
}

function storeError(err: unknown, what: string): VigilError {
  if (err instanceof VigilError) return err;
  return new VigilError('QUEUE_UNAVAILABLE', `bank store: ${what} failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
}

export class RedisBankStore {
  readonly #redis: Redis;
  readonly #p: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#p = `${prefix}:banks`;
  }

  #entriesKey(id: string): string {
    return `${this.#p}:e:${id}`;
  }

  async revision(): Promise<number> {
    try {
      return Number((await this.#redis.get(`${this.#p}:rev`)) ?? 0);
    } catch (err) {
      throw storeError(err, 'reading the revision');
    }
  }

  async list(): Promise<BankMeta[]> {
    try {
      const all = await this.#redis.hgetall(`${this.#p}:meta`);
      return Object.values(all)
        .map((v) => JSON.parse(v) as BankMeta)
        .sort((a, b) => a.id.localeCompare(b.id));
    } catch (err) {
      throw storeError(err, 'listing banks');
    }
  }

  async get(id: string): Promise<BankMeta | undefined> {
    const raw = await this.#redis.hget(`${this.#p}:meta`, id).catch((err: unknown) => {
      throw storeError(err, 'reading a bank');
    });
    return raw ? (JSON.parse(raw) as BankMeta) : undefined;
  }

  async #require(id: string, type?: StoredBankType): Promise<BankMeta> {
    const meta = await this.get(id);
    if (!meta) throw new VigilError('BANK_INVALID', `no bank "${id}" in the store (see \`vigil bank list\`)`);
    if (type && meta.type !== type) throw new VigilError('BANK_INVALID', `bank "${id}" is a ${meta.type} bank, not a ${type} bank`);
    return meta;
  }

  /**
   * The lock expires LOCK_TTL_S after its last refresh, so an import that crashed blocks the bank for
   * seconds, not forever; a live import refreshes it every batch.
   */
  async #withLock<T>(id: string, work: (refresh: () => Promise<void>) => Promise<T>): Promise<T> {
    const key = `${this.#p}:lock:${id}`;
    const token = randomBytes(8).toString('hex');
    const ok = await this.#redis.set(key, token, 'EX', LOCK_TTL_S, 'NX');
    if (ok !== 'OK') throw new VigilError('BANK_INVALID', `bank "${id}" is being changed by another import; try again when it finishes (a crashed import's lock expires within ${LOCK_TTL_S} s)`);
    const refresh = async () => {
      await this.#redis.expire(key, LOCK_TTL_S);
    };
    try {
      return await work(refresh);
    } finally {
      // Release only our own lock (it may have expired and been taken by someone else).
      await this.#redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, key, token);
    }
  }

  /** Writes entries (in batches, for progress and bounded memory), then publishes a new revision. */
  async #import(id: string, type: StoredBankType, batches: AsyncIterable<[field: string, value: string][]>, options: ImportOptions): Promise<ImportResult> {
    validateBankId(id);
    const existing = await this.get(id);
    if (existing && existing.type !== type) throw new VigilError('BANK_INVALID', `bank "${id}" is a ${existing.type} bank, not a ${type} bank`);
    return this.#withLock(id, async (refresh) => {
      const live = this.#entriesKey(id);
      const replace = options.mode === 'replace';
      const target = replace ? `${live}:staging:${randomBytes(4).toString('hex')}` : live;
      let written = 0;
      try {
        for await (const batch of batches) {
          if (batch.length === 0) continue;
          await this.#redis.hset(target, Object.fromEntries(batch));
          written += batch.length;
          await refresh();
          options.onProgress?.(written);
        }
        const tx = this.#redis.multi();
        if (replace) {
          if (written > 0) tx.rename(target, live);
          else tx.del(live);
        }
        tx.hlen(live);
        const results = (await tx.exec()) ?? [];
        const entries = Number(results[results.length - 1]?.[1] ?? 0);
        const meta: BankMeta = {
          id,
          type,
          kind: options.kind ?? existing?.kind ?? 'block',
          enabled: existing?.enabled ?? true,
          revision: (existing?.revision ?? 0) + 1,
          entries,
          updatedAt: new Date().toISOString(),
          ...((options.description ?? existing?.description) ? { description: options.description ?? existing?.description } : {}),
        };
        await this.#redis.multi().hset(`${this.#p}:meta`, id, JSON.stringify(meta)).incr(`${this.#p}:rev`).exec();
        return { written, entries, revision: meta.revision };
      } catch (err) {
        if (replace) await this.#redis.del(target).catch(() => undefined);
        throw storeError(err, `importing bank ${id}`);
      }
    });
  }

  importHashEntries(id: string, batches: AsyncIterable<StoredHashEntry[]>, options: ImportOptions = {}): Promise<ImportResult> {
    return this.#import(
      id,
      'hash',
      (async function* () {
        for await (const batch of batches) {
          yield batch.map((e): [string, string] => [`${e.type}:${e.value}`, encodeHashRecord(e)]);
        }
      })(),
      options,
    );
  }

  importTermEntries(id: string, entries: readonly TermEntry[], options: ImportOptions = {}): Promise<ImportResult> {
    return this.#import(
      id,
      'term',
      (async function* () {
        for (let i = 0; i < entries.length; i += 5000) yield entries.slice(i, i + 5000).map((e): [string, string] => [e.id, JSON.stringify(canonicalEntry(e))]);
      })(),
      options,
    );
  }

  /** Streams a hash bank's entries (HSCAN: constant memory in Redis and here). */
  async *hashEntries(id: string): AsyncGenerator<StoredHashEntry[]> {
    for await (const fields of this.#scan(id)) {
      const out: StoredHashEntry[] = [];
      for (let i = 0; i < fields.length; i += 2) {
        const key = fields[i] ?? '';
        const sep = key.indexOf(':');
        out.push(decodeHashRecord(key.slice(0, sep) as HashType, key.slice(sep + 1), fields[i + 1] ?? ''));
      }
      yield out;
    }
  }

  async termEntries(id: string): Promise<TermEntry[]> {
    const out: TermEntry[] = [];
    for await (const fields of this.#scan(id)) {
      for (let i = 1; i < fields.length; i += 2) {
        const parsed = parseTermEntry(JSON.parse(fields[i] ?? '{}'));
        if ('entry' in parsed) out.push(parsed.entry);
      }
    }
    return out;
  }

  async *#scan(id: string): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, fields] = await this.#redis.hscan(this.#entriesKey(id), cursor, 'COUNT', 10_000).catch((err: unknown) => {
        throw storeError(err, `reading bank ${id}`);
      });
      cursor = next;
      if (fields.length) yield fields;
    } while (cursor !== '0');
  }

  /** Removes entries by key ("TYPE:VALUE" for hash banks, the term id for term banks). */
  async removeEntries(id: string, keys: readonly string[]): Promise<ImportResult> {
    const meta = await this.#require(id);
    return this.#withLock(id, async () => {
      let removed = 0;
      for (let i = 0; i < keys.length; i += 10_000) removed += await this.#redis.hdel(this.#entriesKey(id), ...keys.slice(i, i + 10_000));
      const entries = await this.#redis.hlen(this.#entriesKey(id));
      const next: BankMeta = { ...meta, revision: meta.revision + 1, entries, updatedAt: new Date().toISOString() };
      await this.#redis.multi().hset(`${this.#p}:meta`, id, JSON.stringify(next)).incr(`${this.#p}:rev`).exec();
      return { written: removed, entries, revision: next.revision };
    });
  }

  async removeBank(id: string): Promise<void> {
    await this.#require(id);
    await this.#redis.multi().del(this.#entriesKey(id)).hdel(`${this.#p}:meta`, id).incr(`${this.#p}:rev`).exec();
  }

  /** Disabling keeps the entries: a bank can be switched off during an incident and back on later. */
  async setEnabled(id: string, enabled: boolean): Promise<BankMeta> {
    const meta = await this.#require(id);
    const next = { ...meta, enabled, updatedAt: new Date().toISOString() };
    await this.#redis.multi().hset(`${this.#p}:meta`, id, JSON.stringify(next)).incr(`${this.#p}:rev`).exec();
    return next;
  }
}
