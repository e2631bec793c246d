/**
 * Entry point of an image-classifier worker thread: loads TF.js and the verified model once, then
 * scores the batches the pool sends. TF.js compute is synchronous on its thread; here it runs beside
 * the event loop of the scan worker instead of blocking it. A failure to load is reported, not thrown.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isVigilError, toVigilError } from '../core/errors.js';
import { TfImageModel } from './image-model.js';
import { loadVerifiedModel } from './manifest.js';
import { tfRuntime, type BackendPreference, type RuntimeInfo } from './runtime.js';

export interface ImageThreadData {
  modelsDir: string;
  modelId: string;
  backend: BackendPreference;
  wasmDir?: string;
}

export type ToImageThread = { type: 'batch'; id: number; inputs: Uint8Array[] } | { type: 'memory'; id: number };

export type FromImageThread =
  | { type: 'ready'; runtime: RuntimeInfo; modelLoadMs: number; version: string }
  | { type: 'failed'; code: string; message: string }
  | { type: 'scores'; id: number; scores: Float32Array }
  | { type: 'error'; id: number; code: string; message: string }
  | { type: 'memory'; id: number; numTensors: number };

const port = parentPort;
if (!port) throw new Error('image-thread must run in a worker thread');
const data = workerData as ImageThreadData;

function post(msg: FromImageThread, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

let model: TfImageModel;
try {
  const runtime = await tfRuntime({ prefer: data.backend, ...(data.wasmDir ? { wasmDir: data.wasmDir } : {}) });
  const started = performance.now();
  model = await TfImageModel.load(runtime.tf, loadVerifiedModel(data.modelsDir, { id: data.modelId, task: 'image-classification' }));
  const info: RuntimeInfo = {
    backend: runtime.backend,
    reason: runtime.reason,
    detail: runtime.detail,
    loadMs: runtime.loadMs,
    ...(runtime.simd === undefined ? {} : { simd: runtime.simd }),
  };
  post({ type: 'ready', runtime: info, modelLoadMs: performance.now() - started, version: model.entry.version });
} catch (err) {
  const e = toVigilError(err);
  post({
    type: 'failed',
    code: e.code,
    message: isVigilError(err) ? e.message : `model failed to load: ${err instanceof Error ? err.message.slice(0, 200) : 'unknown'}`,
  });
  process.exit(1);
}

port.on('message', (msg: ToImageThread) => {
  if (msg.type === 'memory') {
    post({ type: 'memory', id: msg.id, numTensors: model.numTensors() });
    return;
  }
  try {
    const scores = model.predict(msg.inputs);
    post({ type: 'scores', id: msg.id, scores }, [scores.buffer as ArrayBuffer]);
  } catch (err) {
    const e = toVigilError(err);
    post({ type: 'error', id: msg.id, code: e.code, message: e.message });
  }
});
