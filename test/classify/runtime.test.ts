import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/adapters/metrics.js';
import { ThreadedImageClassifier } from '../../src/classify/image-classifier.js';
import { TfImageModel } from '../../src/classify/image-model.js';
import { defaultModelsDir, loadVerifiedModel, NSFW_MODEL_ID } from '../../src/classify/manifest.js';
import { tfRuntime } from '../../src/classify/runtime.js';
import { writeTinyImageModel } from './helpers.js';

function installed(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

describe('TF.js runtime', { timeout: 120_000 }, () => {
  const realFetch = globalThis.fetch;
  const fetched: string[] = [];
  beforeAll(() => {
    // Any attempt to reach the network (wasm binaries, model files) fails loudly and is recorded.
    globalThis.fetch = ((input: unknown) => {
      fetched.push(String(input));
      throw new Error('network access attempted');
    }) as typeof fetch;
  });
  afterAll(() => {
    globalThis.fetch = realFetch;
  });

  it('picks tfjs-node when installed, else wasm with SIMD, and says why; loads the real model without any fetch', async () => {
    const runtime = await tfRuntime();
    if (installed('@tensorflow/tfjs-node')) expect(runtime).toMatchObject({ backend: 'tensorflow', reason: 'preferred' });
    else {
      expect(runtime).toMatchObject({ backend: 'wasm', reason: 'tfjs_node_missing', simd: true });
      expect(runtime.detail).toMatch(/tensorflow not installed/);
    }
    expect(runtime.loadMs).toBeGreaterThan(0);
    const model = await TfImageModel.load(runtime.tf, loadVerifiedModel(defaultModelsDir(), { id: NSFW_MODEL_ID }));
    const scores = model.predict([new Uint8Array(224 * 224 * 3).fill(128)]);
    expect(scores.length).toBe(5);
    expect(scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    model.dispose();
    expect(fetched).toEqual([]);
  });

  it('falls back to cpu when the wasm binaries cannot be loaded, reports it in the metric, and still scores', async () => {
    const tiny = await writeTinyImageModel();
    const metrics = createMetrics();
    const classifier = await ThreadedImageClassifier.open({ modelsDir: tiny.dir, modelId: tiny.id, wasmDir: '/nonexistent-wasm-dir', metrics });
    try {
      expect(classifier.runtime.backend).toBe(installed('@tensorflow/tfjs-node') ? 'tensorflow' : 'cpu');
      if (!installed('@tensorflow/tfjs-node')) expect(classifier.runtime).toMatchObject({ reason: 'wasm_failed' });
      const result = await classifier.classify({ width: 2, height: 2, channels: 3, data: new Uint8Array(12).fill(200) });
      expect(Object.keys(result.scores)).toEqual(['a', 'b', 'c']);
      const text = await metrics.registry.metrics();
      expect(text).toMatch(new RegExp(`vigil_model_runtime_info\\{backend="${classifier.runtime.backend}",reason="${classifier.runtime.reason}"\\} 1`));
      expect(text).toMatch(/vigil_model_load_seconds\{model="tiny-image-test"\} \d/);
    } finally {
      await classifier.close();
    }
    expect(fetched).toEqual([]);
  });
});
