/**
 * Composition root: turns a validated Config into the running parts. The only module that knows
 * which adapter implements which port.
 */
import { stat } from 'node:fs/promises';
import { HashBankBuilder, MemHashBankSet, compileHashBank, overlayWeight, patchHashBank, type CompiledHashBank } from './core/banks/hash-bank-set.js';
import { decodeBankSnapshot } from './core/banks/bank-snapshot.js';
import { judgeStore, type HeldStoreMark, type StoreVerdict } from './core/banks/store-continuity.js';
import type { BankKind } from './core/banks/hash-bank.js';
import { VigilError } from './core/errors.js';
import type { TermBankData } from './core/text/term-bank.js';
import type { Policy } from './core/policy.js';
import type { HashBankSet, TextScanner } from './core/ports.js';
import type { ScanObserver, Scanner } from './core/scan.js';
import { standardSources, type MediaSource, type SourceSet, type TextSource } from './core/sources.js';
import type { Config } from './config.js';
import { listBankFiles, loadHashBankFile } from './adapters/bank-files.js';
import { DecodeBudget } from './adapters/decode-budget.js';
import { createMediaHasher } from './adapters/media-hasher.js';
import type { Metrics } from './adapters/metrics.js';
import { restrictImageLoaders } from './adapters/sharp-decoder.js';
import { DirMediaStore } from './adapters/media-store.js';
import { ReloadingPolicySource, type RedisPolicyStore } from './adapters/policy-store.js';
import type { RefreshingDecisionHooks } from './adapters/decision-hooks.js';
import type { PolicySource } from './core/policy-source.js';
import { bankVersion, type BankMeta, type RedisBankStore, type SnapshotDescriptor, type StoreState } from './adapters/redis-bank-store.js';
import { loadBenignWords, loadPatternFile, loadTermBankFile } from './adapters/term-files.js';
import { compileTextScanner } from './core/text/index.js';
import type { Logger } from './logger.js';
import { ThreadedImageClassifier } from './classify/image-classifier.js';
import { defaultModelsDir } from './classify/manifest.js';
import { imageClassifierSource, textClassifierSource, type CascadeObserver } from './classify/sources.js';
import { HashedTextClassifier } from './classify/text-classifier.js';

export interface BankSnapshot {
  hashBanks: HashBankSet;
  textScanner: TextScanner;
  /** What the snapshot was built from; a different fingerprint means a reload is due. */
  fingerprint: string;
}

export interface BankSources {
  /** Folder of bank files (VIGIL_BANKS_DIR). */
  dir?: string | undefined;
  /** Banks managed with `vigil bank` / `vigil terms import --redis`. */
  store?: RedisBankStore | undefined;
  /** Pattern rules (JSONL), VIGIL_PATTERNS_FILE. */
  patternsFile?: string | undefined;
  /** The text scanner's limit: the event contract's VIGIL_MAX_TEXT_BYTES, so any text that parses is scanned. */
  maxTextBytes?: number | undefined;
  /** false: read store hash banks from their records even where a snapshot exists (the benchmark's baseline). */
  snapshots?: boolean | undefined;
  /** Called for every store hash bank read from its records because its snapshot could not be used. */
  onSnapshotFallback?: ((bankId: string, reason: SnapshotFallbackReason) => void) | undefined;
  /** Called for every store hash bank loaded from its snapshot. */
  onSnapshotLoad?: ((bankId: string) => void) | undefined;
}

/**
 * Why a hash bank was read from its records rather than its snapshot: none written yet (a bank from
 * before snapshots), a chunk gone, bytes that fail the checksum or do not parse, a snapshot of another
 * generation or a later revision than the bank (read mid-change), deltas since the snapshot expired.
 */
export type SnapshotFallbackReason = 'missing' | 'checksum' | 'invalid' | 'stale' | 'deltas';

/**
 * Loads every enabled bank from the folder and the store. Compiled hash banks are cached by id and
 * version, so a reload recompiles only the banks that changed (a 10M-hash bank is not rebuilt because
 * a term list was edited).
 */
/** Which store banks the last load compiled from scratch, patched from recorded changes, or kept. */
export interface LoadReport {
  built: string[];
  patched: string[];
  reused: string[];
}

