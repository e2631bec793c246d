import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { VigilError } from '../../src/core/errors.js';
import { flagSchema, parseMessageEvent } from '../../src/core/contracts.js';
import { buildFlags } from '../../src/core/flags.js';
import {
  compareShadow,
  compilePolicy,
  decide,
  decisionContext,
  diffPolicies,
  pdqThresholdFor,
  rolloutBucket,
  shouldClassify,
  type DecisionCounters,
  type ScanReport,
} from '../../src/core/policy.js';
import type { Signal } from '../../src/core/signals.js';

const doc = {
  version: 1,
  thresholds: { pdq: { default: 31, banks: { strict: 10, 'partner-*': 20 } } },
  rules: [
    { id: 'known', match: { types: ['md5', 'pdq'], banks: ['known-*'] }, category: 'known_media', severity: 'critical', action: 'remove_and_report' },
    { id: 'severe-text', match: { types: ['term'], minSeverity: 'high' }, action: 'escalate' },
    { id: 'text', match: { types: ['term', 'pattern'] }, action: 'review' },
  ],
};

function report(signals: Signal[]): ScanReport {
  return { eventId: 'e', signals, mediaErrors: [], bankVersions: {}, modelVersions: {} };
}

function policyError(raw: unknown): string {
  try {
    compilePolicy(raw, 'test policy');
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(VigilError);
    expect((err as VigilError).code).toBe('POLICY_INVALID');
    return (err as Error).message;
  }
}

describe('policy', () => {
  it('the shipped config/policy.yaml is valid', () => {
    const p = compilePolicy(parse(readFileSync('config/policy.yaml', 'utf8')));
    expect(p.version).toMatch(/^sha256:[0-9a-f]{16}$/);
  });

  it('errors name the bad key', () => {
    expect(policyError({ ...doc, rules: [{ ...doc.rules[0], action: 'nuke' }] })).toContain('rules.0.action');
    expect(policyError({ ...doc, thresholds: { pdq: { default: 999 } } })).toContain('thresholds.pdq.default');
    expect(policyError({ ...doc, surprise: true })).toContain('surprise');
    expect(policyError({ ...doc, rules: [{ id: 'x', match: { types: ['md5'] }, action: 'review' }] })).toMatch(/rules\.0\.severity: required/);
    expect(policyError({ ...doc, rules: [doc.rules[1], doc.rules[1]] })).toContain('duplicate rule id');
  });

  it('version is a content hash: same content → same version, any change → new version', () => {
    expect(compilePolicy(structuredClone(doc)).version).toBe(compilePolicy(doc).version);
    const changed = structuredClone(doc);
    changed.thresholds.pdq.default = 30;
    expect(compilePolicy(changed).version).not.toBe(compilePolicy(doc).version);
  });

  it('per-bank PDQ thresholds: exact id, then glob, then default', () => {
    const p = compilePolicy(doc);
    expect(pdqThresholdFor(p, 'strict')).toBe(10);
    expect(pdqThresholdFor(p, 'partner-a')).toBe(20);
    expect(pdqThresholdFor(p, 'other')).toBe(31);
  });

  it('decide: first matching rule wins, one flag per category, most severe signal and strongest action', () => {
    const p = compilePolicy(doc);
    const v = decide(
      report([
        { type: 'md5', sourceId: 'known-a', sourceVersion: '1', entryId: 'x', mediaId: 'm1', distance: 0 },
        { type: 'term', sourceId: 'terms', sourceVersion: '1', entryId: 't1', category: 'grooming', severity: 'medium', span: { start: 0, end: 3 } },
        { type: 'term', sourceId: 'terms', sourceVersion: '1', entryId: 't2', category: 'grooming', severity: 'high', span: { start: 5, end: 9 } },
        { type: 'md5', sourceId: 'unlisted', sourceVersion: '1', entryId: 'y', mediaId: 'm2', distance: 0 },
      ]),
      p,
    );
    expect(v.flags.map((f) => [f.category, f.severity, f.action, f.signals.length])).toEqual([
      ['grooming', 'high', 'escalate', 2],
      ['known_media', 'critical', 'remove_and_report', 1],
    ]);
  });

  it('decide: no signals, no flags', () => {
    expect(decide(report([]), compilePolicy(doc)).flags).toEqual([]);
  });
});

// ---- v2 language: every feature by a decide() test ----

