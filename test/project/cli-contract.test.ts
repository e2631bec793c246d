/** The CLI's contract: examples on every help page, --version, --json where promised, exit codes. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';

function leaves(cmd: Command): Command[] {
  return cmd.commands.length ? cmd.commands.flatMap(leaves) : [cmd];
}

function fullHelp(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  cmd.outputHelp();
  return text;
}

describe('CLI contract', () => {
  it('every command and subcommand has examples on its help page', async () => {
    const program = await buildProgram();
    const all = [program, ...program.commands, ...program.commands.flatMap((c) => leaves(c))];
    const missing = [...new Set(all)].filter((c) => !/Examples?:\n/.test(fullHelp(c))).map((c) => c.name());
    expect(missing).toEqual([]);
    expect(all.length).toBeGreaterThan(15);
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('config and schema take --json', async () => {
    const config = await runCli(['config', '--json']);
    expect(config.code).toBe(0);
    expect(JSON.parse(config.stdout)).toMatchObject({ scanQueue: 'vigil-scan' });
    const reference = await runCli(['config', '--reference', '--json']);
    expect(
      reference.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { env: string }).env),
    ).toContain('VIGIL_REDIS_CONNECT_TIMEOUT_MS');
    const schema = await runCli(['schema', 'message', '--json']);
    expect(schema.code).toBe(0);
    expect(schema.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(schema.stdout)).toMatchObject({ title: 'vigil.message.v1' });
  });

  it('a malformed config YAML is a configuration error: exit 2, one line, no quoted content', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vigil-yaml-')), 'vigil.yaml');
    writeFileSync(file, 'concurrency: [4\nsecretish: "unterminated\n');
    const r = await runCli(['config'], { env: { VIGIL_CONFIG: file } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^vigil: CONFIG_INVALID: config file .*vigil\.yaml is not valid YAML at line \d+/);
    expect(r.stderr).not.toContain('unterminated');
  });

  it('dead-letters --code with a code that does not exist is refused, naming the codes', async () => {
    const r = await runCli(['dead-letters', '--code', 'UNKNOWN']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--code must be one of EVENT_NOT_JSON, EVENT_INVALID');
  });

  it('hash and terms errors are JSON lines under --json', async () => {
    const hash = await runCli(['hash', '--json', 'no/such/file.png']);
    expect(hash.code).toBe(1);
    expect(JSON.parse(hash.stdout.trim())).toMatchObject({ file: 'no/such/file.png', error: { code: 'MEDIA_REF_UNRESOLVED' } });
    const bad = join(mkdtempSync(join(tmpdir(), 'vigil-terms-')), 'bad.jsonl');
    writeFileSync(bad, '{"id":"x","phrase":"velvet teapot","category":"c","severity":"huge"}\n');
    for (const sub of ['list', 'lint']) {
      const r = await runCli(['terms', sub, bad, '--json']);
      expect(r.code).toBe(1);
      for (const line of r.stderr.trim().split('\n')) expect(() => JSON.parse(line) as unknown).not.toThrow();
      expect(r.stderr).toContain('"code":"BANK_INVALID"');
    }
  });
});
