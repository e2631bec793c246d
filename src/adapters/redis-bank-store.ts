/**
 * Banks in Redis, versioned: the safety team's hash banks and term banks, shared by every worker.
 *
 * Keys (all under one prefix, so a hash-tag prefix like `{vigil}` keeps them in one Cluster slot):
 *   P:banks:meta          HASH  bank id → JSON BankMeta
 *   P:banks:rev           STRING  global revision, bumped on every change; workers poll it
 *   P:banks:e:<id>        HASH  entry key → JSON entry (hash banks: "TYPE:VALUE" → {id, source, listVersion, importedAt})
 *   P:banks:lock:<id>     STRING  held while an import writes, so two imports of one bank cannot interleave
 *   P:banks:epoch         STRING  JSON StoreEpoch: this store's identity, set by its first change and
 *                                 replaced only by a restore (`vigil bank import --all`) or `vigil bank accept`
 *   P:banks:delta:<id>:<generation>:<revision>  LIST  the change that led to that revision (workers patch from it)
 *   P:banks:snap          HASH  bank id → JSON SnapshotDescriptor: the hash bank's latest snapshot
 *   P:banks:snap:<id>:<generation>:<revision>:<chunk>  STRING  a binary snapshot of that revision, in chunks
 *                                 (src/core/banks/bank-snapshot.ts): what a worker loads instead of the records
 * Workers compare the epoch and the revision with what they hold: a store that comes back without
 * its epoch, with another epoch nobody restored or accepted, or with a lower revision has lost banks
 * (see BankStoreWatch in src/core/banks/store-continuity.ts).
 * A hash bank's snapshot is written when a change is committed, unless the change is a small recorded
 * delta on top of a recent snapshot: then workers load the snapshot and patch it with the deltas since
 * (kept without expiry while a snapshot depends on them). Superseded snapshots expire after a grace
 * period, so a worker reading one while it is replaced still finds it.
 * A replacing import writes a staging hash and swaps it in with RENAME in one MULTI, so a worker never
 * loads half a replacement.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from './bullmq/connection.js';
import { VigilError } from '../core/errors.js';
import { defaultEntryId, validateBankId, type BankKind, type HashBankEntry } from '../core/banks/hash-bank.js';
import type { HashBankChange } from '../core/banks/hash-bank-set.js';
import type { HashType } from '../core/signals.js';
import { BankSnapshotWriter } from '../core/banks/bank-snapshot.js';
import { canonicalEntry, parseTermEntry, type TermEntry } from '../core/text/term-bank.js';
import type { StoreEpoch } from '../core/banks/store-continuity.js';
import { snapshotChecksum } from '../core/banks/bank-snapshot.js';

export type StoredBankType = 'hash' | 'term';

const LOCK_TTL_S = 30;
/** Changes larger than this are not recorded as deltas: workers reload such a bank in full. */
const DELTA_MAX_ENTRIES = 1_000_000;
/** A worker that was away longer than this reloads changed banks in full. */
const DELTA_TTL_S = 7 * 24 * 3600;
/** Redis strings hold up to 512 MB; chunks well below that keep each GET and SET bounded. */
const SNAPSHOT_CHUNK_BYTES = 64 * 2 ** 20;
/** A superseded snapshot stays readable this long, for workers that were reading it. */
const SNAPSHOT_GRACE_S = 300;
/**
 * A recorded change leaves the snapshot as it is while the snapshot is at most this many revisions
 * behind and the changes since it stay within the share at which a worker would rebuild the bank
 * anyway (see OVERLAY_MAX_SHARE in src/app.ts); past that the change writes a new snapshot.
 */
const SNAPSHOT_MAX_BEHIND = 32;
const SNAPSHOT_MAX_PENDING_SHARE = 1 / 8;
const SNAPSHOT_MIN_PENDING = 4096;

/** Where a hash bank's snapshot is, and what it holds. */
export interface SnapshotDescriptor {
  /** The bank revision the snapshot holds; deltas after it lead to the bank's current revision. */
  revision: number;
  generation: string | undefined;
  chunks: number;
  bytes: number;
  /** sha256 of the snapshot's bytes: a worker that reads anything else falls back to the records. */
  sha256: string;
  entries: number;
  /** Entries changed by the deltas recorded since the snapshot. */
  pending: number;
  at: string;
}

export type SnapshotRead = { ok: true; bytes: Buffer } | { ok: false; reason: 'missing' | 'checksum' };