const md5 = (sourceId: string, entryId: string, mediaId = 'm1'): Signal => ({ type: 'md5', sourceId, sourceVersion: '1', entryId, mediaId, distance: 0 });
const pdqSig = (sourceId: string, entryId: string, distance: number, mediaId = 'm1'): Signal => ({
  type: 'pdq',
  sourceId,
  sourceVersion: '1',
  entryId,
  mediaId,
  distance,
  threshold: 31,
  quality: 90,
});
const term = (entryId: string, category: string, severity: Signal['severity'], termMode = 'whole-word', sourceId = 'terms'): Signal => ({
  type: 'term',
  sourceId,
  sourceVersion: '1',
  entryId,
  category,
  severity,
  termMode,
  span: { start: 0, end: 3 },
});
const pattern = (entryId: string, category: string, severity: Signal['severity']): Signal => ({
  type: 'pattern',
  sourceId: 'patterns',
  sourceVersion: '1',
  entryId,
  category,
  severity,
  span: { start: 4, end: 9 },
});
const cls = (label: string, score: number, sourceId = 'nsfw-image'): Signal => ({
  type: 'classifier',
  sourceId,
  sourceVersion: '3',
  label,
  score,
  threshold: 0.5,
  mediaId: 'm1',
});

function v2(rules: unknown[], extra: Record<string, unknown> = {}) {
  return compilePolicy({ version: 2, rules, ...extra });
}

function rep(signals: Signal[], context: ScanReport['context'] = { conversationId: 'c1', priority: 'normal' }): ScanReport {
  return { eventId: 'evt-1', signals, mediaErrors: [], bankVersions: {}, modelVersions: {}, context };
}

const summary = (v: ReturnType<typeof decide>) => v.flags.map((f) => `${f.category}:${f.severity}:${f.action}:${f.ruleIds.join('+')}:${f.signals.length}`);

const counters = (o: Partial<DecisionCounters> = {}): DecisionCounters => ({
  quarantinedRules: new Set(),
  quarantinedEntries: new Set(),
  actionsToday: {},
  deconfirmed: new Set(),
  ...o,
});

