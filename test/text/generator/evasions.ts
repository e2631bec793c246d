/**
 * Evasion generator: families of disguised stand-in targets, built from Unicode data (letters.ts),
 * a leetspeak table written for this generator, and the system dictionary. It imports nothing from
 * src/ (a test asserts that), so it cannot mirror the matcher's own tables.
 *
 * Every family is applied to every target several times with a seeded random source; variants that a
 * reader could no longer tell from an ordinary dictionary word (a typo of "kettle" that spells
 * "settle") are skipped, since no matcher may flag those.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { letterTable, type LetterFamily } from './letters.js';

/** Harmless stand-ins: 3–4-letter words, long words and multi-word phrases. */
export const TARGETS = [
  'ham',
  'fig',
  'owl',
  'lime',
  'toad',
  'moss',
  'kiwi',
  'velvet teapot',
  'purple kettle',
  'silver spoon',
  'copper owl',
  'waffle iron',
  'paper lantern',
  'marmalade',
  'kettle',
  'pumpkin',
  'biscuit',
  'lantern',
  'walrus',
  'pickle',
  'noodle',
  'trombone',
  'cactus',
  'penguin',
  'pineapple',
  'blossom',
] as const;

export const targetId = (t: string): string => `target.${t.replace(/ /g, '-')}`;

/** mulberry32 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

let vocabCache: Set<string> | undefined;
/** Debian's wamerican, every word of letters only, lower-cased (proper nouns included: "Hamming"). */
export function dictionary(): Set<string> {
  if (vocabCache) return vocabCache;
  const system = '/usr/share/dict/american-english';
  const file = existsSync(system) ? system : fileURLToPath(new URL('../../../config/text/benign-words.txt', import.meta.url));
  const words = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) if (/^[A-Za-z]{2,}$/.test(line)) words.add(line.toLowerCase());
  vocabCache = words;
  return words;
}

/** Regular English plural (the one inflection that never turns a word into a different one). */
export function pluralOf(w: string): string {
  if (/[^aeiou]y$/.test(w)) return `${w.slice(0, -1)}ies`;
  if (/(?:s|x|z|ch|sh)$/.test(w)) return `${w}es`;
  return `${w}s`;
}

/** Surface forms that are the target itself: the word, its plural, its possessive. */
export function ownForms(word: string): Set<string> {
  return new Set([word, pluralOf(word), `${word}s`, `${word}es`]);
}

// Ambiguous leetspeak, one glyph for several letters; multi-character glyphs included.
const LEET: Record<string, readonly string[]> = {
  a: ['4', '@', '/\\', '∂'],
  b: ['8', '6', '|3', 'ß'],
  c: ['(', '<', '¢', '©'],
  d: ['|)', 'cl'],
  e: ['3', '€', '£'],
  g: ['9', '6'],
  h: ['#', '|-|'],
  i: ['1', '!', '|', '¡'],
  k: ['|<'],
  l: ['1', '|', '!', '£'],
  m: ['|\\/|'],
  n: ['|\\|'],
  o: ['0', '()', '[]', '°'],
  p: ['|°'],
  r: ['®'],
  s: ['5', '$', '§'],
  t: ['7', '+', '†'],
  u: ['µ', '(_)'],
  v: ['\\/'],
  w: ['\\/\\/', 'vv'],
  x: ['><', '%'],
  y: ['¥'],
  z: ['2'],
};
const SIMPLE_LEET = Object.fromEntries(Object.entries(LEET).map(([k, v]) => [k, v.filter((g) => [...g].length === 1)]));

const INVISIBLE = ['\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF', '\u00AD', '\u200E', '\u202A', '\u0301', '\u0308', '\u0336', '\uFE0F'];
const SEPARATORS = [' ', ' ', '.', '-', '_', '*', ',', '/', '~', ':', '·', ' . ', '🙂', '\u00A0'];
const SUFFIX_PADDING = ['z', 'zz', 'x', 'xx', 's', 'es', 'zzz', 'ie', 'y'];

/** A transformation of the target's letters; returns undefined when it cannot apply to this target. */
type Step = (s: string, r: Rand) => string | undefined;

const letterIdx = (s: string): number[] => [...s].flatMap((c, i) => (/[a-z]/.test(c) ? [i] : []));

