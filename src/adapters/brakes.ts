/**
 * False-positive brakes and deconfirmed bank entries, in the bank-store Redis.
 *
 * After each decision the worker counts, per live rule and per bank entry used as evidence, hits in
 * hourly and daily buckets, and automated actions per rule per UTC day. A rule or entry whose count
 * this hour reaches `brakes.flood.minCount` and exceeds `factor` × its mean hourly count over the
 * previous `baselineHours` is quarantined (review-only) — with a metric, an error log and an audit
 * entry. `decide` reads all of it as a snapshot (`counters()`), served from memory and refreshed
 * every poll, so it stays pure. Counts are ids only.
 *
 * Keys (under `${prefix}:vigil`): `rate:h:YYYYMMDDHH` and `rate:d:YYYYMMDD` (hash: `rule:ID` /
 * `entry:BANK/ENTRY` → hits), `actions:d:YYYYMMDD` (hash: rule id → automated actions),
 * `brakes:quarantine` (hash: key → JSON), `brakes:released` (hash: key → ms until which the flood
 * check leaves it alone), `deconfirmed` (hash: BANK/ENTRY → JSON).
 */
import type { RedisClient } from './bullmq/connection.js';
import { VigilError } from '../core/errors.js';
import { isAutomated, type DecisionCounters, type Policy, type Verdict } from '../core/policy.js';
import { RedisAuditLog } from './audit-log.js';

export interface QuarantineRecord {
  key: string;
  at: string;
  hourCount: number;
  baseline: number;
  factor: number;
  by: string;
}

export interface DeconfirmRecord {
  bank: string;
  entry: string;
  at: string;
  actor: string;
  reason: string;
}

const HOUR = 3600_000;
const pad = (n: number) => String(n).padStart(2, '0');
export const dayKey = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
};
export const hourKey = (ms: number) => `${dayKey(ms)}${pad(new Date(ms).getUTCHours())}`;