describe('policy v2: conditions', () => {
  const explicitToMinor = {
    id: 'explicit-to-minor',
    when: {
      all: [{ signal: { type: 'classifier', label: 'explicit', minScore: 0.8 } }, { account: { key: 'recipientAgeBand', in: ['under13', '13-15', '16-17'] } }],
    },
    category: 'sexual_content_minor',
    severity: 'critical',
    action: 'escalate',
  };

  it('all: a classifier score on an image sent to a minor, and not to an adult, nor below the score', () => {
    const p = v2([explicitToMinor]);
    const minor = { conversationId: 'c', priority: 'normal' as const, accountSignals: { recipientAgeBand: '13-15' } };
    const adult = { conversationId: 'c', priority: 'normal' as const, accountSignals: { recipientAgeBand: 'adult' } };
    expect(summary(decide(rep([cls('explicit', 0.93)], minor), p))).toEqual(['sexual_content_minor:critical:escalate:explicit-to-minor:1']);
    expect(decide(rep([cls('explicit', 0.93)], adult), p).flags).toEqual([]);
    expect(decide(rep([cls('explicit', 0.79)], minor), p).flags).toEqual([]);
    expect(decide(rep([cls('violence', 0.99)], minor), p).flags).toEqual([]);
    expect(decide(rep([cls('explicit', 0.93)], { conversationId: 'c' }), p).flags).toEqual([]);
  });

  it('all of two patterns in a reported conversation; any branch adds its evidence; not vetoes', () => {
    const p = v2([
      {
        id: 'contact-and-move',
        when: {
          all: [{ signal: { type: 'pattern', entry: 'contact-*' } }, { signal: { type: 'pattern', entry: 'platform-move*' } }, { context: { reported: true } }],
        },
        category: 'grooming',
        severity: 'high',
        action: 'escalate',
      },
    ]);
    const both = [pattern('contact-phone', 'contact', 'low'), pattern('platform-move-app', 'move', 'low')];
    expect(summary(decide(rep(both, { conversationId: 'c', reportId: 'rep-1' }), p))).toEqual(['grooming:high:escalate:contact-and-move:2']);
    expect(summary(decide(rep(both, { conversationId: 'c', priority: 'report' }), p))).toEqual(['grooming:high:escalate:contact-and-move:2']);
    expect(decide(rep(both, { conversationId: 'c', priority: 'normal' }), p).flags).toEqual([]);
    expect(decide(rep([both[0] as Signal], { conversationId: 'c', reportId: 'r' }), p).flags).toEqual([]);

    const anyNot = v2([
      {
        id: 'a',
        when: {
          all: [{ any: [{ signal: { type: 'term', entry: 'x*' } }, { signal: { type: 'term', entry: 'y*' } }] }, { not: { signal: { entry: 'veto' } } }],
        },
        action: 'review',
      },
    ]);
    expect(summary(decide(rep([term('x1', 'c', 'low'), term('y1', 'c', 'low')]), anyNot))).toEqual(['c:low:review:a:2']);
    expect(decide(rep([term('x1', 'c', 'low'), term('veto', 'c', 'low')]), anyNot).flags).toEqual([]);
    expect(decide(rep([term('z1', 'c', 'low')]), anyNot).flags).toEqual([]);
  });

  it('signal predicates: type, source glob, entry glob, category, minSeverity, maxDistance, termMode', () => {
    const rule = (signal: Record<string, unknown>) => v2([{ id: 'r', when: { signal }, category: 'k', severity: 'high', action: 'review' }]);
    const fires = (signal: Record<string, unknown>, s: Signal) => decide(rep([s]), rule(signal)).flags.length === 1;
    expect(fires({ type: 'md5' }, md5('b', 'e'))).toBe(true);
    expect(fires({ type: ['sha1', 'pdq'] }, md5('b', 'e'))).toBe(false);
    expect(fires({ source: 'ncmec-*' }, md5('ncmec-md5', 'e'))).toBe(true);
    expect(fires({ source: ['ncmec-*', 'partner'] }, md5('partner', 'e'))).toBe(true);
    expect(fires({ source: 'ncmec-*' }, md5('other', 'e'))).toBe(false);
    expect(fires({ entry: 'e-1*' }, md5('b', 'e-100'))).toBe(true);
    expect(fires({ entry: 'e-1*' }, md5('b', 'e-200'))).toBe(false);
    expect(fires({ category: 'grooming' }, term('t', 'grooming', 'low'))).toBe(true);
    expect(fires({ category: 'grooming' }, md5('b', 'e'))).toBe(false);
    expect(fires({ minSeverity: 'high' }, term('t', 'c', 'critical'))).toBe(true);
    expect(fires({ minSeverity: 'high' }, term('t', 'c', 'medium'))).toBe(false);
    expect(fires({ maxDistance: 20 }, pdqSig('b', 'e', 20))).toBe(true);
    expect(fires({ maxDistance: 20 }, pdqSig('b', 'e', 21))).toBe(false);
    expect(fires({ maxDistance: 0 }, md5('b', 'e'))).toBe(true);
    expect(fires({ maxDistance: 5 }, term('t', 'c', 'low'))).toBe(false);
    expect(fires({ termMode: 'substring' }, term('t', 'c', 'low', 'substring'))).toBe(true);
    expect(fires({ termMode: ['whole-word', 'joined'] }, term('t', 'c', 'low', 'substring'))).toBe(false);
    expect(fires({ termMode: 'pattern' }, pattern('p', 'c', 'low'))).toBe(true);
    expect(fires({ label: ['explicit', 'nudity'], minScore: 0.5 }, cls('nudity', 0.5))).toBe(true);
    expect(fires({ label: 'explicit' }, cls('nudity', 0.99))).toBe(false);
    expect(fires({ minScore: 0.5 }, md5('b', 'e'))).toBe(false);
  });

  it('context predicates: priority, reported, locale glob (case-insensitive)', () => {
    const p = (context: Record<string, unknown>) => v2([{ id: 'r', when: { all: [{ signal: { type: 'term' } }, { context }] }, action: 'review' }]);
    const fires = (context: Record<string, unknown>, ctx: ScanReport['context']) => decide(rep([term('t', 'c', 'low')], ctx), p(context)).flags.length === 1;
    expect(fires({ priority: 'report' }, { priority: 'report' })).toBe(true);
    expect(fires({ priority: ['report', 'normal'] }, { priority: 'backfill' })).toBe(false);
    expect(fires({ reported: false }, { priority: 'normal' })).toBe(true);
    expect(fires({ reported: false }, { priority: 'normal', reportId: 'r1' })).toBe(false);
    expect(fires({ locale: 'pt-*' }, { locale: 'pt-BR' })).toBe(true);
    expect(fires({ locale: 'PT-br' }, { locale: 'pt-BR' })).toBe(true);
    expect(fires({ locale: ['de', 'fr'] }, { locale: 'en' })).toBe(false);
    expect(fires({ locale: 'de' }, {})).toBe(false);
  });

  it('account predicates: equals, in, lt/lte/gt/gte on numbers only, exists', () => {
    const p = (account: Record<string, unknown>) => v2([{ id: 'r', when: { all: [{ signal: { type: 'term' } }, { account }] }, action: 'review' }]);
    const fires = (account: Record<string, unknown>, accountSignals: Record<string, number | string | boolean>) =>
      decide(rep([term('t', 'c', 'low')], { accountSignals }), p(account)).flags.length === 1;
    expect(fires({ key: 'senderAccountAgeDays', lt: 7 }, { senderAccountAgeDays: 3 })).toBe(true);
    expect(fires({ key: 'senderAccountAgeDays', lt: 7 }, { senderAccountAgeDays: 7 })).toBe(false);
    expect(fires({ key: 'senderAccountAgeDays', lte: 7 }, { senderAccountAgeDays: 7 })).toBe(true);
    expect(fires({ key: 'senderAccountAgeDays', lt: 7 }, { senderAccountAgeDays: '3' })).toBe(false);
    expect(fires({ key: 'n', gt: 1, gte: 2 }, { n: 2 })).toBe(true);
    expect(fires({ key: 'n', gt: 2 }, { n: 2 })).toBe(false);
    expect(fires({ key: 'verified', equals: false }, { verified: false })).toBe(true);
    expect(fires({ key: 'verified', equals: false }, {})).toBe(false);
    expect(fires({ key: 'band', in: ['a', 'b'] }, { band: 'b' })).toBe(true);
    expect(fires({ key: 'band', exists: false }, {})).toBe(true);
    expect(fires({ key: 'band', exists: true }, {})).toBe(false);
  });
});

