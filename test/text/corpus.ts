/**
 * Deterministic test corpora for the text scanner: harmless stand-in targets, the evasions a
 * determined sender uses, and ordinary chat lines (templates × the benign vocabulary).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inflectionsOf } from '../../src/core/text/matcher.js';
import { makeTermBank, type TermBankData, type TermEntry } from '../../src/core/text/term-bank.js';
import { seededRandom } from '../helpers/seeded-random.js';

/** Stand-ins only: none of these is, or stands in for, a real abusive term. */
export const WORD_TARGETS = [
  'lime', 'marmalade', 'kettle', 'pumpkin', 'biscuit', 'lantern', 'walrus', 'pickle', 'noodle', 'saddle',
  'muffin', 'pebble', 'trombone', 'cactus', 'penguin', 'meadow', 'rocket', 'blossom',
] as const;
export const PHRASE_TARGETS = ['velvet teapot', 'purple kettle', 'silver spoon', 'golden harp', 'paper lantern', 'copper owl'] as const;

export function targetBank(): TermBankData {
  const entries: TermEntry[] = [
    ...WORD_TARGETS.map((w): TermEntry => ({ id: `word.${w}`, phrase: w, category: 'test', severity: 'high' })),
    ...PHRASE_TARGETS.map((p): TermEntry => ({ id: `phrase.${p.replace(/ /g, '-')}`, phrase: p, category: 'test', severity: 'high', mode: 'joined' })),
  ];
  return makeTermBank('evasion-targets', entries);
}

