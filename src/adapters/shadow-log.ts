/**
 * The shadow log: what shadow rules and the candidate policy would have done, beside the live
 * policy. Per rule: would-flag and agreement counts, and the latest example event ids; every
 * disagreement goes to a bounded stream. Ids and codes only.
 *
 * Keys (under `${prefix}:vigil:shadow`): `log` (stream, trimmed to about `maxLog` entries), `stats`
 * (hash: `SOURCE|POLICYVERSION|RULE|fired|agree|disagree` → count), `ex:SOURCE|POLICYVERSION|RULE`
 * (list: latest disagreeing event ids), `fl:…` (list: latest would-flag event ids).
 */
import type { RedisClient } from './bullmq/connection.js';
import { VigilError } from '../core/errors.js';
import type { ShadowComparison } from '../core/policy.js';

export interface ShadowRuleReport {
  source: 'rule' | 'candidate';
  /** Version of the policy the rule belongs to (the live one for shadow rules, the candidate's). */
  policyVersion: string;
  ruleId: string;
  wouldFlag: number;
  agree: number;
  disagree: number;
  /** Share of would-flags on which the live policy did the same (null before any). */
  agreement: number | null;
  disagreementExamples: string[];
  wouldFlagExamples: string[];
}

export interface ShadowLogEntry {
  at: string;
  eventId: string;
  source: string;
  policyVersion: string;
  ruleId: string;
  category: string;
  live: string;
  shadow: string;
}

const EXAMPLES = 10;

export class RedisShadowLog {
  readonly #redis: RedisClient;
  readonly #k: string;

  constructor(
    redis: RedisClient,
    prefix: string,
    private readonly maxLog = 10_000,
  ) {
    this.#redis = redis;
    this.#k = `${prefix}:vigil:shadow`;
  }

  /** Records one event's comparisons; returns how many were disagreements. */
  async record(eventId: string, comparisons: readonly ShadowComparison[], versions: { live: string; candidate?: string | undefined }): Promise<number> {
    if (comparisons.length === 0) return 0;
    const multi = this.#redis.multi();
    let disagreements = 0;
    const at = new Date().toISOString();
    for (const c of comparisons) {
      const policyVersion = c.source === 'rule' ? versions.live : (versions.candidate ?? 'unknown');
      const id = `${c.source}|${policyVersion}|${c.ruleId}`;
      if (c.fired) {
        multi.hincrby(`${this.#k}:stats`, `${id}|fired`, 1);
        multi.lpush(`${this.#k}:fl:${id}`, eventId);
        multi.ltrim(`${this.#k}:fl:${id}`, 0, EXAMPLES - 1);
      }
      multi.hincrby(`${this.#k}:stats`, `${id}|${c.agree ? 'agree' : 'disagree'}`, 1);
      if (!c.agree) {
        disagreements++;
        multi.lpush(`${this.#k}:ex:${id}`, eventId);
        multi.ltrim(`${this.#k}:ex:${id}`, 0, EXAMPLES - 1);
        multi.xadd(
          `${this.#k}:log`,
          'MAXLEN',
          '~',
          String(this.maxLog),
          '*',
          'at',
          at,
          'eventId',
          eventId,
          'source',
          c.source,
          'policyVersion',
          policyVersion,
          'ruleId',
          c.ruleId,
          'category',
          c.category,
          'live',
          c.live,
          'shadow',
          c.shadow,
        );
      }
    }
    try {
      await multi.exec();
    } catch (err) {
      throw new VigilError('QUEUE_UNAVAILABLE', `shadow log: write failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
    return disagreements;
  }

  async report(filter: { versions?: readonly string[] } = {}): Promise<ShadowRuleReport[]> {
    const stats = await this.#redis.hgetall(`${this.#k}:stats`);
    const byRule = new Map<string, ShadowRuleReport>();
    for (const [field, value] of Object.entries(stats)) {
      const parts = field.split('|');
      const [source, policyVersion, ruleId, kind] = parts as [ShadowRuleReport['source'], string, string, string];
      if (filter.versions && !filter.versions.includes(policyVersion)) continue;
      const id = `${source}|${policyVersion}|${ruleId}`;
      let r = byRule.get(id);
      if (!r)
        byRule.set(
          id,
          (r = { source, policyVersion, ruleId, wouldFlag: 0, agree: 0, disagree: 0, agreement: null, disagreementExamples: [], wouldFlagExamples: [] }),
        );
      if (kind === 'fired') r.wouldFlag = Number(value);
      else if (kind === 'agree') r.agree = Number(value);
      else if (kind === 'disagree') r.disagree = Number(value);
    }
    const out = [...byRule.values()].sort((a, b) => (a.source + a.ruleId < b.source + b.ruleId ? -1 : 1));
    for (const r of out) {
      const id = `${r.source}|${r.policyVersion}|${r.ruleId}`;
      r.agreement = r.wouldFlag ? Math.min(r.agree, r.wouldFlag) / r.wouldFlag : null;
      r.disagreementExamples = await this.#redis.lrange(`${this.#k}:ex:${id}`, 0, -1);
      r.wouldFlagExamples = await this.#redis.lrange(`${this.#k}:fl:${id}`, 0, -1);
    }
    return out;
  }

  /** The latest disagreements, newest first. */
  async recent(limit = 20): Promise<ShadowLogEntry[]> {
    const rows = await this.#redis.xrevrange(`${this.#k}:log`, '+', '-', 'COUNT', limit);
    return rows.map(([, f]) => {
      const o: Record<string, string> = {};
      for (let i = 0; i + 1 < f.length; i += 2) o[f[i] as string] = f[i + 1] as string;
      return o as unknown as ShadowLogEntry;
    });
  }
}
