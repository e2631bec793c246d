import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { tfRuntime } from '../../classify/runtime.js';
import { parseTrainingJsonl, trainTextModel, writeTextModel, type LabelEvaluation } from '../../classify/text-train.js';
import { parseIntOption, printErr, printJson, UsageError } from '../io.js';

interface TrainTextOptions {
  data: string;
  out: string;
  holdout: string;
  seed: number;
  id: string;
  modelVersion?: string;
  dimensions: number;
  epochs: number;
  source?: string;
  licence: string;
  json?: boolean;
}

function fmt(v: number | null): string {
  return v === null || Number.isNaN(v) ? '-' : v.toFixed(4);
}

function table(rows: readonly LabelEvaluation[]): string {
  const head = ['label', 'pos', 'neg', 'precision', 'recall', 'f1', 'auc', 'thr@p0.99', 'recall@p0.99'];
  const body = rows.map((e) => [
    e.label,
    String(e.positives),
    String(e.negatives),
    fmt(e.precision),
    fmt(e.recall),
    fmt(e.f1),
    fmt(e.auc),
    fmt(e.thresholdAtPrecision99),
    fmt(e.recallAtPrecision99),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] as string).length)));
  return [head, ...body].map((r) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ')).join('\n');
}

export function register(program: Command): Command {
  return program
    .command('train-text')
    .description(
      'Train a text classifier (hashed features + logistic regression on TF.js) from labelled JSONL; write a loadable model folder and print its held-out evaluation.',
    )
    .requiredOption('--data <file.jsonl>', 'training data: one {"text": "...", "labels": ["spam_scam"]} per line; [] = benign')
    .requiredOption('--out <dir>', 'output folder: model.json, weights.bin, features.json, manifest.json')
    .option('--holdout <fraction>', 'share of rows held out for evaluation (0 to <1)', '0.2')
    .option('--seed <n>', 'seed for the split and the shuffle (same data + seed = same model)', parseIntOption('--seed', 0, 2 ** 31 - 1), 1)
    .option('--id <model-id>', 'model id stamped on flags', 'text-classifier')
    .option('--model-version <v>', 'model version stamped on flags (default: content hash of the weights)')
    .option('--dimensions <n>', 'hash buckets, a power of two', parseIntOption('--dimensions', 16, 1 << 22), 1 << 14)
    .option('--epochs <n>', 'passes over the training rows', parseIntOption('--epochs', 1, 1000), 8)
    .option('--source <text>', 'where the data came from, recorded in the manifest (default: the data file name)')
    .option('--licence <text>', 'licence of the data, recorded in the manifest', 'unspecified')
    .option('--json', 'print the manifest entry (with the evaluation) as one JSON line instead of a table')
    .addHelpText(
      'after',
      `
Features are hashed from the same normalisation as the term matcher (case, lookalikes, leetspeak,
repeated letters): word unigrams and bigrams. The evaluation is on the held-out split: per label
precision, recall and F1 at 0.5, ROC AUC, and the lowest threshold reaching 0.99 precision (with its
recall) — the number to start a policy threshold from. Progress goes to stderr. Text never printed.

Examples:
  npx vigil train-text --data labelled.jsonl --out models/my-text-model --id spam-scam --seed 7
  npx vigil train-text --data labelled.jsonl --out /tmp/m --holdout 0.3 --json
  echo 'hello' | npx vigil classify-text --model /tmp/m --json`,
    )
    .action(async (opts: TrainTextOptions) => {
      const holdout = Number(opts.holdout);
      if (!(holdout >= 0 && holdout < 1)) throw new UsageError(`--holdout must be at least 0 and below 1, got "${opts.holdout}"`);
      if (!existsSync(opts.data)) throw new UsageError(`no such file: ${opts.data}`);
      if ((opts.dimensions & (opts.dimensions - 1)) !== 0) throw new UsageError('--dimensions must be a power of two');
      const rows = parseTrainingJsonl(readFileSync(opts.data, 'utf8'), opts.data);
      const { tf, backend } = await tfRuntime();
      printErr(`train-text: ${rows.length} rows, holdout ${holdout}, seed ${opts.seed}, TF.js ${backend}`);
      const started = Date.now();
      const trained = await trainTextModel(tf, rows, {
        holdout,
        seed: opts.seed,
        dimensions: opts.dimensions,
        epochs: opts.epochs,
        onFeaturized: (n) => printErr(`train-text: featurised ${n} rows (${((Date.now() - started) / 1000).toFixed(1)} s)`),
        onEpoch: (e, n, loss) => printErr(`train-text: epoch ${e}/${n} loss ${loss.toFixed(5)} (${((Date.now() - started) / 1000).toFixed(1)} s)`),
      });
      const { entry, dir } = await writeTextModel(tf, trained, resolve(opts.out), {
        id: opts.id,
        ...(opts.modelVersion ? { version: opts.modelVersion } : {}),
        source: { data: opts.source ?? opts.data, rows: String(rows.length) },
        licence: opts.licence,
      });
      if (opts.json) printJson(entry);
      else {
        process.stdout.write(`model ${entry.id}@${entry.version} → ${dir} (${trained.train} train, ${trained.heldOut} held out)\n`);
        process.stdout.write(trained.heldOut > 0 ? `${table(trained.evaluation)}\n` : 'no held-out rows: no evaluation (--holdout 0)\n');
      }
    });
}
