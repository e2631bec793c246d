/**
 * Training for the text classifier (`vigil train-text`): labelled JSONL → hashed features → one
 * sigmoid dense layer per label set (multi-label logistic regression) trained with TF.js → model.json +
 * weights.bin + features.json + manifest.json in the output folder, with the held-out evaluation.
 *
 * Deterministic for a given data file, seed and backend: zero-initialised weights, a seeded split and
 * a seeded shuffle per epoch, so the same command rebuilds the same model (and the same version).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { z } from 'zod';
import { VigilError } from '../core/errors.js';
import { MANIFEST_SCHEMA, sha256, type ModelEntry } from './manifest.js';
import type { TfModule } from './runtime.js';
import { defaultFeatureConfig, densify, featurize, type SparseFeatures, type TextFeatureConfig } from './text-features.js';

export interface LabelledText {
  text: string;
  labels: readonly string[];
}

const rowSchema = z.strictObject({
  text: z.string(),
  labels: z.array(z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'labels are lowercase ids (a-z 0-9 _ . -)')),
});

/** Parses training JSONL; a bad line is a DATA_INVALID naming its line number (never its text). */
export function parseTrainingJsonl(content: string, file = 'data'): LabelledText[] {
  const rows: LabelledText[] = [];
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw new VigilError('DATA_INVALID', `${file}:${i + 1}: not JSON`);
    }
    const parsed = rowSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new VigilError(
        'DATA_INVALID',
        `${file}:${i + 1}: ${issue?.path.join('.') || 'line'}: ${issue?.message ?? 'expected {"text": string, "labels": [string]}'}`,
      );
    }
    rows.push(parsed.data);
  }
  return rows;
}

/** mulberry32: small, seeded, the same on every platform. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/**
 * The held-out split: a seeded shuffle of the row numbers, the first `holdout` share held out. The
 * same generator then shuffles the training rows each epoch. Exported so the split can be rebuilt.
 */
export function splitRows(n: number, holdout: number, random: () => number): { held: number[]; train: number[] } {
  const order = shuffle(
    Array.from({ length: n }, (_, i) => i),
    random,
  );
  const nHeld = Math.round(n * holdout);
  return { held: order.slice(0, nHeld), train: order.slice(nHeld) };
}

export interface LabelEvaluation {
  label: string;
  /** Held-out items carrying the label. */
  positives: number;
  negatives: number;
  /** At threshold 0.5. */
  precision: number;
  recall: number;
  f1: number;
  auc: number;
  /** Lowest threshold at which held-out precision is ≥ 0.99 (most recall at that precision), with its recall; null if none. */
  thresholdAtPrecision99: number | null;
  recallAtPrecision99: number | null;
}

/** Area under the ROC curve (Mann–Whitney U, ties counted half). NaN without both classes. */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1] as number] === scores[idx[i] as number]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++)
      if (positive[idx[k] as number]) {
        rankSumPos += avgRank;
        nPos++;
      }
    i = j + 1;
  }
  const nNeg = idx.length - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export function evaluateLabel(label: string, scores: ArrayLike<number>, positive: ArrayLike<boolean>, targetPrecision = 0.99): LabelEvaluation {
  let tp = 0;
  let fp = 0;
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    if (positive[i]) positives++;
    if ((scores[i] as number) >= 0.5) {
      if (positive[i]) tp++;
      else fp++;
    }
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = positives === 0 ? 0 : tp / positives;
  // Walk thresholds from the highest score down; keep the lowest one that still reaches the target.
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number));
  let threshold: number | null = null;
  let recallAt: number | null = null;
  let ctp = 0;
  let cfp = 0;
  for (let i = 0; i < order.length;) {
    const s = scores[order[i] as number] as number;
    let j = i;
    while (j < order.length && scores[order[j] as number] === s) {
      if (positive[order[j] as number]) ctp++;
      else cfp++;
      j++;
    }
    if (ctp / (ctp + cfp) >= targetPrecision && ctp > 0) {
      threshold = s;
      recallAt = positives === 0 ? 0 : ctp / positives;
    }
    i = j;
  }
  return {
    label,
    positives,
    negatives: scores.length - positives,
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
    auc: rocAuc(scores, positive),
    thresholdAtPrecision99: threshold,
    recallAtPrecision99: recallAt,
  };
}

