/**
 * Evidence produced by a scan. A signal names what matched (bank or model, entry, version), how well
 * (distance, score, threshold) and where (media id or text span) — never the content itself.
 */
import type { SniffedFormat } from './sniff.js';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const EXACT_HASH_TYPES = ['md5', 'sha1', 'sha256'] as const;
export type ExactHashType = (typeof EXACT_HASH_TYPES)[number];
/** ThreatExchange / HMA signal type names, so banks exported from those tools import unchanged. */
export const HASH_TYPES = [...EXACT_HASH_TYPES, 'pdq'] as const;
export type HashType = (typeof HASH_TYPES)[number];
export const SIGNAL_TYPES = [...HASH_TYPES, 'term', 'pattern', 'classifier'] as const;
export type SignalType = (typeof SIGNAL_TYPES)[number];

/** Names of the 8 dihedral transforms, as in Meta's pdqio.h. */
export const DIHEDRAL_NAMES = ['orig', 'rot90', 'rot180', 'rot270', 'flipx', 'flipy', 'flipp', 'flipm'] as const;
export type DihedralName = (typeof DIHEDRAL_NAMES)[number];

export interface Signal {
  type: SignalType;
  /** Bank id, model id or rule-set id. */
  sourceId: string;
  /** Version of that bank / model / rule set at scan time. */
  sourceVersion: string;
  /** Bank entry, term or rule that matched. */
  entryId?: string;
  /** Category and severity carried by the entry itself (term lists carry them; hash banks usually do not). */
  category?: string;
  severity?: Severity;
  distance?: number;
  score?: number;
  threshold?: number;
  quality?: number;
  /** Classifier label the score is for. */
  label?: string;
  /** How a term matched (whole-word, joined, substring); pattern signals have type `pattern`. */
  termMode?: string;
  variant?: DihedralName;
  mediaId?: string;
  /** Offsets in the original message text (UTF-16 code units, end exclusive). */
  span?: { start: number; end: number };
}

/**
 * How completely one part of an event (a media item, or the text) was scanned:
 * - `scanned`   every source ran on it;
 * - `partial`   some evidence was gathered but not all (e.g. exact hashes matched, no PDQ: the bytes
 *               are a video, or could not be decoded);
 * - `unscanned` nothing ran (e.g. a media ref that could not be resolved).
 * Anything but `scanned` is counted (`vigil_media_unscanned_total{reason}`), dead-lettered with its
 * code and reason, and carried on the event's flags, so a miss is never silent.
 */
export const PART_OUTCOMES = ['scanned', 'partial', 'unscanned'] as const;
export type PartOutcome = (typeof PART_OUTCOMES)[number];

/** Why a part was not fully scanned. A bounded list: it is a metric label. */
export const UNSCANNED_REASONS = [
  'video', // a video container: exact hashes only, no frames decoded
  'unsupported_format', // a recognised format that is not an accepted raster (SVG, PDF, HEIC, BMP, audio, archives…)
  'unknown_format', // no known file signature
  'too_large', // over the byte or pixel limit
  'undecodable', // corrupt, truncated or malformed
  'timeout', // decode ran out of time on every attempt
  'busy', // the decode budget stayed full on every attempt
  'unresolved_ref', // a media ref the media store could not resolve
  'store_unavailable', // the media store was unreachable on every attempt
  'no_decoder', // the scanner was built without an image decoder
  'source_failed', // a signal source failed unexpectedly
] as const;
export type UnscannedReason = (typeof UNSCANNED_REASONS)[number];

/** One media item's outcome, on the scan report and (without `message`) on the event's flags. */
export interface MediaOutcome {
  mediaId: string;
  /** The MIME type the event declared (a hint, never what decides the decoder). */
  declaredType: string;
  /** What the bytes are (absent when the bytes could not be fetched). */
  sniffedFormat?: SniffedFormat;
  /** The declared type names another format than the bytes are. */
  mimeMismatch: boolean;
  outcome: PartOutcome;
  reason?: UnscannedReason;
  /** The error code behind `reason`. */
  code?: string;
}

export interface TextOutcome {
  outcome: PartOutcome;
  reason?: UnscannedReason;
  code?: string;
}
