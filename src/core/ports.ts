/**
 * Ports: everything the pure core needs from the outside world. Each has a technology-named adapter
 * (src/adapters) and an in-memory implementation for tests.
 */
import type { Flag, MessageEvent } from './contracts.js';
import type { DihedralName, ExactHashType, Severity } from './signals.js';
import type { PdqSharedView, PdqSlotMatches } from './pdq/mih.js';

/** Raw pixels, 8 bits per sample, alpha already dropped: 1 channel (grey) or 3 (RGB), row-major. */
export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/** A decoded raster holding its share of the process's decode budget until `release()` (idempotent). */
export interface RasterLease {
  image: DecodedImage;
  /** Source size (first frame), before any shrink. */
  width: number;
  height: number;
  release(): void;
}

/** Decodes a media item's bytes once per scan; the raster is shared by every media source. */
export interface MediaDecoder {
  /**
   * Rejects with a VigilError: MEDIA_UNSUPPORTED, MEDIA_UNDECODABLE, MEDIA_TOO_LARGE, or the retriable
   * MEDIA_TIMEOUT (decode ran out of time) and MEDIA_BUSY (decode budget full for too long).
   */
  decode(bytes: Uint8Array): Promise<RasterLease>;
}

/** PDQ of a raster. May lend the pixels to a thread, but hands them back before it resolves. */
/** Searches a shared PDQ index view off the event loop (PdqIndex.searchManyOn / searchShared). */
export interface PdqSearchRunner {
  search(view: PdqSharedView, queries: Uint32Array, radius: number): Promise<PdqSlotMatches[]>;
}

export interface PdqHasher {
  pdq(image: DecodedImage, options: { dihedral: boolean }): Promise<PdqDigest>;
}

export interface ImageDecoder {
  /** Rejects with a VigilError (MEDIA_UNDECODABLE, MEDIA_UNSUPPORTED, MEDIA_TOO_LARGE, MEDIA_TIMEOUT). */
  decode(bytes: Uint8Array, mimeType: string): Promise<DecodedImage>;
}

/** Resolves a media `ref` from a message event to bytes. */
export interface MediaStore {
  fetch(ref: string, maxBytes: number): Promise<Uint8Array>;
}

export interface PdqDigest {
  /** 64 lowercase hex digits. */
  hash: string;
  quality: number;
  /** The 8 dihedral variants, in DIHEDRAL_NAMES order, when asked for. */
  dihedral?: readonly string[];
}

export interface MediaHashes {
  md5: string;
  sha1: string;
  sha256: string;
  pdq?: PdqDigest;
}

export interface HashMatch {
  bankId: string;
  bankVersion: string;
  entryId: string;
  type: ExactHashType | 'pdq';
  distance: number;
  threshold?: number;
  variant?: DihedralName;
}

export interface HashMatchOptions {
  /** Max Hamming distance for a bank (the policy's per-bank threshold). */
  pdqThreshold: (bankId: string) => number;
  /** Below this PDQ quality no fuzzy match is attempted (exact hashes still match). */
  pdqMinQuality: number;
  /** Per bank: also query the 7 other dihedral variants (catches flips and rotations), when the hashes carry them. */
  dihedral: (bankId: string) => boolean;
}

/** A read-only view over the hash banks a worker currently holds. */
export interface HashBankSet {
  /** Matches against block banks, with matches that also hit an allow bank removed. */
  match(hashes: MediaHashes, options: HashMatchOptions): HashMatch[];
  /** The same answer, with the large PDQ searches run off the event loop by `runner`. */
  matchAsync(hashes: MediaHashes, options: HashMatchOptions, runner: PdqSearchRunner): Promise<HashMatch[]>;
  /** bank id → version, for the flag's provenance. */
  versions(): Record<string, string>;
}

export interface TextMatch {
  bankId: string;
  bankVersion: string;
  termId: string;
  category: string;
  severity: Severity;
  mode: string;
  /** Offsets in the original text. */
  start: number;
  end: number;
}

export interface TextScanner {
  scan(text: string): TextMatch[];
  versions(): Record<string, string>;
}

/** Where flags go. Must be idempotent by flagId: re-emitting a flag never creates a second one. */
export interface FlagSink {
  emit(flags: readonly Flag[]): Promise<void>;
}

/** A dead-letter entry carries ids and the reason, never message content. */
export interface DeadLetter {
  eventId?: string;
  messageId?: string;
  code: string;
  message: string;
  /** Where the poison came from: queue job id, or Kafka coordinates. */
  origin:
    | { kind: 'bullmq'; queue: string; jobId: string }
    | { kind: 'kafka'; topic: string; partition: number; offset: string }
    | { kind: 'cli'; file: string; line: number };
  /** Partial scans dead-letter the media item that failed while the rest of the event was scanned. */
  mediaId?: string;
  /** Which part of the event this entry is about, when the rest of the event was scanned. */
  part?: 'media' | 'text';
  /** Why that part was not fully scanned (a bounded reason, see UNSCANNED_REASONS). */
  reason?: string;
  /** The signal source that failed, when one did. */
  sourceId?: string;
  at: string;
}

export interface DeadLetterSink {
  deadLetter(entry: DeadLetter): Promise<void>;
}

/** What a bridge or publisher needs from the scan queue. */
export interface ScanQueue {
  /** Enqueues with jobId = eventId; an event already accepted within the dedupe window is dropped by the queue. */
  publish(event: MessageEvent): Promise<void>;
  /** Jobs not yet picked up by a worker (waiting + prioritized + delayed), for backpressure. */
  backlog(): Promise<number>;
}

/** Hashes one media item: exact hashes always; PDQ too for images it can decode. */
export interface MediaHasher {
  /**
   * Rejects with a typed VigilError when the image cannot be decoded safely; the caller then falls
   * back to exact hashes, which need no decoding.
   */
  hash(bytes: Uint8Array, mimeType: string, options: { dihedral: boolean }): Promise<MediaHashes>;
}
