/**
 * The replay of one tuning scan under a policy: what the worker would have kept of the evidence.
 * Reports are written out by hand here; the replay must drop PDQ signals past the policy's radius or
 * below its quality floor, and classifier signals its cascade would not have produced.
 */
import { describe, expect, it } from 'vitest';
import { compilePolicy, type ScanReport } from '../../src/core/policy.js';
import type { Signal } from '../../src/core/signals.js';
import { eventValues, reportUnder, tuningPolicy } from '../../src/core/tune/replay.js';

const policy = (extra: Record<string, unknown>) =>
  compilePolicy({
    version: 2,
    rules: [{ id: 'r', when: { signal: { type: 'pdq' } }, category: 'c', severity: 'high', action: 'review' }],
    ...extra,
  });

const pdq = (bank: string, distance: number, mediaId: string, quality = 100): Signal => ({
  type: 'pdq',
  sourceId: bank,
  sourceVersion: 'v',
  entryId: `x${distance}`,
  distance,
  quality,
  mediaId,
  threshold: 64,
});
const cls = (label: string, score: number, mediaId?: string): Signal => ({
  type: 'classifier',
  sourceId: mediaId ? 'img-model' : 'txt-model',
  sourceVersion: '1',
  label,
  score,
  ...(mediaId ? { mediaId } : {}),
});
const term: Signal = { type: 'term', sourceId: 'terms', sourceVersion: 'v', entryId: 't1', category: 'g', severity: 'high' };

function report(signals: Signal[]): ScanReport {
  return { eventId: 'evt-1', signals, mediaErrors: [], bankVersions: {}, modelVersions: {}, context: {} };
}

describe('tuning replay', () => {
  it('the tuning policy opens block banks to 64, keeps allow banks and the rules, runs both classifiers always', () => {
    const p = policy({ thresholds: { pdq: { default: 20, banks: { 'ok-list': 8 }, minQuality: 70 } }, classifiers: { image: { run: 'never' } } });
    const t = tuningPolicy(p, { allowBankIds: ['ok-list'], alsoFor: [policy({ thresholds: { pdq: { minQuality: 40 } } })] });
    expect(t.document.thresholds.pdq).toMatchObject({ default: 64, banks: { 'ok-list': 8 }, minQuality: 40 });
    expect(t.document.classifiers).toEqual({ image: { run: 'always', sampleRate: 1 }, text: { run: 'always', sampleRate: 1 } });
    expect(t.document.rules).toEqual(p.document.rules);
  });

  it('drops PDQ signals past the radius of their bank or under the quality floor', () => {
    const p = policy({ thresholds: { pdq: { default: 31, banks: { strict: 10 }, minQuality: 60 } } });
    const kept = reportUnder(
      report([pdq('loose', 31, 'm1'), pdq('loose', 32, 'm1'), pdq('strict', 10, 'm2'), pdq('strict', 11, 'm2'), pdq('loose', 5, 'm3', 59)]),
      p,
    );
    expect(kept.signals.map((s) => `${s.sourceId}:${s.distance}`)).toEqual(['loose:31', 'strict:10']);
    expect(kept.signals.map((s) => s.threshold)).toEqual([31, 10]);
  });

  it('replays the cascade: run unmatched keeps image scores only for media without a kept hash match', () => {
    const p = policy({ thresholds: { pdq: { default: 20 } }, classifiers: { image: { run: 'unmatched' }, text: { run: 'unmatched' } } });
    const signals = [
      pdq('b', 10, 'm1'), // kept: m1 is matched, so it is not classified
      cls('porn', 0.9, 'm1'),
      cls('neutral', 0.1, 'm1'),
      pdq('b', 40, 'm2'), // past the radius: m2 was unmatched in the worker, so it was classified
      cls('porn', 0.8, 'm2'),
      cls('neutral', 0.2, 'm2'),
      term, // the text matched a term: the text classifier did not run
      cls('spam', 0.7),
    ];
    const kept = reportUnder(report(signals), p);
    expect(kept.signals.map((s) => `${s.type}:${s.mediaId ?? ''}:${s.label ?? s.distance ?? ''}`)).toEqual([
      'pdq:m1:10',
      'classifier:m2:porn',
      'classifier:m2:neutral',
      'term::',
    ]);
    expect(
      reportUnder(report(signals), policy({ classifiers: { image: { run: 'never' }, text: { run: 'always' } } })).signals.filter(
        (s) => s.type === 'classifier',
      ),
    ).toEqual([cls('spam', 0.7)]);
  });

  it('a cascade condition is judged on the signals kept before the classifier', () => {
    const p = policy({ classifiers: { image: { run: 'always', when: { signal: { type: 'term' } } } } });
    expect(reportUnder(report([cls('porn', 0.9, 'm1'), term]), p).signals.map((s) => s.type)).toEqual(['term']);
    expect(reportUnder(report([term, cls('porn', 0.9, 'm1')]), p).signals.map((s) => s.type)).toEqual(['term', 'classifier']);
  });

  it('one value per source and event: smallest distance, largest score, distinct entries', () => {
    const v = eventValues([
      pdq('b', 30, 'm1'),
      pdq('b', 12, 'm2'),
      cls('porn', 0.2, 'm1'),
      cls('porn', 0.6, 'm2'),
      term,
      { ...term, span: { start: 9, end: 12 } },
      { ...term, entryId: 't2' },
    ]);
    expect([...v.values()]).toEqual([
      { signal: 'pdq', source: 'b', value: 12 },
      { signal: 'classifier', source: 'img-model/porn', value: 0.6 },
      { signal: 'term', source: 'terms', value: 2 },
    ]);
  });
});
