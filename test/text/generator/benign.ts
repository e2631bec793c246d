/**
 * Benign text for the false-positive suites, generated from the system dictionary (wamerican):
 * ordinary chat lines, and "Scunthorpe" lines that put the targets' letters where a careless matcher
 * finds them: every dictionary word holding a target word as prefix, suffix or stem; dictionary words
 * one typo away from a long target word; and word pairs whose letters run across a gap into a target.
 * Imports nothing from src/.
 */
import { TARGETS, dictionary, ownForms, rng } from './evasions.js';

const pickFrom = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

const CHAT = [
  'did you see the {w} yesterday?',
  '{W} is honestly my favourite word lol',
  'i think {w} and {v} go well together 😂',
  'can u bring the {w} at 10am tomorrow',
  'omg the {w} was sooo good 😂😂',
  'my mom says {w} is overrated!!',
  'we studied {w} in class, 2nd period',
  'brb, grabbing some {w} 🛒',
  'ok see u l8r, dont forget the {w}!',
  'is {w} spelled right? {v}?',
  'the {w}-{v} thing was weird',
  'haha "{w}" 🙃',
  '{w}, {v}, and {u}',
  'who has the {w}??? need it by 5pm',
  'gr8 game today, the {w} was epic 🔥',
  'idk maybe {w} or maybe {v}',
  'u r a star, thx for the {w} ✨',
  'check this out: https://example.com/{w}/{v}',
  'my new username is @{w}_{v}99',
  'Meeting at 3:30pm re: {w} budget (see doc #42)',
  'I LOVE {W} SO MUCH!!!',
  '{w}... {v}... {u}...',
  'tbh the {w} in ur pic looks like a {v} 👀',
  'noooo the {w} is gone 😭 yesss found the {v}',
  "it's {w}'s turn, then {v}'s",
  'lol {w} {v} {u} {w}',
  '#{w} #{v} 🎉🎉',
  '{w}!!! {v}?! {u}…',
];
const OTHER_SCRIPTS = [
  'Привет, как дела? Всё хорошо, спасибо.',
  'сор сао рос все ок, пока',
  'Καλημέρα, τι κάνεις σήμερα;',
  'Ο καιρός είναι καλός, ναι',
  'Բարև, ինչպես ես? Շնորհակալություն',
  'ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ ᎣᏏᏲ',
  'こんにちは、元気ですか？',
  'مرحبا كيف حالك',
  '👍👍 sounds good 🇺🇸🇬🇧🇫🇷',
  'call me at 555 0100 ext 2',
  'lolololol 😂😂😂',
  'hmmmm ok 🤔',
];

/** Words a benign line must not contain: the targets' own words and plurals (those are true hits). */
function ownWordForms(): Set<string> {
  const out = new Set<string>();
  for (const t of TARGETS) for (const w of t.split(' ')) for (const f of ownForms(w)) out.add(f);
  return out;
}

/** ≥ `count` ordinary chat lines from templates and random dictionary words. */
export function chatLines(count: number, seed = 11): string[] {
  const own = ownWordForms();
  const vocab = [...dictionary()].filter((w) => !own.has(w)).sort();
  const r = rng(seed);
  const word = (): string => pickFrom(r, vocab);
  const stretch = (w: string): string => (r() < 0.1 ? w.replace(/[aeiou]/, (v) => v.repeat(3)) : w);
  const lines = [...OTHER_SCRIPTS];
  for (let k = 0; lines.length < count; k++) {
    const w = word();
    const line = (CHAT[k % CHAT.length] as string)
      .replace(/\{w\}/g, stretch(w))
      .replace('{W}', w.toUpperCase())
      .replace('{v}', stretch(word()))
      .replace('{u}', word());
    lines.push(line);
  }
  return lines;
}

function damerau1(a: string, b: string): boolean {
  if (a === b || Math.abs(a.length - b.length) > 1) return false;
  if (a.length === b.length) {
    const diff: number[] = [];
    for (let i = 0; i < a.length && diff.length <= 2; i++) if (a[i] !== b[i]) diff.push(i);
    if (diff.length === 1) return true;
    return (
      diff.length === 2 && diff[1] === (diff[0] as number) + 1 && a[diff[0] as number] === b[diff[1] as number] && a[diff[1] as number] === b[diff[0] as number]
    );
  }
  const [s, l] = a.length < b.length ? [a, b] : [b, a];
  let i = 0;
  while (i < s.length && s[i] === l[i]) i++;
  return s.slice(i) === l.slice(i + 1);
}

export interface ScunthorpeLine {
  kind: 'contains' | 'typo-neighbour' | 'across-gap';
  target: string;
  line: string;
}

/** Scunthorpe lines, generated from the dictionary for every target word. */
export function scunthorpeLines(seed = 13): ScunthorpeLine[] {
  const dict = [...dictionary()].sort();
  const own = ownWordForms();
  const r = rng(seed);
  const out: ScunthorpeLine[] = [];
  const frame = (w: string): string =>
    (pickFrom(r, CHAT) as string).replace(/\{w\}/g, w).replace('{W}', w.toUpperCase()).replace('{v}', 'thing').replace('{u}', 'stuff');
  const byPrefix = new Map<string, string[]>();
  const bySuffix = new Map<string, string[]>();
  for (const w of dict) {
    for (let k = 1; k <= Math.min(4, w.length); k++) {
      const p = w.slice(0, k);
      const s = w.slice(-k);
      (byPrefix.get(p) ?? byPrefix.set(p, []).get(p))?.push(w);
      (bySuffix.get(s) ?? bySuffix.set(s, []).get(s))?.push(w);
    }
  }
  for (const target of TARGETS) {
    for (const tw of target.split(' ')) {
      // Prefix, suffix or stem: every dictionary word that holds the target word and is not its own form.
      for (const w of dict) if (w.includes(tw) && !own.has(w)) for (let n = 0; n < 2; n++) out.push({ kind: 'contains', target, line: frame(w) });
      if (tw.length >= 6) for (const w of dict) if (!own.has(w) && damerau1(w, tw)) out.push({ kind: 'typo-neighbour', target, line: frame(w) });
      // Letters across a word gap: "to add" holds "toad" from the start of one word into the next.
      for (let k = 1; k < tw.length; k++) {
        const head = tw.slice(0, k);
        const tail = tw.slice(k);
        const lefts = (bySuffix.get(head.slice(-4)) ?? []).filter((w) => w.endsWith(head) && !own.has(w));
        const rights = (byPrefix.get(tail.slice(0, 4)) ?? []).filter((w) => w.startsWith(tail) && !own.has(w));
        for (let n = 0; n < 10 && lefts.length > 0 && rights.length > 0; n++) {
          const a = pickFrom(r, lefts);
          const b = pickFrom(r, rights);
          // Both halves exactly the target's letters is a split evasion for a long word ("pine apple").
          if (a === head && b === tail && tw.length >= 6) continue;
          out.push({ kind: 'across-gap', target, line: frame(`${a} ${b}`) });
        }
      }
    }
  }
  return out;
}
