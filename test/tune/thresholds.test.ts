/** Counting at thresholds, on values written out by hand. */
import { describe, expect, it } from 'vitest';
import { csvLine, recommend, tabulate, thresholdsFor } from '../../src/core/tune/thresholds.js';

describe('threshold tables', () => {
  it('pdq: positive at t when distance <= t; the events without a value are fn or tn', () => {
    const rows = tabulate({ signal: 'pdq', source: 'b', positives: [0, 7, 7], negatives: [3, 64] }, { positives: 5, negatives: 4 });
    const at = (t: number) => rows.find((r) => r.threshold === t)!;
    expect(rows).toHaveLength(65);
    expect(at(0)).toMatchObject({ tp: 1, fp: 0, fn: 4, tn: 4, precision: 1, recall: 0.2 });
    expect(at(3)).toMatchObject({ tp: 1, fp: 1, fn: 4, tn: 3, precision: 0.5 });
    expect(at(7)).toMatchObject({ tp: 3, fp: 1, fn: 2, tn: 3, precision: 0.75, recall: 0.6 });
    expect(at(64)).toMatchObject({ tp: 3, fp: 2, fn: 2, tn: 2 });
    expect(recommend(rows, 0.99)?.threshold).toBe(0);
    expect(recommend(rows, 0.7)?.threshold).toBe(7);
  });

  it('classifier: positive at t when score >= t, on a 0.00…1.00 grid; a score equal to a grid point counts', () => {
    expect(thresholdsFor('classifier')).toHaveLength(101);
    const rows = tabulate({ signal: 'classifier', source: 'm/l', positives: [0.07, 0.5, 1], negatives: [0.069, 0.5] }, { positives: 3, negatives: 2 });
    const at = (t: number) => rows.find((r) => Math.abs(r.threshold - t) < 1e-9)!;
    expect(at(0.07)).toMatchObject({ tp: 3, fp: 1 });
    expect(at(0.5)).toMatchObject({ tp: 2, fp: 1 });
    expect(at(0.51)).toMatchObject({ tp: 1, fp: 0 });
    expect(at(1)).toMatchObject({ tp: 1, fp: 0, precision: 1 });
    // Highest recall at precision 0.99 is 1 of 3, reached from 0.51 to 1.00: the strictest, 1.00.
    expect(recommend(rows, 0.99)?.threshold).toBe(1);
    expect(csvLine(at(0.5))).toBe(`classifier,m/l,0.50,2,1,1,1,${2 / 3},${2 / 3}`);
  });

  it('undefined ratios are empty in the CSV; a source name with a comma is quoted', () => {
    const rows = tabulate({ signal: 'term', source: 'a,b', positives: [], negatives: [] }, { positives: 0, negatives: 3 });
    expect(rows.map(csvLine)).toEqual(['term,"a,b",1,0,0,0,3,,']);
    expect(recommend(rows, 0.5)).toBeUndefined();
  });
});