export interface BankMeta {
  id: string;
  type: StoredBankType;
  /** block: matches flag; allow: known false positives that suppress matches. */
  kind: BankKind;
  enabled: boolean;
  /** Bumped on every content change; reported on flags as `r<revision>.<generation>`. */
  revision: number;
  /**
   * Random id given when the bank is created: a bank removed and created again (or restored) is a
   * new generation, so its revisions never collide with the old bank's. Absent on banks written
   * before generations existed.
   */
  generation?: string;
  /** Set on banks written by a restore: the version the export held. */
  restoredFrom?: string;
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
  /** Restores only: the version the export held; the bank gets a new generation. */
  restoredFrom?: string;
  /** Restores only: the enabled state the export held. */
  enabled?: boolean;
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

export function bankVersion(meta: Pick<BankMeta, 'revision' | 'generation'>): string {
  return meta.generation ? `r${meta.revision}.${meta.generation}` : `r${meta.revision}`;
}

function newGeneration(): string {
  return randomBytes(4).toString('hex');
}

/** What a worker reads every poll: which store this is and how far it has got. */
export interface StoreState {
  epoch: StoreEpoch | undefined;
  revision: number;
}

function storeError(err: unknown, what: string): VigilError {
  if (err instanceof VigilError) return err;
  // Translated by type: the library's code (ECONNREFUSED, WRONGTYPE…) or error name, never its message text.
  return new VigilError('BANK_STORE_UNAVAILABLE', `bank store: ${what} failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`, { cause: err });
}

export class RedisBankStore {
  readonly #redis: RedisClient;
  readonly #p: string;
  readonly #chunkBytes: number;

  /** `snapshotChunkBytes`: the largest snapshot chunk (tests make it small to exercise several chunks). */
  constructor(redis: RedisClient, prefix: string, options: { snapshotChunkBytes?: number } = {}) {
    this.#redis = redis;
    this.#p = `${prefix}:banks`;
    this.#chunkBytes = options.snapshotChunkBytes ?? SNAPSHOT_CHUNK_BYTES;
  }

  #entriesKey(id: string): string {
    return `${this.#p}:e:${id}`;
  }

  async revision(): Promise<number> {
    return (await this.state()).revision;
  }

  /** Epoch and revision, read together (one MULTI) so they describe the same moment. */
  async state(): Promise<StoreState> {
    try {
      const [rev, epoch] = ((await this.#redis.multi().get(`${this.#p}:rev`).get(`${this.#p}:epoch`).exec()) ?? []).map(([err, v]) => {
        if (err) throw err;
        return v as string | null;
      });
      return { revision: Number(rev ?? 0), epoch: epoch ? (JSON.parse(epoch) as StoreEpoch) : undefined };
    } catch (err) {
      throw storeError(err, 'reading the store state');
    }
  }

  /**
   * Starts a new epoch: workers that reported this store lost take its current contents as the truth
   * again. `restored`: written by a restore from an export; `accepted`: an operator accepted the store
   * as it is (possibly empty) with `vigil bank accept`.
   */
  async newEpoch(reason: 'restored' | 'accepted', actor?: string): Promise<StoreEpoch> {
    const epoch: StoreEpoch = { id: randomBytes(8).toString('hex'), reason, at: new Date().toISOString(), ...(actor ? { actor } : {}) };
    try {
      await this.#redis.multi().set(`${this.#p}:epoch`, JSON.stringify(epoch)).incr(`${this.#p}:rev`).exec();
    } catch (err) {
      throw storeError(err, 'starting a new store epoch');
    }
    return epoch;
  }

  /** The first change to an empty store gives it an epoch; later changes keep it. */
  #ensureEpoch(tx: ReturnType<RedisClient['multi']>): void {
    const epoch: StoreEpoch = { id: randomBytes(8).toString('hex'), reason: 'created', at: new Date().toISOString() };
    tx.set(`${this.#p}:epoch`, JSON.stringify(epoch), 'NX');
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

  /** Every bank and the hash banks' snapshots, read together (one MULTI) so they describe the same moment. */
  async listWithSnapshots(): Promise<{ banks: BankMeta[]; snapshots: Map<string, SnapshotDescriptor> }> {
    try {
      const [metas, snaps] = ((await this.#redis.multi().hgetall(`${this.#p}:meta`).hgetall(this.#snapIndexKey()).exec()) ?? []).map(([err, v]) => {
        if (err) throw err;
        return v as Record<string, string>;
      });
      return {
        banks: Object.values(metas ?? {})
          .map((v) => JSON.parse(v) as BankMeta)
          .sort((a, b) => a.id.localeCompare(b.id)),
        snapshots: new Map(Object.entries(snaps ?? {}).map(([id, v]) => [id, JSON.parse(v) as SnapshotDescriptor])),
      };
    } catch (err) {
      throw storeError(err, 'listing banks');
    }
  }

