import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { VigilError } from '../../src/core/errors.js';
import { compilePolicy, decide, pdqThresholdFor, type ScanReport } from '../../src/core/policy.js';
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