export interface TrainOptions {
  /** Share of rows held out for evaluation, 0 ≤ h < 1. Default 0.2. */
  holdout?: number;
  seed?: number;
  /** Hash buckets (power of two). Default 16384. */
  dimensions?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** L2 penalty on the weights. */
  l2?: number;
  /** Called after each epoch (for a progress line). */
  onEpoch?: (epoch: number, epochs: number, loss: number) => void;
  /** Called once every row is featurised, before the first epoch. */
  onFeaturized?: (rows: number) => void;
}

export interface TrainedTextModel {
  labels: string[];
  features: TextFeatureConfig;
  model: TF.LayersModel;
  train: number;
  heldOut: number;
  evaluation: LabelEvaluation[];
  options: Required<Omit<TrainOptions, 'onEpoch' | 'onFeaturized'>>;
}

/** Builds a dense [rows × dimensions] batch from sparse features. */
function batchTensor(tf: TfModule, rows: readonly SparseFeatures[], dimensions: number): TF.Tensor2D {
  const x = new Float32Array(rows.length * dimensions);
  rows.forEach((f, r) => densify(f, dimensions, x, r * dimensions));
  return tf.tensor2d(x, [rows.length, dimensions]);
}

export async function trainTextModel(tf: TfModule, rows: readonly LabelledText[], options: TrainOptions = {}): Promise<TrainedTextModel> {
  const opts = {
    holdout: options.holdout ?? 0.2,
    seed: options.seed ?? 1,
    dimensions: options.dimensions ?? 1 << 14,
    epochs: options.epochs ?? 8,
    batchSize: options.batchSize ?? 32,
    learningRate: options.learningRate ?? 0.01,
    l2: options.l2 ?? 1e-6,
  };
  if (!(opts.holdout >= 0 && opts.holdout < 1)) throw new VigilError('DATA_INVALID', '--holdout must be at least 0 and below 1');
  const labels = [...new Set(rows.flatMap((r) => r.labels))].sort();
  if (labels.length === 0) throw new VigilError('DATA_INVALID', 'no row carries a label: nothing to learn');
  const features = defaultFeatureConfig(opts.dimensions);
  const x = rows.map((r) => featurize(r.text, features));
  const y = rows.map((r) => Float32Array.from(labels, (l) => (r.labels.includes(l) ? 1 : 0)));
  options.onFeaturized?.(rows.length);
  const random = seededRandom(opts.seed);
  const { held, train } = splitRows(rows.length, opts.holdout, random);
  if (train.length === 0) throw new VigilError('DATA_INVALID', 'no rows left to train on after the holdout');

  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [opts.dimensions],
        units: labels.length,
        activation: 'sigmoid',
        kernelInitializer: 'zeros',
        biasInitializer: 'zeros',
        kernelRegularizer: tf.regularizers.l2({ l2: opts.l2 }),
      }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(opts.learningRate), loss: 'binaryCrossentropy' });
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    shuffle(train, random);
    let lossSum = 0;
    let batches = 0;
    for (let i = 0; i < train.length; i += opts.batchSize) {
      const ids = train.slice(i, i + opts.batchSize);
      const xb = batchTensor(
        tf,
        ids.map((k) => x[k] as SparseFeatures),
        opts.dimensions,
      );
      const yv = new Float32Array(ids.length * labels.length);
      ids.forEach((k, r) => yv.set(y[k] as Float32Array, r * labels.length));
      const yb = tf.tensor2d(yv, [ids.length, labels.length]);
      const loss = await model.trainOnBatch(xb, yb);
      lossSum += Array.isArray(loss) ? (loss[0] as number) : loss;
      batches++;
      xb.dispose();
      yb.dispose();
    }
    options.onEpoch?.(epoch, opts.epochs, lossSum / batches);
  }

  const evaluation: LabelEvaluation[] = [];
  if (held.length > 0) {
    const scores = labels.map(() => new Float64Array(held.length));
    for (let i = 0; i < held.length; i += 256) {
      const ids = held.slice(i, i + 256);
      const p = tf.tidy(() =>
        (
          model.predict(
            batchTensor(
              tf,
              ids.map((k) => x[k] as SparseFeatures),
              opts.dimensions,
            ),
          ) as TF.Tensor
        ).dataSync(),
      );
      ids.forEach((_, r) => labels.forEach((_, l) => ((scores[l] as Float64Array)[i + r] = p[r * labels.length + l] as number)));
    }
    labels.forEach((label, l) =>
      evaluation.push(
        evaluateLabel(
          label,
          scores[l] as Float64Array,
          held.map((k) => (y[k] as Float32Array)[l] === 1),
        ),
      ),
    );
  }
  return { labels, features, model, train: train.length, heldOut: held.length, evaluation, options: opts };
}

