/**
 * Recall on evasions from the separate generator (test/text/generator), which imports nothing from
 * src/: every family × every stand-in target, inside ordinary sentences with emoji and punctuation.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileTextScanner } from '../../src/core/text/scanner.js';
import { makeTermBank } from '../../src/core/text/term-bank.js';
import { FAMILIES, TARGETS, evasionCases, targetId } from './generator/evasions.js';
import { benignWords } from './vocab.js';

const bank = makeTermBank(
  'stand-ins',
  TARGETS.map((t) => ({ id: targetId(t), phrase: t, category: 'test', severity: 'high' as const })),
);
const scanner = compileTextScanner([bank], undefined, { benignWords: benignWords() });
const cases = evasionCases();

describe('evasion families from the independent generator', () => {
  it('imports nothing from src/', () => {
    const dir = fileURLToPath(new URL('./generator/', import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const imports = [...readFileSync(`${dir}${f}`, 'utf8').matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]/g)].map(
        (m) => m[1] ?? m[2] ?? '',
      );
      expect(imports.length, f).toBeGreaterThan(0);
      for (const spec of imports)
        expect(spec.startsWith('.') ? spec.startsWith('./') && !spec.includes('..') : !spec.includes('src'), `${f} imports ${spec}`).toBe(true);
    }
  });

  it('covers ≥ 20 targets (short and multi-word) and every family', () => {
    expect(TARGETS.length).toBeGreaterThanOrEqual(20);
    expect(TARGETS.some((t) => t.length <= 3)).toBe(true);
    expect(TARGETS.some((t) => t.length === 4)).toBe(true);
    expect(TARGETS.filter((t) => t.includes(' ')).length).toBeGreaterThanOrEqual(4);
    const families = new Set(cases.map((c) => c.family));
    expect([...families].sort()).toEqual(Object.keys(FAMILIES).sort());
    expect(cases.length).toBeGreaterThan(3000);
  });

  it('finds ≥ 97% overall and ≥ 85% in every family, with spans on the disguised text', () => {
    const perFamily = new Map<string, { n: number; miss: string[] }>();
    for (const c of cases) {
      const f = perFamily.get(c.family) ?? { n: 0, miss: [] };
      f.n++;
      const hit = scanner.scan(c.message).find((m) => m.termId === c.id);
      if (!hit || hit.start < c.from || hit.end > c.to) f.miss.push(JSON.stringify(c.message));
      perFamily.set(c.family, f);
    }
    const missed = [...perFamily.values()].reduce((a, f) => a + f.miss.length, 0);
    const recall = 1 - missed / cases.length;
    const report = [...perFamily]
      .map(([name, f]) => `${name}: ${(100 * (1 - f.miss.length / f.n)).toFixed(1)}% (${f.n}) ${f.miss.slice(0, 3).join(' ')}`)
      .join('\n');
    expect(recall, `recall ${(recall * 100).toFixed(2)}%\n${report}`).toBeGreaterThanOrEqual(0.97);
    for (const [name, f] of perFamily) expect(1 - f.miss.length / f.n, `${name}\n${report}`).toBeGreaterThanOrEqual(0.85);
  });
});
