import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPatternFile } from '../../src/adapters/term-files.js';
import { VigilError } from '../../src/core/errors.js';
import { normalizeText } from '../../src/core/text/normalize.js';
import { PatternMatcher, makePatternRuleSet, parsePatternJsonl, parsePatternLines } from '../../src/core/text/patterns.js';

const rule = (id: string, pattern: string, flags?: string): string =>
  JSON.stringify({ id, pattern, category: 'test', severity: 'low', ...(flags ? { flags } : {}) });

describe('pattern rules', () => {
  it('bounds a catastrophic-backtracking pattern: RE2 runs it in linear time', () => {
    const set = parsePatternJsonl('p', rule('evil', '^(a+)+$'));
    const m = new PatternMatcher(set);
    // A backtracking engine would take longer than the universe's age on this; a hang fails the test by timeout.
    expect(m.match(normalizeText(`${'a'.repeat(50_000)}!`).light())).toEqual([]);
    expect(m.match(normalizeText('a'.repeat(100)).light())).toHaveLength(1);
    expect(/^(a+)+$/.test('aaaa')).toBe(true);
  });

  it('refuses what the linear-time engine cannot run, and empty matches', () => {
    for (const bad of [rule('br', '(a)\\1'), rule('la', 'foo(?=bar)'), rule('lb', '(?<!x)y'), rule('empty', 'x*')]) {
      try {
        parsePatternJsonl('p', bad);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(VigilError);
        expect((err as VigilError).code).toBe('PATTERN_UNSAFE');
      }
    }
    const { rules, errors } = parsePatternLines([rule('ok', 'kik'), rule('br', '(a)\\1'), '{"id":"x"}', rule('ok', 'snap')].join('\n'));
    expect(rules.map((r) => r.id)).toEqual(['ok']);
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4]);
  });

  it('matches on folded text and maps spans to the original', async () => {
    const set = await loadPatternFile(fileURLToPath(new URL('../fixtures/text/sample-patterns.jsonl', import.meta.url)));
    expect(set.id).toBe('sample-patterns');
    const m = new PatternMatcher(set);
    const text = 'ADD ME ON ЅNАPCHAT!! how old r u? 555-123-4567 a.b@example.com';
    const hits = m.match(normalizeText(text).light()).sort((a, b) => a.start - b.start);
    expect(hits.map((h) => [h.ruleId, text.slice(h.start, h.end)])).toEqual([
      ['platform-move', 'ADD ME ON ЅNАPCHAT'],
      ['age-question', 'how old r u'],
      ['phone-number', '555-123-4567'],
      ['email-address', 'a.b@example.com'],
    ]);
  });

  it('keeps offsets right around astral characters', () => {
    const m = new PatternMatcher(makePatternRuleSet('p', [{ id: 'k', pattern: 'kik', category: 't', severity: 'low' }]));
    const text = '😀😀 𝐤𝐢𝐤 kik';
    const hits = m.match(normalizeText(text).light());
    expect(hits.map((h) => text.slice(h.start, h.end))).toEqual(['𝐤𝐢𝐤', 'kik']);
  });
});
