/**
 * The flag ledger, in the bank-store Redis (persistent, never content): a compact record of every
 * flag a worker emitted, the reviewer decisions on those flags, running precision, and the state of
 * replays.
 *
 * Why a ledger next to the moderation queue: the queue forgets a flag (its job and its dedupe key)
 * `VIGIL_DEDUPE_TTL_MS` after it was emitted, but a replay of last month's events must still know
 * that a flag was raised before, and a decision that arrives days later must still be attributed to
 * the rules, banks, entries and model labels that produced the flag. Records hold ids only and live
 * `VIGIL_FLAG_RECORD_RETENTION_S` (default 90 days).
 *
 * Keys (under `${prefix}:vigil`):
 * - `flag:FLAGID` (hash, TTL): `ev` evidence JSON ({rule,bank,entry,label} id lists), `c` category,
 *   `d` the latest decision, `dat` its time (ms).
 * - `precision:KIND` (hash, KIND rule|bank|entry|label): `ID\tDECISION` → count.
 * - `precision:proposed` (hash): `BANK/ENTRY` → JSON of the deconfirmation proposal.
 * - `replay:ID` (hash, TTL): published (cumulative over runs of the same id), open (set while a run
 *   publishes), done, flagsNew, flagsKnown, deadLetters, source, startedAt;
 *   `replay:ID:events` (hash, TTL): eventId → 1 once its outcome was counted.
 */
import type { RedisClient as Redis } from './bullmq/connection.js';
import type { Config } from '../config.js';
import type { Flag } from '../core/contracts.js';
import { DECISIONS, type Decision, type DecisionKind } from '../core/decision-contract.js';
import { VigilError } from '../core/errors.js';
import { evidenceOf, PRECISION_KINDS, precisionRow, type DecisionCounts, type FlagEvidence, type PrecisionKind, type PrecisionRow } from '../core/precision.js';
import { RedisAuditLog } from './audit-log.js';

