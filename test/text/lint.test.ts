import { describe, expect, it } from 'vitest';
import { lintTermBank } from '../../src/core/text/lint.js';
import { makeTermBank, type TermEntry } from '../../src/core/text/term-bank.js';
import { benignWords } from './vocab.js';

const vocab = benignWords();
const entry = (id: string, phrase: string, extra: Partial<TermEntry> = {}): TermEntry => ({ id, phrase, category: 'test', severity: 'low', ...extra });
const codes = (entries: TermEntry[]): string[] =>
  lintTermBank(makeTermBank('b', entries), { benignWords: vocab }).map((i) => `${i.level}:${i.termId}:${i.code}`);

describe('term lint', () => {
  it('refuses risky modes for short terms', () => {
    expect(codes([entry('cat', 'cat', { mode: 'substring' })])).toContain('error:cat:short-risky-mode');
    expect(codes([entry('owl', 'owl', { mode: 'joined' })])).toContain('error:owl:short-risky-mode');
    expect(codes([entry('vt', 'velvet teapot', { mode: 'joined' })]).filter((c) => c.startsWith('error'))).toEqual([]);
  });

  it('warns about terms that collide with benign words', () => {
    expect(codes([entry('lime', 'lime')])).toContain('warning:lime:common-word');
    expect(codes([entry('god', 'god')])).toContain('warning:god:benign-lookalike');
    expect(codes([entry('kettle', 'kettle')])).toContain('warning:kettle:typo-neighbours');
    expect(codes([entry('bold', 'bold')])).toContain('warning:bold:skeleton-neighbours');
    expect(codes([entry('mal', 'malad', { mode: 'substring' })])).toContain('warning:mal:inside-benign-words');
    expect(codes([entry('cp', 'carpet', { mode: 'joined' })])).toContain('warning:cp:splits-into-words');
    expect(codes([entry('a', 'velvet teapot'), entry('b', 'Velvet  Teapot')])).toContain('warning:b:duplicate-term');
    expect(codes([entry('bar', 'bar', { exceptions: ['wine list'] })])).toContain('warning:bar:exception-unrelated');
  });

  it('is quiet about an invented stand-in', () => {
    expect(codes([entry('vt', 'zorblax teapot'), entry('zq', 'zorblax')])).toEqual([]);
  });

  it('quotes benign words, never phrases', () => {
    const issues = lintTermBank(makeTermBank('b', [entry('t1', 'kettle')]), { benignWords: vocab });
    const typo = issues.find((i) => i.code === 'typo-neighbours');
    expect(typo?.message).toContain('settle');
    expect(typo?.message).not.toContain('kettle');
  });
});