const mapChars = (s: string, table: Record<string, string>): string => [...s].map((c) => table[c] ?? c).join('');
const interleave = (s: string, sep: string): string => [...s].map((c) => (c === ' ' ? ' ' : c)).join(sep).replace(new RegExp(`${sep.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ${sep.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'g'), ' ');
const perLetter = (s: string, f: (c: string, i: number) => string): string => [...s].map((c, i) => (c === ' ' ? c : f(c, i))).join('');

const LEET_DIGITS: Record<string, string> = { a: '4', e: '3', i: '1', o: '0', s: '5', t: '7', g: '9', b: '8', l: '1' };
const LEET_SYMBOLS: Record<string, string> = { a: '@', s: '$', i: '!', l: '|', t: '+' };
const CYRILLIC: Record<string, string> = { a: 'а', e: 'е', o: 'о', c: 'с', p: 'р', x: 'х', y: 'у', i: 'і', s: 'ѕ', k: 'к', h: 'һ', j: 'ј' };
const GREEK: Record<string, string> = { o: 'ο', a: 'α', i: 'ι', k: 'κ', t: 'τ', p: 'ρ', v: 'ν', u: 'υ', e: 'ε' };
const INVISIBLES = ['\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF'];
const MARKS = ['\u0301', '\u0308', '\u0336', '\u0323', '\u030C'];
const BIDI = ['\u200E', '\u200F', '\u00AD', '\u202A', '\u202C'];

function codepointShift(c: string, base: number): string {
  const i = c.charCodeAt(0) - 97;
  return i >= 0 && i < 26 ? String.fromCodePoint(base + i) : c;
}

export interface Evasion {
  name: string;
  apply(phrase: string): string;
  /** Only for terms in joined mode (words glued together). */
  joinedOnly?: boolean;
}

export const EVASIONS: readonly Evasion[] = [
  { name: 'leet digits', apply: (p) => mapChars(p, LEET_DIGITS) },
  { name: 'leet symbols', apply: (p) => perLetter(p, (c, i) => (i > 0 ? (LEET_SYMBOLS[c] ?? c) : c)) },
  { name: 'leet mixed', apply: (p) => perLetter(p, (c, i) => (i % 2 === 1 ? (LEET_DIGITS[c] ?? LEET_SYMBOLS[c] ?? c) : c)) },
  { name: 'mixed case', apply: (p) => perLetter(p, (c, i) => (i % 2 === 0 ? c.toUpperCase() : c)) },
  { name: 'shouting', apply: (p) => `${p.toUpperCase()}!!!` },
  { name: 'cyrillic lookalikes', apply: (p) => mapChars(p, CYRILLIC) },
  { name: 'greek lookalikes', apply: (p) => mapChars(p, GREEK) },
  { name: 'fullwidth', apply: (p) => perLetter(p, (c) => codepointShift(c, 0xff41)) },
  { name: 'math bold', apply: (p) => perLetter(p, (c) => codepointShift(c, 0x1d41a)) },
  { name: 'math script capitals', apply: (p) => perLetter(p, (c) => codepointShift(c, 0x1d4d0)) },
  { name: 'circled', apply: (p) => perLetter(p, (c) => codepointShift(c, 0x24d0)) },
  { name: 'zero-width', apply: (p) => perLetter(p, (c, i) => c + (INVISIBLES[i % INVISIBLES.length] as string)) },
  { name: 'combining marks', apply: (p) => perLetter(p, (c, i) => c + (MARKS[i % MARKS.length] as string)) },
  { name: 'bidi and soft hyphen', apply: (p) => perLetter(p, (c, i) => (BIDI[i % BIDI.length] as string) + c) },
  { name: 'variation selectors', apply: (p) => perLetter(p, (c) => `${c}\uFE0F`) },
  { name: 'spaced letters', apply: (p) => interleave(p, ' ') },
  { name: 'dotted letters', apply: (p) => interleave(p, '.') },
  { name: 'dashed letters', apply: (p) => interleave(p, '-') },
  { name: 'starred letters', apply: (p) => interleave(p, '*') },
  { name: 'nbsp letters', apply: (p) => interleave(p, '\u00A0') },
  { name: 'separator inside word', apply: (p) => p.split(' ').map((w) => `${w.slice(0, 2)}.${w.slice(2)}`).join(' ') },
  { name: 'emoji inside word', apply: (p) => p.split(' ').map((w) => `${w.slice(0, 3)}🙂${w.slice(3)}`).join(' ') },
  { name: 'repeated letters', apply: (p) => perLetter(p, (c, i) => (i % 2 === 0 ? c.repeat(3) : c)) },
  { name: 'stretched ending', apply: (p) => `${p}${(p.at(-1) as string).repeat(4)}` },
  { name: 'plural', apply: (p) => (p.endsWith('s') || p.endsWith('h') ? `${p}es` : `${p}s`) },
  { name: 'possessive', apply: (p) => `${p}’s` },
  { name: 'quoted', apply: (p) => `"${p}"` },
  { name: 'spaced after one-letter word', apply: (p) => `a ${interleave(p, ' ')}` },
  { name: 'combo: lookalikes + zero-width + leet', apply: (p) => perLetter(mapChars(p, { a: 'а', o: '0', e: '3' }), (c) => `${c}\u200B`) },
  { name: 'combo: spaced leet', apply: (p) => interleave(mapChars(p, { e: '3', a: '@', o: '0' }), ' ') },
  { name: 'glued words', apply: (p) => p.replace(/ /g, ''), joinedOnly: true },
  { name: 'glued leet words', apply: (p) => mapChars(p.replace(/ /g, ''), LEET_DIGITS), joinedOnly: true },
  { name: 'split mid-word', apply: (p) => `${p.replace(/ /g, '').slice(0, 4)} ${p.replace(/ /g, '').slice(4)}`, joinedOnly: true },
];

export const CARRIERS: readonly [string, string][] = [
  ['hey do you have the ', ' for me?'],
  ['', ' tonight, ok'],
  ['my friend said ', ' is the best'],
  ['lol send ', ''],
  ['where did you put the ', ' 😂'],
];

/** The benign vocabulary bundled with Vigil (generated from Debian's wamerican). */
export function benignWords(): Set<string> {
  const text = readFileSync(fileURLToPath(new URL('../../config/text/benign-words.txt', import.meta.url)), 'utf8');
  return new Set(text.split('\n').filter((w) => /^[a-z]{2,}$/.test(w)));
}


const CHAT_TEMPLATES = [
  'did you see the {w} yesterday?',
  '{W} is honestly my favourite word lol',
  'i think {w} and {v} go well together',
  'can u bring the {w} at 10am tomorrow',
  'omg the {w} was sooo good 😂😂',
  'my mom says {w} is overrated',
  'we studied {w} in class, 2nd period',
  'brb, grabbing some {w}',
  'ok see u l8r, dont forget the {w}!',
  'is {w} spelled right? {v}?',
  'the {w}-{v} thing was weird',
  'haha "{w}" 🙃',
  '{w}, {v}, and {u}',
  'who has the {w}??? need it by 5pm',
  'gr8 game today, the {w} was epic',
  'idk maybe {w} or maybe {v}',
  'i am a {w} fan tbh',
  'u r a star, thx for the {w}',
  'check this out: https://example.com/{w}/{v}',
  'my new username is {w}_{v}99',
  'Meeting at 3:30pm re: {w} budget (see doc #42)',
  'I LOVE {W} SO MUCH',
  '{w}... {v}... {u}...',
  'tbh the {w} in ur pic looks like a {v}',
];
const FIXED_LINES = [
  'Привет, как дела? Всё хорошо, спасибо.',
  'Καλημέρα, τι κάνεις σήμερα;',
  'сор сао рос все ок',
  'こんにちは、元気ですか？',
  '👍👍 sounds good',
  'call me at 555 0100 ext 2',
  'a b c d e f g h',
  'u r a good friend',
  'i a m so tired',
  'l o l',
  'b4 we go, gr8 m8',
  'lolololol',
  'hmmmm ok',
  'noooo wayyyy',
  'yessss 1000%',
];

/**
 * Ordinary chat lines: every "bait" word (an ordinary word that contains a term, like "sublime" for
 * "lime") at least twice, then random vocabulary until `count` lines. Words that are the terms
 * themselves or their regular inflections (limes, limed, liming) are left out: those are true positives.
 */
export function benignChatLines(vocab: ReadonlySet<string>, termWords: readonly string[], count: number, seed = 7): { lines: string[]; bait: string[] } {
  const forms = new Set<string>();
  for (const t of termWords) for (const f of [t, ...inflectionsOf(t)]) forms.add(f);
  const words = [...vocab].filter((w) => !forms.has(w)).sort();
  const bait = words.filter((w) => termWords.some((t) => w.includes(t)));
  const rand = seededRandom(seed);
  const pick = (): string => words[Math.floor(rand() * words.length)] as string;
  const fill = (tpl: string, w: string): string =>
    tpl
      .replace('{w}', w)
      .replace('{W}', w.toUpperCase())
      .replace('{v}', pick())
      .replace('{u}', pick());
  const lines: string[] = [...FIXED_LINES];
  let k = 0;
  for (const b of bait) {
    for (let r = 0; r < 2; r++) lines.push(fill(CHAT_TEMPLATES[k++ % CHAT_TEMPLATES.length] as string, b));
  }
  while (lines.length < count) lines.push(fill(CHAT_TEMPLATES[k++ % CHAT_TEMPLATES.length] as string, pick()));
  return { lines, bait };
}
