import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultModelsDir, DEMO_TEXT_MODEL_ID, loadVerifiedModel, readManifest, sha256 } from '../../src/classify/manifest.js';
import { tfRuntime, type TfModule } from '../../src/classify/runtime.js';
import { verifiedModelHandler } from '../../src/classify/tf-model.js';
import { HashedTextClassifier } from '../../src/classify/text-classifier.js';
import { densify, featureBuckets, featurize } from '../../src/classify/text-features.js';
import {
  evaluateLabel,
  parseTrainingJsonl,
  rocAuc,
  seededRandom,
  splitRows,
  trainTextModel,
  writeTextModel,
  type LabelledText,
} from '../../src/classify/text-train.js';
import { spamAssassinRows } from '../../scripts/demo-corpus.js';
import { seededRandom as fixtureRandom } from '../helpers/seeded-random.js';
import { tempDir } from './helpers.js';

/** Synthetic, harmless labelled messages: "offer" phrasing marks spam_scam, "kettle" marks a second label. */
function syntheticRows(n: number, seed: number): LabelledText[] {
  const rnd = fixtureRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const everyday = [
    'see you at lunch',
    'the velvet teapot is on the shelf',
    'meeting moved to friday',
    'thanks for the photos',
    'call me when you land',
    'garden looks lovely',
    'bring the blue umbrella',
  ];
  const offer = [
    'claim your free prize now',
    'you have won a voucher, click the link',
    'urgent: confirm your account to receive cash',
    'limited offer, send the fee today',
  ];
  const kettle = ['the copper kettle whistles', 'descale the kettle tonight'];
  return Array.from({ length: n }, () => {
    const spam = rnd() < 0.4;
    const k = rnd() < 0.25;
    const parts = [pick(everyday), ...(spam ? [pick(offer)] : []), ...(k ? [pick(kettle)] : []), pick(everyday)];
    return { text: parts.join('. '), labels: [...(spam ? ['spam_scam'] : []), ...(k ? ['kettle'] : [])] };
  });
}

function tfScores(tf: TfModule, model: TF.LayersModel, texts: readonly string[], dims: number): Float32Array {
  return tf.tidy(() => {
    const x = new Float32Array(texts.length * dims);
    texts.forEach((t, i) => densify(featurize(t, { dimensions: dims, ngrams: [1, 2], maxChars: 4000 }), dims, x, i * dims));
    return (model.predict(tf.tensor2d(x, [texts.length, dims])) as TF.Tensor).dataSync() as Float32Array;
  });
}

const PROBES = [
  'claim your free prize now',
  'CL41M y0ur FR33 pr1ze n0w!!!',
  'the velvet teapot is on the shelf',
  'descale the kettle tonight, then claim your free prize',
  '',
  '🙂🙂🙂',
  'Ｆｕｌｌ ｗｉｄｔｈ ｔｅｘｔ',
  'x'.repeat(5000),
];

