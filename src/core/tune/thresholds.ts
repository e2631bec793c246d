/**
 * Counts at every threshold, per signal source: the evidence behind each number in a policy.
 *
 * Each source reduces an event to one value (or none, when it found nothing on it):
 * - `pdq`        the smallest PDQ distance of any signal from that bank (over all media and entries);
 *                predicted positive at t when that distance is ≤ t, t = 0…64;
 * - `classifier` the largest score of that model's label on the event; positive at t when score ≥ t,
 *                t = 0.00…1.00 in steps of 0.01;
 * - `term`, `pattern` the number of distinct entries of that term bank (or pattern set) matched;
 *                one threshold, 1: positive when anything from it matched.
 * An event the source found nothing on is predicted negative at every threshold. Pure.
 */

export const SIGNAL_KINDS = ['pdq', 'classifier', 'term', 'pattern'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

/** Largest PDQ threshold tabulated (the policy allows more, but past 64 bits random images start to collide). */
export const PDQ_MAX_THRESHOLD = 64;

export function thresholdsFor(kind: SignalKind): number[] {
  if (kind === 'pdq') return Array.from({ length: PDQ_MAX_THRESHOLD + 1 }, (_, t) => t);
  // i / 100 is the double nearest to the decimal i/100, as a literal 0.07 would be: scores compare as written.
  if (kind === 'classifier') return Array.from({ length: 101 }, (_, i) => i / 100);
  return [1];
}

/** Whether a source's value for an event predicts it positive at threshold t. */
export function predicts(kind: SignalKind, value: number, t: number): boolean {
  return kind === 'pdq' ? value <= t : value >= t;
}

export interface ThresholdRow {
  signal: SignalKind;
  source: string;
  threshold: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  /** tp / (tp + fp); undefined when nothing is predicted positive. */
  precision: number | undefined;
  /** tp / (tp + fn); undefined when no event is positive. */
  recall: number | undefined;
}

/** One source's values, split by ground truth: events it found nothing on are not listed. */
export interface SourceValues {
  signal: SignalKind;
  source: string;
  positives: number[];
  negatives: number[];
}

/** Number of values v in a sorted array with predicts(kind, v, t). */
function countPredicted(sorted: readonly number[], kind: SignalKind, t: number): number {
  // Binary search for the first index whose value is > t (pdq) or ≥ t (scores).
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] as number;
    if (kind === 'pdq' ? v <= t : v < t) lo = mid + 1;
    else hi = mid;
  }
  return kind === 'pdq' ? lo : sorted.length - lo;
}

/**
 * The rows of one source: `totals` are the labelled events of the whole run (the source's listed
 * values are a subset of them), so fn and tn count the events it found nothing on.
 */
export function tabulate(values: SourceValues, totals: { positives: number; negatives: number }): ThresholdRow[] {
  const pos = [...values.positives].sort((a, b) => a - b);
  const neg = [...values.negatives].sort((a, b) => a - b);
  return thresholdsFor(values.signal).map((threshold) => {
    const tp = countPredicted(pos, values.signal, threshold);
    const fp = countPredicted(neg, values.signal, threshold);
    const fn = totals.positives - tp;
    const tn = totals.negatives - fp;
    return {
      signal: values.signal,
      source: values.source,
      threshold,
      tp,
      fp,
      fn,
      tn,
      precision: tp + fp > 0 ? tp / (tp + fp) : undefined,
      recall: tp + fn > 0 ? tp / (tp + fn) : undefined,
    };
  });
}

/**
 * The threshold to use for a target precision: of the thresholds whose precision reaches the target
 * (with at least one true positive), the one with the highest recall; on a tie, the strictest (the
 * smallest PDQ distance, the highest score), so nothing is flagged that the recall does not pay for.
 */
export function recommend(rows: readonly ThresholdRow[], targetPrecision: number): ThresholdRow | undefined {
  let best: ThresholdRow | undefined;
  for (const r of rows) {
    if (r.tp === 0 || r.precision === undefined || r.precision < targetPrecision) continue;
    const strict = (a: ThresholdRow, b: ThresholdRow) => (a.signal === 'pdq' ? a.threshold < b.threshold : a.threshold > b.threshold);
    if (!best || r.tp > best.tp || (r.tp === best.tp && strict(r, best))) best = r;
  }
  return best;
}

/** The threshold as written in the CSV and report: distances as integers, scores with two decimals. */
export function formatThreshold(kind: SignalKind, t: number): string {
  return kind === 'classifier' ? t.toFixed(2) : String(t);
}

export const CSV_HEADER = 'signal,source,threshold,tp,fp,fn,tn,precision,recall';

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One CSV line. Precision and recall are written in full (they parse back to exactly tp/(tp+fp), tp/(tp+fn)); empty when undefined. */
export function csvLine(r: ThresholdRow): string {
  return [
    r.signal,
    csvField(r.source),
    formatThreshold(r.signal, r.threshold),
    r.tp,
    r.fp,
    r.fn,
    r.tn,
    r.precision === undefined ? '' : String(r.precision),
    r.recall === undefined ? '' : String(r.recall),
  ].join(',');
}
