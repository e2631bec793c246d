import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { HashedTextClassifier } from '../../classify/text-classifier.js';
import { toVigilError } from '../../core/errors.js';
import { printErr, printJson } from '../io.js';

interface ClassifyTextOptions {
  model: string;
  id?: string;
  json?: boolean;
}

export function register(program: Command): Command {
  return program
    .command('classify-text')
    .description('Score messages (one per stdin line) with a text classifier trained by `vigil train-text`; print one JSON line per message.')
    .requiredOption('--model <dir>', 'model folder (a train-text output, or the bundled models/ folder)')
    .option('--id <model-id>', "model id, when the folder's manifest lists several text models")
    .option('--json', 'JSON lines (the only output format; accepted for symmetry with the other commands)')
    .addHelpText(
      'after',
      `
Output: one JSON line per input line (blank lines included, so line N answers line N):
  {"modelId": "spam-scam-email-demo", "modelVersion": "…", "scores": {"spam_scam": 0.97}}
The message is never echoed. The model's files are checked against its manifest (sha256) before use.
The bundled demo model (models/spam-scam-email-demo) is an e-mail spam model trained on the public
SpamAssassin corpus; production models are trained on the safety team's own labelled data with
\`vigil train-text\`.

Examples:
  echo 'You have WON a free prize, click to claim' | npx vigil classify-text --model models/spam-scam-email-demo --json
  npx vigil classify-text --model /tmp/my-model < messages.txt > scores.jsonl`,
    )
    .action(async (opts: ClassifyTextOptions) => {
      const classifier = HashedTextClassifier.load(opts.model, opts.id ? { id: opts.id } : {});
      const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
      let n = 0;
      let failed = false;
      for await (const line of rl) {
        n++;
        try {
          const r = classifier.score(line);
          printJson({ modelId: r.modelId, modelVersion: r.modelVersion, scores: r.scores });
        } catch (err) {
          failed = true;
          const e = toVigilError(err);
          printErr(`vigil classify-text: line ${n}: ${e.code}`);
          printJson({ modelId: classifier.modelId, modelVersion: classifier.modelVersion, error: { code: e.code, message: e.message } });
        }
      }
      if (failed) process.exitCode = 1;
    });
}
