/**
 * The classifier cascade: whether the expensive image or text classifier runs for an item, from the
 * policy's `classifiers` keys. Pure, so the scan calls it per media item (image) or per event (text)
 * with the signals found so far. This is the authoritative answer; a classifier adapter only obeys it.
 */
import { createHash } from 'node:crypto';
import { HASH_TYPES, type Signal } from '../signals.js';
import type { Policy } from './compile.js';
import { evaluate, type DecisionContext } from './decide.js';

export interface ClassifyInput {
  eventId: string;
  context?: DecisionContext | undefined;
  /** Signals found so far (hash matches before the image classifier; terms and patterns before the text one). */
  signals: readonly Signal[];
  /** The media item, for the image classifier. */
  mediaId?: string | undefined;
}

export type ClassifyReason = 'always' | 'unmatched' | 'never' | 'already_matched' | 'condition_false' | 'not_sampled';

/** Stable fraction in [0, 1) from an event id (and media id): the same item is always in or out of a sample. */
export function sampleFraction(kind: string, eventId: string, mediaId = ''): number {
  return createHash('sha256').update(`vigil.sample\0${kind}\0${eventId}\0${mediaId}`).digest().readUInt32BE(0) / 2 ** 32;
}

const HASH = new Set<string>(HASH_TYPES);

export function shouldClassify(policy: Policy, kind: 'image' | 'text', input: ClassifyInput): { classify: boolean; reason: ClassifyReason } {
  const cascade = policy.document.classifiers[kind];
  if (cascade.run === 'never') return { classify: false, reason: 'never' };
  if (cascade.run === 'unmatched') {
    const matched =
      kind === 'image'
        ? input.signals.some((s) => HASH.has(s.type) && s.mediaId === input.mediaId)
        : input.signals.some((s) => s.type === 'term' || s.type === 'pattern');
    if (matched) return { classify: false, reason: 'already_matched' };
  }
  if (cascade.when && !evaluate(cascade.when, input.signals, input.context ?? {}, new Set())) return { classify: false, reason: 'condition_false' };
  if (cascade.sampleRate < 1 && sampleFraction(kind, input.eventId, input.mediaId) >= cascade.sampleRate) return { classify: false, reason: 'not_sampled' };
  return { classify: true, reason: cascade.run === 'always' ? 'always' : 'unmatched' };
}
