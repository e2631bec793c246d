/**
 * The one evaluation of the image model this repository can make: its false-positive behaviour on
 * benign images (the sample media and every public PDQ reference image). No explicit imagery may be
 * used here, so recall is not measured; the figure goes into the model's manifest entry as
 * `evaluation.benign`. Run: `node --import tsx scripts/evaluate-image-benign.ts`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SharpImageDecoder } from '../src/adapters/sharp-decoder.js';
import { ThreadedImageClassifier } from '../src/classify/image-classifier.js';
import { defaultModelsDir, NSFW_MODEL_ID, readManifest, upsertManifestEntry } from '../src/classify/manifest.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const files: string[] = [];
const walk = (dir: string): void => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(jpe?g|png)$/i.test(name)) files.push(p);
  }
};
walk(join(root, 'config', 'samples', 'media'));
walk(join(root, '..', 'shared', 'vectors', 'pdq'));

const classifier = await ThreadedImageClassifier.open({ timeoutMs: 600_000, maxQueue: 1000 });
const decoder = new SharpImageDecoder();
const explicit = await Promise.all(
  files.map(async (f) => {
    const { scores } = await classifier.classify(await decoder.decode(readFileSync(f), 'application/octet-stream'));
    return (scores.porn ?? 0) + (scores.hentai ?? 0) + (scores.sexy ?? 0);
  }),
);
await classifier.close();
const above = (t: number): number => explicit.filter((e) => e >= t).length;
const benign = {
  images: files.length,
  set: 'config/samples/media + shared/vectors/pdq (public PDQ reference images: photos, wallpapers, synthetic test images), all benign',
  backend: classifier.runtime.backend,
  explicitScore: 'porn + hentai + sexy',
  falsePositivesAt05: above(0.5),
  falsePositivesAt08: above(0.8),
  maxExplicitScore: Number(Math.max(...explicit).toFixed(4)),
  medianExplicitScore: Number([...explicit].sort((a, b) => a - b)[Math.floor(explicit.length / 2)]!.toFixed(4)),
};
const dir = defaultModelsDir();
const entry = readManifest(dir).models.find((m) => m.id === NSFW_MODEL_ID)!;
upsertManifestEntry(dir, { ...entry, evaluation: { ...entry.evaluation, benign } });
process.stdout.write(`${JSON.stringify(benign, null, 2)}\n`);
