/**
 * The model registry: `manifest.json` in a models folder lists every model with its id, version, task,
 * input, labels, source, licence, the sha256 of every file, and the evaluation it ships with. Loading
 * a model verifies every file against the manifest first; a missing, altered or unlisted file refuses
 * to load with MODEL_INVALID, so a flag's model version always names the exact bytes that scored it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { VigilError } from '../core/errors.js';
import { packageRoot } from '../paths.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_SCHEMA = 'vigil.models.v1';
/** The default image model (nsfwjs MobileNetV2), exported by scripts/export-nsfw-model.ts. */
export const NSFW_MODEL_ID = 'nsfw-mobilenet-v2';
/** The demo text model (SpamAssassin e-mail corpus), trained by scripts/train-demo-text-model.ts. */
export const DEMO_TEXT_MODEL_ID = 'spam-scam-email-demo';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in lowercase hex');
const fileName = z.string().regex(/^[A-Za-z0-9._-]+$/, 'a plain file name in the model folder');

const imageInput = z.strictObject({
  kind: z.literal('image'),
  shape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.literal(3)]),
  preprocessing: z.string(),
});
const textInput = z.strictObject({ kind: z.literal('hashed-text'), dimensions: z.number().int().positive(), featureConfig: fileName });

export const modelEntrySchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, . _ -'),
  version: z.string().min(1).max(64),
  task: z.enum(['image-classification', 'text-classification']),
  /** Folder of the model's files, relative to the manifest's folder. */
  path: z.string().min(1),
  format: z.literal('layers-model'),
  input: z.discriminatedUnion('kind', [imageInput, textInput]),
  labels: z.array(z.string().min(1)).min(1),
  source: z.record(z.string(), z.string()),
  licence: z.string().min(1),
  files: z.record(fileName, sha256Hex),
  evaluation: z.record(z.string(), z.unknown()),
});
export type ModelEntry = z.infer<typeof modelEntrySchema>;

const manifestSchema = z.strictObject({ schema: z.literal(MANIFEST_SCHEMA), models: z.array(modelEntrySchema) });
export type Manifest = z.infer<typeof manifestSchema>;

/** The models folder shipped with the package. */
export function defaultModelsDir(): string {
  return join(packageRoot(), 'models');
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads and validates `dir/manifest.json`. */
export function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new VigilError('MODEL_INVALID', `cannot read the model manifest ${file}: ${(err as NodeJS.ErrnoException).code ?? 'not JSON'}`, { cause: err });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VigilError('MODEL_INVALID', `model manifest ${file} is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'bad shape'}`);
  }
  const ids = new Set<string>();
  for (const m of parsed.data.models) {
    if (ids.has(m.id)) throw new VigilError('MODEL_INVALID', `model manifest ${file} lists model ${m.id} twice`);
    ids.add(m.id);
  }
  return parsed.data;
}

/** A model entry with its folder resolved and every file verified, bytes in hand (read once). */
export interface VerifiedModel {
  entry: ModelEntry;
  dir: string;
  /** File name → bytes, exactly the bytes whose sha256 was checked (no re-read between check and use). */
  files: ReadonlyMap<string, Uint8Array>;
}

/**
 * Finds `id` (or the only model, or the only one of `task`) in `dir/manifest.json` and verifies its
 * files: every listed file must exist and match its sha256, and model.json may only reference
 * weight files that are listed. Throws MODEL_INVALID naming the file, never its content.
 */
export function loadVerifiedModel(dir: string, select: { id?: string; task?: ModelEntry['task'] } = {}): VerifiedModel {
  const manifest = readManifest(dir);
  const candidates = manifest.models.filter((m) => (select.id === undefined || m.id === select.id) && (select.task === undefined || m.task === select.task));
  const entry = candidates[0];
  if (!entry)
    throw new VigilError(
      'MODEL_INVALID',
      `no ${select.task ?? ''} model${select.id ? ` with id ${select.id}` : ''} in ${join(dir, MANIFEST_FILE)}`.replace('  ', ' '),
    );
  if (candidates.length > 1)
    throw new VigilError(
      'MODEL_INVALID',
      `several ${select.task ?? ''} models in ${join(dir, MANIFEST_FILE)}: name one by id (${candidates.map((m) => m.id).join(', ')})`,
    );
  const base = resolve(dir);
  const modelDir = resolve(base, entry.path);
  if (modelDir !== base && !modelDir.startsWith(base + sep)) throw new VigilError('MODEL_INVALID', `model ${entry.id}: path must stay inside ${base}`);
  const files = new Map<string, Uint8Array>();
  for (const [name, want] of Object.entries(entry.files)) {
    const file = join(modelDir, name);
    if (!existsSync(file)) throw new VigilError('MODEL_INVALID', `model ${entry.id}@${entry.version}: file ${name} is missing from ${modelDir}`);
    const bytes = readFileSync(file);
    const got = sha256(bytes);
    if (got !== want)
      throw new VigilError(
        'MODEL_INVALID',
        `model ${entry.id}@${entry.version}: ${name} has sha256 ${got.slice(0, 12)}…, the manifest says ${want.slice(0, 12)}…; refusing to load an altered model`,
      );
    files.set(name, bytes);
  }
  if (!files.has('model.json')) throw new VigilError('MODEL_INVALID', `model ${entry.id}: the manifest lists no model.json`);
  if (entry.input.kind === 'hashed-text' && !files.has(entry.input.featureConfig))
    throw new VigilError('MODEL_INVALID', `model ${entry.id}: feature config ${entry.input.featureConfig} is not listed in files`);
  return { entry, dir: modelDir, files };
}

/** Adds or replaces one entry in `dir/manifest.json` (creating it), keeping the others in order. */
export function upsertManifestEntry(dir: string, entry: ModelEntry): void {
  const file = join(dir, MANIFEST_FILE);
  const manifest: Manifest = existsSync(file) ? readManifest(dir) : { schema: MANIFEST_SCHEMA, models: [] };
  const valid = modelEntrySchema.parse(entry);
  const i = manifest.models.findIndex((m) => m.id === valid.id);
  if (i >= 0) manifest.models[i] = valid;
  else manifest.models.push(valid);
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
}
