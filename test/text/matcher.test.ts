import { describe, expect, it } from 'vitest';
import { VigilError } from '../../src/core/errors.js';
import { compileTextScanner } from '../../src/core/text/scanner.js';
import { makeTermBank, type TermEntry } from '../../src/core/text/term-bank.js';
import { makePatternRuleSet } from '../../src/core/text/patterns.js';
import { benignWords } from './vocab.js';

const vocab = benignWords();
const entry = (id: string, phrase: string, extra: Partial<TermEntry> = {}): TermEntry => ({ id, phrase, category: 'test', severity: 'medium', ...extra });
const ids = (s: ReturnType<typeof compileTextScanner>, text: string): string[] => s.scan(text).map((m) => m.termId);

describe('term matching modes', () => {
  const bank = makeTermBank('modes', [
    entry('ww', 'velvet teapot'),
    entry('jn', 'purple kettle', { mode: 'joined' }),
    entry('sub', 'marmalade', { mode: 'substring' }),
    entry('bar', 'bar', { exceptions: ['bar exam'] }),
  ]);
  const s = compileTextScanner([bank], undefined, { benignWords: vocab });

  it('whole-word and joined: separators, spelled letters, glued and re-split words, aligned to word edges', () => {
    expect(ids(s, 'a velvet teapot')).toEqual(['ww']);
    expect(ids(s, 'velvet tea-pot')).toEqual(['ww']);
    expect(ids(s, 'v e l v e t t e a p o t')).toEqual(['ww']);
    expect(ids(s, 'velvetteapot')).toEqual(['ww']);
    expect(ids(s, 'velvet tea pot')).toEqual(['ww']);
    expect(ids(s, 'purplekettle')).toEqual(['jn']);
    expect(ids(s, 'pur ple ket tle')).toEqual(['jn']);
    expect(ids(s, 'apurplekettle')).toEqual([]);
    expect(ids(s, 'purplekettlebell')).toEqual([]);
  });

  it('short words: splits into ordinary words and look-alike derivations are not the term', () => {
    const short = compileTextScanner([makeTermBank('short', [entry('toad', 'toad'), entry('ham', 'ham')])], undefined, { benignWords: vocab });
    for (const benign of ['to add', 'to ad', 'hammer', 'hamming', 'shampoo', 'graham']) expect(ids(short, `well ${benign} then`), benign).toEqual([]);
    for (const evasion of ['h am', 'h.a.m', 'haaam', 'hamzz', 'h@m', 'hams', 't oad', 'to@d'])
      expect(ids(short, `well ${evasion} then`), evasion).not.toEqual([]);
  });

  it('one typo in words of six letters or more, never when it spells a dictionary word', () => {
    for (const typo of ['kettel', 'ketle', 'kettlle', 'kedtle', 'ettle']) expect(ids(s, `a purple ${typo}`), typo).toEqual(['jn']);
    expect(ids(s, 'a purple settle')).toEqual([]);
    expect(ids(s, 'a purple mettle')).toEqual([]);
    const short = compileTextScanner([makeTermBank('short', [entry('lime', 'lime')])], undefined, { benignWords: vocab });
    expect(ids(short, 'a lmie')).toEqual([]);
  });

  it('substring: inside other tokens, but not inside ordinary words', () => {
    expect(ids(s, 'homemademarmalade!')).toEqual(['sub']);
    expect(ids(s, 'xxmarmaladexx')).toEqual(['sub']);
    const cat = makeTermBank('c', [entry('cat', 'cat', { mode: 'substring' })]);
    const sc = compileTextScanner([cat], undefined, { benignWords: vocab });
    expect(ids(sc, 'scatter the category')).toEqual([]);
    expect(ids(sc, 'lolcatz')).toEqual(['cat']);
  });

  it('keeps other scripts and emoji as they are, while folding lookalikes slipped into Latin text', () => {
    const b = compileTextScanner([makeTermBank('o', [entry('cop', 'cop'), entry('ab', 'abm')])], undefined, { benignWords: vocab });
    expect(ids(b, 'Привет! Это сор, не трогай')).toEqual([]);
    expect(ids(b, 'call the сор now')).toEqual(['cop']);
    expect(ids(b, '🅰️🅱️Ⓜ️ lol')).toEqual([]);
    expect(ids(b, '🇦🇧🇲 lol')).toEqual(['ab']);
  });

  it('inflections: plurals and padding, not derivations that are other dictionary words', () => {
    expect(ids(s, "bars and bar's and barz")).toEqual(['bar', 'bar', 'bar']);
    expect(ids(s, 'she bared her teeth, barred the door, barring none')).toEqual([]);
    expect(ids(s, 'two velvet teapots')).toEqual(['ww']);
  });

  it('stretched words with a typo or padding, in runs of any length (the walk skips only branches it retraces)', () => {
    const k = compileTextScanner([makeTermBank('stretch', [entry('kettle', 'kettle'), entry('noodle', 'noodle')])], undefined, { benignWords: vocab });
    // The term's own pair read as one extra letter, with padding: read as a repeat it would count as stretched.
    for (const t of ['kettlees', 'noodlees', 'kettttlee', 'kettlezzz']) expect(ids(k, `so ${t} ok`), t).toEqual([t.startsWith('k') ? 'kettle' : 'noodle']);
    // A typo inside, before and after runs of repeated letters.
    for (const t of ['kkeeettttllleee', 'keeettxllle', 'keeetttlllle', 'kxettle', 'keetle', 'kettlle']) expect(ids(k, `so ${t} ok`), t).toEqual(['kettle']);
    expect(ids(s, 'veeelvvvet teeeapooot and velvveet teaapoot')).toEqual(['ww', 'ww']);
  });

  it('exceptions: a hit inside an exception phrase is dropped', () => {
    expect(ids(s, 'passed the bar exam')).toEqual([]);
    expect(ids(s, 'meet at the bar')).toEqual(['bar']);
  });

  it('reports original offsets and the bank version', () => {
    const text = 'ok 𝐯𝐞𝐥𝐯𝐞𝐭 t.e.a.p.o.t!!';
    const [m] = s.scan(text);
    expect(m).toMatchObject({ bankId: 'modes', bankVersion: bank.version, termId: 'ww', mode: 'whole-word', category: 'test', severity: 'medium' });
    expect(text.slice(m?.start, m?.end)).toBe('𝐯𝐞𝐥𝐯𝐞𝐭 t.e.a.p.o.t');
    expect(s.versions()).toEqual({ modes: bank.version });
  });

  it('returns pattern hits as matches with mode "pattern"', () => {
    const rules = makePatternRuleSet('rules', [{ id: 'kik', pattern: '\\bkik\\b', category: 'platform-move', severity: 'low' }]);
    const sp = compileTextScanner([bank], rules);
    const text = 'add me on Ｋｉｋ';
    const [m] = sp.scan(text);
    expect(m).toMatchObject({ bankId: 'rules', bankVersion: rules.version, termId: 'kik', mode: 'pattern' });
    expect(text.slice(m?.start, m?.end)).toBe('Ｋｉｋ');
    expect(sp.versions()).toEqual({ modes: bank.version, rules: rules.version });
  });

  it('refuses oversized text with TEXT_TOO_LARGE, without quoting it', () => {
    const small = compileTextScanner([bank], undefined, { maxTextChars: 10 });
    try {
      small.scan('velvet teapot here');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(VigilError);
      expect((err as VigilError).code).toBe('TEXT_TOO_LARGE');
      expect((err as VigilError).message).not.toContain('velvet');
    }
  });

  it('copes with pathological input', () => {
    expect(ids(s, 'a '.repeat(5000))).toEqual([]);
    expect(ids(s, 'b'.repeat(20000))).toEqual([]);
    expect(ids(s, `${'v e l v e t '.repeat(200)}t e a p o t`)).toEqual([]);
  });
});
