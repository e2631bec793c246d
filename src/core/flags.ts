/** Turns a verdict into `vigil.flag.v1` records. Deterministic: same event + same verdict → same flags. */
import { createHash } from 'node:crypto';
import type { Flag, MessageEvent } from './contracts.js';
import type { Policy, ScanReport, Verdict } from './policy.js';
import type { Signal } from './signals.js';

/** Stable across retries, workers and the offline CLI, so re-processing never creates a second flag. */
export function flagIdFor(eventId: string, category: string): string {
  return `flg_${createHash('sha256').update(`vigil.flag.v1\0${eventId}\0${category}`).digest('hex').slice(0, 32)}`;
}

function signalKey(s: Signal): string {
  return [s.mediaId ?? '', s.span ? String(s.span.start).padStart(10, '0') : '', s.type, s.sourceId, s.entryId ?? '', s.variant ?? ''].join('\0');
}

/** Per-part outcomes as the flag carries them: ids, formats, outcome, reason and code, never a message. */
function partsOf(report: ScanReport): Pick<Flag, 'mediaOutcomes' | 'textOutcome'> {
  const out: Pick<Flag, 'mediaOutcomes' | 'textOutcome'> = {};
  if (report.media && report.media.length > 0) out.mediaOutcomes = report.media.map((m) => ({ ...m }));
  if (report.text) out.textOutcome = { ...report.text };
  return out;
}

/** Only the event's ids are read (a retro-match has nothing else of the event). */
export type FlaggedEvent = Pick<MessageEvent, 'eventId' | 'messageId' | 'conversationId' | 'senderId' | 'sentAt' | 'priority'>;

export function buildFlags(event: FlaggedEvent, report: ScanReport, verdict: Verdict, policy: Policy): Flag[] {
  const parts = verdict.flags.length > 0 ? partsOf(report) : {};
  return verdict.flags.map((v) => ({
    schema: 'vigil.flag.v1',
    flagId: flagIdFor(event.eventId, v.category),
    eventId: event.eventId,
    messageId: event.messageId,
    conversationId: event.conversationId,
    senderId: event.senderId,
    sentAt: event.sentAt,
    eventPriority: event.priority,
    category: v.category,
    severity: v.severity,
    action: v.action,
    signals: [...v.signals].sort((a, b) => (signalKey(a) < signalKey(b) ? -1 : signalKey(a) > signalKey(b) ? 1 : 0)),
    policyVersion: policy.version,
    ...(policy.revision !== undefined ? { policyRevision: policy.revision } : {}),
    ruleIds: v.ruleIds,
    ...(v.brake ? { brake: v.brake } : {}),
    bankVersions: report.bankVersions,
    modelVersions: report.modelVersions,
    ...parts,
  }));
}