interface StoredBank {
  revision: number;
  generation: string | undefined;
  kind: BankKind;
  bank: CompiledHashBank;
}

/** A patched bank is rebuilt in full once its overlay of changes passes this share of its base (or 4096 entries). */
const OVERLAY_MAX_SHARE = 1 / 8;
const OVERLAY_MIN_REBUILD = 4096;

export class BankLoader {
  /** File banks by id and content version. */
  #cache = new Map<string, CompiledHashBank>();
  /** Store banks by id, with the revision they are at. */
  #stored = new Map<string, StoredBank>();
  /** The store as the last good snapshot saw it, and as the last poll saw it. */
  #held: (HeldStoreMark & { banks: number }) | undefined;
  #seen: StoreState | undefined;
  lastLoad: LoadReport = { built: [], patched: [], reused: [] };
  /** Of the banks the last load built: which came from their snapshot, and which fell back to their records (and why). */
  lastSnapshots: { loaded: string[]; fallbacks: { bank: string; reason: SnapshotFallbackReason }[] } = { loaded: [], fallbacks: [] };
  /** Loaded once: the text matcher caches its index per vocabulary Set, so reloads reuse it. */
  #benignWords: Promise<Set<string>> | undefined;

  constructor(private readonly sources: BankSources) {}

  async fingerprint(): Promise<string> {
    const files = this.sources.dir ? (await listBankFiles(this.sources.dir)).fingerprint : '';
    const state = this.sources.store ? await this.sources.store.state() : undefined;
    this.#seen = state;
    const patterns = this.sources.patternsFile ? ((await stat(this.sources.patternsFile).catch(() => undefined))?.mtimeMs ?? 'missing') : '';
    return `${files}|redis:${state?.epoch?.id ?? ''}:${state?.revision ?? 0}|patterns:${patterns}`;
  }

  /** Whether the store, as the last `fingerprint()` read it, still holds what the last good snapshot was built from. */
  verdict(): StoreVerdict {
    return this.#judge(this.#seen);
  }