function substitute(table: (letter: string) => readonly string[] | undefined, share: number): Step {
  return (s, r) => {
    const chars = [...s];
    const idx = letterIdx(s).filter((i) => (table(chars[i] as string)?.length ?? 0) > 0);
    if (idx.length === 0) return undefined;
    let changed = 0;
    for (const i of idx) {
      if (r() < share) {
        chars[i] = pick(r, table(chars[i] as string) as readonly string[]);
        changed++;
      }
    }
    if (changed === 0) {
      const i = pick(r, idx);
      chars[i] = pick(r, table(chars[i] as string) as readonly string[]);
    }
    return chars.join('');
  };
}

function familyStep(family: LetterFamily): Step {
  const byLetter = letterTable().get(family);
  return substitute((l) => byLetter?.get(l), 0.6);
}

function anyLookalike(): Step {
  const families = [...letterTable().values()];
  return substitute((l) => families.flatMap((m) => m.get(l) ?? []), 0.5);
}

/** Words of the target, for per-word steps. */
const words = (s: string): string[] => s.split(' ');

const splitAnywhere: Step = (s, r) => {
  const chars = [...s];
  const inner = chars.flatMap((c, i) => (i > 0 && c !== ' ' && chars[i - 1] !== ' ' ? [i] : []));
  if (inner.length === 0) return undefined;
  const at = new Set([pick(r, inner)]);
  if (r() < 0.4) at.add(pick(r, inner));
  return chars.map((c, i) => (at.has(i) ? pick(r, SEPARATORS) + c : c)).join('');
};

const spelled: Step = (s, r) => {
  const sep = pick(r, [' ', '.', '-', ' . ', '*', '_']);
  return [...s.replace(/ /g, '')].join(sep);
};

const joined: Step = (s, r) => {
  if (!s.includes(' ')) return undefined;
  const glued = s.replace(/ /g, '');
  return r() < 0.5 ? glued : (splitAnywhere(glued, r) ?? glued);
};

const repeats: Step = (s, r) => {
  const chars = [...s];
  const idx = letterIdx(s);
  const times = new Map<number, number>();
  for (let k = 0; k < 1 + Math.floor(r() * 2); k++) times.set(pick(r, idx), 2 + Math.floor(r() * 4));
  return chars.map((c, i) => c.repeat(times.get(i) ?? 1)).join('');
};

const padding: Step = (s, r) => `${s}${pick(r, SUFFIX_PADDING)}`;

const inflection: Step = (s, r) => {
  const ws = words(s);
  const last = ws[ws.length - 1] as string;
  const form = pick(r, [pluralOf(last), `${last}'s`, `${last}’s`, `${last}s'`]);
  return [...ws.slice(0, -1), form].join(' ');
};

const typo: Step = (s, r) => {
  const ws = words(s);
  const long = ws.flatMap((w, i) => (w.length >= 6 ? [i] : []));
  if (long.length === 0) return undefined;
  const wi = pick(r, long);
  const w = ws[wi] as string;
  const p = Math.floor(r() * w.length);
  const letter = (): string => String.fromCharCode(97 + Math.floor(r() * 26));
  const kind = Math.floor(r() * 4);
  let out: string;
  if (kind === 0) {
    const q = Math.min(p, w.length - 2);
    out = w.slice(0, q) + (w[q + 1] as string) + (w[q] as string) + w.slice(q + 2);
  } else if (kind === 1) {
    let c = letter();
    while (c === w[p]) c = letter();
    out = w.slice(0, p) + c + w.slice(p + 1);
  } else if (kind === 2) out = w.slice(0, p) + letter() + w.slice(p);
  else out = w.slice(0, p) + w.slice(p + 1);
  if (out === w) return undefined;
  ws[wi] = out;
  return ws.join(' ');
};

const invisibles: Step = (s, r) => {
  const chars = [...s];
  const idx = letterIdx(s);
  return chars.map((c, i) => (idx.includes(i) && r() < 0.4 ? c + pick(r, INVISIBLE) : c)).join('');
};

const leet = substitute((l) => LEET[l], 0.5);
const simpleLeet = substitute((l) => SIMPLE_LEET[l], 0.5);

const caseMix: Step = (s, r) => [...s].map((c) => (r() < 0.5 ? c.toUpperCase() : c)).join('');

/**
 * Families: steps in order: letter edits (typo, repeats, endings) and separators act on plain letters,
 * so the generator can tell when a variant has become ordinary words; glyph swaps come last.
 */
