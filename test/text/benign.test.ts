import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTermBankFile } from '../../src/adapters/term-files.js';
import { compileTextScanner, type CompiledTextScanner } from '../../src/core/text/scanner.js';
import { normalizeText } from '../../src/core/text/normalize.js';
import { benignChatLines, benignWords, targetBank } from './corpus.js';

const fixture = fileURLToPath(new URL('../fixtures/text/sample-terms.jsonl', import.meta.url));
const vocab = benignWords();
let scanner: CompiledTextScanner;
let termWords: string[];

beforeAll(async () => {
  const sample = await loadTermBankFile(fixture);
  const banks = [targetBank(), sample];
  scanner = compileTextScanner(banks, undefined, { benignWords: vocab });
  termWords = banks.flatMap((b) => b.entries.filter((e) => normalizeText(e.phrase).tokens.length === 1).map((e) => normalizeText(e.phrase).tokens[0]?.exact ?? ''));
});

describe('benign suite', () => {
  it('flags none of 10k+ ordinary chat lines, Scunthorpe bait included', () => {
    const { lines, bait } = benignChatLines(vocab, termWords, 12_000);
    expect(lines.length).toBeGreaterThanOrEqual(10_000);
    for (const w of ['sublime', 'scatter', 'barnacle', 'category', 'kettledrum', 'limestone']) expect(bait).toContain(w);
    const flagged: string[] = [];
    for (const line of lines) {
      const hits = scanner.scan(line);
      if (hits.length > 0) flagged.push(`${line} → ${hits.map((h) => `${h.termId}@${line.slice(h.start, h.end)}`).join(', ')}`);
    }
    expect(flagged, flagged.slice(0, 30).join('\n')).toEqual([]);
  });

  it('still flags the terms themselves inside the same kind of lines', () => {
    expect(scanner.scan('did you see the cat yesterday?').map((m) => m.termId)).toEqual(['stand-in.cat']);
    expect(scanner.scan('brb, grabbing some limes').map((m) => m.termId).sort()).toEqual(['stand-in.lime', 'word.lime']);
  });

  it('shields ordinary words that only look like a term after normalization', () => {
    const bank = { id: 'b', version: '1', entries: [{ id: 'god', phrase: 'god', category: 'test', severity: 'low' as const }] };
    const s = compileTextScanner([bank], undefined, { benignWords: vocab });
    expect(s.scan('that was goood, really good')).toEqual([]);
    expect(s.scan('oh my gooood')).toEqual([]);
    expect(s.scan('g o d')).toHaveLength(1);
    // Without the vocabulary the stretched word is ambiguous and does match: the shield is what stops it.
    expect(compileTextScanner([bank]).scan('that was goood')).toHaveLength(1);
  });

  it('keeps other scripts as they are: Cyrillic words do not become Latin terms', () => {
    const bank = { id: 'b', version: '1', entries: [{ id: 'cop', phrase: 'cop', category: 'test', severity: 'low' as const }] };
    const s = compileTextScanner([bank], undefined, { benignWords: vocab });
    expect(s.scan('Привет! Это сор, не трогай')).toEqual([]);
    // …while a lookalike slipped into Latin text is folded.
    expect(s.scan('call the сор now')).toHaveLength(1);
  });
});
