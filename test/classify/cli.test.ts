import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultModelsDir, DEMO_TEXT_MODEL_ID } from '../../src/classify/manifest.js';
import { HashedTextClassifier } from '../../src/classify/text-classifier.js';
import { runCli } from '../helpers/cli.js';
import { BENIGN_FIXTURES, tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXPECTED = JSON.parse(readFileSync(new URL('../fixtures/classify/nsfw-benign-scores.json', import.meta.url), 'utf8')) as {
  scores: Record<string, Record<string, number>>;
};

// Each test spawns the CLI through tsx (several seconds each on a loaded 2-core host) and loads a model.
const SLOW = 180_000;

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('vigil classify / classify-text / train-text', () => {
  it(
    'classify: one JSON line per file in order, scores as recorded (1e-4); a bad file is an error line and exit 1',
    async () => {
      const notImage = join(tempDir('cli'), 'notes.txt');
      writeFileSync(notImage, 'plain text, not an image');
      const files = [...BENIGN_FIXTURES.slice(0, 3), notImage, BENIGN_FIXTURES[3]!, join(ROOT, 'no-such-file.png')];
      // Its own process: the load line is a pino log, written to fd 2 rather than through process.stderr.
      const r = await runCli(['classify', '--json', ...files], { env: { VIGIL_LOG_LEVEL: 'info' }, spawn: true });
      expect(r.code).toBe(1);
      const lines = jsonLines(r.stdout);
      expect(lines.map((l) => l.file)).toEqual(files);
      for (const [i, line] of lines.entries()) {
        if (i === 3 || i === 5) {
          expect(Object.keys(line).sort()).toEqual(['error', 'file']);
          expect(line.error).toMatchObject({ code: i === 3 ? 'MEDIA_UNSUPPORTED' : 'MEDIA_REF_UNRESOLVED' });
          continue;
        }
        expect(Object.keys(line)).toEqual(['file', 'modelId', 'modelVersion', 'scores']);
        expect(line).toMatchObject({ modelId: 'nsfw-mobilenet-v2', modelVersion: 'nsfwjs-4.3.0' });
        const want = EXPECTED.scores[relative(ROOT, files[i]!)]!;
        for (const [label, p] of Object.entries(want)) expect(Math.abs((line.scores as Record<string, number>)[label]! - p)).toBeLessThan(1e-4);
      }
      expect(r.stderr).toMatch(/loaded on TF\.js (wasm|tensorflow|cpu)/);
    },
    SLOW,
  );

  it(
    'classify-text: one JSON line per stdin line (blank lines too), equal to the library scorer; text never echoed',
    async () => {
      const messages = ['Hi, are we still on for lunch tomorrow?', '', 'CONGRATULATIONS you have WON a FREE cash prize, click here to claim now'];
      const r = await runCli(['classify-text', '--model', join(defaultModelsDir(), 'spam-scam-email-demo'), '--json'], { input: `${messages.join('\n')}\n` });
      expect(r.code).toBe(0);
      const lines = jsonLines(r.stdout);
      expect(lines).toHaveLength(3);
      const lib = HashedTextClassifier.load(defaultModelsDir(), { id: DEMO_TEXT_MODEL_ID });
      lines.forEach((line, i) => {
        expect(Object.keys(line)).toEqual(['modelId', 'modelVersion', 'scores']);
        expect(line).toEqual({ modelId: DEMO_TEXT_MODEL_ID, modelVersion: lib.modelVersion, scores: lib.score(messages[i]!).scores });
      });
      expect(r.stdout).not.toContain('lunch');
    },
    SLOW,
  );

  it(
    'train-text: trains from JSONL, prints the held-out table, writes a folder classify-text loads; bad data exits 1 naming the line',
    async () => {
      const dir = tempDir('cli-train');
      const data = join(dir, 'data.jsonl');
      const rows = Array.from({ length: 120 }, (_, i) =>
        i % 3 === 0 ? { text: `claim your free prize number ${i} now`, labels: ['spam_scam'] } : { text: `see you at the garden at ${i} o'clock`, labels: [] },
      );
      writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n'));
      const out = join(dir, 'model');
      const r = await runCli([
        'train-text',
        '--data',
        data,
        '--out',
        out,
        '--holdout',
        '0.25',
        '--seed',
        '3',
        '--id',
        'cli-test',
        '--epochs',
        '3',
        '--dimensions',
        '1024',
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/model cli-test@[0-9a-f]{12} /);
      expect(r.stdout).toMatch(/spam_scam\s+\d+\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+/);
      expect(r.stderr).toMatch(/epoch 3\/3/);
      const scored = await runCli(['classify-text', '--model', out], { input: 'claim your free prize now\n' });
      expect(jsonLines(scored.stdout)[0]).toMatchObject({ modelId: 'cli-test' });
      writeFileSync(data, '{"text":"a","labels":[]}\n{"text": 3}\n');
      const bad = await runCli(['train-text', '--data', data, '--out', out]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/DATA_INVALID: .*data\.jsonl:2:/);
    },
    SLOW,
  );

  it.each(['classify', 'classify-text', 'train-text'])(
    '%s --help has examples',
    async (cmd) => {
      const r = await runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Examples:\n\s+\S/);
      expect(r.stdout).toContain(`npx vigil ${cmd} `);
    },
    SLOW,
  );
});
