/**
 * The versioned policy store in the bank-store Redis. Each applied policy is kept as a numbered
 * version (1, 2, …) with its YAML text, content hash, actor, time and reason; `live` points at one of
 * them. A policy is compiled before anything is written, so an invalid one is refused and the live
 * version stays. Every change and its audit entry are written in one MULTI.
 *
 * Keys (all under `${prefix}:vigil:policy`): `seq` (counter), `versions` (hash n → record JSON),
 * `live` (n), `candidate` (record JSON of the shadow candidate, if any).
 */
import type { RedisClient } from './bullmq/connection.js';
import { VigilError } from '../core/errors.js';
import { diffPolicies, ruleOrderChanged, type Policy } from '../core/policy.js';
import type { PolicySnapshot, PolicySource } from '../core/policy-source.js';
import type { Logger } from '../logger.js';
import { RedisAuditLog } from './audit-log.js';
import { loadPolicyFile, parsePolicyText } from './policy-file.js';
import { stat } from 'node:fs/promises';

export interface PolicyVersionRecord {
  version: number;
  /** Content hash (`policyVersion` on flags). */
  hash: string;
  source: string;
  appliedAt: string;
  actor: string;
  reason: string;
}

export interface CandidateRecord {
  hash: string;
  source: string;
  setAt: string;
  actor: string;
  reason: string;
}