describe('policy v2: rules', () => {
  it('a live rule claims its evidence: later rules do not see it; unclaimed signals flow on', () => {
    const p = v2([
      { id: 'known', when: { signal: { source: 'known-*' } }, category: 'known', severity: 'critical', action: 'remove_and_report' },
      { id: 'any-hash', when: { signal: { type: ['md5', 'pdq'] } }, category: 'other', severity: 'high', action: 'escalate' },
    ]);
    expect(summary(decide(rep([md5('known-a', 'x')]), p))).toEqual(['known:critical:remove_and_report:known:1']);
    expect(summary(decide(rep([md5('known-a', 'x'), md5('misc', 'y', 'm2')]), p))).toEqual([
      'known:critical:remove_and_report:known:1',
      'other:high:escalate:any-hash:1',
    ]);
  });

  it('category and severity from the rule, else from each signal; one flag per category, strongest action, all rule ids', () => {
    const p = v2([
      { id: 'severe', when: { signal: { type: ['term', 'pattern'], minSeverity: 'critical' } }, action: 'escalate' },
      { id: 'text', when: { signal: { type: 'term' } }, action: 'review' },
      { id: 'relabel', when: { signal: { type: 'pattern' } }, category: 'grooming', severity: 'low', action: 'log' },
    ]);
    const v = decide(rep([term('a', 'grooming', 'critical'), term('b', 'grooming', 'medium'), term('c', 'spam', 'low'), pattern('p', 'whatever', 'high')]), p);
    expect(summary(v)).toEqual(['grooming:critical:escalate:severe+text+relabel:3', 'spam:low:review:text:1']);
  });

  it('status: disabled rules are skipped; shadow rules flag nothing and claim nothing, but are reported as hits', () => {
    const p = v2([
      { id: 'off', status: 'disabled', when: { signal: { type: 'md5' } }, category: 'k', severity: 'high', action: 'remove_and_report' },
      { id: 'try', status: 'shadow', when: { signal: { type: 'md5' } }, category: 'k', severity: 'high', action: 'remove_and_report' },
      { id: 'live', when: { signal: { type: 'md5' } }, category: 'k', severity: 'high', action: 'review' },
    ]);
    const v = decide(rep([md5('b', 'e')]), p);
    expect(summary(v)).toEqual(['k:high:review:live:1']);
    expect(v.hits.map((h) => `${h.ruleId}:${h.status}:${h.outcomes[0]?.action}`)).toEqual(['try:shadow:remove_and_report', 'live:live:review']);
  });

  it('rollout: the same conversation is always in or out, and about the given share of conversations is in', () => {
    const p = v2([{ id: 'half', rollout: 30, when: { signal: { type: 'md5' } }, category: 'k', severity: 'high', action: 'review' }]);
    let inside = 0;
    const recompiled = compilePolicy(structuredClone(p.document));
    for (let i = 0; i < 2000; i++) {
      const ctx = { conversationId: `conv-${i}` };
      const first = decide(rep([md5('b', 'e')], ctx), p).flags.length;
      expect(decide(rep([md5('b', 'e')], ctx), recompiled).flags.length).toBe(first);
      inside += first;
    }
    expect(inside / 2000).toBeGreaterThan(0.26);
    expect(inside / 2000).toBeLessThan(0.34);
    const none = v2([{ id: 'zero', rollout: 0, when: { signal: { type: 'md5' } }, category: 'k', severity: 'high', action: 'review' }]);
    expect(decide(rep([md5('b', 'e')]), none).flags).toEqual([]);
    expect(rolloutBucket('r', 'c')).toBe(rolloutBucket('r', 'c'));
  });

  it('outside its rollout a rule claims nothing: the signal goes to the next rule', () => {
    const p = v2([
      { id: 'new', rollout: 50, when: { signal: { type: 'md5' } }, category: 'new', severity: 'high', action: 'escalate' },
      { id: 'old', when: { signal: { type: 'md5' } }, category: 'old', severity: 'high', action: 'review' },
    ]);
    const cats = new Set<string>();
    for (let i = 0; i < 50; i++) for (const f of decide(rep([md5('b', 'e')], { conversationId: `c${i}` }), p).flags) cats.add(f.category);
    expect([...cats].sort()).toEqual(['new', 'old']);
  });
});

