/**
 * One scan, several policies. `vigil tune` scans each event once with a *tuning policy*: the user's
 * policy with every block bank's PDQ radius opened to 64 and every classifier run on every item, so
 * the report holds each source's evidence at any threshold. `reportUnder` then narrows that report to
 * what the worker would have found under a given policy (its PDQ radii and quality floor, its
 * classifier cascade), so `decide` gives the flags that policy would have raised. Pure.
 */
import { shouldClassify } from '../policy/cascade.js';
import { compilePolicy, pdqThresholdFor, type Policy } from '../policy/compile.js';
import type { ScanReport } from '../policy/decide.js';
import type { Signal } from '../signals.js';
import { PDQ_MAX_THRESHOLD, type SignalKind } from './thresholds.js';

export interface TuningPolicyOptions {
  /** Allow banks keep the policy's radius: opened wider, a known false positive would hide real matches. */
  allowBankIds?: readonly string[];
  /** Other policies the report will be replayed under (the candidate): the scan must see what they would. */
  alsoFor?: readonly Policy[];
}

/**
 * The policy the tuning scan runs with: the same rules, PDQ radius 64 for block banks (allow banks
 * as the policy has them), the lowest quality floor of the policies compared, and both classifiers
 * run on everything.
 */
export function tuningPolicy(policy: Policy, options: TuningPolicyOptions = {}): Policy {
  const doc = policy.document;
  const all = [policy, ...(options.alsoFor ?? [])];
  const allow = Object.fromEntries((options.allowBankIds ?? []).map((id) => [id, pdqThresholdFor(policy, id)]));
  return compilePolicy(
    {
      ...doc,
      thresholds: {
        ...doc.thresholds,
        pdq: {
          ...doc.thresholds.pdq,
          default: PDQ_MAX_THRESHOLD,
          banks: allow,
          minQuality: Math.min(...all.map((p) => p.document.thresholds.pdq.minQuality)),
        },
      },
      classifiers: { image: { run: 'always', sampleRate: 1 }, text: { run: 'always', sampleRate: 1 } },
    },
    'tuning policy',
  );
}

/**
 * The report as the worker would have produced it under `policy`: PDQ signals beyond its radius for
 * their bank, or below its quality floor, are dropped; classifier signals are kept only where its
 * cascade would have run the classifier, judged (like the scan does) on the signals found before it.
 */
export function reportUnder(report: ScanReport, policy: Policy): ScanReport {
  const minQuality = policy.document.thresholds.pdq.minQuality;
  const kept: Signal[] = [];
  // One cascade answer per classifier run: a run's signals (one per label) are adjacent in the report.
  let run: { key: string; classify: boolean } | undefined;
  for (const s of report.signals) {
    if (s.type === 'pdq') {
      const radius = pdqThresholdFor(policy, s.sourceId);
      if ((s.distance ?? 0) > radius || (s.quality !== undefined && s.quality < minQuality)) continue;
      kept.push({ ...s, threshold: radius });
      continue;
    }
    if (s.type === 'classifier') {
      const key = `${s.sourceId}\0${s.mediaId ?? ''}`;
      if (run?.key !== key) {
        const kind = s.mediaId === undefined ? 'text' : 'image';
        const verdict = shouldClassify(policy, kind, { eventId: report.eventId, context: report.context, signals: [...kept], mediaId: s.mediaId });
        run = { key, classify: verdict.classify };
      }
      if (run.classify) kept.push(s);
      continue;
    }
    run = undefined;
    kept.push(s);
  }
  return { ...report, signals: kept };
}

/** The key of a source in the tables: the bank (pdq, term, pattern) or `model/label` (classifier). */
export function sourceKey(s: Signal): { signal: SignalKind; source: string } | undefined {
  if (s.type === 'pdq') return { signal: 'pdq', source: s.sourceId };
  if (s.type === 'term' || s.type === 'pattern') return { signal: s.type, source: s.sourceId };
  if (s.type === 'classifier' && s.label !== undefined) return { signal: 'classifier', source: `${s.sourceId}/${s.label}` };
  return undefined;
}

/**
 * Each source's one value for this event: smallest PDQ distance, largest classifier score, number
 * of distinct term or pattern entries. Keyed `signal\0source`.
 */
export function eventValues(signals: readonly Signal[]): Map<string, { signal: SignalKind; source: string; value: number }> {
  const out = new Map<string, { signal: SignalKind; source: string; value: number }>();
  const entries = new Map<string, Set<string>>();
  for (const s of signals) {
    const k = sourceKey(s);
    if (!k) continue;
    const id = `${k.signal}\0${k.source}`;
    const prev = out.get(id);
    if (k.signal === 'pdq') {
      const d = s.distance ?? 0;
      if (!prev || d < prev.value) out.set(id, { ...k, value: d });
    } else if (k.signal === 'classifier') {
      const score = s.score ?? 0;
      if (!prev || score > prev.value) out.set(id, { ...k, value: score });
    } else {
      let set = entries.get(id);
      if (!set) entries.set(id, (set = new Set()));
      set.add(s.entryId ?? '');
      out.set(id, { ...k, value: set.size });
    }
  }
  return out;
}
