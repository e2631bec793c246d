import { readFileSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ThreadedImageClassifier } from '../../src/classify/image-classifier.js';
import { defaultModelsDir, loadVerifiedModel, readManifest, sha256, NSFW_MODEL_ID } from '../../src/classify/manifest.js';
import { VigilError } from '../../src/core/errors.js';
import { copyOfImageModel } from './helpers.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof VigilError ? err.code : 'not a VigilError';
  }
  return undefined;
}

describe('model registry (models/manifest.json)', () => {
  it('lists every shipped model with its files, and every file matches its sha256', () => {
    const dir = defaultModelsDir();
    const manifest = readManifest(dir);
    expect(manifest.models.map((m) => m.id)).toContain(NSFW_MODEL_ID);
    for (const m of manifest.models) {
      expect(m.labels.length).toBeGreaterThan(0);
      expect(m.licence).not.toBe('');
      expect(Object.keys(m.evaluation).length).toBeGreaterThan(0);
      for (const [name, want] of Object.entries(m.files)) expect(sha256(readFileSync(join(dir, m.path, name)))).toBe(want);
      expect(loadVerifiedModel(dir, { id: m.id }).files.size).toBe(Object.keys(m.files).length);
    }
  });

  it('the image model has the five nsfwjs labels in output order', () => {
    const { entry } = loadVerifiedModel(defaultModelsDir(), { id: NSFW_MODEL_ID });
    expect(entry.labels).toEqual(['drawing', 'hentai', 'neutral', 'porn', 'sexy']);
    expect(entry.input).toMatchObject({ kind: 'image', shape: [224, 224, 3] });
  });

  it('refuses a model whose weights were altered by one byte (MODEL_INVALID)', () => {
    const dir = copyOfImageModel();
    const weights = join(dir, 'nsfw-mobilenet-v2', 'weights.bin');
    const bytes = readFileSync(weights);
    bytes[1000] = (bytes[1000]! + 1) & 0xff;
    writeFileSync(weights, bytes);
    expect(codeOf(() => loadVerifiedModel(dir, { id: NSFW_MODEL_ID }))).toBe('MODEL_INVALID');
    expect(() => loadVerifiedModel(dir, { id: NSFW_MODEL_ID })).toThrow(/weights\.bin has sha256/);
  });

  it('refuses a model with a missing file, an appended model.json, or an unknown id', () => {
    const missing = copyOfImageModel();
    rmSync(join(missing, 'nsfw-mobilenet-v2', 'weights.bin'));
    expect(() => loadVerifiedModel(missing, { id: NSFW_MODEL_ID })).toThrow(/missing/);
    const appended = copyOfImageModel();
    appendFileSync(join(appended, 'nsfw-mobilenet-v2', 'model.json'), ' ');
    expect(codeOf(() => loadVerifiedModel(appended, { id: NSFW_MODEL_ID }))).toBe('MODEL_INVALID');
    expect(codeOf(() => loadVerifiedModel(defaultModelsDir(), { id: 'no-such-model' }))).toBe('MODEL_INVALID');
  });

  it('refuses a malformed manifest and a path that leaves the models folder', () => {
    const dir = copyOfImageModel();
    const file = join(dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { models: Array<Record<string, unknown>> };
    writeFileSync(file, JSON.stringify({ ...manifest, models: [{ ...manifest.models[0], path: '../elsewhere' }] }));
    expect(() => loadVerifiedModel(dir, { id: NSFW_MODEL_ID })).toThrow(/inside/);
    writeFileSync(file, JSON.stringify({ ...manifest, models: [{ ...manifest.models[0], files: { 'model.json': 'abc' } }] }));
    expect(codeOf(() => readManifest(dir))).toBe('MODEL_INVALID');
    writeFileSync(file, '{');
    expect(codeOf(() => readManifest(dir))).toBe('MODEL_INVALID');
  });

  it('the threaded classifier refuses to start on an altered model, before any thread loads it', async () => {
    const dir = copyOfImageModel();
    const weights = join(dir, 'nsfw-mobilenet-v2', 'weights.bin');
    const bytes = readFileSync(weights);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    writeFileSync(weights, bytes);
    await expect(ThreadedImageClassifier.open({ modelsDir: dir })).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  });
});
