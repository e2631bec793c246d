/**
 * Differential test: the normaliser must give exactly the output of the frozen copy it was optimised
 * from (normalize-reference.ts, the oracle), for every input: tokens with every field, the character
 * arrays, the light text, the display form and the match-key helpers. Inputs: the evasion generator's
 * corpus (recall suite), benign chat lines and dictionary sentences, seeded random Unicode (every
 * plane, confusables, emoji, combining marks, format characters, lone surrogate halves) and long texts.
 * The generators here import nothing from src/ beyond the two normalisers compared.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as fast from '../../src/core/text/normalize.js';
import * as ref from './normalize-reference.js';
import { defaultFeatureConfig } from '../../src/classify/text-features.js';
import { chatLines } from './generator/benign.js';
import { evasionCases, rng } from './generator/evasions.js';

type Norm = ReturnType<typeof ref.normalizeText> | ReturnType<typeof fast.normalizeText>;

/** Everything observable about a normalisation, as plain data (typed arrays as arrays). */
function snapshot(n: Norm): unknown {
  const light = n.light();
  return {
    tokens: n.tokens.map((t) => ({ ...t })),
    exStart: Array.from(n.exStart),
    exEnd: Array.from(n.exEnd),
    exCp: Array.from(n.exCp),
    exMask: Array.from(n.exMask),
    light: { text: light.text, starts: Array.from(light.starts), ends: Array.from(light.ends) },
  };
}

/** Compares old and new on every text; on a mismatch, fails with the first differing input. */
function compareAll(texts: readonly string[]): void {
  // The light text is built lazily: it must still be right after later calls (no shared buffers leak).
  let earlier: { text: string; norm: ReturnType<typeof fast.normalizeText> } | undefined;
  for (const text of texts) {
    const a = ref.normalizeText(text);
    const b = fast.normalizeText(text);
    if (earlier) {
      const want = ref.normalizeText(earlier.text).light();
      const got = earlier.norm.light();
      if (got.text !== want.text || got.starts.join() !== want.starts.join() || got.ends.join() !== want.ends.join())
        expect({ ...got, text: got.text }, JSON.stringify(earlier.text)).toStrictEqual(want);
    }
    earlier = { text, norm: b };
    const sa = snapshot(a);
    const sb = snapshot(b);
    // Cheap check first; the structural one only to print a readable difference.
    if (JSON.stringify(sa) !== JSON.stringify(sb) || !sameTokenShape(a, b)) expect(sb, JSON.stringify(text)).toStrictEqual(sa);
    const da = ref.normalizedDisplay(a);
    const db = fast.normalizedDisplay(b);
    if (da !== db) expect(db, JSON.stringify(text)).toBe(da);
    for (const t of a.tokens) {
      if (fast.keyOf(t.exact) !== ref.keyOf(t.exact)) expect(fast.keyOf(t.exact), JSON.stringify(t.exact)).toBe(ref.keyOf(t.exact));
      if (fast.appendKey('zebra', t.key) !== ref.appendKey('zebra', t.key)) expect(fast.appendKey('zebra', t.key)).toBe(ref.appendKey('zebra', t.key));
    }
  }
}

/** Same keys on every token (JSON drops undefined-valued keys; absent and undefined must not differ). */
function sameTokenShape(a: Norm, b: ReturnType<typeof fast.normalizeText>): boolean {
  if (a.tokens.length !== b.tokens.length) return false;
  for (let i = 0; i < a.tokens.length; i++) if (Object.keys(a.tokens[i] as object).join() !== Object.keys(b.tokens[i] as object).join()) return false;
  return true;
}

const range = (a: number, z: number): number[] => Array.from({ length: z - a + 1 }, (_, i) => a + i);

