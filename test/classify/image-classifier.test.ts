import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharpImageDecoder } from '../../src/adapters/sharp-decoder.js';
import { ThreadedImageClassifier } from '../../src/classify/image-classifier.js';
import { VigilError } from '../../src/core/errors.js';
import type { DecodedImage } from '../../src/core/ports.js';
import { BENIGN_FIXTURES, writeTinyImageModel } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXPECTED = JSON.parse(readFileSync(new URL('../fixtures/classify/nsfw-benign-scores.json', import.meta.url), 'utf8')) as {
  modelId: string;
  modelVersion: string;
  scores: Record<string, Record<string, number>>;
};

async function rasters(): Promise<Array<{ key: string; raster: DecodedImage }>> {
  const decoder = new SharpImageDecoder();
  return Promise.all(
    BENIGN_FIXTURES.map(async (file) => ({ key: relative(ROOT, file), raster: await decoder.decode(readFileSync(file), 'application/octet-stream') })),
  );
}

function expectScoresClose(got: Record<string, number>, want: Record<string, number>): void {
  expect(Object.keys(got)).toEqual(Object.keys(want));
  for (const [label, p] of Object.entries(want)) expect(Math.abs((got[label] as number) - p)).toBeLessThan(1e-4);
}

// Each real-model inference costs 60–100 ms of CPU, several times that on a loaded 2-core host.
describe('image classifier (nsfwjs MobileNetV2 on worker threads)', { timeout: 300_000 }, () => {
  let classifier: ThreadedImageClassifier;
  let fixtures: Array<{ key: string; raster: DecodedImage }>;
  beforeAll(async () => {
    [classifier, fixtures] = await Promise.all([ThreadedImageClassifier.open({ timeoutMs: 120_000 }), rasters()]);
  }, 300_000);
  afterAll(() => classifier?.close());

  it('scores the benign fixtures as recorded, to 1e-4, one at a time and batched across concurrent calls', async () => {
    expect(classifier.versions()).toEqual({ [EXPECTED.modelId]: EXPECTED.modelVersion });
    for (const { key, raster } of fixtures) {
      const r = await classifier.classify(raster);
      expect(r).toMatchObject({ modelId: EXPECTED.modelId, modelVersion: EXPECTED.modelVersion });
      expectScoresClose(r.scores, EXPECTED.scores[key]!);
    }
    const before = [...classifier.stats.batches];
    const concurrent = await Promise.all(fixtures.map(({ raster }) => classifier.classify(raster)));
    concurrent.forEach((r, i) => expectScoresClose(r.scores, EXPECTED.scores[fixtures[i]!.key]!));
    // Eight calls at once on one thread: the first goes alone, the rest wait and share a batch.
    const batched = classifier.stats.batches.map((n, size) => n - (before[size] ?? 0));
    expect(batched.slice(2).some((n) => n > 0)).toBe(true);
    expect(batched.length).toBe(9);
  });

  it('benign fixtures stay benign: porn + hentai + sexy below 0.5 on every one', async () => {
    for (const { raster } of fixtures) {
      const { scores } = await classifier.classify(raster);
      expect(scores.porn! + scores.hentai! + scores.sexy!).toBeLessThan(0.5);
    }
  });

  it('no tensor growth in the thread over repeated real-model inferences', async () => {
    const [before] = await classifier.tensorCounts();
    for (let round = 0; round < 3; round++) await Promise.all(fixtures.map(({ raster }) => classifier.classify(raster)));
    expect(await classifier.tensorCounts()).toEqual([before]);
  });

  it('a raster whose size does not match its samples is a typed per-item error, and the classifier keeps serving', async () => {
    await expect(classifier.classify({ width: 10, height: 10, channels: 3, data: new Uint8Array(5) })).rejects.toMatchObject({ code: 'MEDIA_UNDECODABLE' });
    await expect(classifier.classify(fixtures[0]!.raster)).resolves.toMatchObject({ modelId: EXPECTED.modelId });
  });
});

