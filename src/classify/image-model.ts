/**
 * An image classification model on the thread that runs TF.js: RGB pixels already resized to the
 * model's input size go in, one probability per label comes out. Everything the model allocates lives
 * inside `tf.tidy`, so tensors never outlive a call (tested: tf.memory().numTensors stays flat).
 */
import type * as TF from '@tensorflow/tfjs';
import { VigilError } from '../core/errors.js';
import type { ModelEntry, VerifiedModel } from './manifest.js';
import type { TfModule } from './runtime.js';
import { loadLayersModel } from './tf-model.js';

/** Larger batches save little CPU on wasm (5–12% at 32) but pin ~1 GB of wasm heap for good. */
export const MAX_IMAGE_BATCH = 8;

export class TfImageModel {
  private constructor(
    private readonly tf: TfModule,
    private readonly model: TF.LayersModel,
    readonly entry: ModelEntry,
    /** Input side in pixels (square). */
    readonly size: number,
  ) {}

  static async load(tf: TfModule, verified: VerifiedModel): Promise<TfImageModel> {
    const { entry } = verified;
    if (entry.task !== 'image-classification' || entry.input.kind !== 'image')
      throw new VigilError('MODEL_INVALID', `model ${entry.id} is not an image classifier`);
    const [h, w] = entry.input.shape;
    if (h !== w) throw new VigilError('MODEL_INVALID', `model ${entry.id}: only square inputs are supported (${h}×${w})`);
    const model = await loadLayersModel(tf, verified);
    const inShape = model.inputs[0]?.shape;
    const outShape = model.outputs[0]?.shape;
    if (!inShape || inShape[1] !== h || inShape[2] !== w || inShape[3] !== 3) {
      model.dispose();
      throw new VigilError(
        'MODEL_INVALID',
        `model ${entry.id}: its input shape ${JSON.stringify(inShape)} does not match the manifest's ${JSON.stringify(entry.input.shape)}`,
      );
    }
    if (!outShape || outShape[1] !== entry.labels.length) {
      model.dispose();
      throw new VigilError('MODEL_INVALID', `model ${entry.id}: it has ${String(outShape?.[1])} outputs for ${entry.labels.length} labels`);
    }
    const loaded = new TfImageModel(tf, model, entry, h);
    // The first predict compiles kernels and sizes the heap; do it now, not on the first message.
    loaded.predict([new Uint8Array(h * w * 3)]);
    return loaded;
  }

  /**
   * Scores a batch of `size`×`size` RGB images (row-major, 8 bits a sample); returns batch × labels
   * probabilities, row by row. Synchronous: the caller is a worker thread with nothing else to do.
   */
  predict(inputs: readonly Uint8Array[]): Float32Array {
    const n = inputs.length;
    if (n === 0) return new Float32Array(0);
    if (n > MAX_IMAGE_BATCH) throw new VigilError('INTERNAL', `batch of ${n} exceeds ${MAX_IMAGE_BATCH}`);
    const pixels = this.size * this.size * 3;
    const flat = new Float32Array(n * pixels);
    inputs.forEach((img, i) => {
      if (img.length !== pixels) throw new VigilError('INTERNAL', `input ${i} has ${img.length} samples, expected ${pixels}`);
      flat.set(img, i * pixels);
    });
    return this.tf.tidy(() => {
      const x = this.tf.tensor4d(flat, [n, this.size, this.size, 3]).div(255);
      const y = this.model.predict(x) as TF.Tensor;
      return y.dataSync() as Float32Array;
    });
  }

  /** Live tensors in this thread's engine (the model's weights plus anything leaked). */
  numTensors(): number {
    return this.tf.memory().numTensors;
  }

  dispose(): void {
    this.model.dispose();
  }
}