  #judge(seen: StoreState | undefined): StoreVerdict {
    // A worker that held no store banks has nothing to lose.
    if (!seen || !this.#held || this.#held.banks === 0) return { ok: true, newEpoch: false };
    return judgeStore(this.#held, seen);
  }

  /**
   * Builds a new snapshot. Throws BANK_STORE_LOST (and changes nothing) when the store lost what the
   * last snapshot held, or changed identity while being read: the caller keeps its last good snapshot.
   */
  async load(): Promise<BankSnapshot> {
    const { dir, store } = this.sources;
    const fingerprint = await this.fingerprint();
    const before = this.#seen;
    const verdict = this.#judge(before);
    if (!verdict.ok) throw new VigilError('BANK_STORE_LOST', verdict.reason);
    // Another epoch: nothing held describes the new store's revisions.
    const held = verdict.newEpoch ? new Map<string, StoredBank>() : this.#stored;
    const next = new Map<string, CompiledHashBank>();
    const stored = new Map<string, StoredBank>();
    const report: LoadReport = { built: [], patched: [], reused: [] };
    const compiled: CompiledHashBank[] = [];
    const terms: TermBankData[] = [];
    const seen = new Map<string, string>();
    const claim = (id: string, where: string) => {
      const other = seen.get(id);
      if (other) throw new VigilError('BANK_INVALID', `bank "${id}" is defined twice (${other} and ${where}); bank ids must be unique`);
      seen.set(id, where);
    };
    if (dir) {
      const files = await listBankFiles(dir);
      for (const file of files.hashFiles) {
        const data = await loadHashBankFile(file);
        claim(data.id, file);
        const key = `file:${data.id}@${data.version}`;
        const bank = this.#cache.get(key) ?? compileHashBank(data);
        next.set(key, bank);
        compiled.push(bank);
      }
      for (const file of files.termFiles) {
        const bank = await loadTermBankFile(file);
        claim(bank.id, file);
        terms.push(bank);
      }
    }
    let storeBanks = 0;
    const snapReport: BankLoader['lastSnapshots'] = { loaded: [], fallbacks: [] };
    if (store) {
      const { banks: metas, snapshots } = await store.listWithSnapshots();
      storeBanks = metas.length;
      for (const meta of metas) {
        claim(meta.id, 'the Redis bank store');
        if (!meta.enabled) continue;
        if (meta.type === 'term') {
          terms.push({ id: meta.id, version: bankVersion(meta), entries: await store.termEntries(meta.id) });
          continue;
        }
        // Same bank only if same generation: a bank removed and created again starts a new history.
        const mine = held.get(meta.id);
        const prior = mine && mine.kind === meta.kind && mine.generation === meta.generation ? mine : undefined;
        let bank: CompiledHashBank | undefined;
        if (prior && prior.revision === meta.revision) {
          bank = prior.bank;
          report.reused.push(meta.id);
        } else {
          const changes = prior ? await store.hashDeltas(meta, prior.revision, meta.revision) : undefined;
          if (prior && changes) {
            const patched = patchHashBank(prior.bank, changes, bankVersion(meta));
            // The overlay is copied by every patch: past a share of the base, a rebuild is cheaper.
            if (overlayWeight(patched) <= Math.max(OVERLAY_MIN_REBUILD, patched.base.size * OVERLAY_MAX_SHARE)) {
              bank = patched;
              report.patched.push(meta.id);
            }
          }
          if (!bank) {
            // A few GETs of a binary snapshot; the records (HSCAN) only when it cannot be used.
            bank = await this.#fromSnapshot(store, meta, snapshots.get(meta.id), snapReport);
            if (!bank) {
              const builder = new HashBankBuilder({ id: meta.id, version: bankVersion(meta), kind: meta.kind, enabled: true });
              for await (const batch of store.hashEntries(meta.id)) for (const e of batch) builder.add(e);
              bank = builder.build();
            }
            report.built.push(meta.id);
          }
        }
        stored.set(meta.id, { revision: meta.revision, generation: meta.generation, kind: meta.kind, bank });
        compiled.push(bank);
      }
      // Emptied (or replaced) while we read it: what we read may be partial. Keep the old snapshot.
      const after = await store.state();
      if (after.epoch?.id !== before?.epoch?.id || after.revision < (before?.revision ?? 0))
        throw new VigilError('BANK_STORE_LOST', 'the bank store changed identity while its banks were being read; keeping the previous snapshot');
    }
    const patterns = this.sources.patternsFile ? await loadPatternFile(this.sources.patternsFile) : undefined;
    const benignWords = await (this.#benignWords ??= loadBenignWords());
    // UTF-16 length never exceeds UTF-8 length, so a limit in units equal to the byte limit admits every parsed text.
    const textOptions = { benignWords, ...(this.sources.maxTextBytes ? { maxTextChars: this.sources.maxTextBytes } : {}) };
    const snapshot = { hashBanks: new MemHashBankSet(compiled), textScanner: compileTextScanner(terms, patterns, textOptions), fingerprint };
    this.#stored = stored;
    this.lastLoad = report;
    this.lastSnapshots = snapReport;
    this.#cache = next;
    if (store) this.#held = { epochId: before?.epoch?.id, revision: before?.revision ?? 0, banks: storeBanks };
    return snapshot;
  }

  /**
   * The bank from its snapshot plus the deltas recorded since, or undefined (reported, never silent)
   * when the snapshot cannot be used and the bank must be read from its records.
   */
  async #fromSnapshot(
    store: RedisBankStore,
    meta: BankMeta,
    snap: SnapshotDescriptor | undefined,
    report: BankLoader['lastSnapshots'],
  ): Promise<CompiledHashBank | undefined> {
    if (this.sources.snapshots === false) return undefined;
    const fail = (reason: SnapshotFallbackReason) => {
      report.fallbacks.push({ bank: meta.id, reason });
      this.sources.onSnapshotFallback?.(meta.id, reason);
      return undefined;
    };
    if (!snap) return fail('missing');
    if (snap.generation !== meta.generation || snap.revision > meta.revision) return fail('stale');
    const read = await store.readSnapshot(meta.id, snap);
    if (!read.ok) return fail(read.reason);
    let bank: CompiledHashBank;
    try {
      bank = decodeBankSnapshot(read.bytes, { id: meta.id, version: bankVersion(meta), kind: meta.kind, enabled: true });
    } catch (err) {
      if (err instanceof VigilError && err.code === 'BANK_SNAPSHOT_INVALID') return fail('invalid');
      throw err;
    }
    if (snap.revision < meta.revision) {
      const changes = await store.hashDeltas(meta, snap.revision, meta.revision);
      if (!changes) return fail('deltas');
      // The store writes a new snapshot before the changes since it would outweigh a rebuild.
      bank = patchHashBank(bank, changes, bankVersion(meta));
    }
    report.loaded.push(meta.id);
    this.sources.onSnapshotLoad?.(meta.id);
    return bank;
  }
}

/** Readiness of a scan runtime: not ready while it cannot scan against what the safety team set up. */
export interface RuntimeHealth {
  ready: boolean;
  /** Why not (empty when ready); ids and counts only. */
  reasons: string[];
}

export interface ScanRuntime {
  scanner: Scanner;
  /** The live policy now (same as `policySource.current().live`). */
  policy(): Policy;
  /** Read once per job: the live policy and the shadow candidate, swapped as one snapshot. */
  policySource: PolicySource;
  /** Brakes and shadow log, when the policy store is in use. */
  hooks?: RefreshingDecisionHooks | undefined;
  /** Re-reads banks and policy if their files changed; keeps the old ones (and logs) if the new ones are invalid. */
  reload(): Promise<boolean>;
  /**
   * Not ready while the bank store has lost banks this worker held (it keeps scanning with its last
   * good snapshot until an operator restores or accepts the store), or while no bank is loaded at all.
   */
  health(): RuntimeHealth;
  /** The hash banks of the snapshot in force now (the retro-match confirms its matches against them). */
  hashBanks(): HashBankSet;
  close(): Promise<void>;
}

export interface ScanRuntimeOptions {
  watch: boolean;
  store?: RedisBankStore;
  /** The policy store (bank-store Redis): its live version wins over the policy file. */
  policyStore?: RedisPolicyStore;
  /** Brakes and shadow log, refreshed with the policy. */
  hooks?: RefreshingDecisionHooks;
  /** Where source timings, per-part outcomes and the decode budget are counted. */
  metrics?: Metrics;
  /**
   * Extra signal sources (an image classifier, a text model), run after the hash banks and the text
   * scanner on every event. Adding one here is all it takes: the worker and the scan are unchanged.
   */
  sources?: { media?: readonly MediaSource[]; text?: readonly TextSource[] };
}

/** Metrics and a warning per part not fully scanned (ids, codes and reasons only: never content). */
function scanObserver(logger: Logger, metrics: Metrics | undefined): ScanObserver {
  return {
    source: (run) => {
      if (!metrics) return;
      metrics.recordSourceRun(run.sourceId, run.kind, run.seconds);
      metrics.stageSeconds.observe({ stage: run.stage }, run.seconds);
      if (run.code) metrics.sourceFailures.inc({ source: run.sourceId, code: run.code });
    },
    media: (m) => {
      metrics?.mediaItems.inc({ outcome: m.outcome, format: m.sniffedFormat ?? 'none' });
      if (m.mimeMismatch) metrics?.mediaMimeMismatch.inc({ declared: m.declaredClass, sniffed: m.sniffedFormat ?? 'none' });
      if (m.outcome === 'scanned') return;
      metrics?.mediaUnscanned.inc({ reason: m.reason ?? 'source_failed' });
      logger.warn(
        {
          eventId: m.eventId,
          mediaId: m.mediaId,
          outcome: m.outcome,
          reason: m.reason,
          code: m.code,
          sniffedFormat: m.sniffedFormat,
          declaredClass: m.declaredClass,
        },
        'media not fully scanned',
      );
    },
    text: (t) => {
      if (t.outcome === 'scanned') return;
      metrics?.textUnscanned.inc({ reason: t.reason ?? 'source_failed' });
      logger.warn({ eventId: t.eventId, outcome: t.outcome, reason: t.reason, code: t.code }, 'text not fully scanned');
    },
  };
}

/**
 * Loads policy and banks once (failing loudly if either is invalid), and with `watch` polls for
 * changes (file edits, or a new revision in the Redis bank store) so the safety team's edits take
 * effect within `bankReloadMs` without a restart.
 */
export async function createScanRuntime(config: Config, logger: Logger, options: ScanRuntimeOptions): Promise<ScanRuntime> {
  // The store's live policy wins over the file; the file is the default while the store has none (and offline).
  const policySource = await ReloadingPolicySource.open(config.policyFile, options.policyStore, logger);
  const hooks = options.hooks;
  if (hooks) await hooks.refresh();
  const policy = () => policySource.current().live;
  const loader = new BankLoader({
    dir: config.banksDir,
    store: options.store,
    patternsFile: config.patternsFile,
    maxTextBytes: config.maxTextBytes,
    // A bank read from its records still matches the same, but a worker start takes seconds longer: say so.
    onSnapshotFallback: (bank, reason) => {
      logger.warn({ bank, reason }, 'bank snapshot not usable: reading the bank from its records instead');
      options.metrics?.bankSnapshotFallbacks.inc({ reason });
    },
    onSnapshotLoad: () => options.metrics?.bankSnapshotLoads.inc(),
  });
  let banks = await loader.load();
  logger.info(
    { policyVersion: policy().version, policyOrigin: policySource.current().origin, banks: { ...banks.hashBanks.versions(), ...banks.textScanner.versions() } },
    'policy and banks loaded',
  );

  restrictImageLoaders();
  const { metrics } = options;
  const classifiers = await openClassifiers(config, logger, metrics);
  // One budget for every decode in this process, whatever job or source asks for the pixels.
  const budget = new DecodeBudget({
    pixels: config.decodeBudgetPixels,
    maxWaitMs: config.decodeWaitMs,
    ...(metrics
      ? {
          onWait: (seconds: number) => metrics.decodeWaitSeconds.observe(seconds),
          onInUse: (pixels: number, waiting: number) => {
            metrics.decodeBudgetInUse.set(pixels);
            metrics.decodeBudgetWaiting.set(waiting);
          },
        }
      : {}),
  });
  metrics?.decodeBudgetCapacity.set(config.decodeBudgetPixels);
  const mediaHasher = createMediaHasher({
    maxPixels: config.maxPixels,
    maxBytes: config.maxMediaBytes,
    timeoutMs: config.decodeTimeoutMs,
    mode: config.pdqMode,
    threads: config.pdqThreads,
    budget,
    ...(metrics
      ? {
          onDecoded: (seconds: number) => {
            metrics.decodeSeconds.observe(seconds);
            metrics.stageSeconds.observe({ stage: 'decode' }, seconds);
          },
        }
      : {}),
  });
  // A source set per bank snapshot, built once when the snapshot changes (never per event).
  let setFor: { banks: BankSnapshot; set: SourceSet } | undefined;
  const sources = (): SourceSet => {
    if (setFor?.banks !== banks) {
      setFor = {
        banks,
        set: standardSources({
          hashBanks: banks.hashBanks,
          textScanner: banks.textScanner,
          pdqHasher: mediaHasher,
          pdqSearch: mediaHasher.searchRunner,
          media: [...classifiers.media, ...(options.sources?.media ?? [])],
          text: [...classifiers.text, ...(options.sources?.text ?? [])],
        }),
      };
    }
    return setFor.set;
  };
  const scanner: Scanner = {
    sources,
    decoder: mediaHasher,
    maxMediaBytes: config.maxMediaBytes,
    observer: scanObserver(logger, metrics),
    ...(config.mediaDir ? { mediaStore: new DirMediaStore(config.mediaDir) } : {}),
  };

  /** Set while the bank store has lost banks we hold; cleared once an operator restores or accepts it. */
  let storeLost: string | undefined;
  options.metrics?.bankStoreLost.set(0);
  const markLost = (reason: string) => {
    if (storeLost === undefined) {
      // Ids and versions only: what the worker keeps serving, and why.
      logger.error(
        { reason, keeping: { ...banks.hashBanks.versions(), ...banks.textScanner.versions() } },
        'bank store lost banks this worker holds: keeping the last good snapshot and reporting not ready',
      );
      options.metrics?.bankStoreLost.set(1);
    }
    storeLost = reason;
  };

  const reload = async (): Promise<boolean> => {
    let changed = await policySource.reload();
    if (hooks) await hooks.refresh().catch((err: unknown) => logger.error({ err }, 'brakes refresh failed; keeping the previous counters'));
    try {
      const fingerprint = await loader.fingerprint();
      const verdict = loader.verdict();
      if (!verdict.ok) markLost(verdict.reason);
      else if (fingerprint !== banks.fingerprint || storeLost !== undefined) {
        const started = Date.now();
        banks = await loader.load();
        const { built, patched } = loader.lastLoad;
        const versions = { ...banks.hashBanks.versions(), ...banks.textScanner.versions() };
        if (storeLost !== undefined) {
          logger.warn({ banks: versions }, 'bank store restored or accepted by an operator: serving its banks again');
          storeLost = undefined;
          options.metrics?.bankStoreLost.set(0);
        }
        logger.info({ banks: versions, built, patched, ms: Date.now() - started }, 'banks reloaded');
        changed = true;
      }
    } catch (err) {
      if (err instanceof VigilError && err.code === 'BANK_STORE_LOST') markLost(err.message);
      else logger.error({ err }, 'bank reload failed; keeping the previous banks');
    }
    return changed;
  };

  let timer: NodeJS.Timeout | undefined;
  if (options.watch) {
    let busy = false;
    timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void reload().finally(() => (busy = false));
    }, config.bankReloadMs);
    timer.unref();
  }

  return {
    scanner,
    policy,
    policySource,
    hooks,
    reload,
    hashBanks: () => banks.hashBanks,
    health: () => {
      const reasons: string[] = [];
      if (storeLost !== undefined) reasons.push(`bank store lost: ${storeLost}`);
      if (Object.keys(banks.hashBanks.versions()).length === 0 && Object.keys(banks.textScanner.versions()).length === 0)
        reasons.push('no banks loaded (VIGIL_BANKS_DIR and the bank store hold none)');
      return { ready: reasons.length === 0, reasons };
    },
    close: async () => {
      if (timer) clearInterval(timer);
      timer = undefined;
      await mediaHasher.close();
      await classifiers.close();
    },
  };
}

