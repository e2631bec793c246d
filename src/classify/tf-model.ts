/**
 * Loads a verified model's files into TF.js through an IOHandler over the bytes already read and
 * checked by the manifest: no URL, no fetch, no second read of the disk between check and use.
 */
import type * as TF from '@tensorflow/tfjs';
import { VigilError } from '../core/errors.js';
import type { VerifiedModel } from './manifest.js';
import type { TfModule } from './runtime.js';

interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: object;
  weightsManifest: Array<{ paths: string[]; weights: TF.io.WeightsManifestEntry[] }>;
  userDefinedMetadata?: Record<string, object>;
}

function invalid(model: VerifiedModel, what: string): VigilError {
  return new VigilError('MODEL_INVALID', `model ${model.entry.id}@${model.entry.version}: ${what}`);
}

/** The verified model as TF.js model artifacts (topology + one weight buffer). */
export function modelArtifacts(model: VerifiedModel): TF.io.ModelArtifacts {
  let json: ModelJson;
  try {
    json = JSON.parse(Buffer.from(model.files.get('model.json') as Uint8Array).toString('utf8')) as ModelJson;
  } catch {
    throw invalid(model, 'model.json is not JSON');
  }
  if (typeof json.modelTopology !== 'object' || !Array.isArray(json.weightsManifest)) throw invalid(model, 'model.json lacks modelTopology or weightsManifest');
  const parts: Uint8Array[] = [];
  const weightSpecs: TF.io.WeightsManifestEntry[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const bytes = model.files.get(p);
      if (!bytes) throw invalid(model, `weight file ${p} is not listed (with its sha256) in the manifest`);
      parts.push(bytes);
    }
    weightSpecs.push(...group.weights);
  }
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    weightData.set(p, offset);
    offset += p.byteLength;
  }
  const artifacts: TF.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs,
    weightData: weightData.buffer,
    format: json.format ?? 'layers-model',
  };
  if (json.generatedBy) artifacts.generatedBy = json.generatedBy;
  if (json.convertedBy) artifacts.convertedBy = json.convertedBy;
  if (json.userDefinedMetadata) artifacts.userDefinedMetadata = json.userDefinedMetadata;
  return artifacts;
}

/** An IOHandler that only loads, from memory: TF.js never sees a path or URL it could fetch. */
export function verifiedModelHandler(model: VerifiedModel): TF.io.IOHandler {
  return { load: async () => modelArtifacts(model) };
}

/** Loads a verified layers model; TF.js errors (bad topology, weight size mismatch) become MODEL_INVALID. */
export async function loadLayersModel(tf: TfModule, model: VerifiedModel): Promise<TF.LayersModel> {
  try {
    return await tf.loadLayersModel(verifiedModelHandler(model));
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError(
      'MODEL_INVALID',
      `model ${model.entry.id}@${model.entry.version}: TF.js refused it (${err instanceof Error ? err.message.slice(0, 160) : 'unknown error'})`,
      { cause: err },
    );
  }
}
