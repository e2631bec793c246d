/** Classifier sources obey the policy's cascade, count every answer, and stamp the threshold that applied. */
import { describe, expect, it } from 'vitest';
import type { ClassifierResult, ImageClassifier } from '../../src/classify/image-classifier.js';
import { classifierThreshold, imageClassifierSource, textClassifierSource, type CascadeObserver } from '../../src/classify/sources.js';
import type { TextClassifier } from '../../src/classify/text-classifier.js';
import type { MessageEvent } from '../../src/core/contracts.js';
import { compilePolicy } from '../../src/core/policy.js';
import type { Signal } from '../../src/core/signals.js';
import type { MediaSourceInput } from '../../src/core/sources.js';

const raster = { width: 2, height: 2, channels: 3 as const, data: new Uint8Array(12) };

class CountingImageClassifier implements ImageClassifier {
  calls = 0;
  classify(): Promise<ClassifierResult> {
    this.calls++;
    return Promise.resolve({ modelId: 'img-model', modelVersion: 'v3', scores: { explicit: 0.93, neutral: 0.07 } });
  }
  versions() {
    return { 'img-model': 'v3' };
  }
  close() {
    return Promise.resolve();
  }
}

class CountingTextClassifier implements TextClassifier {
  calls = 0;
  score(): ClassifierResult {
    this.calls++;
    return { modelId: 'txt-model', modelVersion: 't1', scores: { spam_scam: 0.8 } };
  }
  versions() {
    return { 'txt-model': 't1' };
  }
}

function policy(classifiers: Record<string, unknown>) {
  return compilePolicy({
    version: 2,
    classifiers,
    rules: [
      { id: 'strict', when: { signal: { type: 'classifier', label: 'explicit', minScore: 0.95 } }, category: 'explicit', severity: 'high', action: 'escalate' },
      {
        id: 'loose',
        when: { signal: { label: ['explicit', 'other'], minScore: 0.8, source: 'img-*' } },
        category: 'explicit',
        severity: 'low',
        action: 'review',
      },
      { id: 'off', status: 'disabled', when: { signal: { type: 'classifier', minScore: 0.1 } }, category: 'x', severity: 'low', action: 'log' },
      {
        id: 'negated',
        when: { all: [{ signal: { type: 'md5' } }, { not: { signal: { label: 'neutral', minScore: 0.2 } } }] },
        category: 'y',
        severity: 'low',
        action: 'log',
      },
      { id: 'hashes', when: { signal: { type: 'md5' } }, category: 'known', severity: 'high', action: 'escalate' },
    ],
  });
}

function event(eventId: string, context?: MessageEvent['context']): MessageEvent {
  return {
    schema: 'vigil.message.v1',
    eventId,
    messageId: 'm',
    conversationId: 'c',
    senderId: 's',
    recipientIds: ['r'],
    sentAt: '2026-01-01T00:00:00.000Z',
    media: [],
    priority: 'normal',
    ...(context ? { context } : {}),
  };
}

const input = (id: string): MediaSourceInput => ({
  item: { id, mimeType: 'image/png', bytes: '' },
  bytes: new Uint8Array(0),
  sniffed: { format: 'png', mimeMismatch: false },
  raster,
});
const md5Hit = (mediaId: string): Signal => ({ type: 'md5', sourceId: 'known', sourceVersion: 'r1', entryId: 'e', mediaId });

describe('classifier sources', () => {
  it('the threshold on a signal is the lowest minScore a live rule tests that label with; disabled and negated rules do not count', () => {
    const p = policy({});
    expect(classifierThreshold(p, 'img-model', 'explicit')).toBe(0.8);
    expect(classifierThreshold(p, 'other-model', 'explicit')).toBe(0.95); // `loose` is limited to img-*
    expect(classifierThreshold(p, 'img-model', 'neutral')).toBeUndefined();
  });

  it('run: unmatched skips media with a hash match of its own, classifies the rest, and every answer is counted', async () => {
    const classifier = new CountingImageClassifier();
    const answers: Parameters<CascadeObserver>[0][] = [];
    const source = imageClassifierSource(classifier, (a) => answers.push(a));
    const p = policy({ image: { run: 'unmatched' } });
    const context = { event: event('e1'), policy: p, signals: [md5Hit('a')] };
    expect(await source.scan(input('a'), context)).toEqual([]);
    const signals = (await source.scan(input('b'), context)) as Signal[];
    expect(classifier.calls).toBe(1);
    expect(signals).toEqual([
      { type: 'classifier', sourceId: 'img-model', sourceVersion: 'v3', label: 'explicit', score: 0.93, threshold: 0.8, mediaId: 'b' },
      { type: 'classifier', sourceId: 'img-model', sourceVersion: 'v3', label: 'neutral', score: 0.07, mediaId: 'b' },
    ]);
    expect(answers).toEqual([
      { kind: 'image', classify: false, reason: 'already_matched' },
      { kind: 'image', classify: true, reason: 'unmatched' },
    ]);
    expect(source.versions()).toEqual({ models: { 'img-model': 'v3' } });
  });

  it('conditions on account signals and reports gate the model; never never runs it', async () => {
    const classifier = new CountingImageClassifier();
    const minorsOnly = policy({ image: { run: 'always', when: { account: { key: 'recipientAgeBand', equals: 'minor' } } } });
    const source = imageClassifierSource(classifier);
    await source.scan(input('a'), { event: event('e1', { accountSignals: { recipientAgeBand: 'adult' } }), policy: minorsOnly, signals: [] });
    expect(classifier.calls).toBe(0);
    await source.scan(input('a'), { event: event('e2', { accountSignals: { recipientAgeBand: 'minor' } }), policy: minorsOnly, signals: [] });
    expect(classifier.calls).toBe(1);
    await source.scan(input('a'), { event: event('e3'), policy: policy({ image: { run: 'never' } }), signals: [] });
    expect(classifier.calls).toBe(1);
  });

  it('a sampling rate classifies a stable share of events: the same event is always in or out', () => {
    const classifier = new CountingTextClassifier();
    const answers: boolean[] = [];
    const source = textClassifierSource(classifier, (a) => answers.push(a.classify));
    const sampled = policy({ text: { run: 'always', sampleRate: 0.25 } });
    for (let i = 0; i < 2000; i++) source.scan('hello', { event: event(`evt-${i}`), policy: sampled, signals: [] });
    expect(classifier.calls).toBeGreaterThan(2000 * 0.2);
    expect(classifier.calls).toBeLessThan(2000 * 0.3);
    const again = answers.slice();
    answers.length = 0;
    for (let i = 0; i < 2000; i++) source.scan('hello', { event: event(`evt-${i}`), policy: sampled, signals: [] });
    expect(answers).toEqual(again);
  });

  it('text run: unmatched skips text a term or pattern already matched', () => {
    const classifier = new CountingTextClassifier();
    const source = textClassifierSource(classifier);
    const p = policy({ text: { run: 'unmatched' } });
    const term: Signal = { type: 'term', sourceId: 'terms', sourceVersion: 'r1', entryId: 'vt' };
    expect(source.scan('x', { event: event('e'), policy: p, signals: [term] })).toEqual([]);
    expect(source.scan('x', { event: event('e'), policy: p, signals: [] })).toEqual([
      { type: 'classifier', sourceId: 'txt-model', sourceVersion: 't1', label: 'spam_scam', score: 0.8 },
    ]);
  });
});
