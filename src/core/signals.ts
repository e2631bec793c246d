/**
 * Evidence produced by a scan. A signal names what matched (bank or model, entry, version), how well
 * (distance, score, threshold) and where (media id or text span) — never the content itself.
 */
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