export interface WrittenTextModel {
  entry: ModelEntry;
  dir: string;
}

/**
 * Writes the trained model into `dir`: model.json + weights.bin (TF.js-loadable), features.json, and a
 * manifest.json with its one entry (files' sha256, evaluation). The version is the content hash of
 * weights and feature config unless given: the same training run always yields the same version.
 */
export async function writeTextModel(
  tf: TfModule,
  trained: TrainedTextModel,
  dir: string,
  meta: { id: string; version?: string; source: Record<string, string>; licence: string; evaluationNote?: string },
): Promise<WrittenTextModel> {
  mkdirSync(dir, { recursive: true });
  let modelJson = '';
  let weights = new Uint8Array(0);
  await trained.model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      modelJson = `${JSON.stringify({ format: 'layers-model', generatedBy: `TensorFlow.js ${tf.version.tfjs}`, convertedBy: 'vigil train-text', modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] })}\n`;
      weights = new Uint8Array(artifacts.weightData as ArrayBuffer);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const featuresJson = `${JSON.stringify(trained.features, null, 2)}\n`;
  writeFileSync(join(dir, 'model.json'), modelJson);
  writeFileSync(join(dir, 'weights.bin'), weights);
  writeFileSync(join(dir, 'features.json'), featuresJson);
  const files = { 'model.json': sha256(modelJson), 'weights.bin': sha256(weights), 'features.json': sha256(featuresJson) };
  const entry: ModelEntry = {
    id: meta.id,
    version: meta.version ?? sha256(files['weights.bin'] + files['features.json']).slice(0, 12),
    task: 'text-classification',
    path: '.',
    format: 'layers-model',
    input: { kind: 'hashed-text', dimensions: trained.features.dimensions, featureConfig: 'features.json' },
    labels: trained.labels,
    source: meta.source,
    licence: meta.licence,
    files,
    evaluation: {
      ...(meta.evaluationNote ? { note: meta.evaluationNote } : {}),
      split: { train: trained.train, heldOut: trained.heldOut, holdout: trained.options.holdout, seed: trained.options.seed },
      training: {
        epochs: trained.options.epochs,
        batchSize: trained.options.batchSize,
        learningRate: trained.options.learningRate,
        l2: trained.options.l2,
        backend: tf.getBackend(),
      },
      heldOut: trained.evaluation.map((e) => ({ ...e, auc: Number.isNaN(e.auc) ? null : e.auc })),
    },
  };
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify({ schema: MANIFEST_SCHEMA, models: [entry] }, null, 2)}\n`);
  return { entry, dir };
}
