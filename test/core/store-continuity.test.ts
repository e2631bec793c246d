/** When has the bank store lost banks a worker held? (pure rule, every case spelled out) */
import { describe, expect, it } from 'vitest';
import { judgeStore, type StoreEpoch } from '../../src/core/banks/store-continuity.js';

const epoch = (id: string, reason: StoreEpoch['reason']): StoreEpoch => ({ id, reason, at: '2026-11-27T00:00:00Z' });

describe('judgeStore', () => {
  const held = { epochId: 'e1', revision: 7 };

  it('nothing held: anything the store says is fine', () => {
    expect(judgeStore(undefined, { epoch: undefined, revision: 0 })).toEqual({ ok: true, newEpoch: false });
    expect(judgeStore({ epochId: undefined, revision: 0 }, { epoch: epoch('e9', 'created'), revision: 1 })).toEqual({ ok: true, newEpoch: false });
  });

  it('same epoch, same or higher revision: fine', () => {
    expect(judgeStore(held, { epoch: epoch('e1', 'created'), revision: 7 })).toEqual({ ok: true, newEpoch: false });
    expect(judgeStore(held, { epoch: epoch('e1', 'created'), revision: 9 })).toEqual({ ok: true, newEpoch: false });
  });

  it('emptied (no epoch), rolled back (lower revision), or re-created without an operator: lost, with what to do', () => {
    for (const seen of [
      { epoch: undefined, revision: 0 },
      { epoch: undefined, revision: 12 },
      { epoch: epoch('e1', 'created'), revision: 6 },
      { epoch: epoch('e2', 'created'), revision: 30 },
    ]) {
      const verdict = judgeStore(held, seen);
      expect(verdict.ok, JSON.stringify(seen)).toBe(false);
      if (!verdict.ok) expect(verdict.reason).toMatch(/vigil bank import --all .*vigil bank accept/);
    }
  });

  it('a new epoch from a restore or an accept is the operator acting: load it, whatever its revision', () => {
    expect(judgeStore(held, { epoch: epoch('e2', 'restored'), revision: 2 })).toEqual({ ok: true, newEpoch: true });
    expect(judgeStore(held, { epoch: epoch('e3', 'accepted'), revision: 0 })).toEqual({ ok: true, newEpoch: true });
  });

  it('a store written before epochs existed is judged by its revision until it gets one', () => {
    const legacy = { epochId: undefined, revision: 5 };
    expect(judgeStore(legacy, { epoch: epoch('e1', 'created'), revision: 6 })).toEqual({ ok: true, newEpoch: false });
    expect(judgeStore(legacy, { epoch: undefined, revision: 0 }).ok).toBe(false);
    expect(judgeStore(legacy, { epoch: epoch('e1', 'restored'), revision: 1 })).toEqual({ ok: true, newEpoch: true });
  });
});