function unavailable(err: unknown, what: string): VigilError {
  if (err instanceof VigilError) return err;
  return new VigilError('QUEUE_UNAVAILABLE', `policy store: ${what} failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
}

export function describeDiff(before: Policy | undefined, after: Policy): string {
  if (!before) return `first version: ${after.document.rules.length} rule(s) (${after.document.rules.map((r) => r.id).join(', ')})`;
  const lines = diffPolicies(before?.document, after.document);
  if (ruleOrderChanged(before?.document, after.document)) lines.push('~ rule order changed (order decides which rule claims a signal)');
  return lines.join('\n');
}

export class RedisPolicyStore {
  readonly #redis: RedisClient;
  readonly #k: string;
  readonly audit: RedisAuditLog;

  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis;
    this.#k = `${prefix}:vigil:policy`;
    this.audit = new RedisAuditLog(redis, prefix);
  }

  async liveVersion(): Promise<number | undefined> {
    const v = await this.#redis.get(`${this.#k}:live`).catch((err: unknown) => {
      throw unavailable(err, 'reading the live version');
    });
    return v === null ? undefined : Number(v);
  }

  async get(version: number): Promise<PolicyVersionRecord | undefined> {
    const raw = await this.#redis.hget(`${this.#k}:versions`, String(version)).catch((err: unknown) => {
      throw unavailable(err, 'reading a version');
    });
    return raw ? (JSON.parse(raw) as PolicyVersionRecord) : undefined;
  }

  async live(): Promise<PolicyVersionRecord | undefined> {
    const n = await this.liveVersion();
    return n === undefined ? undefined : this.get(n);
  }

  async history(): Promise<PolicyVersionRecord[]> {
    const all = await this.#redis.hgetall(`${this.#k}:versions`).catch((err: unknown) => {
      throw unavailable(err, 'reading the history');
    });
    return Object.values(all)
      .map((v) => JSON.parse(v) as PolicyVersionRecord)
      .sort((a, b) => a.version - b.version);
  }

  async candidate(): Promise<CandidateRecord | undefined> {
    const raw = await this.#redis.get(`${this.#k}:candidate`).catch((err: unknown) => {
      throw unavailable(err, 'reading the candidate');
    });
    return raw ? (JSON.parse(raw) as CandidateRecord) : undefined;
  }

  /** Both pointers in one round trip, for workers polling for a change. */
  async pointers(): Promise<{ live?: number; candidateHash?: string }> {
    const [live, cand] = await this.#redis.mget(`${this.#k}:live`, `${this.#k}:candidate`).catch((err: unknown) => {
      throw unavailable(err, 'polling');
    });
    const out: { live?: number; candidateHash?: string } = {};
    if (live) out.live = Number(live);
    if (cand) out.candidateHash = (JSON.parse(cand) as CandidateRecord).hash;
    return out;
  }

  compileRecord(r: PolicyVersionRecord): Policy {
    return parsePolicyText(r.source, `policy version ${r.version}`, { revision: r.version });
  }

  /**
   * Validates `source` and makes it the live version. Refused (POLICY_INVALID, nothing written) if
   * it does not compile; a policy identical to the live one is not applied twice (`changed: false`).
   */
  async apply(
    source: string,
    meta: { actor: string; reason: string; origin?: string; filePolicy?: Policy },
  ): Promise<{ changed: boolean; record: PolicyVersionRecord; before?: number; diff: string }> {
    const policy = parsePolicyText(source, meta.origin ?? 'policy');
    for (let attempt = 0; attempt < 10; attempt++) {
      await this.#redis.watch(`${this.#k}:live`);
      try {
        const beforeRecord = await this.live();
        const before = beforeRecord ? this.compileRecord(beforeRecord) : undefined;
        if (beforeRecord && before?.version === policy.version) {
          await this.#redis.unwatch();
          return { changed: false, record: beforeRecord, before: beforeRecord.version, diff: '' };
        }
        const version = await this.#redis.incr(`${this.#k}:seq`);
        const record: PolicyVersionRecord = {
          version,
          hash: policy.version,
          source,
          appliedAt: new Date().toISOString(),
          actor: meta.actor,
          reason: meta.reason,
        };
        // With an empty store, workers run the file policy: the first version is a change from that.
        const diff =
          !before && meta.filePolicy
            ? `against the file policy (${meta.filePolicy.version}):\n${describeDiff(meta.filePolicy, policy) || 'no changes'}`
            : describeDiff(before, policy);
        const multi = this.#redis.multi();
        multi.hset(`${this.#k}:versions`, String(version), JSON.stringify(record));
        multi.set(`${this.#k}:live`, String(version));
        this.audit.appendIn(multi, {
          actor: meta.actor,
          action: 'policy.apply',
          target: 'policy',
          reason: meta.reason,
          ...(beforeRecord ? { before: `v${beforeRecord.version} ${beforeRecord.hash}` } : {}),
          after: `v${version} ${policy.version}`,
          diff,
        });
        // EXEC answers null when another apply or rollback moved `live` meanwhile: read again and retry.
        if ((await multi.exec()) === null) continue;
        return { changed: true, record, ...(beforeRecord ? { before: beforeRecord.version } : {}), diff };
      } catch (err) {
        await this.#redis.unwatch().catch(() => undefined);
        throw unavailable(err, 'applying a policy');
      }
    }
    throw new VigilError('QUEUE_UNAVAILABLE', 'policy store: the live version kept changing during apply; try again', { retriable: true });
  }

  /** Makes an earlier version live again (no new version is created; the audit log records the move). */
  async rollback(version: number, meta: { actor: string; reason: string }): Promise<{ before?: number; record: PolicyVersionRecord; diff: string }> {
    const record = await this.get(version);
    if (!record) throw new VigilError('POLICY_VERSION_UNKNOWN', `no policy version ${version} in the store (see \`vigil policy history\`)`);
    const target = this.compileRecord(record);
    for (let attempt = 0; attempt < 10; attempt++) {
      await this.#redis.watch(`${this.#k}:live`);
      try {
        const beforeRecord = await this.live();
        const before = beforeRecord ? this.compileRecord(beforeRecord) : undefined;
        const diff = describeDiff(before, target);
        const multi = this.#redis.multi();
        multi.set(`${this.#k}:live`, String(version));
        this.audit.appendIn(multi, {
          actor: meta.actor,
          action: 'policy.rollback',
          target: 'policy',
          reason: meta.reason,
          ...(beforeRecord ? { before: `v${beforeRecord.version} ${beforeRecord.hash}` } : {}),
          after: `v${version} ${record.hash}`,
          diff,
        });
        if ((await multi.exec()) === null) continue;
        return { ...(beforeRecord ? { before: beforeRecord.version } : {}), record, diff };
      } catch (err) {
        await this.#redis.unwatch().catch(() => undefined);
        throw unavailable(err, 'rolling back');
      }
    }
    throw new VigilError('QUEUE_UNAVAILABLE', 'policy store: the live version kept changing during rollback; try again', { retriable: true });
  }

  /** Sets (or with `source` undefined, clears) the candidate policy that workers run in shadow. */
  async setCandidate(source: string | undefined, meta: { actor: string; reason: string; origin?: string }): Promise<CandidateRecord | undefined> {
    const old = await this.candidate();
    const multi = this.#redis.multi();
    let record: CandidateRecord | undefined;
    if (source === undefined) {
      multi.del(`${this.#k}:candidate`);
      this.audit.appendIn(multi, {
        actor: meta.actor,
        action: 'policy.shadow.clear',
        target: 'policy-candidate',
        reason: meta.reason,
        ...(old ? { before: old.hash } : {}),
      });
    } else {
      const policy = parsePolicyText(source, meta.origin ?? 'candidate policy');
      const liveRecord = await this.live();
      record = { hash: policy.version, source, setAt: new Date().toISOString(), actor: meta.actor, reason: meta.reason };
      multi.set(`${this.#k}:candidate`, JSON.stringify(record));
      const diff = describeDiff(liveRecord ? this.compileRecord(liveRecord) : undefined, policy);
      this.audit.appendIn(multi, {
        actor: meta.actor,
        action: 'policy.shadow.set',
        target: 'policy-candidate',
        reason: meta.reason,
        ...(old ? { before: old.hash } : {}),
        after: policy.version,
        diff,
      });
    }
    try {
      await multi.exec();
    } catch (err) {
      throw unavailable(err, 'setting the candidate');
    }
    return record;
  }
}

