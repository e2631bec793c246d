/** Classifiers on TensorFlow.js: runtime, model registry, image and text classifiers, training. */
export {
  ThreadedImageClassifier,
  rasterToModelInput,
  type ClassifierResult,
  type ImageClassifier,
  type ImageClassifierOptions,
  type ImageClassifierStats,
} from './image-classifier.js';
export { MAX_IMAGE_BATCH, TfImageModel } from './image-model.js';
export {
  DEMO_TEXT_MODEL_ID,
  NSFW_MODEL_ID,
  defaultModelsDir,
  loadVerifiedModel,
  readManifest,
  upsertManifestEntry,
  type Manifest,
  type ModelEntry,
  type VerifiedModel,
} from './manifest.js';
export { reportClassifierLoaded, type ClassifierObservers } from './observe.js';
export { BACKENDS, tfRuntime, type BackendName, type BackendPreference, type BackendReason, type RuntimeInfo } from './runtime.js';
export { HashedTextClassifier, type TextClassifier } from './text-classifier.js';
export { featurize, type TextFeatureConfig } from './text-features.js';
export { parseTrainingJsonl, trainTextModel, writeTextModel, type LabelEvaluation, type LabelledText } from './text-train.js';