describe('policy v2: brakes and deconfirmations (counters snapshot)', () => {
  const p = v2(
    [
      { id: 'hash', when: { signal: { type: 'md5' } }, category: 'k', severity: 'critical', action: 'remove_and_report', dailyCap: 2 },
      { id: 'text', when: { signal: { type: 'term' } }, action: 'escalate' },
    ],
    { brakes: { dailyCap: 5 } },
  );

  it('a quarantined rule acts as review, and the flag says which brake and what it would have done', () => {
    const v = decide(rep([md5('b', 'e')]), p, counters({ quarantinedRules: new Set(['hash']) }));
    expect(v.flags[0]).toMatchObject({ action: 'review', brake: { codes: ['rule_quarantined'], intendedAction: 'remove_and_report' }, ruleIds: ['hash'] });
    expect(v.hits[0]).toMatchObject({ brakes: ['rule_quarantined'], intendedAction: 'remove_and_report' });
  });

  it('a quarantined bank entry makes the rule using it review-only; other entries are unaffected', () => {
    expect(decide(rep([md5('b', 'e')]), p, counters({ quarantinedEntries: new Set(['b/e']) })).flags[0]).toMatchObject({
      action: 'review',
      brake: { codes: ['entry_quarantined'] },
    });
    expect(decide(rep([md5('b', 'f')]), p, counters({ quarantinedEntries: new Set(['b/e']) })).flags[0]).toMatchObject({ action: 'remove_and_report' });
    expect(decide(rep([md5('b', 'f')]), p, counters({ quarantinedEntries: new Set(['b/e']) })).flags[0]?.brake).toBeUndefined();
  });

  it('daily cap: the rule cap, else the policy default; beyond it, review', () => {
    expect(decide(rep([md5('b', 'e')]), p, counters({ actionsToday: { hash: 1 } })).flags[0]?.action).toBe('remove_and_report');
    expect(decide(rep([md5('b', 'e')]), p, counters({ actionsToday: { hash: 2 } })).flags[0]).toMatchObject({
      action: 'review',
      brake: { codes: ['daily_cap'], intendedAction: 'remove_and_report' },
    });
    expect(decide(rep([term('t', 'c', 'low')]), p, counters({ actionsToday: { text: 4 } })).flags[0]?.action).toBe('escalate');
    expect(decide(rep([term('t', 'c', 'low')]), p, counters({ actionsToday: { text: 5 } })).flags[0]?.action).toBe('review');
  });

  it('brakes never touch review or log rules', () => {
    const q = v2([{ id: 'r', when: { signal: { type: 'md5' } }, category: 'k', severity: 'low', action: 'log', dailyCap: 0 }]);
    const f = decide(rep([md5('b', 'e')]), q, counters({ quarantinedRules: new Set(['r']) })).flags[0];
    expect(f?.action).toBe('log');
    expect(f?.brake).toBeUndefined();
  });

  it('a deconfirmed entry stops matching: its signal is dropped before any rule sees it', () => {
    const v = decide(rep([md5('b', 'e'), md5('b', 'f', 'm2')]), p, counters({ deconfirmed: new Set(['b/e']) }));
    expect(v.flags[0]?.signals.map((s) => s.entryId)).toEqual(['f']);
    expect(v.deconfirmedSignals).toBe(1);
    expect(decide(rep([md5('b', 'e')]), p, counters({ deconfirmed: new Set(['b/e']) })).flags).toEqual([]);
  });

  it('decide is pure: same inputs, same verdict; the snapshot and report are not modified', () => {
    const r = rep([md5('b', 'e'), term('t', 'c', 'low')]);
    const c = counters({ actionsToday: { hash: 2 } });
    const before = JSON.stringify(r);
    expect(decide(r, p, c)).toEqual(decide(r, p, c));
    expect(JSON.stringify(r)).toBe(before);
    expect(c.actionsToday).toEqual({ hash: 2 });
  });
});

