import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { createScanRuntime } from '../../app.js';
import { listBankFiles } from '../../adapters/bank-files.js';
import { loadPolicyFile } from '../../adapters/policy-file.js';
import { bankIdFromPath } from '../../adapters/term-files.js';
import { ThreadedImageClassifier } from '../../classify/image-classifier.js';
import { defaultModelsDir, readManifest } from '../../classify/manifest.js';
import { classifierThreshold, imageClassifierSource, textClassifierSource } from '../../classify/sources.js';
import { HashedTextClassifier } from '../../classify/text-classifier.js';
import { contractLimits, loadConfig, type Config } from '../../config.js';
import type { Decision } from '../../core/decision-contract.js';
import { isVigilError, toVigilError } from '../../core/errors.js';
import { flagIdFor } from '../../core/flags.js';
import { processPayload } from '../../core/pipeline.js';
import { canonicalJson, decide, NO_COUNTERS, pdqThresholdFor, type Policy, type ScanReport } from '../../core/policy.js';
import type { MediaSource, TextSource } from '../../core/sources.js';
import { isPositive, labelsFromDecisions, parseDecisions, parseLabels, type Labels } from '../../core/tune/labels.js';
import { renderReport, type SourceSection, type WhatIf, type WhatIfFlag, type WhatIfSide } from '../../core/tune/report-html.js';
import { eventValues, reportUnder, tuningPolicy } from '../../core/tune/replay.js';
import { CSV_HEADER, csvLine, recommend, tabulate, type SignalKind, type SourceValues } from '../../core/tune/thresholds.js';
import { createLogger } from '../../logger.js';
import { configOverrides, printErr, printJson, progress, readLines, UsageError, withConfigOptions } from '../io.js';

/** Flags listed by id in the report's what-if, per side; the counts cover all of them. */
const WHAT_IF_SAMPLE = 200;

interface Models {
  media: MediaSource[];
  text: TextSource[];
  /** model id → labels, from the manifests. */
  labels: Map<string, string[]>;
  close(): Promise<void>;
}

/** Every model listed in each folder's manifest.json, loaded (and verified) as a classifier source. */
async function openModels(dirs: readonly string[], config: Config): Promise<Models> {
  const models: Models = { media: [], text: [], labels: new Map(), close: () => Promise.resolve() };
  const images: ThreadedImageClassifier[] = [];
  models.close = async () => void (await Promise.all(images.map((c) => c.close())));
  try {
    for (const dir of dirs) {
      for (const entry of readManifest(dir).models) {
        models.labels.set(entry.id, entry.labels);
        if (entry.task === 'text-classification') models.text.push(textClassifierSource(HashedTextClassifier.load(dir, { id: entry.id })));
        else {
          const image = await ThreadedImageClassifier.open({
            modelsDir: dir,
            modelId: entry.id,
            threads: config.classifierThreads,
            maxBatch: config.classifierMaxBatch,
            timeoutMs: config.classifierTimeoutMs,
            maxQueue: config.classifierMaxQueue,
            backend: config.classifierBackend,
          });
          images.push(image);
          models.media.push(imageClassifierSource(image));
        }
      }
    }
  } catch (err) {
    await models.close();
    throw err;
  }
  return models;
}

/** Labels of the models the configuration names (VIGIL_IMAGE_MODEL, VIGIL_TEXT_MODEL), so sources that never scored still get rows. */
function configuredModelLabels(config: Config): Map<string, string[]> {
  const out = new Map<string, string[]>();
  try {
    for (const m of readManifest(config.modelsDir ?? defaultModelsDir()).models)
      if (m.id === config.imageModel || m.id === config.textModel) out.set(m.id, m.labels);
  } catch {
    // The runtime has loaded (and verified) them already; without a readable manifest the labels seen in the scan are used.
  }
  return out;
}

function ratio(v: string): number {
  const p = Number(v);
  if (!Number.isFinite(p) || p <= 0 || p > 1) throw new UsageError(`--target-precision must be a number in (0, 1], got "${v}"`);
  return p;
}

async function lines(file: string): Promise<{ line: number; text: string }[]> {
  const out: { line: number; text: string }[] = [];
  for await (const l of readLines(file)) out.push(l);
  return out;
}

