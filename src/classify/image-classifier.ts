/**
 * The image classifier the scan uses: `classify(raster)` resizes the shared decoded raster with sharp
 * (libuv thread pool) and scores it on TF.js worker threads, so the event loop never runs the model.
 *
 * Batching: a free thread takes every queued image up to `maxBatch` (≤ 8) at once, so a quiet worker
 * scores at batch 1 (lowest latency) and a busy one batches across concurrent jobs (more images per
 * CPU second). Every call has a time budget from the moment it is made; a call that overruns it, a
 * thread that dies, or a full queue is a typed, retriable per-item error (CLASSIFIER_TIMEOUT,
 * CLASSIFIER_UNAVAILABLE), never a crash. A thread that stays busy far past the budget is replaced.
 */
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { VigilError, type ErrorCode } from '../core/errors.js';
import type { DecodedImage } from '../core/ports.js';
import type { FromImageThread, ImageThreadData, ToImageThread } from './image-thread.js';
import { MAX_IMAGE_BATCH } from './image-model.js';
import { NSFW_MODEL_ID, defaultModelsDir, loadVerifiedModel, type ModelEntry } from './manifest.js';
import type { BackendPreference, RuntimeInfo } from './runtime.js';
import { reportClassifierLoaded } from './observe.js';
import type { Metrics } from '../adapters/metrics.js';
import type { Logger } from '../logger.js';

/** What a classifier returns for one item; the labels are the model's, in manifest order. */
export interface ClassifierResult {
  modelId: string;
  modelVersion: string;
  scores: Record<string, number>;
}

/** The agreed interface a media signal source wraps. */
export interface ImageClassifier {
  classify(raster: DecodedImage): Promise<ClassifierResult>;
  versions(): Record<string, string>;
  close(): Promise<void>;
}

export interface ImageClassifierOptions {
  /** Folder with manifest.json; default the package's models/. */
  modelsDir?: string;
  /** Model id in the manifest; default nsfw-mobilenet-v2. */
  modelId?: string;
  /** Config classifierThreads: TF.js worker threads (each holds its own copy of the model, ~40 MB). Default 1 here; the config's auto is one per core. */
  threads?: number;
  /** Config classifierMaxBatch: most images one thread scores at once, 1–8. Default 8. */
  maxBatch?: number;
  /** Config classifierTimeoutMs: budget per image from the call to its scores. Default 5000. */
  timeoutMs?: number;
  /** Config classifierMaxQueue: images waiting for a thread beyond which calls are refused. Default 64. */
  maxQueue?: number;
  /** Config classifierBackend. Default auto. */
  backend?: BackendPreference;
  /** Where the tfjs-backend-wasm binaries are (tests point it elsewhere to force the cpu fallback). */
  wasmDir?: string;
  /** Budget for every thread to load its model at start. Default 120 s (cpu backend on a loaded host). */
  startTimeoutMs?: number;
  /** Start-up log line and the vigil_model_runtime_info / vigil_model_load_seconds metrics. */
  logger?: Logger;
  metrics?: Metrics;
}

export interface ImageClassifierStats {
  /** Batches scored, by size (index = batch size). */
  batches: number[];
  timeouts: number;
  threadRestarts: number;
}

interface Pending {
  input: Uint8Array;
  resolve(r: ClassifierResult): void;
  reject(e: VigilError): void;
  timer: NodeJS.Timeout;
  settled: boolean;
}

interface Slot {
  worker: Worker;
  batch?: { id: number; items: Pending[]; watchdog: NodeJS.Timeout };
  memoryWaiters: Map<number, (n: number) => void>;
}

