/**
 * `vigil tune` with the image classifier (nsfw-mobilenet-v2 through --model): every label of the
 * model gets its rows, the classifier runs on every image although the policy's cascade says never,
 * and the counts follow the scores recorded for these benign images (test/fixtures/classify).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BENIGN_FIXTURES, copyOfImageModel, tempDir } from '../classify/helpers.js';
import { runCli } from '../helpers/cli.js';
import { parseCsv } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RECORDED = JSON.parse(readFileSync(new URL('../fixtures/classify/nsfw-benign-scores.json', import.meta.url), 'utf8')) as {
  scores: Record<string, Record<string, number>>;
};
const LABELS = ['drawing', 'hentai', 'neutral', 'porn', 'sexy'];

describe('vigil tune with an image classifier', () => {
  it("counts per label at every threshold follow the recorded scores (max over an event's images)", async () => {
    const dir = tempDir('tune-image');
    // Events: one image each, and one with two (its score per label is the larger).
    const groups = [...BENIGN_FIXTURES.map((f) => [f]), [BENIGN_FIXTURES[0]!, BENIGN_FIXTURES[1]!]];
    const positive = (i: number) => i % 3 === 1 || i === groups.length - 1;
    const events = groups.map((files, i) =>
      JSON.stringify({
        schema: 'vigil.message.v1',
        eventId: `img-${i}`,
        messageId: `msg-${i}`,
        conversationId: `conv-${i}`,
        senderId: `user-${i}`,
        recipientIds: ['user-x'],
        sentAt: '2026-11-27T12:00:00.000Z',
        media: files.map((f, j) => ({ id: `m${j}`, mimeType: f.endsWith('.png') ? 'image/png' : 'image/jpeg', bytes: readFileSync(f).toString('base64') })),
      }),
    );
    writeFileSync(join(dir, 'events.jsonl'), events.join('\n') + '\n');
    writeFileSync(
      join(dir, 'labels.jsonl'),
      groups.map((_, i) => JSON.stringify({ eventId: `img-${i}`, labels: positive(i) ? ['explicit_imagery'] : [] })).join('\n') + '\n',
    );
    // The cascade says never: tuning runs the classifier anyway.
    writeFileSync(
      join(dir, 'policy.yaml'),
      'version: 2\nclassifiers: { image: { run: never } }\nrules:\n  - id: m\n    when: { signal: { type: classifier, label: porn, minScore: 0.9 } }\n    category: explicit_imagery\n    severity: medium\n    action: review\n',
    );
    const out = join(dir, 'out');
    const r = await runCli(
      [
        'tune',
        '--events',
        join(dir, 'events.jsonl'),
        '--labels',
        join(dir, 'labels.jsonl'),
        '--policy',
        join(dir, 'policy.yaml'),
        '--model',
        copyOfImageModel(),
        '--out',
        out,
        '--json',
      ],
      {
        env: { VIGIL_CLASSIFIER_THREADS: '1' },
      },
    );
    expect(r.stderr).not.toMatch(/"error"/);
    expect(r.code).toBe(0);
    const { rows } = parseCsv(readFileSync(join(out, 'thresholds.csv'), 'utf8'));
    const scoreOf = (files: string[], label: string) => Math.max(...files.map((f) => RECORDED.scores[relative(ROOT, f)]![label]!));
    const P = groups.filter((_, i) => positive(i)).length;
    const N = groups.length - P;
    let checked = 0;
    for (const label of LABELS) {
      const mine = rows.filter((x) => x.signal === 'classifier' && x.source === `nsfw-mobilenet-v2/${label}`);
      expect(mine).toHaveLength(101);
      for (const x of mine) {
        const t = Number(x.threshold);
        const scores = groups.map((g) => scoreOf(g, label));
        // Recorded on one backend: skip a threshold within the cross-backend tolerance of a score.
        if (scores.some((s) => Math.abs(s - t) < 1e-3)) continue;
        const tp = groups.filter((g, i) => positive(i) && scores[i]! >= t).length;
        const fp = groups.filter((g, i) => !positive(i) && scores[i]! >= t).length;
        expect({ label, t, tp: x.tp, fp: x.fp, fn: x.fn, tn: x.tn }).toEqual({ label, t, tp, fp, fn: P - tp, tn: N - fp });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(400);
    const summary = JSON.parse(r.stdout) as { recommended: { source: string; current: number | null }[] };
    expect(summary.recommended.find((x) => x.source === 'nsfw-mobilenet-v2/porn')?.current).toBe(0.9);
  }, 300_000);
});