/** Categories a flag of this event could have had: every rule's category, and every category carried by a signal. */
function possibleCategories(report: ScanReport, policies: readonly Policy[]): Set<string> {
  const out = new Set<string>();
  for (const p of policies) for (const r of p.document.rules) if (r.category) out.add(r.category);
  for (const s of report.signals) if (s.category) out.add(s.category);
  return out;
}

function newSide(): WhatIfSide & { sample: WhatIfFlag[] } {
  return { count: 0, tp: 0, fp: 0, unlabelled: 0, sample: [] };
}

function addTo(side: WhatIfSide & { sample: WhatIfFlag[] }, flag: WhatIfFlag): void {
  side.count++;
  side[flag.truth]++;
  if (side.sample.length < WHAT_IF_SAMPLE) side.sample.push(flag);
}

export function register(program: Command): Command {
  return withConfigOptions(
    program
      .command('tune')
      .description('Offline (no Redis): scan labelled events once and count, per signal source, true and false positives at every threshold.')
      .requiredOption('--events <file>', 'JSONL file of vigil.message.v1 events ("-" for stdin)')
      .option('--labels <file>', 'JSONL: {"eventId": "…", "labels": ["category", …]} per event ([] = benign)')
      .option('--decisions <file>', 'JSONL of vigil.decision.v1 reviewer decisions, used as labels instead of --labels')
      .option('--unreviewed <how>', 'with --decisions, events no decision names: skip (left out of the counts) or negative', 'skip')
      .option('--model <dir...>', 'model folder(s) with a manifest.json: every model listed is run (instead of VIGIL_IMAGE_MODEL / VIGIL_TEXT_MODEL)')
      .option('--category <category>', 'positive means labelled with this category (default: any label)')
      .option('--target-precision <p>', 'precision the recommended threshold of each source must reach', ratio, 0.99)
      .option('--candidate <policy>', 'a candidate policy file: what-if of its flags against the current policy on the same scan')
      .requiredOption('--out <dir>', 'folder for thresholds.csv and report.html (created if missing)')
      .option('--json', 'print a JSON summary on stdout'),
    ['banks', 'policy'],
  )
    .addHelpText(
      'after',
      `
Each event is scanned once with the worker's own code (parse, sniff, decode, hash, bank match, term
and pattern matching, classifiers), under a tuning override of the policy: every block bank's PDQ
radius is opened to 64 (allow banks keep the policy's radius, so known false positives still suppress)
and the classifier cascade is set to run both classifiers on every item (classifiers.*.run: always).
The policy file itself is not changed.

Writes DIR/thresholds.csv (signal,source,threshold,tp,fp,fn,tn,precision,recall):
  pdq         per hash bank: positive at t when any PDQ signal from the bank has distance <= t, t = 0…64
  classifier  per model/label: positive at t when its score >= t, t = 0.00…1.00
  term        per term bank, one row at threshold 1: positive when any of its terms matched
  pattern     per pattern rule set, the same
precision is empty where nothing is predicted positive, recall where no event is positive. And
DIR/report.html: self-contained (no network), precision-recall curves and distributions as inline
SVG, the threshold that reaches --target-precision per source, and with --candidate the flags gained
and lost against the current policy (the cascade and PDQ radii of each policy replayed on the scan),
true and false positives of each. Ids and counts only: never message text, media or terms.

An event is positive when its labels are non-empty (with --category C: contain C); events without a
label are left out of the counts. With --decisions, a decision names a flag by its flagId
(flagIdFor(eventId, category)); confirmed and escalated make the event positive for that category,
rejected negative; an event is labelled once any decision names one of its flags (with --category, a
flag of that category); for a flag decided twice, the latest decision counts. Events with no
decision are skipped, or negative with --unreviewed negative. An event that fails to scan prints an
error line on stderr and makes the exit code 1; the files are still written. Progress on stderr.

Examples:
  npx vigil tune --events labelled.jsonl --labels labels.jsonl --banks config/samples/banks --out tune-out
  npx vigil tune --events events.jsonl --labels labels.jsonl --model models/spam-scam-email-demo --category spam_scam --target-precision 0.95 --out tune-out
  npx vigil tune --events events.jsonl --decisions decisions.jsonl --candidate candidate.yaml --out tune-out`,
    )
    .action(async (opts: Record<string, unknown>) => {
      if ((opts.labels === undefined) === (opts.decisions === undefined)) throw new UsageError('give exactly one of --labels FILE or --decisions FILE');
      if (opts.unreviewed !== 'skip' && opts.unreviewed !== 'negative')
        throw new UsageError(`--unreviewed must be skip or negative, got "${String(opts.unreviewed)}"`);
      const category = opts.category === undefined ? undefined : String(opts.category);
      if (category !== undefined && !/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(category))
        throw new UsageError('--category must be a lowercase category id like "spam_scam"');
      const targetPrecision = opts.targetPrecision as number;
      const modelDirs = (opts.model as string[] | undefined) ?? [];
      const outDir = String(opts.out);

      const labels: Labels | undefined = opts.labels !== undefined ? parseLabels(await lines(String(opts.labels)), String(opts.labels)) : undefined;
      const decisions: Map<string, Decision> | undefined =
        opts.decisions !== undefined ? parseDecisions(await lines(String(opts.decisions)), String(opts.decisions)) : undefined;

      const overrides = configOverrides(opts);
      // With --model, exactly the models given run; the configured ones would score twice.
      if (modelDirs.length) Object.assign(overrides, { imageModel: '', textModel: '' });
      const config = loadConfig({ overrides });
      const logger = createLogger(['debug', 'trace'].includes(config.logLevel) ? config.logLevel : 'error');
      const candidate = opts.candidate !== undefined ? await loadPolicyFile(String(opts.candidate)) : undefined;

      const files = config.banksDir ? await listBankFiles(config.banksDir) : undefined;
      const allowBankIds = (files?.hashFiles ?? []).filter((f) => f.endsWith('.allow.txt')).map((f) => basename(f).slice(0, -'.allow.txt'.length));
      const termBankIds = (files?.termFiles ?? []).map(bankIdFromPath);
      const patternSetIds = config.patternsFile ? [bankIdFromPath(config.patternsFile)] : [];

      const models = await openModels(modelDirs, config);
      const runtime = await createScanRuntime(config, logger, { watch: false, sources: { media: models.media, text: models.text } }).catch(
        async (err: unknown) => {
          await models.close();
          throw isVigilError(err) ? err : new UsageError(toVigilError(err).message);
        },
      );
      const current = runtime.policy();
      const notes: string[] = [];
      const dihedralOf = (p: Policy) => canonicalJson(p.document.thresholds.pdq.dihedral);
      if (candidate && dihedralOf(candidate) !== dihedralOf(current))
        notes.push(
          `The candidate's thresholds.pdq.dihedral (${dihedralOf(candidate)}) differs from the current policy's: the scan used the current setting, so the what-if does not show its effect.`,
        );
      for (const id of allowBankIds)
        if (candidate && pdqThresholdFor(candidate, id) !== pdqThresholdFor(current, id))
          notes.push(`The candidate changes the radius of allow bank ${id}: the scan used the current policy's, so the what-if does not show that change.`);
      for (const n of notes) printErr(`tune: ${n}`);
      const scanPolicy = tuningPolicy(current, { allowBankIds, alsoFor: candidate ? [candidate] : [] });
      const limits = contractLimits(config);

      const values = new Map<string, SourceValues>();
      const valuesFor = (signal: SignalKind, source: string): SourceValues => {
        const key = `${signal}\0${source}`;
        let v = values.get(key);
        if (!v) values.set(key, (v = { signal, source, positives: [], negatives: [] }));
        return v;
      };
      const counts = { scanned: 0, failed: 0, duplicates: 0, positive: 0, negative: 0, unlabelled: 0, partErrors: 0 };
      const seen = new Set<string>();
      const decisionsUsed = new Set<string>();
      const gained = newSide();
      const lost = newSide();
      let currentFlags = 0;
      let candidateFlags = 0;
      const file = String(opts.events);
      const tick = progress('tune');
      let read = 0;
      let failedInput = false;
      try {
        for await (const { line, text } of readLines(file)) {
          tick(read++);
          let report: ScanReport;
          try {
            ({ report } = await processPayload(text, runtime.scanner, scanPolicy, limits, { finalAttempt: true }));
          } catch (err) {
            const e = toVigilError(err);
            counts.failed++;
            failedInput = true;
            printErr(JSON.stringify({ line, error: { code: e.code, message: e.message } }));
            continue;
          }
          const eventId = report.eventId;
          // The queue absorbs a repeated eventId; so does tuning (the first one counts).
          if (seen.has(eventId)) {
            counts.duplicates++;
            continue;
          }
          seen.add(eventId);
          counts.scanned++;
          for (const m of report.mediaErrors) printErr(JSON.stringify({ line, eventId, mediaId: m.mediaId, error: { code: m.code, message: m.message } }));
          for (const t of report.textErrors ?? []) printErr(JSON.stringify({ line, eventId, error: { code: t.code, message: t.message } }));
          const partErrors = report.mediaErrors.length + (report.textErrors?.length ?? 0);
          counts.partErrors += partErrors;
          if (partErrors) failedInput = true;

          const flagsOf = (policy: Policy) => decide(reportUnder(report, policy), policy, NO_COUNTERS).flags.map((f) => f.category);
          const now = flagsOf(current);
          const then = candidate ? flagsOf(candidate) : [];

          let eventLabels: ReadonlySet<string> | undefined;
          if (labels) eventLabels = labels.get(eventId);
          else if (decisions) {
            const decided: { category: string; decision: Decision['decision'] }[] = [];
            for (const c of new Set([...possibleCategories(report, candidate ? [current, candidate] : [current]), ...now, ...then])) {
              const id = flagIdFor(eventId, c);
              const d = decisions.get(id);
              if (!d) continue;
              decisionsUsed.add(id);
              decided.push({ category: c, decision: d.decision });
            }
            eventLabels = labelsFromDecisions(decided, category) ?? (opts.unreviewed === 'negative' ? new Set<string>() : undefined);
          }
          const positive = eventLabels === undefined ? undefined : isPositive(eventLabels, category);

          if (candidate) {
            const inScope = (c: string) => category === undefined || c === category;
            const a = new Set(now.filter(inScope));
            const b = new Set(then.filter(inScope));
            currentFlags += a.size;
            candidateFlags += b.size;
            const truth: WhatIfFlag['truth'] = positive === undefined ? 'unlabelled' : positive ? 'tp' : 'fp';
            for (const c of b) if (!a.has(c)) addTo(gained, { eventId, category: c, truth });
            for (const c of a) if (!b.has(c)) addTo(lost, { eventId, category: c, truth });
          }

          if (positive === undefined) {
            counts.unlabelled++;
            continue;
          }
          if (positive) counts.positive++;
          else counts.negative++;
          for (const v of eventValues(report.signals).values())
            (positive ? valuesFor(v.signal, v.source).positives : valuesFor(v.signal, v.source).negatives).push(v.value);
        }
      } finally {
        await runtime.close();
        await models.close();
      }

      // Every source gets its rows, also one that found nothing on any labelled event.
      const versions = runtime.scanner.sources();
      const hashVersions = versions.media.find((s) => s.id === 'hashes')?.versions().banks ?? {};
      for (const id of Object.keys(hashVersions)) if (!allowBankIds.includes(id)) valuesFor('pdq', id);
      for (const id of termBankIds) valuesFor('term', id);
      for (const id of patternSetIds) valuesFor('pattern', id);
      const modelLabels = new Map([...configuredModelLabels(config), ...models.labels]);
      for (const s of [...versions.media, ...versions.text])
        for (const id of Object.keys(s.versions().models ?? {})) for (const label of modelLabels.get(id) ?? []) valuesFor('classifier', `${id}/${label}`);

      const totals = { positives: counts.positive, negatives: counts.negative };
      const order: Record<SignalKind, number> = { pdq: 0, classifier: 1, term: 2, pattern: 3 };
      const sections: SourceSection[] = [...values.values()]
        .sort((a, b) => order[a.signal] - order[b.signal] || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0))
        .map((v) => {
          const rows = tabulate(v, totals);
          let threshold: number | undefined;
          if (v.signal === 'pdq') threshold = pdqThresholdFor(current, v.source);
          else if (v.signal === 'classifier') {
            const at = v.source.indexOf('/');
            threshold = classifierThreshold(current, v.source.slice(0, at), v.source.slice(at + 1));
          }
          return { values: v, rows, current: threshold, recommended: recommend(rows, targetPrecision) };
        });

      let whatIf: WhatIf | undefined;
      if (candidate)
        whatIf = {
          currentVersion: current.version,
          candidateVersion: candidate.version,
          currentFlags,
          candidateFlags,
          gained,
          lost,
          notes: [
            'A flag counts as a true positive when its event is positive, a false positive when the event is labelled and not positive.',
            ...(category ? [`Only flags of category ${category} are compared.`] : []),
            ...notes,
          ],
        };
      const labelledNotSeen = labels ? [...labels.keys()].filter((id) => !seen.has(id)).length : 0;
      const reportCounts: Record<string, number> = {
        'events scanned': counts.scanned,
        'positive events': counts.positive,
        'negative events': counts.negative,
        'unlabelled events (left out)': counts.unlabelled,
        'events that failed to scan': counts.failed,
        'parts not fully scanned': counts.partErrors,
        'repeated eventIds (skipped)': counts.duplicates,
      };
      if (labels) reportCounts['labels for events not in the file'] = labelledNotSeen;
      if (decisions) {
        reportCounts['decisions used'] = decisionsUsed.size;
        reportCounts['decisions matching no flag of these events'] = decisions.size - decisionsUsed.size;
      }
      const sample = runtime.scanner.sources();
      const bankVersions: Record<string, string> = {};
      const modelVersions: Record<string, string> = {};
      for (const s of [...sample.media, ...sample.text]) {
        Object.assign(bankVersions, s.versions().banks);
        Object.assign(modelVersions, s.versions().models);
      }
      const html = renderReport({
        generatedAt: new Date().toISOString(),
        targetPrecision,
        category,
        truthFrom: labels ? 'labels' : 'decisions',
        counts: reportCounts,
        policyVersion: current.version,
        bankVersions,
        modelVersions,
        sources: sections,
        whatIf,
        notes: [
          'Counts measure each source on every labelled event: PDQ matched to distance 64 and both classifiers run on every item, whatever the policy cascade says.',
          ...(decisions
            ? [
                opts.unreviewed === 'negative'
                  ? 'Events no decision names count as negative.'
                  : 'Events no decision names are left out: recall is measured on reviewed events only, which the policy already flagged.',
              ]
            : []),
        ],
      });
      await mkdir(outDir, { recursive: true });
      const csv = [CSV_HEADER, ...sections.flatMap((s) => s.rows.map(csvLine))].join('\n') + '\n';
      await writeFile(join(outDir, 'thresholds.csv'), csv);
      await writeFile(join(outDir, 'report.html'), html);

      printErr(
        `tune: ${counts.scanned} event(s) scanned: ${counts.positive} positive, ${counts.negative} negative, ${counts.unlabelled} unlabelled, ${counts.failed} failed; ${sections.length} source(s) -> ${join(outDir, 'thresholds.csv')}, ${join(outDir, 'report.html')}`,
      );
      if (opts.json)
        printJson({
          events: counts.scanned,
          positive: counts.positive,
          negative: counts.negative,
          unlabelled: counts.unlabelled,
          failed: counts.failed,
          duplicates: counts.duplicates,
          files: { thresholds: join(outDir, 'thresholds.csv'), report: join(outDir, 'report.html') },
          recommended: sections.map((s) => ({
            signal: s.values.signal,
            source: s.values.source,
            current: s.current ?? null,
            threshold: s.recommended?.threshold ?? null,
            precision: s.recommended?.precision ?? null,
            recall: s.recommended?.recall ?? null,
          })),
          ...(whatIf
            ? {
                whatIf: {
                  currentFlags,
                  candidateFlags,
                  gained: { count: gained.count, tp: gained.tp, fp: gained.fp, unlabelled: gained.unlabelled },
                  lost: { count: lost.count, tp: lost.tp, fp: lost.fp, unlabelled: lost.unlabelled },
                },
              }
            : {}),
        });
      if (failedInput) process.exitCode = 1;
    });
}