/** Resizes a raster to the model's square RGB input with sharp (fill: aspect is not kept, as the model was trained). */
export async function rasterToModelInput(raster: DecodedImage, size: number): Promise<Uint8Array> {
  const { width, height, channels, data } = raster;
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width <= 0 ||
    height <= 0 ||
    (channels !== 1 && channels !== 3) ||
    data.length !== width * height * channels
  ) {
    throw new VigilError('MEDIA_UNDECODABLE', `raster ${width}×${height}×${channels} does not match its ${data.length} samples`);
  }
  try {
    const { data: out, info } = await sharp(data, { raw: { width, height, channels } })
      .resize(size, size, { fit: 'fill' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || out.length !== size * size * 3) throw new Error(`resize produced ${info.channels} channels`);
    // A view into sharp's buffer may share a pool; the copy owns its memory and can be transferred.
    return new Uint8Array(out);
  } catch (err) {
    throw new VigilError('MEDIA_UNDECODABLE', `could not resize the raster for the classifier (${width}×${height})`, { cause: err });
  }
}

/**
 * From the source tree (tests, tsx) the thread needs the TypeScript loader; `--import tsx` in a
 * worker's execArgv races the entry file on Node 20, so the entry registers tsx and then imports.
 */
function startThread(workerData: ImageThreadData): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./image-thread.js', import.meta.url), { workerData });
  const entry = new URL('./image-thread.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

export class ThreadedImageClassifier implements ImageClassifier {
  readonly modelId: string;
  readonly modelVersion: string;
  readonly labels: readonly string[];
  readonly entry: ModelEntry;
  /** Backend, reason and load time reported by the first thread. */
  runtime!: RuntimeInfo;
  /** Milliseconds the first thread took to load and warm the model (after the runtime). */
  modelLoadMs = 0;
  readonly stats: ImageClassifierStats = { batches: new Array<number>(MAX_IMAGE_BATCH + 1).fill(0), timeouts: 0, threadRestarts: 0 };

  private readonly size: number;
  private readonly options: Required<Omit<ImageClassifierOptions, 'wasmDir' | 'logger' | 'metrics'>> & { wasmDir?: string };
  private readonly queue: Pending[] = [];
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private resizing = 0;
  private closed?: Promise<void>;

  private constructor(entry: ModelEntry, options: ThreadedImageClassifier['options']) {
    this.entry = entry;
    this.modelId = entry.id;
    this.modelVersion = entry.version;
    this.labels = entry.labels;
    this.options = options;
    this.size = entry.input.kind === 'image' ? entry.input.shape[0] : 0;
  }

  /** Verifies the model, starts the threads and waits until every one has loaded it. Throws MODEL_INVALID. */
  static async open(options: ImageClassifierOptions = {}): Promise<ThreadedImageClassifier> {
    const maxBatch = options.maxBatch ?? MAX_IMAGE_BATCH;
    const threads = options.threads ?? 1;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > MAX_IMAGE_BATCH)
      throw new VigilError('CONFIG_INVALID', `classifier maxBatch must be 1–${MAX_IMAGE_BATCH}`);
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new VigilError('CONFIG_INVALID', 'classifier threads must be 1–64');
    const resolved = {
      modelsDir: options.modelsDir ?? defaultModelsDir(),
      modelId: options.modelId ?? NSFW_MODEL_ID,
      threads,
      maxBatch,
      timeoutMs: options.timeoutMs ?? 5000,
      maxQueue: options.maxQueue ?? 64,
      backend: options.backend ?? 'auto',
      startTimeoutMs: options.startTimeoutMs ?? 120_000,
      ...(options.wasmDir ? { wasmDir: options.wasmDir } : {}),
    };
    // Verified here too, so a bad model fails before any thread starts; each thread verifies the bytes it loads.
    const { entry } = loadVerifiedModel(resolved.modelsDir, { id: resolved.modelId, task: 'image-classification' });
    const classifier = new ThreadedImageClassifier(entry, resolved);
    const openedAt = performance.now();
    try {
      const ready = await Promise.all(Array.from({ length: threads }, () => classifier.spawn()));
      classifier.runtime = ready[0]!.runtime;
      classifier.modelLoadMs = ready[0]!.modelLoadMs;
    } catch (err) {
      await classifier.close();
      throw err;
    }
    reportClassifierLoaded(options, { modelId: entry.id, modelVersion: entry.version, runtime: classifier.runtime, loadMs: performance.now() - openedAt });
    return classifier;
  }

  versions(): Record<string, string> {
    return { [this.modelId]: this.modelVersion };
  }

  async classify(raster: DecodedImage): Promise<ClassifierResult> {
    if (this.closed) throw new VigilError('CLASSIFIER_UNAVAILABLE', 'the image classifier is closed', { retriable: false });
    const started = Date.now();
    // Images being resized count as waiting: a burst must not slip past the bound during the resize.
    if (this.queue.length + this.resizing >= this.options.maxQueue)
      throw new VigilError('CLASSIFIER_UNAVAILABLE', `the image classifier queue is full (${this.options.maxQueue} waiting)`);
    this.resizing++;
    let input: Uint8Array;
    try {
      input = await rasterToModelInput(raster, this.size);
    } finally {
      this.resizing--;
    }
    const left = this.options.timeoutMs - (Date.now() - started);
    return new Promise<ClassifierResult>((resolve, reject) => {
      const item: Pending = {
        input,
        resolve,
        reject,
        settled: false,
        timer: setTimeout(() => this.expire(item), Math.max(0, left)),
      };
      this.queue.push(item);
      this.pump();
    });
  }

  /** Live tensors in each thread (model weights plus any leak): for the leak test and diagnostics. */
  async tensorCounts(): Promise<number[]> {
    return Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<number>((resolve) => {
            const id = this.nextId++;
            slot.memoryWaiters.set(id, resolve);
            slot.worker.postMessage({ type: 'memory', id } satisfies ToImageThread);
          }),
      ),
    );
  }

  /** Stops the threads; waiting and in-flight calls reject with CLASSIFIER_UNAVAILABLE. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const err = new VigilError('CLASSIFIER_UNAVAILABLE', 'the image classifier closed', { retriable: true });
      for (const item of this.queue.splice(0)) this.settle(item, err);
      const slots = this.slots.splice(0);
      for (const slot of slots) {
        if (slot.batch) {
          clearTimeout(slot.batch.watchdog);
          for (const item of slot.batch.items) this.settle(item, err);
        }
      }
      await Promise.all(slots.map((s) => s.worker.terminate()));
    })();
    return this.closed;
  }

  private settle(item: Pending, outcome: VigilError | Float32Array, row = 0): void {
    if (item.settled) return;
    item.settled = true;
    clearTimeout(item.timer);
    if (outcome instanceof VigilError) {
      item.reject(outcome);
      return;
    }
    const scores: Record<string, number> = {};
    const k = this.labels.length;
    this.labels.forEach((label, j) => (scores[label] = outcome[row * k + j] as number));
    item.resolve({ modelId: this.modelId, modelVersion: this.modelVersion, scores });
  }

  private expire(item: Pending): void {
    const i = this.queue.indexOf(item);
    if (i >= 0) this.queue.splice(i, 1);
    this.stats.timeouts++;
    this.settle(item, new VigilError('CLASSIFIER_TIMEOUT', `image classification exceeded its ${this.options.timeoutMs} ms budget`));
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.batch) continue;
      const items = this.queue.splice(0, this.options.maxBatch);
      const id = this.nextId++;
      // A thread still busy long after every item in its batch has timed out is wedged: replace it.
      const watchdog = setTimeout(
        () => this.replace(slot, new VigilError('CLASSIFIER_TIMEOUT', 'the classifier thread stopped responding')),
        this.options.timeoutMs * 3,
      );
      slot.batch = { id, items, watchdog };
      this.stats.batches[items.length] = (this.stats.batches[items.length] ?? 0) + 1;
      const inputs = items.map((it) => it.input);
      slot.worker.postMessage(
        { type: 'batch', id, inputs } satisfies ToImageThread,
        inputs.map((i) => i.buffer as ArrayBuffer),
      );
    }
  }

  private onMessage(slot: Slot, msg: FromImageThread): void {
    if (msg.type === 'memory') {
      slot.memoryWaiters.get(msg.id)?.(msg.numTensors);
      slot.memoryWaiters.delete(msg.id);
      return;
    }
    if (msg.type !== 'scores' && msg.type !== 'error') return;
    const batch = slot.batch;
    if (!batch || batch.id !== msg.id) return;
    clearTimeout(batch.watchdog);
    slot.batch = undefined;
    if (msg.type === 'scores') batch.items.forEach((item, row) => this.settle(item, msg.scores, row));
    else for (const item of batch.items) this.settle(item, new VigilError(msg.code as ErrorCode, msg.message));
    this.pump();
  }

  /** A thread died or wedged: fail its batch (retriable), start another, keep serving. */
  private replace(slot: Slot, err: VigilError): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    if (slot.batch) {
      clearTimeout(slot.batch.watchdog);
      for (const item of slot.batch.items) this.settle(item, err);
    }
    slot.worker.removeAllListeners();
    slot.worker.on('error', () => {});
    void slot.worker.terminate();
    if (this.closed) return;
    this.stats.threadRestarts++;
    this.spawn().catch(() => {
      // No thread could load the model again: whatever waits can only time out, so fail it now.
      if (this.slots.length === 0)
        for (const item of this.queue.splice(0)) this.settle(item, new VigilError('CLASSIFIER_UNAVAILABLE', 'no classifier thread could be restarted'));
    });
  }

  private spawn(): Promise<{ runtime: RuntimeInfo; modelLoadMs: number }> {
    const data: ImageThreadData = {
      modelsDir: this.options.modelsDir,
      modelId: this.options.modelId,
      backend: this.options.backend,
      ...(this.options.wasmDir ? { wasmDir: this.options.wasmDir } : {}),
    };
    const worker = startThread(data);
    return new Promise((resolve, reject) => {
      let started = false;
      const startTimer = setTimeout(() => {
        void worker.terminate();
        reject(new VigilError('CLASSIFIER_UNAVAILABLE', `the classifier thread did not load its model within ${this.options.startTimeoutMs} ms`));
      }, this.options.startTimeoutMs);
      const slot: Slot = { worker, memoryWaiters: new Map() };
      worker.on('message', (msg: FromImageThread) => {
        if (started) return this.onMessage(slot, msg);
        if (msg.type === 'ready') {
          started = true;
          clearTimeout(startTimer);
          if (this.closed) {
            void worker.terminate();
            return reject(new VigilError('CLASSIFIER_UNAVAILABLE', 'the image classifier closed', { retriable: true }));
          }
          this.slots.push(slot);
          resolve({ runtime: msg.runtime, modelLoadMs: msg.modelLoadMs });
          this.pump();
        } else if (msg.type === 'failed') {
          clearTimeout(startTimer);
          reject(new VigilError(msg.code as ErrorCode, msg.message));
        }
      });
      worker.on('error', (err) => {
        if (!started) {
          clearTimeout(startTimer);
          reject(new VigilError('CLASSIFIER_UNAVAILABLE', `the classifier thread failed to start (${err.name})`, { cause: err }));
        } else this.replace(slot, new VigilError('CLASSIFIER_UNAVAILABLE', 'the classifier thread crashed', { cause: err }));
      });
      worker.on('exit', () => {
        if (started) this.replace(slot, new VigilError('CLASSIFIER_UNAVAILABLE', 'the classifier thread exited'));
        else {
          clearTimeout(startTimer);
          reject(new VigilError('CLASSIFIER_UNAVAILABLE', 'the classifier thread exited before loading its model'));
        }
      });
    });
  }
}
