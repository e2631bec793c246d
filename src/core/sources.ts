/**
 * Signal sources: everything that turns a part of an event into evidence. A media source reads one
 * media item (its bytes, what they sniff as, and the raster decoded once for all sources); a text
 * source reads the event's text. The scan (scan.ts) runs every source of a SourceSet on every part,
 * isolates each one's failure to that part, times it, and stamps its versions on the flags.
 *
 * Adding a source (an image classifier, a text model) means writing a MediaSource or TextSource and
 * listing it where the composition root (src/app.ts, createScanRuntime) builds the set: no worker,
 * queue or scan code changes.
 */
import type { MediaItem, MessageEvent } from './contracts.js';
import { toVigilError, type VigilError } from './errors.js';
import { exactHashes } from './exact-hashes.js';
import { dihedralAny, dihedralFor, pdqThresholdFor, type Policy } from './policy.js';
import type { DecodedImage, HashBankSet, HashMatch, HashMatchOptions, MediaHashes, PdqHasher, PdqSearchRunner, TextScanner } from './ports.js';
import type { SniffedFormat } from './sniff.js';
import type { Signal } from './signals.js';

export interface SniffedMedia {
  /** What the bytes are, from their signature (`unknown` when no signature is recognised). */
  format?: SniffedFormat;
  /** The declared MIME type names another format than the bytes are (evidence on the flag). */
  mimeMismatch: boolean;
}

export interface MediaSourceInput {
  item: MediaItem;
  bytes: Uint8Array;
  sniffed: SniffedMedia;
  /**
   * The item decoded once, shared by every media source: read it, never keep it or change it. Present
   * when a source of the set asked for one and the bytes are an accepted raster that decoded safely.
   */
  raster?: DecodedImage;
}

export interface SourceContext {
  event: MessageEvent;
  policy: Policy;
  /** Signals the sources before this one found in this event so far (the classifier cascade reads them). */
  signals: readonly Signal[];
  /**
   * Told the hashes a source computed for a media item (the scan keeps them on the report for the
   * retro-match window, VIGIL_RETRO_WINDOW). Hashes only: never the bytes.
   */
  hashed?: (mediaId: string, hashes: MediaHashes) => void;
}

/** Versions stamped on the flag: hash and term banks go to `bankVersions`, models to `modelVersions`. */
export interface SourceVersions {
  banks?: Readonly<Record<string, string>>;
  models?: Readonly<Record<string, string>>;
}

/**
 * What a source returns: its signals, or, when it could do only part of its work (a hash source that
 * matched exact hashes but could not compute PDQ), those signals plus the typed reason it stopped.
 * A source that throws loses only its own signals for that part: a VigilError keeps its code (and,
 * before an event's last attempt, a retriable one retries the event); anything else is recorded as
 * INTERNAL for that part and not retried.
 */
export type SourceOutput = readonly Signal[] | { signals: readonly Signal[]; incomplete: VigilError };

interface SourceBase {
  /** Stable and bounded (a metric label): e.g. `hashes`, `terms`, `nsfw-image`. Never derived from a payload. */
  readonly id: string;
  /** Which stage of the ops metrics its time counts to (vigil_stage_seconds); default hash for media, match for text. */
  readonly stage?: 'hash' | 'match' | 'classify';
  versions(): SourceVersions;
}

export interface MediaSource extends SourceBase {
  readonly kind: 'media';
  /**
   * Whether this source reads the decoded raster: `none` (bytes only, no decode on its account),
   * `optional` (called without one when the item is not a decodable raster, e.g. exact hashes still
   * match) or `required` (skipped without one). Either way, an item that could not be decoded for a
   * source that wanted the raster is reported `partial` with the reason.
   */
  readonly raster: 'none' | 'optional' | 'required';
  scan(input: MediaSourceInput, context: SourceContext): SourceOutput | Promise<SourceOutput>;
}

export interface TextSource extends SourceBase {
  readonly kind: 'text';
  scan(text: string, context: SourceContext): SourceOutput | Promise<SourceOutput>;
}

/**
 * The sources one scan runs. Immutable: a hot reload of banks or models builds a new set, so a scan
 * in flight keeps the set (and the versions) it started with.
 */