  async snapshotOf(id: string): Promise<SnapshotDescriptor | undefined> {
    const raw = await this.#redis.hget(this.#snapIndexKey(), id).catch((err: unknown) => {
      throw storeError(err, 'reading a bank snapshot');
    });
    return raw ? (JSON.parse(raw) as SnapshotDescriptor) : undefined;
  }

  /** The snapshot's bytes (one buffer, 4-byte aligned), or why not: a chunk is gone, or the bytes are not what was written. */
  async readSnapshot(id: string, snap: SnapshotDescriptor): Promise<SnapshotRead> {
    // A buffer of its own (not from the shared pool): the snapshot's word sections are viewed in place.
    // Shared memory, so the PDQ index built over its words can be searched by a thread as it is.
    const bytes = Buffer.from(new SharedArrayBuffer(snap.bytes));
    let at = 0;
    try {
      for (let c = 0; c < snap.chunks; c++) {
        const chunk = await this.#redis.getBuffer(this.#snapKey({ id, generation: snap.generation }, snap.revision, c));
        if (!chunk) return { ok: false, reason: 'missing' };
        if (at + chunk.length > bytes.length) return { ok: false, reason: 'checksum' };
        chunk.copy(bytes, at);
        at += chunk.length;
      }
    } catch (err) {
      throw storeError(err, `reading the snapshot of bank ${id}`);
    }
    if (at !== bytes.length || snapshotChecksum(bytes) !== snap.sha256) return { ok: false, reason: 'checksum' };
    return { ok: true, bytes };
  }

  #snapIndexKey(): string {
    return `${this.#p}:snap`;
  }

  /** Keyed by generation and revision, like deltas: a re-created bank never reads the old bank's snapshot. */
  #snapKey(meta: Pick<BankMeta, 'id' | 'generation'>, revision: number, chunk: number): string {
    return `${this.#p}:snap:${meta.id}:${meta.generation ?? ''}:${revision}:${chunk}`;
  }

  /** Writes the snapshot of the hash stored at `key` (the lock keeps writers out while it is read). */
  async #writeSnapshot(key: string, meta: BankMeta): Promise<SnapshotDescriptor> {
    const writer = new BankSnapshotWriter();
    let cursor = '0';
    do {
      const [next, fields] = await this.#redis.hscan(key, cursor, 'COUNT', 10_000);
      cursor = next;
      for (let i = 0; i < fields.length; i += 2) {
        const field = fields[i] ?? '';
        const sep = field.indexOf(':');
        const type = field.slice(0, sep) as HashType;
        const record = fields[i + 1] ?? '';
        const tab = record.indexOf('\t');
        writer.add(type, field.slice(sep + 1), tab < 0 ? record : record.slice(0, tab));
      }
    } while (cursor !== '0');
    const bytes = writer.finish();
    const chunks = Math.max(1, Math.ceil(bytes.length / this.#chunkBytes));
    for (let c = 0; c < chunks; c++)
      await this.#redis.set(this.#snapKey(meta, meta.revision, c), bytes.subarray(c * this.#chunkBytes, (c + 1) * this.#chunkBytes));
    return {
      revision: meta.revision,
      generation: meta.generation,
      chunks,
      bytes: bytes.length,
      sha256: snapshotChecksum(bytes),
      entries: writer.entries,
      pending: 0,
      at: new Date().toISOString(),
    };
  }

  /**
   * The snapshot a committed hash-bank change leaves: the previous one when the change is a small
   * recorded delta on top of it, else a new one written from `key` (what the bank holds after the change).
   */
  async #snapshotFor(
    key: string,
    meta: BankMeta,
    delta: string | undefined,
    changed: number,
  ): Promise<{ snap: SnapshotDescriptor; fresh: boolean; previous: SnapshotDescriptor | undefined }> {
    const previous = await this.snapshotOf(meta.id);
    const fits =
      previous !== undefined &&
      delta !== undefined &&
      previous.generation === meta.generation &&
      meta.revision - previous.revision <= SNAPSHOT_MAX_BEHIND &&
      previous.pending + changed <= Math.max(SNAPSHOT_MIN_PENDING, previous.entries * SNAPSHOT_MAX_PENDING_SHARE);
    if (fits) return { snap: { ...previous, pending: previous.pending + changed }, fresh: false, previous };
    return { snap: await this.#writeSnapshot(key, meta), fresh: true, previous };
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
    if (ok !== 'OK')
      throw new VigilError(
        'BANK_BUSY',
        `bank "${id}" is being changed by another import; try again when it finishes (a crashed import's lock expires within ${LOCK_TTL_S} s)`,
      );
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
      const staging = `${live}:staging:${randomBytes(4).toString('hex')}`;
      const target = replace ? staging : live;
      // An append to a hash bank also records what it added, so workers can patch the bank they hold
      // instead of re-reading all of it. A replacement, a new kind or a huge change means a full reload.
      const kind = options.kind ?? existing?.kind ?? 'block';
      let delta: string | undefined =
        type === 'hash' && !replace && existing !== undefined && kind === existing.kind && options.restoredFrom === undefined ? `${staging}:delta` : undefined;
      let written = 0;
      try {
        for await (const batch of batches) {
          if (batch.length === 0) continue;
          const tx = this.#redis.multi().hset(target, Object.fromEntries(batch));
          if (delta) tx.rpush(delta, ...batch.map(([field, value]) => `+${field}\t${value}`));
          await tx.exec();
          written += batch.length;
          if (delta && written > DELTA_MAX_ENTRIES) {
            await this.#redis.del(delta);
            delta = undefined;
          }
          await refresh();
          options.onProgress?.(written);
        }
        // The lock keeps other writers out, so the size read here is the size committed below.
        const entries = written === 0 && replace ? 0 : await this.#redis.hlen(target);
        const meta: BankMeta = {
          id,
          type,
          kind,
          enabled: existing?.enabled ?? true,
          revision: (existing?.revision ?? 0) + 1,
          // A restore writes a new generation: its contents are not the old revisions' history.
          generation: options.restoredFrom !== undefined ? newGeneration() : (existing?.generation ?? newGeneration()),
          entries,
          updatedAt: new Date().toISOString(),
          ...((options.description ?? existing?.description) ? { description: options.description ?? existing?.description } : {}),
          ...(options.restoredFrom !== undefined ? { restoredFrom: options.restoredFrom } : {}),
          ...(options.enabled !== undefined ? { enabled: options.enabled } : {}),
        };
        const snapshot = type === 'hash' ? await this.#snapshotFor(target, meta, delta, written) : undefined;
        const tx = this.#redis.multi();
        if (replace) {
          if (written > 0) tx.rename(staging, live);
          else tx.del(live);
        }
        this.#commit(tx, meta, delta, snapshot);
        await tx.exec();
        return { written, entries, revision: meta.revision };
      } catch (err) {
        await this.#redis.del(staging, `${staging}:delta`).catch(() => undefined);
        throw storeError(err, `importing bank ${id}`);
      }
    });
  }

  /** Publishes a new revision (and the delta and snapshot that lead to it) in the caller's MULTI. */
  #commit(
    tx: ReturnType<RedisClient['multi']>,
    meta: BankMeta,
    delta: string | undefined,
    snapshot?: { snap: SnapshotDescriptor; fresh: boolean; previous: SnapshotDescriptor | undefined },
  ): void {
    // The empty line makes the list exist even for a change of nothing; readers skip it.
    if (delta) {
      tx.rpush(delta, '').rename(delta, this.#deltaKey(meta, meta.revision));
      // A delta the snapshot needs to reach this revision lives as long as the snapshot does.
      if (!snapshot || snapshot.fresh) tx.expire(this.#deltaKey(meta, meta.revision), DELTA_TTL_S);
    }
    if (snapshot) {
      if (snapshot.fresh && snapshot.previous) this.#retireSnapshot(tx, meta.id, snapshot.previous, meta.revision);
      tx.hset(this.#snapIndexKey(), meta.id, JSON.stringify(snapshot.snap));
    }
    this.#ensureEpoch(tx);
    tx.hset(`${this.#p}:meta`, meta.id, JSON.stringify(meta)).incr(`${this.#p}:rev`);
  }

  /**
   * A superseded snapshot expires after a grace period; the deltas that led from it to `upTo` get the
   * ordinary delta lifetime back (workers holding those revisions still patch from them).
   */
  #retireSnapshot(tx: ReturnType<RedisClient['multi']>, id: string, old: SnapshotDescriptor, upTo: number): void {
    const bank = { id, generation: old.generation };
    for (let c = 0; c < old.chunks; c++) tx.expire(this.#snapKey(bank, old.revision, c), SNAPSHOT_GRACE_S);
    for (let r = old.revision + 1; r <= Math.min(upTo, old.revision + SNAPSHOT_MAX_BEHIND + 1); r++) tx.expire(this.#deltaKey(bank, r), DELTA_TTL_S);
  }

  /** Keyed by generation too, so a re-created bank never picks up the old bank's changes. */
  #deltaKey(meta: Pick<BankMeta, 'id' | 'generation'>, revision: number): string {
    return `${this.#p}:delta:${meta.id}:${meta.generation ?? ''}:${revision}`;
  }

  /**
   * The changes from revision `from` to `to` of a hash bank, in order, or undefined when any step is
   * not recorded (a replacement, an expired delta, a change too large to record).
   */
  async hashDeltas(bank: Pick<BankMeta, 'id' | 'generation'>, from: number, to: number): Promise<HashBankChange[] | undefined> {
    const id = bank.id;
    if (to <= from || to - from > 1000) return undefined;
    const tx = this.#redis.multi();
    for (let r = from + 1; r <= to; r++) tx.exists(this.#deltaKey(bank, r)).lrange(this.#deltaKey(bank, r), 0, -1);
    const results =
      (await tx.exec().catch((err: unknown) => {
        throw storeError(err, `reading changes of bank ${id}`);
      })) ?? [];
    const changes: HashBankChange[] = [];
    for (let i = 0; i < results.length; i += 2) {
      if (results[i]?.[1] !== 1) return undefined;
      for (const line of (results[i + 1]?.[1] as string[] | undefined) ?? []) {
        if (line === '') continue;
        const tab = line.indexOf('\t');
        const key = tab < 0 ? line.slice(1) : line.slice(1, tab);
        const sep = key.indexOf(':');
        const hashType = key.slice(0, sep) as HashType;
        const value = key.slice(sep + 1);
        changes.push(line[0] === '+' ? { op: 'add', entry: decodeHashRecord(hashType, value, line.slice(tab + 1)) } : { op: 'remove', type: hashType, value });
      }
    }
    return changes;
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
      const delta =
        meta.type === 'hash' && keys.length <= DELTA_MAX_ENTRIES ? `${this.#entriesKey(id)}:staging:${randomBytes(4).toString('hex')}:delta` : undefined;
      try {
        for (let i = 0; i < keys.length; i += 10_000) {
          const chunk = keys.slice(i, i + 10_000);
          removed += await this.#redis.hdel(this.#entriesKey(id), ...chunk);
          if (delta) await this.#redis.rpush(delta, ...chunk.map((k) => `-${k}`));
        }
        const entries = await this.#redis.hlen(this.#entriesKey(id));
        const next: BankMeta = { ...meta, revision: meta.revision + 1, entries, updatedAt: new Date().toISOString() };
        const snapshot = meta.type === 'hash' ? await this.#snapshotFor(this.#entriesKey(id), next, delta, keys.length) : undefined;
        const tx = this.#redis.multi();
        this.#commit(tx, next, delta, snapshot);
        await tx.exec();
        return { written: removed, entries, revision: next.revision };
      } catch (err) {
        if (delta) await this.#redis.del(delta).catch(() => undefined);
        throw storeError(err, `removing entries of bank ${id}`);
      }
    });
  }

  async removeBank(id: string): Promise<void> {
    const meta = await this.#require(id);
    const snap = await this.snapshotOf(id);
    const tx = this.#redis.multi().del(this.#entriesKey(id)).hdel(`${this.#p}:meta`, id).hdel(this.#snapIndexKey(), id);
    if (snap) this.#retireSnapshot(tx, id, snap, meta.revision);
    this.#ensureEpoch(tx);
    await tx.incr(`${this.#p}:rev`).exec();
  }

  /** Disabling keeps the entries: a bank can be switched off during an incident and back on later. */
  async setEnabled(id: string, enabled: boolean): Promise<BankMeta> {
    const meta = await this.#require(id);
    const next = { ...meta, enabled, updatedAt: new Date().toISOString() };
    const tx = this.#redis.multi().hset(`${this.#p}:meta`, id, JSON.stringify(next));
    this.#ensureEpoch(tx);
    await tx.incr(`${this.#p}:rev`).exec();
    return next;
  }
}
