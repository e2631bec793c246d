import { describe, expect, it } from 'vitest';
import { compileTextScanner } from '../../src/core/text/scanner.js';
import { CARRIERS, EVASIONS, PHRASE_TARGETS, WORD_TARGETS, benignWords, targetBank } from './corpus.js';

const bank = targetBank();
const scanner = compileTextScanner([bank], undefined, { benignWords: benignWords() });
const targets = [...WORD_TARGETS.map((t) => ({ phrase: t as string, id: `word.${t}`, joined: false })), ...PHRASE_TARGETS.map((p) => ({ phrase: p as string, id: `phrase.${p.replace(/ /g, '-')}`, joined: true }))];

interface Case {
  evasion: string;
  target: string;
  message: string;
  from: number;
  to: number;
  id: string;
}

const cases: Case[] = [];
for (const ev of EVASIONS) {
  targets.forEach((t, i) => {
    if (ev.joinedOnly && !t.joined) return;
    const [pre, post] = CARRIERS[i % CARRIERS.length] as [string, string];
    const evaded = ev.apply(t.phrase);
    cases.push({ evasion: ev.name, target: t.phrase, message: pre + evaded + post, from: pre.length, to: pre.length + evaded.length, id: t.id });
  });
}

describe('evasion suite', () => {
  it('covers at least 20 targets and every evasion type', () => {
    expect(targets.length).toBeGreaterThanOrEqual(20);
    expect(new Set(cases.map((c) => c.evasion)).size).toBe(EVASIONS.length);
    expect(cases.length).toBeGreaterThan(600);
  });

  it('catches at least 97% of evasions, with spans inside the evaded text', () => {
    const misses: string[] = [];
    for (const c of cases) {
      const hit = scanner.scan(c.message).find((m) => m.termId === c.id);
      // A hit must point at the evaded phrase in the original message, give or take a quote or ending.
      if (!hit || hit.start < c.from || hit.end > c.to || hit.end - hit.start < Math.min(3, c.to - c.from)) misses.push(`${c.evasion}: ${c.target}`);
    }
    const recall = 1 - misses.length / cases.length;
    expect(recall, `recall ${(recall * 100).toFixed(1)}%; missed:\n${misses.join('\n')}`).toBeGreaterThanOrEqual(0.97);
  });

  it('catches every evasion type at least most of the time', () => {
    for (const ev of EVASIONS) {
      const mine = cases.filter((c) => c.evasion === ev.name);
      const caught = mine.filter((c) => scanner.scan(c.message).some((m) => m.termId === c.id)).length;
      expect(caught / mine.length, ev.name).toBeGreaterThanOrEqual(0.8);
    }
  });

  it('finds the plain targets exactly where they are', () => {
    for (const t of targets) {
      const msg = `so, ${t.phrase}!`;
      const hits = scanner.scan(msg).filter((m) => m.termId === t.id);
      expect(hits).toHaveLength(1);
      expect(msg.slice(hits[0]?.start, hits[0]?.end)).toBe(t.phrase);
    }
  });
});