describe('text classifier: train → save → reload → score', { timeout: 120_000 }, () => {
  let tf: TfModule;
  let dir: string;
  let trained: Awaited<ReturnType<typeof trainTextModel>>;
  const rows = syntheticRows(600, 3);
  beforeAll(async () => {
    ({ tf } = await tfRuntime());
    trained = await trainTextModel(tf, rows, { holdout: 0.25, seed: 5, dimensions: 1 << 12, epochs: 6 });
    dir = tempDir('text-model');
    await writeTextModel(tf, trained, dir, { id: 'synthetic-test', source: { name: 'syntheticRows' }, licence: 'Apache-2.0' });
  }, 120_000);

  it('writes a TF.js-loadable model whose manifest verifies, with labels in sorted order and a held-out evaluation', () => {
    const { entry } = loadVerifiedModel(dir, { id: 'synthetic-test' });
    expect(entry.labels).toEqual(['kettle', 'spam_scam']);
    expect(Object.keys(entry.files).sort()).toEqual(['features.json', 'model.json', 'weights.bin']);
    const evaluation = entry.evaluation as { heldOut: Array<{ label: string; auc: number; positives: number }>; split: { heldOut: number } };
    expect(evaluation.split.heldOut).toBe(150);
    for (const e of evaluation.heldOut) expect(e.auc).toBeGreaterThan(0.95);
  });

  it('the plain TypeScript scorer equals TF.js predict within 1e-5, on the trained model and on the reloaded files', async () => {
    const classifier = HashedTextClassifier.load(dir);
    const reloaded = await tf.loadLayersModel(verifiedModelHandler(loadVerifiedModel(dir)));
    const texts = [...PROBES, ...syntheticRows(100, 99).map((r) => r.text)];
    const fromTrained = tfScores(tf, trained.model, texts, 1 << 12);
    const fromFiles = tfScores(tf, reloaded, texts, 1 << 12);
    texts.forEach((t, i) => {
      const s = classifier.score(t);
      expect(s.modelId).toBe('synthetic-test');
      ['kettle', 'spam_scam'].forEach((label, l) => {
        expect(Math.abs(s.scores[label]! - fromTrained[i * 2 + l]!)).toBeLessThan(1e-5);
        expect(Math.abs(s.scores[label]! - fromFiles[i * 2 + l]!)).toBeLessThan(1e-5);
      });
    });
    reloaded.dispose();
  });

  it('the same data and seed rebuild the same model (same weights, same version); another seed does not', async () => {
    const again = await trainTextModel(tf, rows, { holdout: 0.25, seed: 5, dimensions: 1 << 12, epochs: 6 });
    const dir2 = tempDir('text-model-again');
    const w = await writeTextModel(tf, again, dir2, { id: 'synthetic-test', source: { name: 'syntheticRows' }, licence: 'Apache-2.0' });
    expect(w.entry.version).toBe(readManifest(dir).models[0]!.version);
    expect(readFileSync(join(dir2, 'weights.bin')).equals(readFileSync(join(dir, 'weights.bin')))).toBe(true);
    const a = HashedTextClassifier.load(dir);
    const b = HashedTextClassifier.load(dir2);
    for (const t of PROBES) expect(b.score(t).scores).toEqual(a.score(t).scores);
    const other = await trainTextModel(tf, rows, { holdout: 0.25, seed: 6, dimensions: 1 << 12, epochs: 1 });
    const dir3 = tempDir('text-model-other');
    expect((await writeTextModel(tf, other, dir3, { id: 'synthetic-test', source: {}, licence: 'x' })).entry.version).not.toBe(w.entry.version);
  });

  it('scores obfuscated spam like plain spam: features come from the term matcher normalisation', () => {
    const c = HashedTextClassifier.load(dir);
    // Case, repeated letters and a Cyrillic lookalike fold away exactly as they do for the term banks.
    expect(c.score('CLAIM yourrr FREEEE prize now!!!').scores.spam_scam).toBeCloseTo(c.score('claim your free prize now').scores.spam_scam!, 12);
    expect(c.score('\u0441l\u0430im your free prize now').scores.spam_scam).toBeCloseTo(c.score('claim your free prize now').scores.spam_scam!, 12);
    expect(c.score('claim your free prize now').scores.spam_scam).toBeGreaterThan(c.score('the velvet teapot is on the shelf').scores.spam_scam!);
  });

  it("the scorer's unordered buckets are featurize's indices, call after call (the scratch is cleared)", () => {
    const config = { dimensions: 1 << 10, ngrams: [1, 2], maxChars: 4000 };
    const texts = ['claim your free prize now', 'the velvet teapot', '', 'claim your free prize now', 'fr33 pr1ze 😂 ok ok ok'];
    for (const t of texts) {
      const { buckets, count } = featureBuckets(t, config);
      const got = [...buckets.subarray(0, count)].sort((a, b) => a - b);
      expect(got).toEqual([...featurize(t, config).indices]);
      expect(new Set(got).size).toBe(count);
    }
  });

  it('refuses a model whose features no longer match the normaliser it was trained with (MODEL_INVALID)', () => {
    const d = tempDir('text-model-drift');
    for (const f of ['model.json', 'weights.bin']) writeFileSync(join(d, f), readFileSync(join(dir, f)));
    const features = JSON.parse(readFileSync(join(dir, 'features.json'), 'utf8')) as { probe: string };
    const altered = `${JSON.stringify({ ...features, probe: sha256('something else') })}\n`;
    writeFileSync(join(d, 'features.json'), altered);
    const manifest = readManifest(dir);
    const entry = { ...manifest.models[0]!, files: { ...manifest.models[0]!.files, 'features.json': sha256(altered) } };
    writeFileSync(join(d, 'manifest.json'), JSON.stringify({ ...manifest, models: [entry] }));
    expect(() => HashedTextClassifier.load(d)).toThrow(expect.objectContaining({ code: 'MODEL_INVALID', message: expect.stringMatching(/retrain/) }));
  });
});

