/**
 * One-off export of the MobileNetV2 NSFW model bundled in `nsfwjs` (MIT) to plain TF.js files:
 * models/nsfw-mobilenet-v2/model.json + weights.bin, and its entry in models/manifest.json.
 *
 * Why: nsfwjs ships the model as base64 inside CommonJS bundles; loading it that way costs 6–8 s CPU
 * and a 670 MB RSS spike at every start. The export is committed, so nsfwjs is a devDependency only and
 * the worker loads 2.6 MB of binary weights directly. Nothing is downloaded: the bundles are in
 * node_modules. Rerun after bumping nsfwjs: `node --import tsx scripts/export-nsfw-model.ts`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NSFW_MODEL_ID, upsertManifestEntry, type ModelEntry } from '../src/classify/manifest.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
// nsfwjs's exports map hides package.json; its main entry sits at dist/cjs/index.js.
const pkgDir = join(dirname(require.resolve('nsfwjs')), '..', '..');
const nsfwVersion = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;

interface BundledModelJson {
  modelTopology: unknown;
  weightsManifest: Array<{ paths: string[]; weights: unknown[] }>;
}
const bundledJson = require(join(pkgDir, 'dist/models/mobilenet_v2/model.min.js')) as BundledModelJson;
const shards = bundledJson.weightsManifest.flatMap((g) => g.paths);
const weights = Buffer.concat(shards.map((p) => Buffer.from(require(join(pkgDir, `dist/models/mobilenet_v2/${p}.min.js`)) as string, 'base64')));

const modelJson = {
  format: 'layers-model',
  generatedBy: `nsfwjs ${nsfwVersion} (mobilenet_v2 bundle)`,
  convertedBy: 'vigil scripts/export-nsfw-model.ts',
  modelTopology: bundledJson.modelTopology,
  weightsManifest: [{ paths: ['weights.bin'], weights: bundledJson.weightsManifest.flatMap((g) => g.weights) }],
};

const folder = 'nsfw-mobilenet-v2';
const out = join(root, 'models', folder);
mkdirSync(out, { recursive: true });
const modelText = `${JSON.stringify(modelJson)}\n`;
writeFileSync(join(out, 'model.json'), modelText);
writeFileSync(join(out, 'weights.bin'), weights);
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

const entry: ModelEntry = {
  id: NSFW_MODEL_ID,
  version: `nsfwjs-${nsfwVersion}`,
  task: 'image-classification',
  path: folder,
  format: 'layers-model',
  input: { kind: 'image', shape: [224, 224, 3], preprocessing: 'resize to 224×224 (fill, bilinear), RGB, values / 255' },
  labels: ['drawing', 'hentai', 'neutral', 'porn', 'sexy'],
  source: {
    name: 'nsfwjs MobileNetV2 (224×224), exported from the npm package bundle',
    package: `nsfwjs@${nsfwVersion}`,
    url: 'https://github.com/infinitered/nsfwjs',
  },
  licence: 'MIT (Copyright (c) 2019 Infinite Red, Inc.)',
  files: { 'model.json': sha(modelText), 'weights.bin': sha(weights) },
  evaluation: {
    upstream: {
      claim: 'about 90% accuracy on the nsfwjs test set (5 classes), as stated in the nsfwjs README; not re-measured here',
    },
  },
};
upsertManifestEntry(join(root, 'models'), entry);
process.stdout.write(`wrote models/${folder}: model.json ${modelText.length} B, weights.bin ${weights.length} B\n`);