describe('policy v2: validation, thresholds, v1 compatibility', () => {
  it('errors name the exact nested key path', () => {
    const bad = (rules: unknown[]) => policyError({ version: 2, rules });
    expect(bad([{ id: 'r', when: { all: [{ signal: { type: 'term' } }, { signal: { maxDistance: -1 } }] }, action: 'review' }])).toContain(
      'rules.0.when.all.1.signal.maxDistance',
    );
    expect(bad([{ id: 'r', when: { signal: { type: 'term', colour: 'red' } }, action: 'review' }])).toContain('rules.0.when.signal');
    expect(bad([{ id: 'r', when: { signal: { type: 'term' }, context: { reported: true } }, action: 'review' }])).toMatch(
      /rules\.0\.when: a condition has exactly one of/,
    );
    expect(bad([{ id: 'r', when: { context: { reported: true } }, action: 'review' }])).toMatch(/rules\.0\.when: needs at least one signal condition/);
    expect(bad([{ id: 'r', when: { not: { signal: { type: 'term' } } }, action: 'review' }])).toMatch(/rules\.0\.when: needs at least one signal condition/);
    expect(bad([{ id: 'r', when: { signal: { type: 'term' } }, action: 'review', status: 'paused' }])).toContain('rules.0.status');
    expect(bad([{ id: 'r', when: { signal: { type: 'term' } }, action: 'review', rollout: 101 }])).toContain('rules.0.rollout');
    expect(bad([{ id: 'r', when: { all: [{ signal: { type: 'term' } }, { account: { key: 'x' } }] }, action: 'review' }])).toContain(
      'rules.0.when.all.1.account',
    );
    expect(bad([{ id: 'r', when: { signal: { type: 'classifier' } }, category: 'k', action: 'review' }])).toMatch(/rules\.0\.severity: required/);
    expect(policyError({ version: 3, rules: [] })).toMatch(/version: must be 2/);
    expect(
      policyError({
        version: 2,
        rules: [{ id: 'r', when: { signal: {} }, category: 'k', severity: 'low', action: 'log' }],
        classifiers: { image: { run: 'sometimes' } },
      }),
    ).toContain('classifiers.image.run');
  });

  it('v1 errors keep naming the v1 keys', () => {
    expect(policyError({ version: 1, rules: [{ id: 'x', match: { types: ['jpeg'] }, category: 'k', severity: 'low', action: 'review' }] })).toContain(
      'rules.0.match.types',
    );
  });

  it('a v1 file decides exactly like its v2 translation, on a generated family of reports', () => {
    const p1 = compilePolicy(doc);
    expect(p1.sourceFormat).toBe(1);
    const p2 = compilePolicy(parse(readFileSync('config/policy.yaml', 'utf8')));
    const p1shipped = compilePolicy({
      version: 1,
      thresholds: { pdq: { default: 31, banks: {}, minQuality: 50, dihedral: true } },
      rules: [
        {
          id: 'sample-known-bad-media',
          match: { types: ['md5', 'sha1', 'sha256', 'pdq'], banks: ['sample-known-bad*'] },
          category: 'sample_known_image',
          severity: 'critical',
          action: 'remove_and_report',
        },
        { id: 'other-hash-banks', match: { types: ['md5', 'sha1', 'sha256', 'pdq'] }, category: 'known_media', severity: 'high', action: 'escalate' },
        { id: 'severe-text', match: { types: ['term', 'pattern'], minSeverity: 'critical' }, action: 'escalate' },
        { id: 'text', match: { types: ['term', 'pattern'] }, action: 'review' },
      ],
    });
    const pool: Signal[] = [
      md5('known-a', 'x'),
      md5('sample-known-bad', 'y'),
      pdqSig('unlisted', 'z', 12),
      term('t1', 'grooming', 'medium'),
      term('t2', 'grooming', 'critical'),
      pattern('p', 'spam', 'low'),
    ];
    for (let mask = 0; mask < 1 << pool.length; mask++) {
      const signals = pool.filter((_, i) => mask & (1 << i));
      expect(summary(decide(rep(signals), p1))).toEqual(summary(decide(rep(signals), compilePolicy(structuredClone(p1.document)))));
      expect(summary(decide(rep(signals), p1shipped))).toEqual(summary(decide(rep(signals), p2)));
    }
  });

  it('per-bank PDQ thresholds: exact id, then the most specific glob whatever the file order, then default', () => {
    const p = compilePolicy({
      version: 2,
      thresholds: { pdq: { default: 31, banks: { '*': 30, 'partner-*': 20, 'partner-eu-*': 12, 'partner-eu-x': 5, 'p*-eu-*': 25 } } },
      rules: [{ id: 'r', when: { signal: {} }, category: 'k', severity: 'low', action: 'log' }],
    });
    expect(pdqThresholdFor(p, 'partner-eu-x')).toBe(5);
    expect(pdqThresholdFor(p, 'partner-eu-y')).toBe(12);
    expect(pdqThresholdFor(p, 'partner-us')).toBe(20);
    expect(pdqThresholdFor(p, 'pp-eu-1')).toBe(25);
    expect(pdqThresholdFor(p, 'other')).toBe(30);
    const reversed = compilePolicy({
      ...p.document,
      thresholds: { pdq: { ...p.document.thresholds.pdq, banks: Object.fromEntries(Object.entries(p.document.thresholds.pdq.banks).reverse()) } },
    });
    for (const id of ['partner-eu-x', 'partner-eu-y', 'partner-us', 'pp-eu-1', 'other']) expect(pdqThresholdFor(reversed, id)).toBe(pdqThresholdFor(p, id));
    expect(pdqThresholdFor(compilePolicy(doc), 'nothing-matches')).toBe(31);
  });
});

