/**
 * Composition root: turns a validated Config into the running parts. The only module that knows
 * which adapter implements which port.
 */
import { stat } from 'node:fs/promises';
import { MemHashBankSet } from './core/banks/hash-bank-set.js';
import type { HashBankData } from './core/banks/hash-bank.js';
import type { Policy } from './core/policy.js';
import type { HashBankSet, TextScanner } from './core/ports.js';
import type { Scanner } from './core/scan.js';
import type { Config } from './config.js';
import { listBankFiles, loadHashBankFile } from './adapters/bank-files.js';
import { createMediaHasher } from './adapters/media-hasher.js';
import { DirMediaStore } from './adapters/media-store.js';
import { loadPolicyFile } from './adapters/policy-file.js';
import { loadTermBankFile } from './adapters/term-files.js';
import { compileTextScanner } from './core/text/index.js';
import type { Logger } from './logger.js';

export interface BankSnapshot {
  hashBanks: HashBankSet;
  textScanner: TextScanner;
  /** What the snapshot was built from; a different fingerprint means a reload is due. */
  fingerprint: string;
}

export async function loadBankSnapshot(banksDir: string | undefined): Promise<BankSnapshot> {
  if (!banksDir) return { hashBanks: new MemHashBankSet([]), textScanner: compileTextScanner([]), fingerprint: '' };
  const files = await listBankFiles(banksDir);
  const hash: HashBankData[] = await Promise.all(files.hashFiles.map(loadHashBankFile));
  const terms = await Promise.all(files.termFiles.map(loadTermBankFile));
  return { hashBanks: new MemHashBankSet(hash), textScanner: compileTextScanner(terms), fingerprint: files.fingerprint };
}

export interface ScanRuntime {
  scanner: Scanner;
  policy(): Policy;
  /** Re-reads banks and policy if their files changed; keeps the old ones (and logs) if the new ones are invalid. */
  reload(): Promise<boolean>;
  close(): Promise<void>;
}

async function mtime(path: string): Promise<number> {
  return (await stat(path)).mtimeMs;
}

/**
 * Loads policy and banks once (failing loudly if either is invalid), and with `watch` polls for
 * changes so the safety team's edits take effect within `bankReloadMs` without a restart.
 */
export async function createScanRuntime(config: Config, logger: Logger, options: { watch: boolean }): Promise<ScanRuntime> {
  let policy = await loadPolicyFile(config.policyFile);
  let policyStamp = await mtime(config.policyFile);
  let banks = await loadBankSnapshot(config.banksDir);
  logger.info({ policyVersion: policy.version, banks: { ...banks.hashBanks.versions(), ...banks.textScanner.versions() } }, 'policy and banks loaded');

  const scanner: Scanner = {
    hashBanks: () => banks.hashBanks,
    textScanner: () => banks.textScanner,
    mediaHasher: createMediaHasher({ maxPixels: config.maxPixels, maxBytes: config.maxMediaBytes, timeoutMs: config.decodeTimeoutMs, mode: config.pdqMode }),
    maxMediaBytes: config.maxMediaBytes,
    ...(config.mediaDir ? { mediaStore: new DirMediaStore(config.mediaDir) } : {}),
  };

  const reload = async (): Promise<boolean> => {
    let changed = false;
    try {
      const stamp = await mtime(config.policyFile);
      if (stamp !== policyStamp) {
        const next = await loadPolicyFile(config.policyFile);
        policyStamp = stamp;
        if (next.version !== policy.version) {
          logger.info({ from: policy.version, to: next.version }, 'policy reloaded');
          policy = next;
          changed = true;
        }
      }
    } catch (err) {
      logger.error({ err }, 'policy reload failed; keeping the previous policy');
    }
    if (config.banksDir) {
      try {
        const files = await listBankFiles(config.banksDir);
        if (files.fingerprint !== banks.fingerprint) {
          banks = await loadBankSnapshot(config.banksDir);
          logger.info({ banks: { ...banks.hashBanks.versions(), ...banks.textScanner.versions() } }, 'banks reloaded');
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
    policy: () => policy,
    reload,
    close: async () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
