/**
 * Classifiers as signal sources. The image classifier reads the raster the scan decoded once for
 * every media source; the text classifier reads the event's text. Each asks the policy's cascade
 * (core/policy/cascade.ts) first, with the signals earlier sources found, so the model runs only
 * where the safety team said it pays; every answer is counted by kind and reason.
 *
 * A classifier signal carries one label's score and, when a live or shadow rule tests that label
 * with `minScore`, the lowest such threshold, so a reviewer sees how far past the line a score was.
 */
import { shouldClassify, type ClassifyReason } from '../core/policy/cascade.js';
import { globMatches, type Policy } from '../core/policy/compile.js';
import { decisionContext } from '../core/policy/decide.js';
import type { Condition, SignalPredicate } from '../core/policy/schema.js';
import type { Signal } from '../core/signals.js';
import type { MediaSource, SourceContext, SourceVersions, TextSource } from '../core/sources.js';
import type { ClassifierResult, ImageClassifier } from './image-classifier.js';
import type { TextClassifier } from './text-classifier.js';

/** Told each cascade answer: `classify` true means the model ran (or was asked to). */
export type CascadeObserver = (run: { kind: 'image' | 'text'; classify: boolean; reason: ClassifyReason }) => void;

const list = <T>(v: T | readonly T[] | undefined): readonly T[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? (v as readonly T[]) : [v as T];

function predicates(c: Condition, out: SignalPredicate[]): SignalPredicate[] {
  if (c.signal) out.push(c.signal);
  for (const x of c.all ?? []) predicates(x, out);
  for (const x of c.any ?? []) predicates(x, out);
  // Under `not`, a score is a reason not to act: no threshold "applies" to the flag from there.
  return out;
}

const thresholdCache = new WeakMap<Policy, Map<string, number | undefined>>();

/** The lowest `minScore` a non-disabled rule sets for this model's label (undefined: none does). */
export function classifierThreshold(policy: Policy, modelId: string, label: string): number | undefined {
  let cache = thresholdCache.get(policy);
  if (!cache) thresholdCache.set(policy, (cache = new Map()));
  const key = `${modelId}\0${label}`;
  if (cache.has(key)) return cache.get(key);
  let lowest: number | undefined;
  for (const rule of policy.document.rules) {
    if (rule.status === 'disabled') continue;
    for (const p of predicates(rule.when, [])) {
      if (p.minScore === undefined) continue;
      const types = list(p.type);
      if (types && !types.includes('classifier')) continue;
      const labels = list(p.label);
      if (labels && !labels.includes(label)) continue;
      const sources = list(p.source);
      if (sources && !sources.some((g) => globMatches(g, modelId))) continue;
      lowest = lowest === undefined ? p.minScore : Math.min(lowest, p.minScore);
    }
  }
  cache.set(key, lowest);
  return lowest;
}

function toSignals(result: ClassifierResult, policy: Policy, mediaId?: string): Signal[] {
  return Object.entries(result.scores).map(([label, score]) => {
    const signal: Signal = { type: 'classifier', sourceId: result.modelId, sourceVersion: result.modelVersion, label, score };
    const threshold = classifierThreshold(policy, result.modelId, label);
    if (threshold !== undefined) signal.threshold = threshold;
    if (mediaId !== undefined) signal.mediaId = mediaId;
    return signal;
  });
}

function cascadeInput(context: SourceContext, mediaId?: string) {
  return { eventId: context.event.eventId, context: decisionContext(context.event), signals: context.signals, mediaId };
}

/** The image classifier over the shared raster: skipped (by the scan) for items that are not one. */
export function imageClassifierSource(classifier: ImageClassifier, onCascade?: CascadeObserver): MediaSource {
  const versions: SourceVersions = Object.freeze({ models: Object.freeze(classifier.versions()) });
  return {
    id: 'image-classifier',
    kind: 'media',
    stage: 'classify',
    raster: 'required',
    versions: () => versions,
    async scan({ item, raster }, context) {
      const verdict = shouldClassify(context.policy, 'image', cascadeInput(context, item.id));
      onCascade?.({ kind: 'image', ...verdict });
      if (!verdict.classify || !raster) return [];
      return toSignals(await classifier.classify(raster), context.policy, item.id);
    },
  };
}

/** The text classifier, after the term banks and patterns (so `run: unmatched` sees their matches). */
export function textClassifierSource(classifier: TextClassifier, onCascade?: CascadeObserver): TextSource {
  const versions: SourceVersions = Object.freeze({ models: Object.freeze(classifier.versions()) });
  return {
    id: 'text-classifier',
    kind: 'text',
    stage: 'classify',
    versions: () => versions,
    scan(text, context) {
      const verdict = shouldClassify(context.policy, 'text', cascadeInput(context));
      onCascade?.({ kind: 'text', ...verdict });
      if (!verdict.classify) return [];
      return toSignals(classifier.score(text), context.policy);
    },
  };
}