describe('image classifier budget, overload, thread failure (tiny model, same code path)', { timeout: 120_000 }, () => {
  let tiny: { dir: string; id: string };
  beforeAll(async () => {
    tiny = await writeTinyImageModel();
  }, 120_000);
  const raster: DecodedImage = { width: 40, height: 30, channels: 3, data: new Uint8Array(40 * 30 * 3).map((_, i) => (i * 37) % 256) };

  it('1,000 inferences leave the thread with exactly the tensors it started with', async () => {
    const c = await ThreadedImageClassifier.open({ modelsDir: tiny.dir, modelId: tiny.id, timeoutMs: 60_000, maxQueue: 1000 });
    try {
      const [before] = await c.tensorCounts();
      expect(before).toBeGreaterThan(0);
      const first = await c.classify(raster);
      for (let i = 0; i < 1000; i += 50) {
        const results = await Promise.all(Array.from({ length: 50 }, () => c.classify(raster)));
        for (const r of results) for (const label of ['a', 'b', 'c']) expect(Math.abs(r.scores[label]! - first.scores[label]!)).toBeLessThan(1e-6);
      }
      expect(await c.tensorCounts()).toEqual([before]);
      expect(c.stats.batches.reduce((a, n, size) => a + n * size, 0)).toBe(1001);
      expect(Math.max(...c.stats.batches.map((n, size) => (n > 0 ? size : 0)))).toBeLessThanOrEqual(8);
    } finally {
      await c.close();
    }
  });

  it('calls beyond the queue bound are refused with a retriable CLASSIFIER_UNAVAILABLE; a closed classifier refuses too', async () => {
    const c = await ThreadedImageClassifier.open({ modelsDir: tiny.dir, modelId: tiny.id, maxQueue: 2, maxBatch: 1, timeoutMs: 60_000 });
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => c.classify(raster)));
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const o of refused) expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'CLASSIFIER_UNAVAILABLE', retriable: true });
    expect(outcomes.some((o) => o.status === 'fulfilled')).toBe(true);
    await c.close();
    await c.close();
    await expect(c.classify(raster)).rejects.toMatchObject({ code: 'CLASSIFIER_UNAVAILABLE' });
  });

  it('a call that overruns its time budget is a CLASSIFIER_TIMEOUT, not a hang', async () => {
    const c = await ThreadedImageClassifier.open({ modelsDir: tiny.dir, modelId: tiny.id, timeoutMs: 1 });
    try {
      // 1 ms cannot cover a resize and a round trip to the thread.
      const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => c.classify(raster)));
      const timedOut = outcomes.filter((o) => o.status === 'rejected' && (o.reason as VigilError).code === 'CLASSIFIER_TIMEOUT');
      expect(timedOut.length).toBeGreaterThan(0);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(VigilError);
      expect(c.stats.timeouts).toBe(timedOut.length);
    } finally {
      await c.close();
    }
  });

  it('a thread that dies fails its batch with a retriable error and is replaced; later calls succeed', async () => {
    const c = await ThreadedImageClassifier.open({ modelsDir: tiny.dir, modelId: tiny.id, timeoutMs: 60_000 });
    try {
      const inFlight = c.classify(raster);
      // Kill the thread while the call is queued or in flight (a crash in native code looks the same).
      const slots = (c as unknown as { slots: Array<{ worker: { terminate(): Promise<number> } }> }).slots;
      await slots[0]!.worker.terminate();
      await expect(inFlight).rejects.toMatchObject({ code: 'CLASSIFIER_UNAVAILABLE', retriable: true });
      const deadline = Date.now() + 30_000;
      while (c.stats.threadRestarts < 1 || slots.length < 1) {
        if (Date.now() > deadline) throw new Error('thread not replaced');
        await new Promise((r) => setTimeout(r, 20));
      }
      await expect(c.classify(raster)).resolves.toMatchObject({ modelId: tiny.id });
    } finally {
      await c.close();
    }
  });
});
