import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTermBankFile } from '../../src/adapters/term-files.js';
import { VigilError } from '../../src/core/errors.js';
import { canonicalJsonl, makeTermBank, parseTermBankJsonl, parseTermLines } from '../../src/core/text/term-bank.js';

const good = '{"id":"a","phrase":"velvet teapot","category":"test","severity":"high","mode":"joined"}';

describe('term banks', () => {
  it('parses entries and fills in defaults', () => {
    const bank = parseTermBankJsonl(
      'b',
      `# comment\n${good}\n\n{"id":"b","phrase":"lime","category":"test","severity":"low","locale":"en","exceptions":["key lime pie"]}\n`,
    );
    expect(bank.entries.map((e) => [e.id, e.mode])).toEqual([
      ['a', 'joined'],
      ['b', 'whole-word'],
    ]);
    expect(bank.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it('versions by content: order and formatting do not matter, content does', () => {
    const e1 = { id: 'x', phrase: 'lime', category: 'test', severity: 'low' as const };
    const e2 = { id: 'y', phrase: 'cat', category: 'test', severity: 'low' as const, mode: 'whole-word' as const };
    expect(makeTermBank('b', [e1, e2]).version).toBe(makeTermBank('b', [{ ...e2 }, { ...e1, mode: 'whole-word' }]).version);
    expect(makeTermBank('b', [e1, e2]).version).not.toBe(makeTermBank('b', [e1, { ...e2, severity: 'high' }]).version);
    expect(canonicalJsonl([e2, e1]).split('\n')[0]).toBe('{"id":"x","phrase":"lime","category":"test","severity":"low","mode":"whole-word"}');
  });

  it('reports each bad line by number and field, never quoting the phrase', () => {
    const secret = 'zebra quilt';
    const text = [
      good,
      `{"id":"b","phrase":"${secret}","category":"test","severity":"extreme"}`,
      `{"id":"c","phrase":"${secret}"`,
      `{"id":"d","phrase":"${secret}","category":"test","severity":"low","extra":1}`,
      `{"id":"a","phrase":"${secret}","category":"test","severity":"low"}`,
      `{"id":"e","phrase":"!!!","category":"test","severity":"low"}`,
      `{"id":"f","phrase":"${secret}","category":"test","severity":"low","mode":"fuzzy"}`,
    ].join('\n');
    const { entries, errors } = parseTermLines(text);
    expect(entries.map((e) => e.id)).toEqual(['a']);
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(errors[0]?.message).toMatch(/^severity:/);
    expect(errors[1]?.message).toBe('not valid JSON');
    expect(errors[3]?.message).toBe('id: duplicate of line 1');
    expect(errors[4]?.message).toMatch(/no letters or digits/);
    for (const e of errors) expect(e.message).not.toContain('zebra');
    try {
      parseTermBankJsonl('b', text);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(VigilError);
      expect((err as VigilError).code).toBe('BANK_INVALID');
      expect((err as VigilError).message).toContain('line 2');
      expect((err as VigilError).message).not.toContain('zebra');
    }
  });

  it('loads a file, naming the bank after it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-terms-'));
    const file = join(dir, 'my-bank.jsonl');
    await writeFile(file, `${good}\n`);
    const bank = await loadTermBankFile(file);
    expect(bank.id).toBe('my-bank');
    expect(bank.entries).toHaveLength(1);
    await expect(loadTermBankFile(join(dir, 'missing.jsonl'))).rejects.toMatchObject({ code: 'BANK_INVALID' });
  });
});
