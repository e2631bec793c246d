import { describe, expect, it } from 'vitest';
import { normalizeText, normalizedDisplay } from '../../src/core/text/normalize.js';
import { lookalikeCount } from '../../src/core/text/confusables.js';

const show = (s: string): string => normalizedDisplay(normalizeText(s));

describe('normalizeText', () => {
  it('folds compatibility forms, case, marks and invisible characters', () => {
    expect(show('ＴＥＡＰＯＴ')).toBe('teapot');
    expect(show('𝐭𝐞𝐚𝐩𝐨𝐭')).toBe('teapot');
    expect(show('té̈ap̶ot')).toBe('teapot');
    expect(show('tea\u200Bp\u200Do\u2060t\uFE0F')).toBe('teapot');
    expect(show('\u202Etea\u00ADpot\u202C')).toBe('teapot');
    expect(show('Straße')).toBe('strasse');
  });

  it('folds lookalike letters in Latin text but leaves other scripts and emoji alone', () => {
    expect(lookalikeCount()).toBeGreaterThan(500);
    expect(show('tеаpоt')).toBe('teapot');
    expect(show('we need the теарот')).toBe('we need the teapot');
    expect(show('Привет, как дела')).toBe('привет как дела');
    expect(show('Καλημέρα κόσμε')).toBe('καλημερα κοσμε');
    const emoji = normalizeText('🅰️🅱️ Ⓜ️ 😀');
    expect(emoji.tokens).toEqual([]);
    expect(emoji.light().text).toBe('\uFFFC\uFFFC Ⓜ \uFFFC');
  });

  it('reads leetspeak only inside words that contain letters', () => {
    expect(show('v3lv3t t3@p0t')).toBe('velvet teapot');
    expect(show('call 555 0100 at 10am, 2nd floor')).toBe('call 555 0100 at 10am 2nd floor');
    expect(show('cat! @cat $5 cla$$ rocke+')).toBe('cat cat 5 class rocket');
    // "1" is an i or an l: both readings are kept.
    const t = normalizeText('1ime').tokens[0];
    expect(t?.exact).toBe('iime');
    expect(t?.alts?.map((a) => a.exact)).toContain('lime');
    // Digits at the edge of a word read as a number first, leetspeak second.
    const u = normalizeText('alex99').tokens[0];
    expect(u?.exact).toBe('alex99');
    expect(u?.alts?.map((a) => a.exact)).toContain('alexgg');
  });

  it('joins separators inside a word and glues spelled-out letters', () => {
    expect(show('t e a p o t')).toBe('teapot');
    expect(show('t.e.a.p.o.t')).toBe('teapot');
    expect(show('t e @ p 0 t')).toBe('teapot');
    expect(show("cat's tea-pot")).toBe('cats tea pot');
    const toks = normalizeText('tea-pot now').tokens;
    expect(toks.map((t) => t.gapAfter)).toEqual(['weak', 'strong', 'end']);
  });

  it('collapses repeated letters in keys but keeps the exact form', () => {
    const [t] = normalizeText('teeeapottt').tokens;
    expect(t?.exact).toBe('teeeapottt');
    expect(t?.key).toBe('teapot');
  });

  it('maps every token back to its original span', () => {
    const text = 'Hi 𝐯𝐞𝐥𝐯𝐞𝐭 te\u200Ba-pot, ＣＡＴ ok';
    const norm = normalizeText(text);
    const spans = norm.tokens.map((t) => text.slice(t.start, t.end));
    expect(spans).toEqual(['Hi', '𝐯𝐞𝐥𝐯𝐞𝐭', 'te\u200Ba', 'pot', 'ＣＡＴ', 'ok']);
    const light = norm.light();
    expect(light.text.length).toBe(light.starts.length);
    const i = light.text.indexOf('cat');
    expect(text.slice(light.starts[i], light.ends[i + 2])).toBe('ＣＡＴ');
  });
});
