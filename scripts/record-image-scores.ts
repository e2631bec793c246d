/**
 * Records the image model's scores on the benign fixture images into
 * test/fixtures/classify/nsfw-benign-scores.json, which the tests hold every later run to (within 1e-4).
 * Rerun only when the model or its preprocessing changes on purpose: `node --import tsx scripts/record-image-scores.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SharpImageDecoder } from '../src/adapters/sharp-decoder.js';
import { ThreadedImageClassifier } from '../src/classify/image-classifier.js';
import { BENIGN_FIXTURES } from '../test/classify/helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const classifier = await ThreadedImageClassifier.open({ maxBatch: 1 });
const decoder = new SharpImageDecoder();
const scores: Record<string, Record<string, number>> = {};
for (const file of BENIGN_FIXTURES) {
  const raster = await decoder.decode(readFileSync(file), 'application/octet-stream');
  scores[relative(root, file)] = (await classifier.classify(raster)).scores;
}
await classifier.close();
const out = { modelId: classifier.modelId, modelVersion: classifier.modelVersion, backend: classifier.runtime.backend, scores };
writeFileSync(new URL('../test/fixtures/classify/nsfw-benign-scores.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
