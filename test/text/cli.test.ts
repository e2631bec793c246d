// Each test spawns the CLI several times (tsx, cold start: seconds each on a loaded 2-core machine): long timeouts.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Each test spawns the CLI several times (tsx, cold start: seconds each on a loaded 2-core machine).
import { describe, expect, it } from 'vitest';
import { parseTermBankJsonl } from '../../src/core/text/term-bank.js';
import { runCli } from '../helpers/cli.js';

const TERMS = 'test/fixtures/text/sample-terms.jsonl';
const PATTERNS = 'test/fixtures/text/sample-patterns.jsonl';

describe('vigil text', () => {
  it('prints one JSON line per input line, with offsets into the original', async () => {
    const input = ['my V3LV3T t.e.a.p.o.t is here', 'sublime scatter barnacle', '', 'add me on snap, how old r u'].join('\n');
    const r = await runCli(['text', '--terms', TERMS, '--patterns', PATTERNS, '--json'], { input });
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { matches: Array<{ termId: string; start: number; end: number; mode: string }>; normalized: string });
    expect(lines).toHaveLength(4);
    const first = lines[0];
    expect(first?.normalized).toBe('my velvet teapot is here');
    expect(first?.matches.map((m) => m.termId)).toEqual(['stand-in.velvet-teapot']);
    expect('my V3LV3T t.e.a.p.o.t is here'.slice(first?.matches[0]?.start, first?.matches[0]?.end)).toBe('V3LV3T t.e.a.p.o.t');
    expect(lines[1]?.matches).toEqual([]);
    expect(lines[2]?.matches).toEqual([]);
    expect(lines[3]?.matches.map((m) => `${m.termId}/${m.mode}`)).toEqual(['platform-move/pattern', 'age-question/pattern']);
  }, 180_000);

  it('scans --text and exits 2 on usage errors', async () => {
    const ok = await runCli(['text', '--terms', TERMS, '--text', 'a c4t!']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^1\tstand-in\.cat\[2,5\) test-slang\/low whole-word/);
    const missing = await runCli(['text', '--terms', 'nope.jsonl', '--text', 'x']);
    expect(missing.code).toBe(2);
    const help = await runCli(['text', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
  }, 180_000);
});

describe('vigil terms', () => {
  it('imports, lists and lints a bank; reports bad lines without quoting phrases', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-cli-'));
    const src = join(dir, 'mixed.jsonl');
    await writeFile(src, `${await readFile(TERMS, 'utf8')}{"id":"bad","phrase":"zebra quilt","category":"test","severity":"huge"}\n`);
    const out = join(dir, 'out.jsonl');
    const imp = await runCli(['terms', 'import', src, '--out', out, '--json']);
    expect(imp.code).toBe(1);
    // With --json the bad line is a JSON error line; the good lines are still written.
    const badLine = imp.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line?: number; error?: { code: string; message: string } })
      .find((l) => l.line === 7);
    expect(badLine?.error).toMatchObject({ code: 'BANK_INVALID', message: expect.stringMatching(/^severity:/) });
    expect(imp.stderr).not.toContain('zebra');
    expect(JSON.parse(imp.stdout)).toMatchObject({ bankId: 'mixed', entries: 6, badLines: 1, written: out });
    expect(parseTermBankJsonl('mixed', await readFile(out, 'utf8')).entries).toHaveLength(6);
    const text = await runCli(['terms', 'import', src]);
    expect(text.stderr).toContain('mixed.jsonl:7: severity:');

    const clean = await runCli(['terms', 'import', TERMS, '--out', out, '--json']);
    expect(clean.code).toBe(0);
    const summary = JSON.parse(clean.stdout) as { version: string; written: string };
    expect(summary.written).toBe(out);
    // The canonical file holds the same content, so it has the same version.
    expect(parseTermBankJsonl('sample-terms', await readFile(out, 'utf8')).version).toBe(summary.version);

    const list = await runCli(['terms', 'list', TERMS, '--json']);
    expect(list.code).toBe(0);
    expect(list.stdout.trim().split('\n')).toHaveLength(6);

    const risky = join(dir, 'risky.jsonl');
    await writeFile(risky, '{"id":"c","phrase":"cat","category":"test","severity":"low","mode":"substring"}\n');
    const lint = await runCli(['terms', 'lint', risky, '--json']);
    expect(lint.code).toBe(1);
    expect(lint.stdout).toContain('"code":"short-risky-mode"');
  }, 180_000);
});
