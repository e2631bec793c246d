/**
 * Wiring between the scan runtime and the ops surface: stage timings around the scanner's ports,
 * the versions it holds (for the info metrics), and its readiness.
 */
import type { HashBankSet, MediaHasher, TextScanner } from '../core/ports.js';
import type { Scanner } from '../core/scan.js';
import type { Policy } from '../core/policy.js';
import type { Metrics, RuntimeVersions } from '../adapters/metrics.js';
import type { RuntimeHealth } from './checks.js';

/**
 * The same scanner with `hash` (media hashing, decoding included) and `match` (bank and text
 * matching) timed. Wrappers are cached per snapshot, so the scan's per-snapshot caches still hit.
 */
export function instrumentScanner(scanner: Scanner, metrics: Metrics): Scanner {
  const stage = metrics.stageSeconds;
  const banks = new WeakMap<HashBankSet, HashBankSet>();
  const texts = new WeakMap<TextScanner, TextScanner>();
  const mediaHasher: MediaHasher = {
    hash: async (bytes, mimeType, options) => {
      const t = performance.now();
      try {
        return await scanner.mediaHasher.hash(bytes, mimeType, options);
      } finally {
        stage.observe({ stage: 'hash' }, (performance.now() - t) / 1000);
      }
    },
  };
  return {
    ...scanner,
    mediaHasher,
    hashBanks: () => {
      const set = scanner.hashBanks();
      let timed = banks.get(set);
      if (!timed) {
        timed = {
          versions: () => set.versions(),
          match: (hashes, options) => {
            const t = performance.now();
            const out = set.match(hashes, options);
            stage.observe({ stage: 'match' }, (performance.now() - t) / 1000);
            return out;
          },
        };
        banks.set(set, timed);
      }
      return timed;
    },
    textScanner: () => {
      const text = scanner.textScanner();
      let timed = texts.get(text);
      if (!timed) {
        timed = {
          versions: () => text.versions(),
          scan: (s) => {
            const t = performance.now();
            const out = text.scan(s);
            stage.observe({ stage: 'match' }, (performance.now() - t) / 1000);
            return out;
          },
        };
        texts.set(text, timed);
      }
      return timed;
    },
  };
}

export interface RuntimeView {
  scanner: Scanner;
  policy(): Policy;
}

export function runtimeVersions(runtime: RuntimeView): RuntimeVersions {
  const s = runtime.scanner;
  return {
    banks: { ...s.hashBanks().versions(), ...s.textScanner().versions() },
    policy: runtime.policy().version,
    // Backends are not reported by the scanner yet; the classifier runtime will name its own.
    models: Object.entries(s.modelVersions?.() ?? {}).map(([model, version]) => ({ model, version, backend: 'unknown' })),
  };
}

/**
 * The runtime's own health() when it has one (bank store lost, banks or policy not loaded);
 * otherwise what can be seen from outside: a policy version and a bank snapshot to match against.
 */
export function scanRuntimeHealth(runtime: RuntimeView & Partial<RuntimeHealth>): RuntimeHealth {
  if (typeof runtime.health === 'function') return runtime as RuntimeHealth;
  return {
    health: () => {
      const reasons: string[] = [];
      try {
        if (!runtime.policy().version) reasons.push('policy not loaded');
      } catch {
        reasons.push('policy not loaded');
      }
      try {
        runtime.scanner.hashBanks();
        runtime.scanner.textScanner();
      } catch {
        reasons.push('banks not loaded');
      }
      return { ready: reasons.length === 0, reasons };
    },
  };
}
