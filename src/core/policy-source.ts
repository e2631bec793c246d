/**
 * Where a scan worker gets its policy from, per job. `current()` returns one immutable snapshot;
 * a reload builds a new one and swaps the reference, so a job holds a whole policy or the previous one,
 * never a mix.
 */
import type { PipelineResult } from './pipeline.js';
import type { DecisionCounters, Policy } from './policy.js';

export interface PolicySnapshot {
  readonly live: Policy;
  /** A whole candidate policy run in shadow beside the live one (`vigil policy shadow FILE`). */
  readonly candidate?: Policy | undefined;
  /** Where the live policy came from: the store (with its version number) or the file. */
  readonly origin: 'store' | 'file';
}

export interface PolicySource {
  current(): PolicySnapshot;
}

/** What the worker calls around `decide` when brakes and the shadow log are wired (the policy store is in use). */
export interface DecisionHooks {
  /** Snapshot of brake state and deconfirmations for the next decision (cheap: served from memory). */
  counters(): DecisionCounters;
  /** After the flags are emitted: count rule and entry hits, actions, and record shadow disagreements. */
  after(result: PipelineResult): Promise<void>;
}
