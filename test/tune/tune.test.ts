/**
 * `vigil tune` on a small labelled set whose answers are known: PDQ distances fixed by flipping bits
 * of reference hashes (0, 10, 20, 33, 50, 70 bits; one image in an allow bank too), term matches of
 * stand-in phrases, and the demo text model's scores as `vigil classify-text` gives them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import {
  A,
  B,
  BLOCK_FLIPS,
  CANDIDATE,
  C,
  D,
  E,
  EVENTS,
  F,
  G,
  P,
  SPAM,
  eventLine,
  flipped,
  hamming,
  parseCsv,
  referenceHashes,
  writeFixture,
  type CsvRow,
  type Fixture,
} from './helpers.js';

const MODEL = 'models/spam-scam-email-demo';
const SLOW = 240_000;

let fx: Fixture;
beforeAll(() => {
  fx = writeFixture();
});

function row(rows: CsvRow[], signal: string, source: string, threshold: string): CsvRow {
  const r = rows.find((x) => x.signal === signal && x.source === source && x.threshold === threshold);
  if (!r) throw new Error(`no row ${signal},${source},${threshold}`);
  return r;
}

const counts = (r: CsvRow) => ({ tp: r.tp, fp: r.fp, fn: r.fn, tn: r.tn });

describe('vigil tune', () => {
  it('the fixture is what the counts below assume: each image is only near its own bank entry', () => {
    const refs = referenceHashes();
    for (const image of [A, B, C, D, E, F, G, P])
      for (const [entry, bits] of Object.entries(BLOCK_FLIPS)) {
        const d = hamming(refs.get(image)!, flipped(refs.get(entry)!, bits));
        if (image === entry) expect(d).toBe(bits);
        else expect(d).toBeGreaterThan(64);
      }
  });

  it(
    'counts per threshold for a PDQ bank, a term bank and a classifier label, equal to the hand count; precision and recall equal to the counts; what-if of a candidate',
    async () => {
      const out = join(fx.dir, 'out');
      const r = await runCli([
        'tune',
        '--events',
        fx.events,
        '--labels',
        fx.labels,
        '--banks',
        fx.banks,
        '--policy',
        fx.policy,
        '--model',
        MODEL,
        '--candidate',
        fx.candidate,
        '--out',
        out,
        '--json',
      ]);
      expect(r.stderr).not.toMatch(/"error"/);
      expect(r.code).toBe(0);
      const { header, rows } = parseCsv(readFileSync(join(out, 'thresholds.csv'), 'utf8'));
      expect(header).toBe('signal,source,threshold,tp,fp,fn,tn,precision,recall');

      // 8 positive events (e1 e2 e4 e7 e9 t1 t3 t5), 7 negative (e3 e5 e6 e8 t2 t4 t6); u1 has no label.
      // PDQ, smallest distance per event: positives e1 0, e2 10, e4 33 (e7 at 70 and e9, allowed, have none);
      // negatives e3 20, e5 50, e8 20 (its other image has none).
      const pdq = (t: number) => counts(row(rows, 'pdq', 'tune-bank', String(t)));
      expect(pdq(0)).toEqual({ tp: 1, fp: 0, fn: 7, tn: 7 });
      expect(pdq(9)).toEqual({ tp: 1, fp: 0, fn: 7, tn: 7 });
      expect(pdq(10)).toEqual({ tp: 2, fp: 0, fn: 6, tn: 7 });
      expect(pdq(19)).toEqual({ tp: 2, fp: 0, fn: 6, tn: 7 });
      expect(pdq(20)).toEqual({ tp: 2, fp: 2, fn: 6, tn: 5 });
      expect(pdq(33)).toEqual({ tp: 3, fp: 2, fn: 5, tn: 5 });
      expect(pdq(49)).toEqual({ tp: 3, fp: 2, fn: 5, tn: 5 });
      expect(pdq(50)).toEqual({ tp: 3, fp: 3, fn: 5, tn: 4 });
      expect(pdq(64)).toEqual({ tp: 3, fp: 3, fn: 5, tn: 4 });
      expect(rows.filter((x) => x.signal === 'pdq' && x.source === 'tune-bank').map((x) => x.threshold)).toEqual(
        Array.from({ length: 65 }, (_, t) => String(t)),
      );
      // The allow bank is not a signal source; its entry suppressed e9's block match at every radius.
      expect(rows.some((x) => x.source === 'tune-bank-ok')).toBe(false);

      // Terms: t1 and t3 (positive), t2 (negative); u1 is unlabelled and left out.
      expect(rows.filter((x) => x.signal === 'term').map((x) => [x.source, x.threshold, counts(x)])).toEqual([
        ['tune-terms', '1', { tp: 2, fp: 1, fn: 6, tn: 6 }],
      ]);

      // The classifier: scores of the six labelled texts from `vigil classify-text`, counted here.
      const texts = EVENTS.filter((e) => e.text !== undefined && e.labels);
      const scored = await runCli(['classify-text', '--model', MODEL, '--json'], { input: `${texts.map((e) => e.text).join('\n')}\n` });
      const scores = scored.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { scores: { spam_scam: number } }).scores.spam_scam);
      expect(scores).toHaveLength(texts.length);
      for (const t of ['0.00', '0.10', '0.50', '0.64', '0.90', '1.00']) {
        const tp = texts.filter((e, i) => e.labels!.length > 0 && scores[i]! >= Number(t)).length;
        const fp = texts.filter((e, i) => e.labels!.length === 0 && scores[i]! >= Number(t)).length;
        expect(counts(row(rows, 'classifier', 'spam-scam-email-demo/spam_scam', t))).toEqual({ tp, fp, fn: 8 - tp, tn: 7 - fp });
      }
      expect(rows.filter((x) => x.signal === 'classifier')).toHaveLength(101);
      // The spam text scores above the ham one: the model is doing something, not a constant.
      expect(scores[texts.findIndex((e) => e.eventId === 't5')]!).toBeGreaterThan(scores[texts.findIndex((e) => e.eventId === 't6')]!);

      // Every row: tp+fp+fn+tn is the labelled total, precision and recall are exactly the counts' ratios.
      for (const x of rows) {
        expect(x.tp + x.fp + x.fn + x.tn).toBe(15);
        if (x.tp + x.fp === 0) expect(x.precision).toBe('');
        else expect(Number(x.precision)).toBe(x.tp / (x.tp + x.fp));
        expect(Number(x.recall)).toBe(x.tp / (x.tp + x.fn));
      }

      const summary = JSON.parse(r.stdout) as {
        events: number;
        unlabelled: number;
        recommended: { signal: string; source: string; current: number | null; threshold: number | null }[];
        whatIf: { gained: Record<string, number>; lost: Record<string, number> };
      };
      expect(summary).toMatchObject({ events: 16, unlabelled: 1 });
      // Precision 0.99: distance 10 (precision 1, recall 2/8); the policy has 15.
      expect(summary.recommended.find((x) => x.signal === 'pdq')).toMatchObject({ source: 'tune-bank', current: 15, threshold: 10 });
      expect(summary.recommended.find((x) => x.signal === 'term')).toMatchObject({ threshold: null });
      // Candidate (radius 40, no term rule): gains e3 (FP), e4 (TP), e8 (FP); loses the term flags of t1, t3 (TP), t2 (FP), u1 (unlabelled).
      expect(summary.whatIf).toMatchObject({ gained: { count: 3, tp: 1, fp: 2, unlabelled: 0 }, lost: { count: 4, tp: 2, fp: 1, unlabelled: 1 } });

      const html = readFileSync(join(out, 'report.html'), 'utf8');
      // Ids only: no message text, no term phrase, no media bytes.
      for (const e of EVENTS) if (e.text) expect(html).not.toContain(e.text);
      expect(html).not.toContain('velvet teapot');
      expect(html).not.toContain('purple harbour');
      expect(html).not.toContain(readFileSync(join(fx.dir, 'events.jsonl'), 'utf8').slice(300, 340));
      expect(html).toMatch(/<tr data-signal="pdq" data-source="tune-bank" data-recommended="10">/);
      expect(html).toContain('<code>e3</code>');
    },
    SLOW,
  );

  it(
    'the what-if replays each policy as the worker runs it: its flag counts equal `vigil scan` under each policy (PDQ radius, rules, text cascade)',
    async () => {
      // One more event: spam that also names a term, so a text cascade of "unmatched" skips the model on it.
      const events = join(fx.dir, 'events-cascade.jsonl');
      const extra = { eventId: 'x1', text: `${SPAM} velvet teapot`, labels: ['spam_scam'] };
      writeFileSync(events, [...EVENTS, extra].map((e, i) => eventLine(e, i)).join('\n') + '\n');
      const candidate = join(fx.dir, 'candidate-unmatched.yaml');
      writeFileSync(candidate, CANDIDATE.replace('text: { run: always }', 'text: { run: unmatched }'));
      const env = { VIGIL_TEXT_MODEL: 'spam-scam-email-demo' };
      const scan = async (policy: string) => {
        const r = await runCli(['scan', '--events', events, '--banks', fx.banks, '--policy', policy], { env });
        expect(r.code).toBe(0);
        return r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { eventId: string; category: string });
      };
      const now = await scan(fx.policy);
      const then = await scan(candidate);
      // The cascade matters here: the extra event is spam under the current policy and not classified under the candidate.
      expect(now.filter((f) => f.eventId === 'x1').map((f) => f.category)).toContain('spam_scam');
      expect(then.filter((f) => f.eventId === 'x1')).toEqual([]);
      const r = await runCli(
        [
          'tune',
          '--events',
          events,
          '--labels',
          fx.labels,
          '--banks',
          fx.banks,
          '--policy',
          fx.policy,
          '--candidate',
          candidate,
          '--out',
          join(fx.dir, 'out-replay'),
          '--json',
        ],
        { env },
      );
      expect(r.code).toBe(0);
      const { whatIf } = JSON.parse(r.stdout) as {
        whatIf: { currentFlags: number; candidateFlags: number; gained: { count: number }; lost: { count: number } };
      };
      expect(whatIf.currentFlags).toBe(now.length);
      expect(whatIf.candidateFlags).toBe(then.length);
      const key = (f: { eventId: string; category: string }) => `${f.eventId}/${f.category}`;
      expect(whatIf.gained.count).toBe(then.filter((f) => !now.some((g) => key(g) === key(f))).length);
      expect(whatIf.lost.count).toBe(now.filter((f) => !then.some((g) => key(g) === key(f))).length);
    },
    SLOW,
  );

  it(
    'at a lower target precision the recommendation moves to the highest recall, the strictest threshold on a tie',
    async () => {
      const out = join(fx.dir, 'out-05');
      const r = await runCli([
        'tune',
        '--events',
        fx.events,
        '--labels',
        fx.labels,
        '--banks',
        fx.banks,
        '--policy',
        fx.policy,
        '--target-precision',
        '0.5',
        '--out',
        out,
        '--json',
      ]);
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout) as { recommended: { signal: string; threshold: number | null; precision: number; recall: number }[] };
      // Recall 3/8 from distance 33 on (precision 0.6, then 0.5 from 50): the strictest of those is 33.
      expect(summary.recommended.find((x) => x.signal === 'pdq')).toMatchObject({ threshold: 33, precision: 0.6, recall: 0.375 });
      expect(summary.recommended.find((x) => x.signal === 'term')).toMatchObject({ threshold: 1 });
    },
    SLOW,
  );

  it(
    '--category: only that category is positive',
    async () => {
      const out = join(fx.dir, 'out-cat');
      const r = await runCli([
        'tune',
        '--events',
        fx.events,
        '--labels',
        fx.labels,
        '--banks',
        fx.banks,
        '--policy',
        fx.policy,
        '--category',
        'sample_grooming',
        '--out',
        out,
      ]);
      expect(r.code).toBe(0);
      const { rows } = parseCsv(readFileSync(join(out, 'thresholds.csv'), 'utf8'));
      // Only t1 is positive; the term bank matched t1 (TP), t2 and t3 (FP).
      expect(counts(row(rows, 'term', 'tune-terms', '1'))).toEqual({ tp: 1, fp: 2, fn: 0, tn: 12 });
      expect(counts(row(rows, 'pdq', 'tune-bank', '64'))).toEqual({ tp: 0, fp: 6, fn: 1, tn: 8 });
    },
    SLOW,
  );

  it(
    "--decisions: reviewers' decisions on the flags `vigil scan` raised are the labels; the latest decision on a flag counts",
    async () => {
      const scan = await runCli(['scan', '--events', fx.events, '--banks', fx.banks, '--policy', fx.policy]);
      expect(scan.code).toBe(0);
      const flags = scan.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { flagId: string; eventId: string; category: string });
      const flagOf = (eventId: string) => flags.find((f) => f.eventId === eventId)!.flagId;
      const decision = (flagId: string, d: string, at: string) => JSON.stringify({ schema: 'vigil.decision.v1', flagId, decision: d, at, reasonCode: 'r1' });
      const file = join(fx.dir, 'decisions.jsonl');
      writeFileSync(
        file,
        [
          decision(flagOf('e1'), 'confirmed', '2026-11-28T10:00:00Z'),
          decision(flagOf('e2'), 'rejected', '2026-11-28T11:00:00Z'),
          decision(flagOf('e2'), 'confirmed', '2026-11-28T09:00:00Z'), // older: the rejection stands
          decision(flagOf('t1'), 'escalated', '2026-11-28T10:00:00Z'),
          decision(flagOf('t2'), 'rejected', '2026-11-28T10:00:00Z'),
          decision(`flg_${'0'.repeat(32)}`, 'confirmed', '2026-11-28T10:00:00Z'),
        ].join('\n') + '\n',
      );
      const out = join(fx.dir, 'out-dec');
      const r = await runCli(['tune', '--events', fx.events, '--decisions', file, '--banks', fx.banks, '--policy', fx.policy, '--out', out, '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ positive: 2, negative: 2, unlabelled: 12 });
      const { rows } = parseCsv(readFileSync(join(out, 'thresholds.csv'), 'utf8'));
      // Positives e1 (distance 0) and t1; negatives e2 (distance 10) and t2.
      expect(counts(row(rows, 'pdq', 'tune-bank', '0'))).toEqual({ tp: 1, fp: 0, fn: 1, tn: 2 });
      expect(counts(row(rows, 'pdq', 'tune-bank', '10'))).toEqual({ tp: 1, fp: 1, fn: 1, tn: 1 });
      expect(counts(row(rows, 'term', 'tune-terms', '1'))).toEqual({ tp: 1, fp: 1, fn: 1, tn: 1 });
      const html = readFileSync(join(out, 'report.html'), 'utf8');
      expect(html).toMatch(/decisions matching no flag of these events<\/th><td>1</);

      // Unreviewed events as negatives: the 12 others join the negatives.
      const r2 = await runCli([
        'tune',
        '--events',
        fx.events,
        '--decisions',
        file,
        '--unreviewed',
        'negative',
        '--banks',
        fx.banks,
        '--policy',
        fx.policy,
        '--out',
        out,
        '--json',
      ]);
      expect(JSON.parse(r2.stdout)).toMatchObject({ positive: 2, negative: 14, unlabelled: 0 });
    },
    SLOW,
  );

  it(
    'no payload-derived string in its output, error lines, CSV or report; a failed event makes exit 1 and the files are still written',
    async () => {
      const MARKER = 'quokka-tune-7731';
      const events = join(fx.dir, 'events-marker.jsonl');
      const good = JSON.parse(eventLine({ eventId: 'mk-1', text: `velvet teapot ${MARKER}` }, 1)) as Record<string, unknown>;
      writeFileSync(events, [JSON.stringify(good), JSON.stringify({ ...good, eventId: 'mk-2', [MARKER]: MARKER }), `{"eventId": "${MARKER}`].join('\n') + '\n');
      const labels = join(fx.dir, 'labels-marker.jsonl');
      writeFileSync(labels, '{"eventId":"mk-1","labels":["sample_grooming"]}\n');
      const out = join(fx.dir, 'out-marker');
      const r = await runCli([
        'tune',
        '--events',
        events,
        '--labels',
        labels,
        '--banks',
        fx.banks,
        '--policy',
        fx.policy,
        '--model',
        MODEL,
        '--out',
        out,
        '--json',
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('{'))).toHaveLength(2);
      for (const text of [r.stdout, r.stderr, readFileSync(join(out, 'thresholds.csv'), 'utf8'), readFileSync(join(out, 'report.html'), 'utf8')])
        expect(text).not.toContain(MARKER);
      expect(JSON.parse(r.stdout)).toMatchObject({ events: 1, positive: 1, failed: 2 });
    },
    SLOW,
  );

  it('bad invocations are usage errors (exit 2); a bad labels line is DATA_INVALID (exit 1, like bad training data), naming the line, never its content', async () => {
    const out = join(fx.dir, 'out-bad');
    const neither = await runCli(['tune', '--events', fx.events, '--out', out]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/exactly one of --labels FILE or --decisions FILE/);
    const both = await runCli(['tune', '--events', fx.events, '--labels', fx.labels, '--decisions', fx.labels, '--out', out]);
    expect(both.code).toBe(2);
    const bad = join(fx.dir, 'bad-labels.jsonl');
    writeFileSync(bad, '{"eventId":"e1","labels":[]}\n{"eventId":"e2","labels":"secret-word"}\n');
    const r = await runCli(['tune', '--events', fx.events, '--labels', bad, '--banks', fx.banks, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/DATA_INVALID: .*bad-labels\.jsonl line 2: labels/);
    expect(r.stderr).not.toContain('secret-word');
    const target = await runCli(['tune', '--events', fx.events, '--labels', fx.labels, '--target-precision', '1.5', '--out', out]);
    expect(target.code).toBe(2);
  });
});
