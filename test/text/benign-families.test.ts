/**
 * Zero false positives on generated benign text (test/text/generator/benign.ts, independent of src/):
 * 10k+ ordinary chat lines and the Scunthorpe lines built from the dictionary for every target.
 */
import { describe, expect, it } from 'vitest';
import { compileTextScanner } from '../../src/core/text/scanner.js';
import { makeTermBank } from '../../src/core/text/term-bank.js';
import { chatLines, scunthorpeLines } from './generator/benign.js';
import { TARGETS, targetId } from './generator/evasions.js';
import { benignWords } from './vocab.js';

const bank = makeTermBank(
  'stand-ins',
  TARGETS.map((t) => ({ id: targetId(t), phrase: t, category: 'test', severity: 'high' as const })),
);
const scanner = compileTextScanner([bank], undefined, { benignWords: benignWords() });
const flagged = (lines: readonly string[]): string[] =>
  lines.flatMap((line) => {
    const hits = scanner.scan(line);
    return hits.length > 0 ? [`${line} → ${hits.map((h) => `${h.termId}@${line.slice(h.start, h.end)}`).join(', ')}`] : [];
  });

describe('benign text from the independent generator', () => {
  it('flags none of 12k ordinary chat lines (emoji, numbers, other scripts, stretched words)', () => {
    const lines = chatLines(12_000);
    expect(lines.length).toBeGreaterThanOrEqual(10_000);
    const bad = flagged(lines);
    expect(bad, bad.slice(0, 40).join('\n')).toEqual([]);
  });

  it('flags none of the Scunthorpe lines: words holding a target, typo neighbours, letters across gaps', () => {
    const lines = scunthorpeLines();
    expect(lines.length).toBeGreaterThanOrEqual(1000);
    for (const kind of ['contains', 'typo-neighbour', 'across-gap'] as const)
      expect(
        lines.some((l) => l.kind === kind),
        kind,
      ).toBe(true);
    for (const w of ['hammer', 'shampoo', 'sublime', 'graham'])
      expect(
        lines.some((l) => l.line.includes(w)),
        w,
      ).toBe(true);
    const bad = flagged(lines.map((l) => l.line));
    expect(bad, `${bad.length} flagged\n${bad.slice(0, 40).join('\n')}`).toEqual([]);
  });
});
