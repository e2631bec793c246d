/**
 * Wiring between the scan runtime and the ops surface: the versions it holds (for the info metrics)
 * and its readiness. Stage timings come from the scan's own observer (src/app.ts).
 */
import { versionsOf, type Scanner } from '../core/scan.js';
import type { Policy } from '../core/policy.js';
import type { RuntimeVersions } from '../adapters/metrics.js';
import type { RuntimeHealth } from './checks.js';

export interface RuntimeView {
  scanner: Scanner;
  policy(): Policy;
  /** The TF.js backend classifiers run on, when any are loaded. */
  modelBackend?: () => string;
}

export function runtimeVersions(runtime: RuntimeView): RuntimeVersions {
  const v = versionsOf(runtime.scanner.sources());
  return {
    banks: { ...v.banks },
    policy: runtime.policy().version,
    models: Object.entries(v.models).map(([model, version]) => ({ model, version, backend: runtime.modelBackend?.() ?? 'unknown' })),
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
        runtime.scanner.sources();
      } catch {
        reasons.push('banks not loaded');
      }
      return { ready: reasons.length === 0, reasons };
    },
  };
}