export interface SourceSet {
  readonly media: readonly MediaSource[];
  readonly text: readonly TextSource[];
}

export function matchOptionsFor(policy: Policy): HashMatchOptions {
  const pdq = policy.document.thresholds.pdq;
  return { pdqThreshold: (bankId) => pdqThresholdFor(policy, bankId), pdqMinQuality: pdq.minQuality, dihedral: (bankId) => dihedralFor(policy, bankId) };
}

/** A hash match as evidence on one media item (the live scan and the retro-match build the same signal). */
export function hashSignal(m: HashMatch, mediaId: string, pdqQuality: number | undefined): Signal {
  const signal: Signal = { type: m.type, sourceId: m.bankId, sourceVersion: m.bankVersion, entryId: m.entryId, distance: m.distance, mediaId };
  if (m.threshold !== undefined) signal.threshold = m.threshold;
  if (m.type === 'pdq' && pdqQuality !== undefined) signal.quality = pdqQuality;
  if (m.variant !== undefined) signal.variant = m.variant;
  return signal;
}

/**
 * Hash banks: exact hashes of the bytes (whatever the item is) and PDQ of the raster (when there is
 * one), matched together so that an allow-bank hit on either suppresses every block match of the
 * item. Without a PDQ hasher, or without a raster, only exact hashes are matched.
 */
export function hashBankSource(banks: HashBankSet, pdqHasher: PdqHasher | undefined, pdqSearch?: PdqSearchRunner): MediaSource {
  const versions: SourceVersions = Object.freeze({ banks: Object.freeze(banks.versions()) });
  return {
    id: 'hashes',
    kind: 'media',
    raster: pdqHasher ? 'optional' : 'none',
    versions: () => versions,
    async scan({ item, bytes, raster }, { policy, hashed }) {
      const options = matchOptionsFor(policy);
      let hashes: MediaHashes = exactHashes(bytes);
      let incomplete: VigilError | undefined;
      if (raster && pdqHasher) {
        try {
          hashes = { ...hashes, pdq: await pdqHasher.pdq(raster, { dihedral: dihedralAny(policy) }) };
        } catch (err) {
          incomplete = toVigilError(err);
        }
      }
      hashed?.(item.id, hashes);
      const matches = pdqSearch && hashes.pdq ? await banks.matchAsync(hashes, options, pdqSearch) : banks.match(hashes, options);
      const signals = matches.map((m) => hashSignal(m, item.id, hashes.pdq?.quality));
      return incomplete ? { signals, incomplete } : signals;
    },
  };
}

/** Term banks and pattern rules, through the compiled text scanner. */
export function textScannerSource(scanner: TextScanner): TextSource {
  const versions: SourceVersions = Object.freeze({ banks: Object.freeze(scanner.versions()) });
  return {
    id: 'terms',
    kind: 'text',
    versions: () => versions,
    scan: (text) =>
      scanner.scan(text).map((m) => ({
        type: m.mode === 'pattern' ? 'pattern' : 'term',
        sourceId: m.bankId,
        sourceVersion: m.bankVersion,
        entryId: m.termId,
        category: m.category,
        severity: m.severity,
        span: { start: m.start, end: m.end },
        ...(m.mode === 'pattern' ? {} : { termMode: m.mode }),
      })),
  };
}

/** The standard set for one bank snapshot: hash banks for media, the text scanner for text, then any extra sources. */
export function standardSources(parts: {
  hashBanks: HashBankSet;
  textScanner: TextScanner;
  pdqHasher?: PdqHasher | undefined;
  /** Runs the large PDQ index searches off the event loop (the PDQ threads). */
  pdqSearch?: PdqSearchRunner | undefined;
  media?: readonly MediaSource[];
  text?: readonly TextSource[];
}): SourceSet {
  return Object.freeze({
    media: Object.freeze([hashBankSource(parts.hashBanks, parts.pdqHasher, parts.pdqSearch), ...(parts.media ?? [])]),
    text: Object.freeze([textScannerSource(parts.textScanner), ...(parts.text ?? [])]),
  });
}