/** Code point pools for the random generator: what the normaliser treats specially, and everything else. */
function pools(): number[][] {
  const require = createRequire(import.meta.url);
  const confusables = Object.keys(JSON.parse(readFileSync(require.resolve('unhomoglyph/data.json'), 'utf8')) as Record<string, string>)
    .map((s) => [...s])
    .filter((cs) => cs.length === 1)
    .map((cs) => cs[0]?.codePointAt(0) as number);
  const ascii = range(0x20, 0x7e);
  const asciiLetters = [...range(0x41, 0x5a), ...range(0x61, 0x7a)];
  const leetish = [...'0123456789@$!|+#%(<>)[]/\\_-°IiLl1'].map((c) => c.codePointAt(0) as number);
  const spaces = [0x20, 0x20, 0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c, 0x85, 0xa0, 0x1680, 0x2000, 0x2007, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0x2800];
  const apostrophes = [0x27, 0x60, 0xb4, 0x2018, 0x2019, 0x201b, 0x2032, 0x02bc, 0xff07];
  const nonAsciiLeet = [...'€¢¡£¥§†µ®©∂°ßſﬁﬂẞİıǅ²³¹½'].map((c) => c.codePointAt(0) as number);
  const invisible = [
    ...range(0x200b, 0x200f),
    ...range(0x202a, 0x202e),
    ...range(0x2060, 0x2064),
    0xfeff,
    0xad,
    0x115f,
    0x1160,
    0x3164,
    0xffa0,
    0x34f,
    0xfe0f,
    0xfe0e,
    0xe0041,
    0xe007f,
  ];
  const marks = [...range(0x300, 0x36f), ...range(0x1ab0, 0x1abe), ...range(0x20d0, 0x20f0), 0x3099, 0x1d167];
  const letters = [
    ...range(0xc0, 0x24f),
    ...range(0x370, 0x3ff),
    ...range(0x400, 0x4ff),
    ...range(0x1d00, 0x1dbf),
    ...range(0x1e00, 0x1eff),
    ...range(0x2c60, 0x2c7f),
    ...range(0xa720, 0xa7ff),
  ];
  const compat = [
    ...range(0xff01, 0xff5e),
    ...range(0x1d400, 0x1d7ff),
    ...range(0x2460, 0x24ff),
    ...range(0x1f100, 0x1f1ff),
    ...range(0x2100, 0x214f),
    ...range(0x3300, 0x33ff),
    ...range(0xfb00, 0xfb4f),
  ];
  const emoji = [...range(0x1f300, 0x1faff), ...range(0x2600, 0x27bf), 0x200d, 0x20e3, ...range(0x1f3fb, 0x1f3ff), ...range(0x1f1e6, 0x1f1ff)];
  const digits = [...range(0x660, 0x669), ...range(0x966, 0x96f), ...range(0xff10, 0xff19), ...range(0x1d7ce, 0x1d7ff), ...range(0x2070, 0x209f)];
  const other = [
    ...range(0x4e00, 0x4e80),
    ...range(0x3040, 0x30ff),
    ...range(0x600, 0x6ff),
    ...range(0x530, 0x58f),
    ...range(0x13a0, 0x13f5),
    ...range(0xac00, 0xac40),
    ...range(0x900, 0x97f),
  ];
  const surrogates = [...range(0xd800, 0xd810), ...range(0xdbf0, 0xdfff)];
  return [
    ascii,
    asciiLetters,
    asciiLetters,
    leetish,
    spaces,
    apostrophes,
    nonAsciiLeet,
    invisible,
    marks,
    letters,
    confusables,
    compat,
    emoji,
    digits,
    other,
    surrogates,
  ];
}

/** Seeded random strings: words of mixed pools, or any code point of any plane, or lone surrogates. */
function randomTexts(count: number, seed: number): string[] {
  const r = rng(seed);
  const ps = pools();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = 1 + Math.floor(r() * (r() < 0.8 ? 40 : 300));
    // Each text leans on a few pools, so runs of one kind (a Cyrillic word, a leet chunk) occur.
    const favoured = [pick(ps), pick(ps), pick(ps)];
    let s = '';
    for (let k = 0; k < len; k++) {
      const u = r();
      if (u < 0.02) {
        // Any code point of any plane, unassigned and private-use included (surrogates as halves).
        s += String.fromCharCode(...codeUnits(Math.floor(r() * 0x110000)));
      } else if (u < 0.65) s += String.fromCodePoint(pick(pick(favoured)));
      else s += String.fromCharCode(...codeUnits(pick(pick(ps))));
    }
    out.push(s);
  }
  return out;
}

/** UTF-16 units of a code point; surrogate code points stay single (lone) units. */
function codeUnits(cp: number): number[] {
  if (cp <= 0xffff) return [cp];
  const v = cp - 0x10000;
  return [0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff)];
}

