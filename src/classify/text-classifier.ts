/**
 * The text classifier the scan runs on every message: a logistic-regression layer trained with TF.js
 * (`vigil train-text`), scored here in plain TypeScript from its saved weights. With hashed sparse
 * features the score is a few dozen multiply-adds per label, so no tensor, thread or batch is worth
 * its overhead; a test holds this scorer equal to TF.js `predict` on the same model within 1e-5.
 */
import type * as TF from '@tensorflow/tfjs';
import { VigilError } from '../core/errors.js';
import type { ClassifierResult } from './image-classifier.js';
import { loadVerifiedModel, type ModelEntry, type VerifiedModel } from './manifest.js';
import { featureBuckets, probeFingerprint, TEXT_FEATURES_SCHEMA, type TextFeatureConfig } from './text-features.js';

/** The agreed interface a text signal source wraps. */
export interface TextClassifier {
  score(text: string): ClassifierResult;
  versions(): Record<string, string>;
}

interface WeightsManifest {
  weightsManifest: Array<{ paths: string[]; weights: TF.io.WeightsManifestEntry[] }>;
}

function invalid(entry: ModelEntry, what: string): VigilError {
  return new VigilError('MODEL_INVALID', `text model ${entry.id}@${entry.version}: ${what}`);
}

function parseJson<T>(model: VerifiedModel, name: string): T {
  try {
    return JSON.parse(Buffer.from(model.files.get(name) as Uint8Array).toString('utf8')) as T;
  } catch {
    throw invalid(model.entry, `${name} is not JSON`);
  }
}

export class HashedTextClassifier implements TextClassifier {
  readonly modelId: string;
  readonly modelVersion: string;
  readonly labels: readonly string[];

  private constructor(
    readonly entry: ModelEntry,
    readonly features: TextFeatureConfig,
    /** Row-major [dimensions × labels]. */
    private readonly kernel: Float32Array,
    private readonly bias: Float32Array,
  ) {
    this.modelId = entry.id;
    this.modelVersion = entry.version;
    this.labels = entry.labels;
  }

  /**
   * Loads the text model in `dir` (a `train-text` output folder, or the package's models/ with `id`),
   * after verifying every file's sha256 and that the normaliser still produces the features the model
   * was trained on. Throws MODEL_INVALID.
   */
  static load(dir: string, select: { id?: string } = {}): HashedTextClassifier {
    const model = loadVerifiedModel(dir, { ...select, task: 'text-classification' });
    const { entry } = model;
    if (entry.input.kind !== 'hashed-text') throw invalid(entry, 'input is not hashed text');
    const features = parseJson<TextFeatureConfig>(model, entry.input.featureConfig);
    if (features.schema !== TEXT_FEATURES_SCHEMA || features.dimensions !== entry.input.dimensions)
      throw invalid(entry, 'feature config does not match the manifest');
    if (probeFingerprint(features) !== features.probe) {
      throw invalid(
        entry,
        'the text features (normaliser or hashing) have changed since this model was trained; retrain it with `vigil train-text` (the demo model: scripts/train-demo-text-model.ts)',
      );
    }
    const json = parseJson<WeightsManifest>(model, 'model.json');
    const specs = json.weightsManifest?.flatMap((g) => g.weights) ?? [];
    const paths = json.weightsManifest?.flatMap((g) => g.paths) ?? [];
    if (paths.length !== 1 || !model.files.has(paths[0]!)) throw invalid(entry, 'expected one listed weights file');
    const bytes = model.files.get(paths[0]!) as Uint8Array;
    const L = entry.labels.length;
    const D = features.dimensions;
    const kernelSpec = specs.find((s) => s.shape.length === 2);
    const biasSpec = specs.find((s) => s.shape.length === 1);
    if (specs.length !== 2 || !kernelSpec || !biasSpec || kernelSpec.dtype !== 'float32' || biasSpec.dtype !== 'float32')
      throw invalid(entry, 'expected one dense layer (float32 kernel and bias)');
    if (kernelSpec.shape[0] !== D || kernelSpec.shape[1] !== L || biasSpec.shape[0] !== L)
      throw invalid(entry, `dense layer is ${kernelSpec.shape.join('×')}, expected ${D}×${L}`);
    if (bytes.byteLength !== (D * L + L) * 4) throw invalid(entry, `weights file is ${bytes.byteLength} bytes, expected ${(D * L + L) * 4}`);
    // Weights are stored in weightsManifest order; copy out (the file buffer may be unaligned).
    const all = new Float32Array(bytes.slice().buffer);
    const kernelFirst = specs[0] === kernelSpec;
    const kernel = kernelFirst ? all.slice(0, D * L) : all.slice(L);
    const bias = kernelFirst ? all.slice(D * L) : all.slice(0, L);
    return new HashedTextClassifier(entry, features, kernel, bias);
  }

  versions(): Record<string, string> {
    return { [this.modelId]: this.modelVersion };
  }

  /** Probability per label, from the text alone. Never throws on any string. */
  score(text: string): ClassifierResult {
    const { buckets, count } = featureBuckets(text, this.features);
    const weight = count > 0 ? 1 / Math.sqrt(count) : 0;
    const L = this.labels.length;
    const scores: Record<string, number> = {};
    for (let l = 0; l < L; l++) {
      // Every present feature has the same value, so it factors out of the dot product.
      let sum = 0;
      for (let i = 0; i < count; i++) sum += this.kernel[(buckets[i] as number) * L + l] as number;
      const z = (this.bias[l] as number) + weight * sum;
      scores[this.labels[l] as string] = 1 / (1 + Math.exp(-z));
    }
    return { modelId: this.modelId, modelVersion: this.modelVersion, scores };
  }
}
