/** vigil.decision.v1 parsing, flag evidence and precision (pure), and the flag ledger's counting on the real Redis. */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { decisionJsonSchema, decisionSchema, parseDecision } from '../../src/core/decision-contract.js';
import { evidenceOf, precisionOf } from '../../src/core/precision.js';
import { RedisFlagLedger } from '../../src/adapters/flag-ledger.js';
import type { Flag } from '../../src/core/contracts.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const ok = { schema: 'vigil.decision.v1', flagId: 'flg_0123abcd', decision: 'confirmed', at: '2026-12-01T10:00:00Z' };

describe('vigil.decision.v1', () => {
  it('accepts the contract, optional reasonCode and reviewerRef included', () => {
    expect(parseDecision(ok)).toEqual(ok);
    expect(parseDecision(JSON.stringify({ ...ok, reasonCode: 'stock-photo', reviewerRef: 'rv:17' }))).toMatchObject({
      reasonCode: 'stock-photo',
      reviewerRef: 'rv:17',
    });
    expect(decisionSchema.safeParse({ ...ok, decision: 'escalated', at: '2026-12-01T10:00:00+01:00' }).success).toBe(true);
  });

  it('rejects other decisions, bad times, free text and unknown fields, without quoting the payload', () => {
    for (const bad of [
      { ...ok, decision: 'maybe' },
      { ...ok, at: 'yesterday' },
      { ...ok, flagId: '' },
      { ...ok, reasonCode: 'the user said something nasty' },
      { ...ok, secretNote: 'velvet teapot' },
      { ...ok, schema: 'vigil.decision.v2' },
    ]) {
      let message = '';
      try {
        parseDecision(bad);
      } catch (err) {
        expect((err as { code: string }).code).toBe('DECISION_INVALID');
        message = (err as Error).message;
      }
      expect(message).toMatch(/^invalid vigil.decision.v1: /);
      expect(message).not.toMatch(/velvet|secretNote|nasty|maybe|yesterday/);
    }
    expect(() => parseDecision('{not json')).toThrow(/not valid JSON/);
  });

  it('has a JSON Schema naming its fields', () => {
    const s = decisionJsonSchema();
    expect(s.title).toBe('vigil.decision.v1');
    expect(Object.keys(s.properties as object).sort()).toEqual(['at', 'decision', 'flagId', 'reasonCode', 'reviewerRef', 'schema']);
    expect(s.required).toEqual(expect.arrayContaining(['schema', 'flagId', 'decision', 'at']));
  });
});

describe('evidence and precision', () => {
  const flag = {
    ruleIds: ['r-hash', 'r-model'],
    signals: [
      { type: 'md5', sourceId: 'bank-a', sourceVersion: '1', entryId: 'e1' },
      { type: 'pdq', sourceId: 'bank-a', sourceVersion: '1', entryId: 'e2' },
      { type: 'term', sourceId: 'terms', sourceVersion: '3', entryId: 'velvet-teapot' },
      { type: 'classifier', sourceId: 'nsfw', sourceVersion: '2', label: 'porn', score: 0.97 },
      { type: 'pattern', sourceId: 'patterns', sourceVersion: '1' },
    ],
  } as unknown as Pick<Flag, 'ruleIds' | 'signals'>;

  it('attributes a flag to its rules, banks, entries (bank/entry) and model labels (model/label)', () => {
    expect(evidenceOf(flag)).toEqual({
      rule: ['r-hash', 'r-model'],
      bank: ['bank-a', 'patterns', 'terms'],
      entry: ['bank-a/e1', 'bank-a/e2', 'terms/velvet-teapot'],
      label: ['nsfw/porn'],
    });
  });

  it('precision counts escalations as right, and is null with no decision', () => {
    expect(precisionOf({ confirmed: 0, rejected: 0, escalated: 0 })).toBeNull();
    expect(precisionOf({ confirmed: 1, rejected: 2, escalated: 1 })).toBe(0.5);
    expect(precisionOf({ confirmed: 0, rejected: 3, escalated: 0 })).toBe(0);
  });
});

describe('flag ledger (real Redis)', () => {
  const prefix = uniquePrefix('ledger');
  const redis = new Redis(REDIS_URL);
  afterAll(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const flag = (flagId: string, entry: string): Flag =>
    ({ flagId, category: 'c', ruleIds: ['r1'], signals: [{ type: 'md5', sourceId: 'b', sourceVersion: '1', entryId: entry }] }) as unknown as Flag;
  const decision = (flagId: string, d: 'confirmed' | 'rejected' | 'escalated', at: string) => ({
    schema: 'vigil.decision.v1' as const,
    flagId,
    decision: d,
    at,
  });

  it('knows recorded flags; counts each flag once with its latest decision; proposes an entry once at the threshold', async () => {
    const ledger = new RedisFlagLedger(redis, prefix, { retentionS: 3600, rejectThreshold: 2 });
    await ledger.record([flag('f1', 'e1'), flag('f2', 'e1')]);
    expect(await ledger.known(['f1', 'f2', 'f3'])).toEqual([true, true, false]);
    expect(await redis.ttl(`${prefix}:vigil:flag:f1`)).toBeGreaterThan(3000);

    expect((await ledger.apply(decision('f1', 'rejected', '2026-12-01T10:00:00Z'))).outcome).toBe('counted');
    expect((await ledger.apply(decision('f1', 'rejected', '2026-12-01T10:00:00Z'))).outcome).toBe('duplicate');
    expect((await ledger.apply(decision('f1', 'confirmed', '2026-12-01T09:00:00Z'))).outcome).toBe('stale');
    expect(await ledger.precision(['rule'])).toEqual([{ kind: 'rule', id: 'r1', confirmed: 0, rejected: 1, escalated: 0, decided: 1, precision: 0 }]);

    const second = await ledger.apply(decision('f2', 'rejected', '2026-12-01T10:05:00Z'));
    expect(second.outcome).toBe('counted');
    expect(second.proposals).toEqual([expect.objectContaining({ bank: 'b', entry: 'e1', rejected: 2, threshold: 2, flagId: 'f2' })]);
    // Changed afterwards, and rejected again: counts move, the entry is not proposed twice.
    const changed = await ledger.apply(decision('f1', 'escalated', '2026-12-01T11:00:00Z'));
    expect(changed).toMatchObject({ outcome: 'changed', previous: 'rejected', proposals: [] });
    expect(await ledger.precision(['entry'])).toEqual([{ kind: 'entry', id: 'b/e1', confirmed: 0, rejected: 1, escalated: 1, decided: 2, precision: 0.5 }]);
    expect((await ledger.apply(decision('f1', 'rejected', '2026-12-01T12:00:00Z'))).proposals).toEqual([]);
    expect(await ledger.proposals()).toHaveLength(1);
    expect((await ledger.audit.list({ action: 'bank.deconfirm.proposed' })).map((e) => e.target)).toEqual(['b/e1']);

    expect((await ledger.apply(decision('f-missing', 'confirmed', '2026-12-01T10:00:00Z'))).outcome).toBe('unknown_flag');
  });
});
