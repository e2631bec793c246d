import { open } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { restrictImageLoaders, SharpImageDecoder } from '../../adapters/sharp-decoder.js';
import { ThreadedImageClassifier } from '../../classify/image-classifier.js';
import { MAX_IMAGE_BATCH } from '../../classify/image-model.js';
import { NSFW_MODEL_ID } from '../../classify/manifest.js';
import { BACKENDS, type BackendPreference } from '../../classify/runtime.js';
import { loadConfig } from '../../config.js';
import { toVigilError, VigilError } from '../../core/errors.js';
import { createLogger } from '../../logger.js';
import { parseIntOption, printJson } from '../io.js';

interface ClassifyOptions {
  json?: boolean;
  models?: string;
  modelId?: string;
  threads?: number;
  backend?: BackendPreference;
}

/** Reads a regular file only when it is within the byte limit, so an oversized file is never loaded. */
async function readBounded(file: string, maxBytes: number): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new VigilError('MEDIA_REF_UNRESOLVED', `cannot read file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw new VigilError('MEDIA_REF_UNRESOLVED', 'not a regular file');
    if (s.size > maxBytes) throw new VigilError('MEDIA_TOO_LARGE', `file is ${s.size} bytes; the limit is ${maxBytes}`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

export function register(program: Command): Command {
  return program
    .command('classify')
    .description(
      'Classify image files with the image model (default: nsfwjs MobileNetV2, explicit-imagery scores), using the same safe decoder and classifier threads as the scan worker.',
    )
    .argument('<file...>', 'image files (JPEG, PNG, GIF first frame, WebP, TIFF, AVIF)')
    .option('--json', 'JSON lines (the only output format; accepted for symmetry with the other commands)')
    .option('--models <dir>', 'models folder with manifest.json (env VIGIL_MODELS_DIR; default: the bundled models/)')
    .option('--model-id <id>', `image model id in the manifest (env VIGIL_IMAGE_MODEL; default ${NSFW_MODEL_ID})`)
    .option(
      '--threads <n>',
      'classifier worker threads (env VIGIL_CLASSIFIER_THREADS; default auto: one per core, at most 4, never more than the files)',
      parseIntOption('--threads', 1, 64),
    )
    .addOption(new Option('--backend <name>', 'TF.js backend to try first (env VIGIL_CLASSIFIER_BACKEND; default auto)').choices(['auto', ...BACKENDS]))
    .addHelpText(
      'after',
      `
Output: one JSON line per file, in argument order:
  {"file": "a.jpg", "modelId": "nsfw-mobilenet-v2", "modelVersion": "nsfwjs-4.3.0", "scores": {"drawing": 0.01, "hentai": 0.0, "neutral": 0.98, "porn": 0.0, "sexy": 0.0}}
A file that cannot be read, decoded or classified prints {"file": …, "error": {"code", "message"}} and
the exit code is 1. Scores are the model's probabilities per label (they sum to 1 for this model); the
threshold that turns a score into a flag is the policy's, not this command's. The backend chosen and
its load time are logged to stderr. Decoder limits come from the configuration (VIGIL_MAX_PIXELS,
VIGIL_MAX_MEDIA_BYTES, VIGIL_DECODE_TIMEOUT_MS).

Examples:
  npx vigil classify config/samples/media/harbour-sunset.png
  npx vigil classify --json photos/*.jpg > scores.jsonl
  npx vigil classify --backend cpu --threads 2 a.png b.webp`,
    )
    .action(async (files: string[], opts: ClassifyOptions) => {
      const config = loadConfig({
        overrides: { modelsDir: opts.models, imageModel: opts.modelId, classifierThreads: opts.threads, classifierBackend: opts.backend },
      });
      // Each thread loads its own model copy: no more of them than there are files to score.
      const threads = Math.min(config.classifierThreads, files.length);
      restrictImageLoaders();
      const decoder = new SharpImageDecoder({ maxPixels: config.maxPixels, maxBytes: config.maxMediaBytes, timeoutMs: config.decodeTimeoutMs });
      const classifier = await ThreadedImageClassifier.open({
        ...(config.modelsDir ? { modelsDir: config.modelsDir } : {}),
        modelId: config.imageModel ?? NSFW_MODEL_ID,
        threads,
        backend: config.classifierBackend,
        maxBatch: config.classifierMaxBatch,
        // One image at a time from the command line: the worker's budget is for a busy queue, not a CLI run.
        timeoutMs: Math.max(config.classifierTimeoutMs, 120_000),
        maxQueue: Math.max(config.classifierMaxQueue, MAX_IMAGE_BATCH * threads * 2),
        logger: createLogger(config.logLevel),
      });
      let failed = false;
      const one = async (file: string): Promise<Record<string, unknown>> => {
        try {
          const raster = await decoder.decode(await readBounded(file, config.maxMediaBytes), 'application/octet-stream');
          const r = await classifier.classify(raster);
          return { file, modelId: r.modelId, modelVersion: r.modelVersion, scores: r.scores };
        } catch (err) {
          failed = true;
          const e = toVigilError(err);
          return { file, error: { code: e.code, message: e.message } };
        }
      };
      try {
        // A window of files in flight keeps the classifier threads fed; lines still come out in order.
        const window = MAX_IMAGE_BATCH * threads;
        const inFlight: Array<Promise<Record<string, unknown>>> = [];
        let next = 0;
        while (next < files.length || inFlight.length > 0) {
          while (next < files.length && inFlight.length < window) inFlight.push(one(files[next++] as string));
          printJson(await inFlight.shift());
        }
      } finally {
        await classifier.close();
      }
      if (failed) process.exitCode = 1;
    });
}