function unavailable(err: unknown, what: string): VigilError {
  if (err instanceof VigilError) return err;
  return new VigilError('QUEUE_UNAVAILABLE', `flag ledger: ${what} failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
}

/**
 * Applies one decision atomically: counts it for every key of the flag's evidence (undoing the
 * flag's previous decision, so a retried or repeated decision never counts twice and a changed one
 * moves its counts), then lists the flag's entries that are now rejected `threshold` times or more
 * and are neither deconfirmed nor already proposed.
 * KEYS: flag, precision:rule, precision:bank, precision:entry, precision:label, deconfirmed, proposed.
 * ARGV: decision, decided-at ms, threshold. Returns {status, previous, candidates…}.
 */
const APPLY = `
local ev = redis.call('HGET', KEYS[1], 'ev')
if not ev then return {'unknown_flag', ''} end
local e = cjson.decode(ev)
local kinds = {'rule', 'bank', 'entry', 'label'}
local prev = redis.call('HGET', KEYS[1], 'd')
local prevAt = tonumber(redis.call('HGET', KEYS[1], 'dat') or '0')
local status
if prev == ARGV[1] then
  status = 'duplicate'
elseif prev and prevAt > tonumber(ARGV[2]) then
  status = 'stale'
else
  for i, k in ipairs(kinds) do
    for _, id in ipairs(e[k] or {}) do
      if prev then redis.call('HINCRBY', KEYS[1 + i], id .. '\\t' .. prev, -1) end
      redis.call('HINCRBY', KEYS[1 + i], id .. '\\t' .. ARGV[1], 1)
    end
  end
  redis.call('HSET', KEYS[1], 'd', ARGV[1], 'dat', ARGV[2])
  if prev then status = 'changed' else status = 'counted' end
end
local out = {status, prev or ''}
for _, id in ipairs(e['entry'] or {}) do
  local r = tonumber(redis.call('HGET', KEYS[4], id .. '\\trejected') or '0')
  if r >= tonumber(ARGV[3]) and redis.call('HEXISTS', KEYS[6], id) == 0 and redis.call('HEXISTS', KEYS[7], id) == 0 then
    table.insert(out, id .. '\\t' .. r)
  end
end
return out
`;

/** Counts one replayed event's outcome once, whatever the retries. KEYS: replay, replay events. ARGV: eventId, flagsNew, flagsKnown, deadLetters, ttl s. */
const REPLAY_DONE = `
if redis.call('HSETNX', KEYS[2], ARGV[1], 1) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('HINCRBY', KEYS[1], 'done', 1)
redis.call('HINCRBY', KEYS[1], 'flagsNew', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'flagsKnown', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'deadLetters', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
`;

export type DecisionOutcome = 'counted' | 'changed' | 'duplicate' | 'stale' | 'unknown_flag';

export interface DeconfirmProposal {
  bank: string;
  entry: string;
  rejected: number;
  threshold: number;
  flagId: string;
  at: string;
}

export interface AppliedDecision {
  outcome: DecisionOutcome;
  previous?: DecisionKind;
  /** Entries proposed for deconfirmation by this decision (written to the audit log). */
  proposals: DeconfirmProposal[];
}

export interface ReplayState {
  replayId: string;
  source: string;
  startedAt: string;
  /** Events put on the scan queue (distinct, after dedupe), once publishing has finished; -1 while it runs. */
  published: number;
  /** Events whose outcome (scanned or dead-lettered) a worker has counted. */
  done: number;
  flagsNew: number;
  flagsKnown: number;
  /** Dead-letter entries: lines or records that did not parse, and parts or events the workers could not scan. */
  deadLetters: number;
}

export interface FlagLedgerOptions {
  /** How long a flag's record (and so replay dedupe and decision attribution) lasts. */
  retentionS: number;
  /** How long a replay's progress is kept. */
  replayRetentionS?: number;
  /** An entry rejected this many times is proposed for deconfirmation. */
  rejectThreshold?: number;
}

export class RedisFlagLedger {
  readonly #redis: Redis;
  readonly #k: string;
  readonly #o: Required<FlagLedgerOptions>;
  readonly audit: RedisAuditLog;

  constructor(redis: Redis, prefix: string, options: FlagLedgerOptions) {
    this.#redis = redis;
    this.#k = `${prefix}:vigil`;
    this.#o = { replayRetentionS: 7 * 24 * 3600, rejectThreshold: 3, ...options };
    this.audit = new RedisAuditLog(redis, prefix);
  }

  #flagKey(flagId: string): string {
    return `${this.#k}:flag:${flagId}`;
  }

  /** Which of these flag ids the ledger already holds (emitted before, within the retention). */
  async known(flagIds: readonly string[]): Promise<boolean[]> {
    if (flagIds.length === 0) return [];
    try {
      const pipeline = this.#redis.pipeline();
      for (const id of flagIds) pipeline.exists(this.#flagKey(id));
      const replies = (await pipeline.exec()) ?? [];
      return flagIds.map((_, i) => {
        const [err, n] = replies[i] ?? [new Error('no reply'), 0];
        if (err) throw err;
        return Number(n) > 0;
      });
    } catch (err) {
      throw unavailable(err, 'reading flag records');
    }
  }

  /** Records emitted flags (ids only). A flag already recorded keeps its record and decision; its retention restarts. */
  async record(flags: readonly Flag[]): Promise<void> {
    if (flags.length === 0) return;
    const multi = this.#redis.multi();
    for (const f of flags) {
      const key = this.#flagKey(f.flagId);
      multi.hsetnx(key, 'ev', JSON.stringify(evidenceOf(f)));
      multi.hsetnx(key, 'c', f.category);
      multi.expire(key, this.#o.retentionS);
    }
    try {
      await multi.exec();
    } catch (err) {
      throw unavailable(err, 'recording flags');
    }
  }

  /** The evidence a flag is attributed to, or undefined when the ledger does not hold it. */
  async evidence(flagId: string): Promise<FlagEvidence | undefined> {
    try {
      const ev = await this.#redis.hget(this.#flagKey(flagId), 'ev');
      return ev === null ? undefined : (JSON.parse(ev) as FlagEvidence);
    } catch (err) {
      throw unavailable(err, 'reading a flag record');
    }
  }

  /**
   * Counts a decision (idempotent per flag: the latest decision, by `at`, is the one counted) and
   * writes a deconfirmation proposal to the audit log for each of the flag's entries that reached
   * the reject threshold. Proposed, never applied: `vigil bank deconfirm` stays a person's call.
   */
  async apply(decision: Decision): Promise<AppliedDecision> {
    const k = this.#k;
    const keys = [this.#flagKey(decision.flagId), ...PRECISION_KINDS.map((kind) => `${k}:precision:${kind}`), `${k}:deconfirmed`, `${k}:precision:proposed`];
    let reply: string[];
    try {
      reply = (await this.#redis.eval(
        APPLY,
        keys.length,
        ...keys,
        decision.decision,
        String(Date.parse(decision.at)),
        String(this.#o.rejectThreshold),
      )) as string[];
    } catch (err) {
      throw unavailable(err, 'counting a decision');
    }
    const [outcome, previous, ...candidates] = reply;
    const proposals: DeconfirmProposal[] = [];
    for (const c of candidates) {
      const [key = '', count = '0'] = c.split('\t');
      const slash = key.indexOf('/');
      const proposal: DeconfirmProposal = {
        bank: key.slice(0, slash),
        entry: key.slice(slash + 1),
        rejected: Number(count),
        threshold: this.#o.rejectThreshold,
        flagId: decision.flagId,
        at: new Date().toISOString(),
      };
      try {
        // Claim first, so two workers counting the Nth rejection at once write one proposal.
        if ((await this.#redis.hsetnx(`${k}:precision:proposed`, key, JSON.stringify(proposal))) === 0) continue;
      } catch (err) {
        throw unavailable(err, 'recording a deconfirmation proposal');
      }
      try {
        await this.audit.append({
          actor: 'vigil-precision',
          action: 'bank.deconfirm.proposed',
          target: key,
          reason: `rejected by reviewers ${proposal.rejected} time(s) (threshold ${proposal.threshold}); last on flag ${decision.flagId}. Apply with: vigil bank deconfirm ${proposal.bank} ${proposal.entry} --reason "..."`,
        });
      } catch (err) {
        // Unclaim, so the retried decision proposes again.
        await this.#redis.hdel(`${k}:precision:proposed`, key).catch(() => undefined);
        throw err;
      }
      proposals.push(proposal);
    }
    return {
      outcome: outcome as DecisionOutcome,
      ...(previous && (DECISIONS as readonly string[]).includes(previous) ? { previous: previous as DecisionKind } : {}),
      proposals,
    };
  }

  /** Counts per key of the given kinds, with precision; `id` keeps one key only. */
  async precision(kinds: readonly PrecisionKind[] = PRECISION_KINDS, id?: string): Promise<PrecisionRow[]> {
    let hashes: Record<string, string>[];
    try {
      hashes = await Promise.all(kinds.map((kind) => this.#redis.hgetall(`${this.#k}:precision:${kind}`)));
    } catch (err) {
      throw unavailable(err, 'reading precision');
    }
    const rows: PrecisionRow[] = [];
    kinds.forEach((kind, i) => {
      const byId = new Map<string, DecisionCounts>();
      for (const [field, value] of Object.entries(hashes[i] ?? {})) {
        const tab = field.lastIndexOf('\t');
        const key = field.slice(0, tab);
        const d = field.slice(tab + 1) as DecisionKind;
        if (!(DECISIONS as readonly string[]).includes(d) || (id !== undefined && key !== id)) continue;
        const c = byId.get(key) ?? { confirmed: 0, rejected: 0, escalated: 0 };
        c[d] = Number(value);
        byId.set(key, c);
      }
      for (const [key, c] of [...byId].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) rows.push(precisionRow(kind, key, c));
    });
    return rows;
  }

  /** Deconfirmation proposals made so far (each entry once). */
  async proposals(): Promise<DeconfirmProposal[]> {
    try {
      return Object.values(await this.#redis.hgetall(`${this.#k}:precision:proposed`)).map((v) => JSON.parse(v) as DeconfirmProposal);
    } catch (err) {
      throw unavailable(err, 'reading deconfirmation proposals');
    }
  }

  // Replays ---------------------------------------------------------------------------------------

  #replayKey(replayId: string): string {
    return `${this.#k}:replay:${replayId}`;
  }

  async startReplay(replayId: string, source: string): Promise<void> {
    const key = this.#replayKey(replayId);
    try {
      await this.#redis
        .multi()
        .hsetnx(key, 'startedAt', new Date().toISOString())
        .hsetnx(key, 'source', source)
        .hset(key, 'open', 1)
        .expire(key, this.#o.replayRetentionS)
        .exec();
    } catch (err) {
      throw unavailable(err, 'starting a replay');
    }
  }

  /** Publishing finished: `published` events are on the scan queue; `deadLetters` lines or records did not parse. */
  async replayPublished(replayId: string, published: number, deadLetters: number): Promise<void> {
    const key = this.#replayKey(replayId);
    try {
      // Cumulative: the same replay id run again adds only what the scan queue did not absorb as already replayed.
      await this.#redis
        .multi()
        .hincrby(key, 'published', published)
        .hincrby(key, 'deadLetters', deadLetters)
        .hdel(key, 'open')
        .expire(key, this.#o.replayRetentionS)
        .exec();
    } catch (err) {
      throw unavailable(err, 'recording a replay');
    }
  }

  /** A worker's final outcome for one replayed event; counted once per event. */
  async replayDone(replayId: string, eventId: string, counts: { flagsNew: number; flagsKnown: number; deadLetters: number }): Promise<void> {
    const key = this.#replayKey(replayId);
    try {
      await this.#redis.eval(
        REPLAY_DONE,
        2,
        key,
        `${key}:events`,
        eventId,
        String(counts.flagsNew),
        String(counts.flagsKnown),
        String(counts.deadLetters),
        String(this.#o.replayRetentionS),
      );
    } catch (err) {
      throw unavailable(err, 'counting a replayed event');
    }
  }

  async replay(replayId: string): Promise<ReplayState | undefined> {
    let h: Record<string, string>;
    try {
      h = await this.#redis.hgetall(this.#replayKey(replayId));
    } catch (err) {
      throw unavailable(err, 'reading a replay');
    }
    if (!h.startedAt) return undefined;
    const n = (k: string) => Number(h[k] ?? 0);
    return {
      replayId,
      source: h.source ?? '',
      startedAt: h.startedAt,
      published: h.open !== undefined ? -1 : n('published'),
      done: n('done'),
      flagsNew: n('flagsNew'),
      flagsKnown: n('flagsKnown'),
      deadLetters: n('deadLetters'),
    };
  }
}

/** The ledger with the settings of this configuration, on the bank-store connection. */
export function flagLedger(bankRedis: Redis, config: Config): RedisFlagLedger {
  return new RedisFlagLedger(bankRedis, config.queuePrefix, {
    retentionS: config.flagRecordRetentionS,
    replayRetentionS: config.replayRetentionS,
    rejectThreshold: config.deconfirmProposeRejections,
  });
}