describe('policy v2: classifier cascade, shadow comparison, diff', () => {
  const base = [{ id: 'r', when: { signal: {} }, category: 'k', severity: 'low', action: 'log' }];
  it('shouldClassify: always / unmatched / never, a context condition, and a stable sample', () => {
    const unmatched = v2(base);
    expect(shouldClassify(unmatched, 'image', { eventId: 'e', signals: [md5('b', 'x', 'm1')], mediaId: 'm1' })).toEqual({
      classify: false,
      reason: 'already_matched',
    });
    expect(shouldClassify(unmatched, 'image', { eventId: 'e', signals: [md5('b', 'x', 'm1')], mediaId: 'm2' })).toEqual({
      classify: true,
      reason: 'unmatched',
    });
    expect(shouldClassify(unmatched, 'text', { eventId: 'e', signals: [term('t', 'c', 'low')] })).toEqual({ classify: true, reason: 'always' });
    const minorsOrReported = v2(base, {
      classifiers: {
        image: { run: 'always', when: { any: [{ context: { reported: true } }, { account: { key: 'recipientAgeBand', in: ['under13', '13-15'] } }] } },
        text: { run: 'never' },
      },
    });
    expect(shouldClassify(minorsOrReported, 'image', { eventId: 'e', signals: [], mediaId: 'm', context: { priority: 'normal' } }).reason).toBe(
      'condition_false',
    );
    expect(shouldClassify(minorsOrReported, 'image', { eventId: 'e', signals: [], mediaId: 'm', context: { reportId: 'r1' } }).classify).toBe(true);
    expect(
      shouldClassify(minorsOrReported, 'image', { eventId: 'e', signals: [], mediaId: 'm', context: { accountSignals: { recipientAgeBand: 'under13' } } })
        .classify,
    ).toBe(true);
    expect(shouldClassify(minorsOrReported, 'text', { eventId: 'e', signals: [] })).toEqual({ classify: false, reason: 'never' });
    const sampled = v2(base, { classifiers: { image: { run: 'always', sampleRate: 0.1 } } });
    let n = 0;
    for (let i = 0; i < 3000; i++) {
      const a = shouldClassify(sampled, 'image', { eventId: `e${i}`, signals: [], mediaId: 'm' }).classify;
      expect(shouldClassify(sampled, 'image', { eventId: `e${i}`, signals: [], mediaId: 'm' }).classify).toBe(a);
      n += a ? 1 : 0;
    }
    expect(n / 3000).toBeGreaterThan(0.08);
    expect(n / 3000).toBeLessThan(0.12);
  });

  it('compareShadow: shadow rules and a candidate policy against the live verdict', () => {
    const live = v2([
      { id: 'strict', status: 'shadow', when: { signal: { type: 'pdq', maxDistance: 10 } }, category: 'k', severity: 'high', action: 'escalate' },
      { id: 'now', when: { signal: { type: 'pdq' } }, category: 'k', severity: 'high', action: 'escalate' },
    ]);
    const candidate = v2([{ id: 'cand', when: { signal: { type: 'pdq', maxDistance: 10 } }, category: 'k', severity: 'high', action: 'remove_and_report' }]);
    const near = rep([pdqSig('b', 'e', 4)]);
    const far = rep([pdqSig('b', 'e', 25)]);
    const lv = decide(near, live);
    expect(compareShadow(lv)).toEqual([{ source: 'rule', ruleId: 'strict', category: 'k', live: 'escalate', shadow: 'escalate', fired: true, agree: true }]);
    expect(compareShadow(lv, decide(near, candidate))).toContainEqual({
      source: 'candidate',
      ruleId: 'cand',
      category: 'k',
      live: 'escalate',
      shadow: 'remove_and_report',
      fired: true,
      agree: false,
    });
    expect(compareShadow(decide(far, live), decide(far, candidate))).toEqual([
      { source: 'candidate', ruleId: 'now', category: 'k', live: 'escalate', shadow: 'none', fired: false, agree: false },
    ]);
  });

  it('diffPolicies names changed key paths, rules by id', () => {
    const a = v2([{ id: 'x', when: { signal: { type: 'md5' } }, category: 'k', severity: 'low', action: 'log' }]).document;
    const b = v2([
      { id: 'y', when: { signal: { type: 'term' } }, action: 'review' },
      { id: 'x', when: { signal: { type: 'md5' } }, category: 'k', severity: 'low', action: 'review' },
    ]).document;
    const d = diffPolicies(a, b);
    expect(d).toContain('~ rules.x.action: "log" → "review"');
    expect(d).toContain('+ rules.y.when.signal.type: "term"');
    expect(diffPolicies(a, a)).toEqual([]);
  });
});

