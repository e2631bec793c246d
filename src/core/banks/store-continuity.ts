/**
 * Has the bank store lost banks a worker held? A Redis restarted without persistence comes back
 * empty; one restored from an old snapshot comes back at a lower revision. Either way a worker that
 * took the store at its word would silently match nothing (or less), so it keeps its last good
 * snapshot and reports the store lost until an operator acts: restores the store from an export
 * (`vigil bank import --all`) or accepts its contents as they are (`vigil bank accept`). Both start a
 * new epoch, which is what a worker waits for.
 *
 * Pure: the worker feeds it what it read from the store.
 */

/** A store's identity. `created`: by its first change; the others are an operator's act. */
export interface StoreEpoch {
  id: string;
  reason: 'created' | 'restored' | 'accepted';
  at: string;
  actor?: string;
}

/** What the last good snapshot was built from. */
export interface HeldStoreMark {
  /** Absent for stores written before epochs existed. */
  epochId: string | undefined;
  revision: number;
}

export type StoreVerdict =
  /** Load it (when it changed). `newEpoch`: an operator's act replaced the epoch the worker held. */
  { ok: true; newEpoch: boolean } | { ok: false; reason: string };

/** How to get out of the lost state; part of every verdict's reason so a log line is enough. */
export const OPERATOR_ACTS = 'restore the store with `vigil bank import --all EXPORT.jsonl`, or accept its current contents with `vigil bank accept`';

export function judgeStore(held: HeldStoreMark | undefined, seen: { epoch: StoreEpoch | undefined; revision: number }): StoreVerdict {
  // Nothing held from the store yet (first load, or the store was empty and still is): nothing to lose.
  if (!held || (held.epochId === undefined && held.revision === 0)) return { ok: true, newEpoch: false };
  if (held.epochId !== undefined) {
    if (!seen.epoch)
      return {
        ok: false,
        reason: `the bank store has no epoch any more (held r${held.revision}): it was emptied, e.g. a Redis restart without persistence; ${OPERATOR_ACTS}`,
      };
    if (seen.epoch.id !== held.epochId) {
      if (seen.epoch.reason !== 'created') return { ok: true, newEpoch: true };
      return {
        ok: false,
        reason: `the bank store was emptied and written again (new epoch ${seen.epoch.id} created ${seen.epoch.at}, neither restored nor accepted); ${OPERATOR_ACTS}`,
      };
    }
  } else if (seen.epoch && seen.epoch.reason !== 'created') {
    return { ok: true, newEpoch: true };
  }
  if (seen.revision < held.revision)
    return {
      ok: false,
      reason: `the bank store's revision went back from ${held.revision} to ${seen.revision} (emptied or restored from an older snapshot); ${OPERATOR_ACTS}`,
    };
  return { ok: true, newEpoch: false };
}