interface ClassifierSources {
  media: MediaSource[];
  text: TextSource[];
  close(): Promise<void>;
}

/**
 * The classifiers the config names (VIGIL_IMAGE_MODEL, VIGIL_TEXT_MODEL), verified against the model
 * manifest and loaded before the first job: a missing or tampered model fails the start (MODEL_INVALID).
 */
async function openClassifiers(config: Config, logger: Logger, metrics: Metrics | undefined): Promise<ClassifierSources> {
  const modelsDir = config.modelsDir ?? defaultModelsDir();
  const onCascade: CascadeObserver | undefined = metrics
    ? (run) => metrics.classifierCascade.inc({ kind: run.kind, classified: String(run.classify), reason: run.reason })
    : undefined;
  const text: TextSource[] = [];
  if (config.textModel) {
    const started = performance.now();
    const model = HashedTextClassifier.load(modelsDir, { id: config.textModel });
    metrics?.modelLoadSeconds.set({ model: model.modelId }, (performance.now() - started) / 1000);
    logger.info({ model: model.modelId, modelVersion: model.modelVersion }, `text classifier ${model.modelId}@${model.modelVersion} loaded`);
    text.push(textClassifierSource(model, onCascade));
  }
  if (!config.imageModel) return { media: [], text, close: () => Promise.resolve() };
  const image = await ThreadedImageClassifier.open({
    modelsDir,
    modelId: config.imageModel,
    threads: config.classifierThreads,
    maxBatch: config.classifierMaxBatch,
    timeoutMs: config.classifierTimeoutMs,
    maxQueue: config.classifierMaxQueue,
    backend: config.classifierBackend,
    logger,
    ...(metrics ? { metrics } : {}),
  });
  return { media: [imageClassifierSource(image, onCascade)], text, close: () => image.close() };
}