describe('flags from a v2 verdict', () => {
  it('carry the policy version, the rule ids and the brake, and validate against vigil.flag.v1', () => {
    const p = compilePolicy(
      { version: 2, rules: [{ id: 'hash', when: { signal: { type: 'md5' } }, category: 'k', severity: 'critical', action: 'remove_and_report' }] },
      'p',
      { revision: 7 },
    );
    const event = parseMessageEvent({
      schema: 'vigil.message.v1',
      eventId: 'e1',
      messageId: 'm1',
      conversationId: 'c1',
      senderId: 's',
      recipientIds: ['r'],
      sentAt: '2026-01-01T00:00:00Z',
    });
    const r = { ...report([{ type: 'md5', sourceId: 'b', sourceVersion: '1', entryId: 'x', mediaId: 'i', distance: 0 }]), context: decisionContext(event) };
    const [braked] = buildFlags(
      event,
      r,
      decide(r, p, { quarantinedRules: new Set(['hash']), quarantinedEntries: new Set(), actionsToday: {}, deconfirmed: new Set() }),
      p,
    );
    expect(flagSchema.parse(braked)).toMatchObject({
      policyVersion: p.version,
      policyRevision: 7,
      ruleIds: ['hash'],
      action: 'review',
      brake: { codes: ['rule_quarantined'], intendedAction: 'remove_and_report' },
    });
    const [plain] = buildFlags(event, r, decide(r, p), p);
    expect(flagSchema.parse(plain).brake).toBeUndefined();
    expect(() => flagSchema.parse({ ...plain, brake: { codes: [], intendedAction: 'review' } })).toThrow();
  });
});