export const FAMILIES: Record<string, readonly Step[]> = {
  case: [caseMix],
  'confusable-cyrillic': [familyStep('confusable-cyrillic')],
  'confusable-greek': [familyStep('confusable-greek')],
  'confusable-armenian': [familyStep('confusable-armenian')],
  'confusable-cherokee': [familyStep('confusable-cherokee')],
  'confusable-latin': [familyStep('confusable-latin')],
  'confusable-other': [familyStep('confusable-other')],
  'small-capital': [familyStep('small-capital')],
  'modifier-letter': [familyStep('modifier-letter')],
  'latin-extended': [familyStep('latin-extended')],
  'math-alphanumeric': [familyStep('math-alphanumeric')],
  fullwidth: [familyStep('fullwidth')],
  enclosed: [familyStep('enclosed')],
  'regional-indicator': [familyStep('regional-indicator')],
  'lookalike-mix': [anyLookalike()],
  'leet-ambiguous': [simpleLeet],
  'leet-multichar': [leet],
  'invisible-and-marks': [invisibles],
  'split-anywhere': [splitAnywhere],
  'spelled-out': [spelled],
  'joined-words': [joined],
  repeats: [repeats],
  'suffix-padding': [padding],
  inflection: [inflection],
  typo: [typo],
  'combo: typo+split+leet': [typo, splitAnywhere, simpleLeet],
  'combo: repeats+lookalikes+invisible': [repeats, anyLookalike(), invisibles],
  'combo: inflection+case+leet': [inflection, caseMix, simpleLeet],
  'combo: padding+split+lookalikes': [padding, splitAnywhere, anyLookalike()],
  'combo: joined+repeats+leet': [joined, repeats, leet],
  'combo: typo+repeats+spelled+lookalikes': [typo, repeats, spelled, anyLookalike()],
};

const PRE = ['hey did u get the ', 'lol ', 'omg 😂 ', 'so, the ', 'my friend said: "', 'ok (', '👉 ', 'Re: ', '', 'i told her about the ', '¿', 'wait… '];
const POST = [' for me?', '!!', ' 🔥🔥', ' tonight, ok', '" lol', ') 😅', '...', '?!', '', ' at 5pm', ' — seriously', ' 👍'];

const GLYPH_STEPS = new Set<Step>([leet, simpleLeet]);

export interface EvasionCase {
  family: string;
  target: string;
  id: string;
  message: string;
  /** UTF-16 span of the disguised target inside `message`. */
  from: number;
  to: number;
}

/**
 * Would a reader take this plain surface (letters and separators, before glyph swaps) for ordinary
 * words? A piece that is a dictionary word other than the target's own forms is, unless it is an
 * exact part of a long target word ("pine apple" is still a pineapple; "to ad" or "to add" is not a toad).
 */
export function looksBenign(plain: string, target: string, dict: ReadonlySet<string>): boolean {
  const own = words(target);
  const forms = new Set(own.flatMap((w) => [...ownForms(w)]));
  const pieces = plain
    .toLowerCase()
    .replace(/['’]/g, '')
    .split(/[^a-z]+/)
    .filter(Boolean);
  return pieces.some((p) => {
    if (!dict.has(p) || forms.has(p)) return false;
    const home = own.find((w) => w.includes(p));
    return home === undefined || home.length < 6;
  });
}

/** Every family × every target × `perTarget` seeded samples, each inside an ordinary sentence. */
export function evasionCases(perTarget = 6, seed = 2026): EvasionCase[] {
  const dict = dictionary();
  const r = rng(seed);
  const out: EvasionCase[] = [];
  for (const [family, steps] of Object.entries(FAMILIES)) {
    for (const target of TARGETS) {
      for (let k = 0; k < perTarget; k++) {
        let s: string | undefined = target;
        let plain: string = target;
        for (const step of steps) {
          s = step(s, r);
          if (s === undefined) break;
          // Still plain ASCII (letter edits and separators only): this is what a reader sees as words.
          if (/^[\x20-\x7e\u00a0·…🙂]*$/u.test(s) && !GLYPH_STEPS.has(step)) plain = s;
        }
        if (s === undefined) continue;
        if (looksBenign(plain, target, dict)) continue;
        const pre = pick(r, PRE);
        const post = pick(r, POST);
        out.push({ family, target, id: targetId(target), message: pre + s + post, from: pre.length, to: pre.length + s.length });
      }
    }
  }
  return out;
}