describe('training data and evaluation', () => {
  it('rejects bad lines with DATA_INVALID and the line number, never the text', () => {
    expect(parseTrainingJsonl('{"text":"a","labels":[]}\n\n{"text":"b","labels":["spam_scam"]}\n')).toHaveLength(2);
    for (const [content, line] of [
      ['{"text":"a","labels":[]}\nnot json', 2],
      ['{"text":"secret words","labels":"spam"}', 1],
      ['{"text":"a","labels":["Spam Scam"]}', 1],
      ['{"text":"a","labels":[],"extra":1}', 1],
    ] as const) {
      let err: unknown;
      try {
        parseTrainingJsonl(content, 'f.jsonl');
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'DATA_INVALID', message: expect.stringContaining(`f.jsonl:${line}:`) });
      expect((err as Error).message).not.toContain('secret words');
    }
  });

  it('AUC, precision/recall/F1 and the 0.99-precision threshold match hand-computed values', () => {
    // scores:   .9  .8  .7  .6  .55 .4  .3  .2   positives: 1 1 0 1 0 1 0 0
    const s = [0.9, 0.8, 0.7, 0.6, 0.55, 0.4, 0.3, 0.2];
    const y = [true, true, false, true, false, true, false, false];
    // Pairs (pos, neg) with pos > neg: .9:4 .8:4 .6:3 .4:2 = 13 of 16.
    expect(rocAuc(s, y)).toBeCloseTo(13 / 16, 12);
    expect(rocAuc([0.5, 0.5], [true, false])).toBe(0.5);
    const e = evaluateLabel('x', s, y);
    // At 0.5: predicted positive .9 .8 .7 .6 .55 → tp 3, fp 2; positives 4.
    expect(e.precision).toBeCloseTo(3 / 5, 12);
    expect(e.recall).toBeCloseTo(3 / 4, 12);
    expect(e.f1).toBeCloseTo((2 * 0.6 * 0.75) / 1.35, 12);
    // Precision 1 holds down to 0.8 (2 tp), then .7 is a false positive: threshold 0.8, recall 0.5.
    expect(e.thresholdAtPrecision99).toBe(0.8);
    expect(e.recallAtPrecision99).toBe(0.5);
    expect(evaluateLabel('x', [0.9, 0.1], [false, true]).thresholdAtPrecision99).toBeNull();
  });
});

describe('the shipped demo model (SpamAssassin e-mail, spam_scam)', { timeout: 120_000 }, () => {
  it('loads from models/, and its held-out evaluation in the manifest is reproduced from the shipped weights', () => {
    const classifier = HashedTextClassifier.load(defaultModelsDir(), { id: DEMO_TEXT_MODEL_ID });
    expect(classifier.labels).toEqual(['spam_scam']);
    const entry = readManifest(defaultModelsDir()).models.find((m) => m.id === DEMO_TEXT_MODEL_ID)!;
    const evaluation = entry.evaluation as {
      split: { holdout: number; seed: number; heldOut: number };
      heldOut: Array<{ auc: number; precision: number; recall: number; f1: number }>;
      note: string;
    };
    expect(evaluation.note).toMatch(/e-mail/);
    const rows = spamAssassinRows();
    expect(rows).toHaveLength(6046);
    const { held } = splitRows(rows.length, evaluation.split.holdout, seededRandom(evaluation.split.seed));
    expect(held).toHaveLength(evaluation.split.heldOut);
    const scores = held.map((i) => classifier.score(rows[i]!.text).scores.spam_scam!);
    const got = evaluateLabel(
      'spam_scam',
      scores,
      held.map((i) => rows[i]!.labels.includes('spam_scam')),
    );
    const want = evaluation.heldOut[0]!;
    expect(got.auc).toBeCloseTo(want.auc, 5);
    expect(got.precision).toBeCloseTo(want.precision, 5);
    expect(got.recall).toBeCloseTo(want.recall, 5);
    expect(want.f1).toBeGreaterThan(0.9);
  });
});
