/**
 * Composition root: turns a validated Config into the running parts. The only module that knows
 * which adapter implements which port.
 */
import { stat } from 'node:fs/promises';
import { HashBankBuilder, MemHashBankSet, compileHashBank, patchHashBank, type CompiledHashBank } from './core/banks/hash-bank-set.js';
import type { BankKind } from './core/banks/hash-bank.js';
import { VigilError } from './core/errors.js';
import type { TermBankData } from './core/text/term-bank.js';
import type { Policy } from './core/policy.js';
import type { HashBankSet, TextScanner } from './core/ports.js';
import type { Scanner } from './core/scan.js';
import type { Config } from './config.js';
import { listBankFiles, loadHashBankFile } from './adapters/bank-files.js';
import { createMediaHasher } from './adapters/media-hasher.js';
import { restrictImageLoaders } from './adapters/sharp-decoder.js';
import { DirMediaStore } from './adapters/media-store.js';
import { ReloadingPolicySource, type RedisPolicyStore } from './adapters/policy-store.js';
import type { RefreshingDecisionHooks } from './adapters/decision-hooks.js';
import type { PolicySource } from './core/policy-source.js';
import { bankVersion, type RedisBankStore } from './adapters/redis-bank-store.js';
import { loadBenignWords, loadPatternFile, loadTermBankFile } from './adapters/term-files.js';
import { compileTextScanner } from './core/text/index.js';
import type { Logger } from './logger.js';

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
}

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
  kind: BankKind;
  bank: CompiledHashBank;
}

export class BankLoader {
  /** File banks by id and content version. */
  #cache = new Map<string, CompiledHashBank>();
  /** Store banks by id, with the revision they are at. */
  #stored = new Map<string, StoredBank>();
  lastLoad: LoadReport = { built: [], patched: [], reused: [] };
  /** Loaded once: the text matcher caches its index per vocabulary Set, so reloads reuse it. */
  #benignWords: Promise<Set<string>> | undefined;

  constructor(private readonly sources: BankSources) {}

  async fingerprint(): Promise<string> {
    const files = this.sources.dir ? (await listBankFiles(this.sources.dir)).fingerprint : '';
    const rev = this.sources.store ? await this.sources.store.revision() : 0;
    const patterns = this.sources.patternsFile ? (await stat(this.sources.patternsFile).catch(() => undefined))?.mtimeMs ?? 'missing' : '';
    return `${files}|redis:${rev}|patterns:${patterns}`;
  }

  async load(): Promise<BankSnapshot> {
    const { dir, store } = this.sources;
    const fingerprint = await this.fingerprint();
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
    if (store) {
      for (const meta of await store.list()) {
        claim(meta.id, 'the Redis bank store');
        if (!meta.enabled) continue;
        if (meta.type === 'term') {
          terms.push({ id: meta.id, version: bankVersion(meta), entries: await store.termEntries(meta.id) });
          continue;
        }
        const held = this.#stored.get(meta.id);
        let bank: CompiledHashBank;
        if (held && held.kind === meta.kind && held.revision === meta.revision) {
          bank = held.bank;
          report.reused.push(meta.id);
        } else {
          const changes = held && held.kind === meta.kind ? await store.hashDeltas(meta.id, held.revision, meta.revision) : undefined;
          if (held && changes) {
            bank = patchHashBank(held.bank, changes, bankVersion(meta));
            report.patched.push(meta.id);
          } else {
            const builder = new HashBankBuilder({ id: meta.id, version: bankVersion(meta), kind: meta.kind, enabled: true });
            for await (const batch of store.hashEntries(meta.id)) for (const e of batch) builder.add(e);
            bank = builder.build();
            report.built.push(meta.id);
          }
        }
        stored.set(meta.id, { revision: meta.revision, kind: meta.kind, bank });
        compiled.push(bank);
      }
    }
    this.#stored = stored;
    this.lastLoad = report;
    this.#cache = next;
    const patterns = this.sources.patternsFile ? await loadPatternFile(this.sources.patternsFile) : undefined;
    const benignWords = await (this.#benignWords ??= loadBenignWords());
    return { hashBanks: new MemHashBankSet(compiled), textScanner: compileTextScanner(terms, patterns, { benignWords }), fingerprint };
  }
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
  close(): Promise<void>;
}

/**
 * Loads policy and banks once (failing loudly if either is invalid), and with `watch` polls for
 * changes (file edits, or a new revision in the Redis bank store) so the safety team's edits take
 * effect within `bankReloadMs` without a restart.
 */
export async function createScanRuntime(config: Config, logger: Logger, options: { watch: boolean; store?: RedisBankStore; policyStore?: RedisPolicyStore; hooks?: RefreshingDecisionHooks }): Promise<ScanRuntime> {
  // The store's live policy wins over the file; the file is the default while the store has none (and offline).
  const policySource = await ReloadingPolicySource.open(config.policyFile, options.policyStore, logger);
  const hooks = options.hooks;
  if (hooks) await hooks.refresh();
  const policy = () => policySource.current().live;
  const loader = new BankLoader({ dir: config.banksDir, store: options.store, patternsFile: config.patternsFile });
  let banks = await loader.load();
  logger.info({ policyVersion: policy().version, policyOrigin: policySource.current().origin, banks: { ...banks.hashBanks.versions(), ...banks.textScanner.versions() } }, 'policy and banks loaded');

  restrictImageLoaders();
  const mediaHasher = createMediaHasher({ maxPixels: config.maxPixels, maxBytes: config.maxMediaBytes, timeoutMs: config.decodeTimeoutMs, mode: config.pdqMode, threads: config.pdqThreads });
  const scanner: Scanner = {
    hashBanks: () => banks.hashBanks,
    textScanner: () => banks.textScanner,
    mediaHasher,
    maxMediaBytes: config.maxMediaBytes,
    ...(config.mediaDir ? { mediaStore: new DirMediaStore(config.mediaDir) } : {}),
  };

  const reload = async (): Promise<boolean> => {
    let changed = await policySource.reload();
    if (hooks) await hooks.refresh().catch((err: unknown) => logger.error({ err }, 'brakes refresh failed; keeping the previous counters'));
    {
      try {
        if ((await loader.fingerprint()) !== banks.fingerprint) {
          const started = Date.now();
          banks = await loader.load();
          const { built, patched } = loader.lastLoad;
          logger.info({ banks: { ...banks.hashBanks.versions(), ...banks.textScanner.versions() }, built, patched, ms: Date.now() - started }, 'banks reloaded');
          changed = true;
        }
      } catch (err) {
        logger.error({ err }, 'bank reload failed; keeping the previous banks');
      }
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
    close: async () => {
      if (timer) clearInterval(timer);
      timer = undefined;
      await mediaHasher.close();
    },
  };
}