function unavailable(err: unknown, what: string): VigilError {
  if (err instanceof VigilError) return err;
  return new VigilError('QUEUE_UNAVAILABLE', `brakes: ${what} failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
}

export interface FloodEvent {
  key: string;
  hourCount: number;
  baseline: number;
}

export class RedisBrakes {
  readonly #redis: RedisClient;
  readonly #k: string;
  readonly audit: RedisAuditLog;
  #snapshot: DecisionCounters = { quarantinedRules: new Set(), quarantinedEntries: new Set(), actionsToday: {}, deconfirmed: new Set() };
  #snapshotDay = '';
  #released = new Map<string, number>();
  /** Keys whose flood check ran recently (key → ms), so a busy key is not re-checked on every hit. */
  #checked = new Map<string, number>();

  constructor(
    redis: RedisClient,
    prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.#redis = redis;
    this.#k = `${prefix}:vigil`;
    this.audit = new RedisAuditLog(redis, prefix);
  }

  counters(): DecisionCounters {
    return this.#snapshot;
  }

  /** Re-reads quarantines, deconfirmations and today's action counts into a new snapshot. */
  async refresh(): Promise<DecisionCounters> {
    const day = dayKey(this.now());
    try {
      const [q, dec, actions, released] = await Promise.all([
        this.#redis.hkeys(`${this.#k}:brakes:quarantine`),
        this.#redis.hkeys(`${this.#k}:deconfirmed`),
        this.#redis.hgetall(`${this.#k}:actions:d:${day}`),
        this.#redis.hgetall(`${this.#k}:brakes:released`),
      ]);
      this.#released = new Map(Object.entries(released).map(([k, v]) => [k, Number(v)]));
      this.#snapshotDay = day;
      this.#snapshot = Object.freeze({
        quarantinedRules: new Set(q.filter((k) => k.startsWith('rule:')).map((k) => k.slice(5))),
        quarantinedEntries: new Set(q.filter((k) => k.startsWith('entry:')).map((k) => k.slice(6))),
        actionsToday: Object.freeze(Object.fromEntries(Object.entries(actions).map(([k, v]) => [k, Number(v)]))),
        deconfirmed: new Set(dec),
      });
    } catch (err) {
      throw unavailable(err, 'refreshing counters');
    }
    return this.#snapshot;
  }

  /**
   * Counts one decision's live rule hits and evidence entries, and automated actions; runs the flood
   * check on keys that crossed `minCount`, quarantining (and returning) any that flood.
   */
  async record(verdict: Verdict, policy: Policy): Promise<FloodEvent[]> {
    const live = verdict.hits.filter((h) => h.status === 'live');
    if (live.length === 0) return [];
    const t = this.now();
    const hKey = `${this.#k}:rate:h:${hourKey(t)}`;
    const dKey = `${this.#k}:rate:d:${dayKey(t)}`;
    const aKey = `${this.#k}:actions:d:${dayKey(t)}`;
    const fields = [...new Set(live.flatMap((h) => [`rule:${h.ruleId}`, ...h.entries.map((e) => `entry:${e}`)]))];
    const automated = live.filter((h) => h.outcomes.some((o) => isAutomated(o.action))).map((h) => h.ruleId);
    const multi = this.#redis.multi();
    for (const f of fields) {
      multi.hincrby(hKey, f, 1);
      multi.hincrby(dKey, f, 1);
    }
    for (const r of automated) multi.hincrby(aKey, r, 1);
    multi.expire(hKey, 8 * 24 * 3600);
    multi.expire(dKey, 35 * 24 * 3600);
    multi.expire(aKey, 3 * 24 * 3600);
    let results: [Error | null, unknown][] | null;
    try {
      results = await multi.exec();
    } catch (err) {
      throw unavailable(err, 'counting');
    }
    if (!results) return [];
    const hourCounts = new Map<string, number>();
    fields.forEach((f, i) => hourCounts.set(f, Number(results?.[i * 2]?.[1] ?? 0)));
    const actionCounts: Record<string, number> = {};
    automated.forEach((r, i) => (actionCounts[r] = Number(results?.[fields.length * 2 + i]?.[1] ?? 0)));
    // Today's counts from Redis are at least as fresh as the snapshot's: fold them in at once, so the cap holds between refreshes.
    if (automated.length) {
      const day = dayKey(t);
      const base = this.#snapshotDay === day ? this.#snapshot.actionsToday : {};
      this.#snapshotDay = day;
      this.#snapshot = Object.freeze({ ...this.#snapshot, actionsToday: Object.freeze({ ...base, ...actionCounts }) });
    }
    const flood = policy.document.brakes.flood;
    const floods: FloodEvent[] = [];
    for (const [field, count] of hourCounts) {
      if (count < flood.minCount || this.#isQuarantined(field) || (this.#released.get(field) ?? 0) > t) continue;
      const last = this.#checked.get(field) ?? 0;
      // A key above minCount is re-checked at most every 5 s: the baseline read costs baselineHours fields.
      if (t - last < 5000) continue;
      this.#checked.set(field, t);
      if (this.#checked.size > 100_000) this.#checked.clear();
      const baseline = await this.#baseline(field, t, flood.baselineHours);
      if (count > flood.factor * baseline) {
        const q = await this.quarantine(field, { hourCount: count, baseline, factor: flood.factor, by: 'vigil-brakes' });
        if (q) floods.push({ key: field, hourCount: count, baseline });
      }
    }
    return floods;
  }

  #isQuarantined(field: string): boolean {
    return field.startsWith('rule:') ? this.#snapshot.quarantinedRules.has(field.slice(5)) : this.#snapshot.quarantinedEntries.has(field.slice(6));
  }

  async #baseline(field: string, t: number, hours: number): Promise<number> {
    const multi = this.#redis.multi();
    for (let i = 1; i <= hours; i++) multi.hget(`${this.#k}:rate:h:${hourKey(t - i * HOUR)}`, field);
    const r = (await multi.exec()) ?? [];
    return r.reduce((sum, [, v]) => sum + Number(v ?? 0), 0) / hours;
  }

  /** Quarantines a `rule:ID` or `entry:BANK/ENTRY` key; false if it already was. Audited. */
  async quarantine(key: string, info: { hourCount: number; baseline: number; factor: number; by: string; reason?: string }): Promise<boolean> {
    const record: QuarantineRecord = {
      key,
      at: new Date(this.now()).toISOString(),
      hourCount: info.hourCount,
      baseline: info.baseline,
      factor: info.factor,
      by: info.by,
    };
    try {
      const added = await this.#redis.hsetnx(`${this.#k}:brakes:quarantine`, key, JSON.stringify(record));
      if (!added) return false;
      await this.audit.append({
        actor: info.by,
        action: 'brake.quarantine',
        target: key,
        reason: info.reason ?? `flood: ${info.hourCount} hits this hour, baseline ${info.baseline.toFixed(2)}/h, factor ${info.factor}`,
        after: 'review-only',
      });
    } catch (err) {
      throw unavailable(err, 'quarantining');
    }
    const s = this.#snapshot;
    this.#snapshot = Object.freeze({
      ...s,
      quarantinedRules: key.startsWith('rule:') ? new Set([...s.quarantinedRules, key.slice(5)]) : s.quarantinedRules,
      quarantinedEntries: key.startsWith('entry:') ? new Set([...s.quarantinedEntries, key.slice(6)]) : s.quarantinedEntries,
    });
    return true;
  }

  /** Lifts a quarantine; the flood check leaves the key alone for `graceMs` so it is not re-quarantined at once. Audited. */
  async release(key: string, meta: { actor: string; reason: string; graceMs?: number }): Promise<boolean> {
    const multi = this.#redis.multi();
    multi.hdel(`${this.#k}:brakes:quarantine`, key);
    multi.hset(`${this.#k}:brakes:released`, key, String(this.now() + (meta.graceMs ?? 2 * HOUR)));
    this.audit.appendIn(multi, { actor: meta.actor, action: 'brake.release', target: key, reason: meta.reason, before: 'review-only', after: 'live' });
    const r = await multi.exec().catch((err: unknown) => {
      throw unavailable(err, 'releasing');
    });
    return Number(r?.[0]?.[1] ?? 0) === 1;
  }

  async quarantined(): Promise<QuarantineRecord[]> {
    const all = await this.#redis.hgetall(`${this.#k}:brakes:quarantine`).catch((err: unknown) => {
      throw unavailable(err, 'listing quarantines');
    });
    return Object.values(all).map((v) => JSON.parse(v) as QuarantineRecord);
  }

  async actionsToday(): Promise<Record<string, number>> {
    const all = await this.#redis.hgetall(`${this.#k}:actions:d:${dayKey(this.now())}`);
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, Number(v)]));
  }

  /** Hits per hour for a key over the last `hours` (oldest first), for `vigil policy brakes`. */
  async hourly(key: string, hours: number): Promise<number[]> {
    const t = this.now();
    const multi = this.#redis.multi();
    for (let i = hours - 1; i >= 0; i--) multi.hget(`${this.#k}:rate:h:${hourKey(t - i * HOUR)}`, key);
    return ((await multi.exec()) ?? []).map(([, v]) => Number(v ?? 0));
  }

  /** Marks a bank entry a known false positive: its signals are dropped before any rule. Audited; reversible. */
  async deconfirm(bank: string, entry: string, meta: { actor: string; reason: string }): Promise<boolean> {
    const record: DeconfirmRecord = { bank, entry, at: new Date(this.now()).toISOString(), actor: meta.actor, reason: meta.reason };
    if (await this.#redis.hexists(`${this.#k}:deconfirmed`, `${bank}/${entry}`)) return false;
    const multi = this.#redis.multi();
    multi.hsetnx(`${this.#k}:deconfirmed`, `${bank}/${entry}`, JSON.stringify(record));
    this.audit.appendIn(multi, {
      actor: meta.actor,
      action: 'bank.deconfirm',
      target: `${bank}/${entry}`,
      reason: meta.reason,
      before: 'confirmed',
      after: 'deconfirmed',
    });
    const r = await multi.exec().catch((err: unknown) => {
      throw unavailable(err, 'deconfirming');
    });
    return Number(r?.[0]?.[1] ?? 0) === 1;
  }

  async reconfirm(bank: string, entry: string, meta: { actor: string; reason: string }): Promise<boolean> {
    if (!(await this.#redis.hexists(`${this.#k}:deconfirmed`, `${bank}/${entry}`))) return false;
    const multi = this.#redis.multi();
    multi.hdel(`${this.#k}:deconfirmed`, `${bank}/${entry}`);
    this.audit.appendIn(multi, {
      actor: meta.actor,
      action: 'bank.reconfirm',
      target: `${bank}/${entry}`,
      reason: meta.reason,
      before: 'deconfirmed',
      after: 'confirmed',
    });
    const r = await multi.exec().catch((err: unknown) => {
      throw unavailable(err, 'reconfirming');
    });
    return Number(r?.[0]?.[1] ?? 0) === 1;
  }

  async deconfirmed(): Promise<DeconfirmRecord[]> {
    const all = await this.#redis.hgetall(`${this.#k}:deconfirmed`).catch((err: unknown) => {
      throw unavailable(err, 'listing deconfirmed entries');
    });
    return Object.values(all).map((v) => JSON.parse(v) as DeconfirmRecord);
  }
}