/** Sentences of dictionary words with random case, punctuation, digits and leet swaps. */
function dictionaryLines(count: number, seed: number): string[] {
  const words = readFileSync('/usr/share/dict/american-english', 'utf8').split('\n').filter(Boolean);
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const seps = [' ', ' ', ' ', ', ', '. ', '! ', '? ', ' - ', '-', '.', ' ... ', ' 😂 ', '!!! ', ' #', ' @', "'s ", ': ', ' (', ') ', ' / '];
  const swaps: Record<string, string[]> = {
    a: ['4', '@'],
    e: ['3', '€'],
    i: ['1', '!', '|'],
    o: ['0', '()', '°'],
    s: ['5', '$'],
    t: ['7', '+'],
    l: ['1', '|'],
    b: ['8', '|3'],
    g: ['9', '6'],
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor(r() * 14);
    let s = '';
    for (let k = 0; k < n; k++) {
      let w = pick(words);
      const u = r();
      if (u < 0.1) w = w.toUpperCase();
      else if (u < 0.2) w = w[0]?.toUpperCase() + w.slice(1);
      if (r() < 0.15) w = [...w].map((c) => (r() < 0.4 && swaps[c] ? pick(swaps[c] as string[]) : c)).join('');
      if (r() < 0.05) w = [...w].join(r() < 0.5 ? ' ' : '.');
      if (r() < 0.05) w += String(Math.floor(r() * 1000));
      if (r() < 0.05) w = w.replace(/[aeiou]/, (v) => v.repeat(2 + Math.floor(r() * 4)));
      s += (k > 0 ? pick(seps) : '') + w;
    }
    out.push(s);
  }
  return out;
}

describe('normalizeText against the frozen reference', () => {
  it('agrees on the evasion generator corpus', () => {
    const cases = evasionCases();
    expect(cases.length).toBeGreaterThan(1000);
    compareAll(cases.map((c) => c.message));
  }, 120_000);

  it('agrees on ≥ 10k benign chat lines and dictionary sentences', () => {
    const lines = [...chatLines(10_000), ...dictionaryLines(10_000, 7)];
    expect(lines.length).toBeGreaterThanOrEqual(20_000);
    compareAll(lines);
  }, 120_000);

  it('agrees on seeded random Unicode (all planes, confusables, emoji, marks, surrogate halves)', () => {
    const texts = randomTexts(20_000, 99);
    // The generator really produces the hard cases.
    expect(texts.some((t) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(t))).toBe(true);
    expect(texts.some((t) => /\p{M}/u.test(t))).toBe(true);
    expect(texts.some((t) => /\p{Extended_Pictographic}/u.test(t))).toBe(true);
    compareAll(texts);
  }, 120_000);

  it('agrees on edge cases and long texts', () => {
    const edge = [
      '𐐨𐐨𐐨 𞤢𞤢a 𝐚𝐚',
      '',
      ' ',
      'I',
      'l',
      '1',
      '!',
      '|',
      '()',
      '|\\/|',
      'a',
      'a b c',
      'İstanbul',
      'ǅ',
      'ß',
      'ﬁne',
      'Ⅻ',
      '\uD800',
      '\uDC00a',
      'a\uD800b',
      '\u200B',
      "'",
      "a'",
      "'a",
    ];
    const units = ['velvet teapot 😂 ', 'v e l v e t t e a p o t ', 'k3+!|3@$5!0|', 'kkkeeetttttllleee ', 'теарот тea ', 'Ｆr33 PRIZE!!! ', '\u0301\u200d🏳️‍🌈 '];
    const long = units.map((u) => u.repeat(Math.ceil(65_536 / u.length)).slice(0, 65_536));
    long.push(randomTexts(300, 5).join(' '), dictionaryLines(3000, 3).join(' '));
    compareAll([...edge, ...long]);
  }, 120_000);

  it("keeps the shipped text model's probe fingerprint", () => {
    const shipped = JSON.parse(readFileSync(new URL('../../models/spam-scam-email-demo/features.json', import.meta.url), 'utf8')) as {
      dimensions: number;
      probe: string;
    };
    expect(defaultFeatureConfig(shipped.dimensions).probe).toBe(shipped.probe);
  });
});
