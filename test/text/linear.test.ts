/**
 * Work grows linearly with message length: the matcher counts its trie steps, and scaling the input
 * 4× must scale the count ~4× (never timing: the machine is shared). Inputs include the shapes that
 * used to be quadratic: many hits of one term (deduplication), many exception phrases, one huge
 * chunk of leet symbols, long spelled-out runs.
 */
import { describe, expect, it } from 'vitest';
import { TermMatcher } from '../../src/core/text/matcher.js';
import { normalizeText, normalizeWork } from '../../src/core/text/normalize.js';
import { makeTermBank } from '../../src/core/text/term-bank.js';
import { benignWords } from './vocab.js';

const bank = makeTermBank('lin', [
  { id: 'vt', phrase: 'velvet teapot', category: 'test', severity: 'low' },
  { id: 'kettle', phrase: 'kettle', category: 'test', severity: 'low' },
  { id: 'bar', phrase: 'bar', category: 'test', severity: 'low', exceptions: ['bar exam'] },
  { id: 'sub', phrase: 'marmalade', category: 'test', severity: 'low', mode: 'substring' },
]);
const matcher = new TermMatcher([bank], { benignWords: benignWords() });

function work(text: string): { steps: number; hits: number } {
  const norm = normalizeText(text);
  const visits = normalizeWork.visits;
  const hits = matcher.match(norm).length;
  // Trie steps, characters visited by normalization, the substring automaton's input, deduplication.
  return { steps: matcher.work.steps + visits + matcher.work.substringChars + matcher.work.finishOps, hits };
}

const SHAPES: Record<string, string> = {
  chat: 'hey did you see the velvet teapot and the kettel at the bar? lol 😂 ',
  hits: 'kettle kettle kettle, ',
  exceptions: 'the bar exam, ',
  'leet chunk': 'k3+!|3@$5!0|',
  spelled: 'v e l v e t t e a p o t k e t ',
  repeats: 'kkkeeetttttllleee ',
  marmalade: 'marmalademarmalade',
};

describe('linear work', () => {
  for (const [name, unit] of Object.entries(SHAPES)) {
    it(`${name}: 4× the text is ~4× the work`, () => {
      const small = work(unit.repeat(100));
      const large = work(unit.repeat(400));
      expect(small.steps).toBeGreaterThan(0);
      const ratio = large.steps / small.steps;
      expect(ratio, `steps ${small.steps} → ${large.steps}`).toBeGreaterThan(3.2);
      expect(ratio, `steps ${small.steps} → ${large.steps}`).toBeLessThan(4.8);
      if (small.hits > 0) expect(large.hits / small.hits).toBeLessThan(4.8);
    });
  }
});