/**
 * The worker's policy: the store's live version when there is one, else the file (VIGIL_POLICY_FILE),
 * plus the store's shadow candidate. `reload()` checks both and swaps one new frozen snapshot in by
 * reference; anything invalid is logged and the previous snapshot stays.
 */
export class ReloadingPolicySource implements PolicySource {
  #snapshot: PolicySnapshot;
  #fileStamp: number;
  #filePolicy: Policy;
  #seen: { live?: number; candidateHash?: string } = {};

  private constructor(
    private readonly file: string,
    private readonly store: RedisPolicyStore | undefined,
    private readonly logger: Logger,
    filePolicy: Policy,
    fileStamp: number,
  ) {
    this.#filePolicy = filePolicy;
    this.#fileStamp = fileStamp;
    this.#snapshot = Object.freeze({ live: filePolicy, origin: 'file' });
  }

  /** Loads the file policy (failing loudly if invalid), then the store's, if any. */
  static async open(file: string, store: RedisPolicyStore | undefined, logger: Logger): Promise<ReloadingPolicySource> {
    const policy = await loadPolicyFile(file);
    const source = new ReloadingPolicySource(file, store, logger, policy, (await stat(file)).mtimeMs);
    if (store) await source.#reloadStore(true);
    return source;
  }

  current(): PolicySnapshot {
    return this.#snapshot;
  }

  async reload(): Promise<boolean> {
    const before = this.#snapshot;
    try {
      const stamp = (await stat(this.file)).mtimeMs;
      if (stamp !== this.#fileStamp) {
        const next = await loadPolicyFile(this.file);
        this.#fileStamp = stamp;
        this.#filePolicy = next;
        if (this.#snapshot.origin === 'file' && next.version !== this.#snapshot.live.version) {
          this.logger.info({ from: this.#snapshot.live.version, to: next.version }, 'policy reloaded');
          this.#snapshot = Object.freeze({ ...this.#snapshot, live: next });
        }
      }
    } catch (err) {
      this.logger.error({ err }, 'policy reload failed; keeping the previous policy');
    }
    if (this.store) await this.#reloadStore(false);
    return this.#snapshot !== before;
  }

  async #reloadStore(initial: boolean): Promise<void> {
    const store = this.store;
    if (!store) return;
    let polled: { live?: number; candidateHash?: string } | undefined;
    try {
      const p = await store.pointers();
      polled = p;
      if (!initial && p.live === this.#seen.live && p.candidateHash === this.#seen.candidateHash) return;
      let live = this.#snapshot.origin === 'store' ? this.#snapshot.live : this.#filePolicy;
      let origin: PolicySnapshot['origin'] = this.#snapshot.origin;
      if (p.live === undefined) {
        live = this.#filePolicy;
        origin = 'file';
      } else if (p.live !== this.#seen.live || this.#snapshot.origin !== 'store') {
        const record = await store.get(p.live);
        if (!record) throw new VigilError('POLICY_VERSION_UNKNOWN', `live policy version ${p.live} has no record in the store`);
        live = store.compileRecord(record);
        origin = 'store';
      }
      let candidate = this.#snapshot.candidate;
      if (p.candidateHash === undefined) candidate = undefined;
      else if (p.candidateHash !== this.#seen.candidateHash) {
        const c = await store.candidate();
        candidate = c ? parsePolicyText(c.source, 'candidate policy') : undefined;
      }
      const next: PolicySnapshot = Object.freeze({ live, origin, ...(candidate ? { candidate } : {}) });
      if (next.live !== this.#snapshot.live || next.candidate !== this.#snapshot.candidate) {
        this.logger.info(
          { from: this.#snapshot.live.version, to: live.version, revision: live.revision, origin, candidate: candidate?.version },
          'policy swapped',
        );
        this.#snapshot = next;
      }
      this.#seen = p;
    } catch (err) {
      this.logger.error({ err }, 'policy store reload failed; keeping the previous policy');
      // A stored version this worker cannot compile is not retried every poll; the next apply or rollback moves the pointer.
      if (polled && err instanceof VigilError && (err.code === 'POLICY_INVALID' || err.code === 'POLICY_VERSION_UNKNOWN')) this.#seen = polled;
    }
  }
}
