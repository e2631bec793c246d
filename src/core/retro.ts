/**
 * Retro-matching: a hash banked today flags the messages that carried it in the last
 * VIGIL_RETRO_WINDOW, without keeping any content. For each scanned media item only its hashes (PDQ,
 * MD5, SHA-1, SHA-256) and the ids a flag needs are retained, in a compact binary record; when a bank
 * gains entries, the new entries are matched against every record still in the window.
 *
 * Pure: encoding, decoding and matching. Where the records live (Redis, with a TTL) is the adapter's
 * business (src/adapters/retro-window.ts); who runs a retro-match, the service's (src/services/retro.ts).
 *
 * Record (version 1), all integers big-endian:
 *   u8 version | u16 length of the whole record | f64 scannedAt (ms since epoch) | u8 flags (bit 0: has PDQ)
 *   | 32 B PDQ (zeros without one) | u8 PDQ quality | 16 B MD5 | 20 B SHA-1 | 32 B SHA-256 | u8 priority
 *   | 6 × (u8 length + ASCII): eventId, messageId, conversationId, senderId, mediaId, sentAt
 * Ids are ASCII by the message contract (1-128 characters of A-Z a-z 0-9 . _ -), sentAt an ISO date.
 */
import { PRIORITIES, type MessageEvent } from './contracts.js';
import type { PipelineResult } from './pipeline.js';
import { VigilError } from './errors.js';
import { buildFlags } from './flags.js';
import { decide, type DecisionCounters, type Policy, type ScanReport } from './policy.js';
import { PdqIndex } from './pdq/mih.js';
import { popcount32 } from './pdq/hex.js';
import type { HashBankEntry } from './banks/hash-bank.js';
import type { MediaHashes } from './ports.js';
import { EXACT_HASH_TYPES, type ExactHashType, type Signal } from './signals.js';

/** The ids of a scanned event that a flag carries: nothing else of the event is retained. */
export type RetainedEvent = Pick<MessageEvent, 'eventId' | 'messageId' | 'conversationId' | 'senderId' | 'sentAt' | 'priority'>;

export interface RetainedItem extends RetainedEvent {
  mediaId: string;
  /** When it was scanned (ms since epoch): the window is measured from here. */
  scannedAt: number;
  md5: string;
  sha1: string;
  sha256: string;
  pdq?: { hash: string; quality: number };
}

const VERSION = 1;
const DIGEST_BYTES: Record<ExactHashType, number> = { md5: 16, sha1: 20, sha256: 32 };
/** Byte offsets inside a record. */
const AT = { length: 1, scannedAt: 3, flags: 11, pdq: 12, quality: 44, md5: 45, sha1: 61, sha256: 81, priority: 113, strings: 114 } as const;
const STRING_FIELDS = ['eventId', 'messageId', 'conversationId', 'senderId', 'mediaId', 'sentAt'] as const;

/** The items of one scanned event that have exact hashes (every fetched item has them). */
export function retainedItems(event: RetainedEvent, hashes: Readonly<Record<string, MediaHashes>>, scannedAt: number): RetainedItem[] {
  const ids: RetainedEvent = {
    eventId: event.eventId,
    messageId: event.messageId,
    conversationId: event.conversationId,
    senderId: event.senderId,
    sentAt: event.sentAt,
    priority: event.priority,
  };
  return Object.entries(hashes).map(([mediaId, h]) => ({
    ...ids,
    mediaId,
    scannedAt,
    md5: h.md5,
    sha1: h.sha1,
    sha256: h.sha256,
    ...(h.pdq ? { pdq: { hash: h.pdq.hash, quality: h.pdq.quality } } : {}),
  }));
}

export function encodeRetained(item: RetainedItem): Buffer {
  const strings = STRING_FIELDS.map((f) => Buffer.from(item[f], 'latin1'));
  if (strings.some((s) => s.length > 255)) throw new VigilError('INTERNAL', 'a retained id is longer than 255 characters', { retriable: false });
  const length = AT.strings + strings.reduce((n, s) => n + 1 + s.length, 0);
  const buf = Buffer.alloc(length);
  buf.writeUInt8(VERSION, 0);
  buf.writeUInt16BE(length, AT.length);
  buf.writeDoubleBE(item.scannedAt, AT.scannedAt);
  if (item.pdq) {
    buf.writeUInt8(1, AT.flags);
    buf.write(item.pdq.hash, AT.pdq, 32, 'hex');
    buf.writeUInt8(Math.max(0, Math.min(255, Math.round(item.pdq.quality))), AT.quality);
  }
  for (const type of EXACT_HASH_TYPES) buf.write(item[type], AT[type], DIGEST_BYTES[type], 'hex');
  buf.writeUInt8(Math.max(0, PRIORITIES.indexOf(item.priority)), AT.priority);
  let at = AT.strings;
  for (const s of strings) {
    buf.writeUInt8(s.length, at);
    s.copy(buf, at + 1);
    at += 1 + s.length;
  }
  return buf;
}

/**
 * The records of one or more blobs (each the concatenation of records), with PDQ hashes unpacked
 * into one array (8 words each, PdqIndex.fromWords's layout) so a match reads no record twice.
 * Records scanned before `notBefore` are left out: the window is exact even where the store keeps a
 * record a little longer than the window (its keys expire in time buckets).
 */
export class RetainedSet {
  /** Per record: which blob and where in it. */
  readonly #blob: Uint32Array;
  readonly #offset: Uint32Array;
  readonly #blobs: readonly Buffer[];
  /** PDQ words per record (zeros without one); `hasPdq` says which are real, `quality` their quality. */
  readonly pdqWords: Uint32Array;
  readonly hasPdq: Uint8Array;
  readonly quality: Uint8Array;
  readonly size: number;

  private constructor(blobs: readonly Buffer[], blob: Uint32Array, offset: Uint32Array, size: number) {
    this.#blobs = blobs;
    this.#blob = blob;
    this.#offset = offset;
    this.size = size;
    this.pdqWords = new Uint32Array(size * 8);
    this.hasPdq = new Uint8Array(size);
    this.quality = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      const buf = blobs[blob[i] as number] as Buffer;
      const at = offset[i] as number;
      this.hasPdq[i] = buf[at + AT.flags]! & 1;
      this.quality[i] = buf[at + AT.quality]!;
      for (let w = 0; w < 8; w++) this.pdqWords[i * 8 + w] = buf.readUInt32BE(at + AT.pdq + 4 * w);
    }
  }

  static parse(blobs: readonly Uint8Array[], notBefore = -Infinity): RetainedSet {
    const bufs = blobs.map((b) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
    let blob = new Uint32Array(1024);
    let offset = new Uint32Array(1024);
    let n = 0;
    bufs.forEach((buf, b) => {
      for (let at = 0; at + AT.strings <= buf.length;) {
        const length = buf.readUInt16BE(at + AT.length);
        // A record of another version or a torn tail is skipped whole: never misread as ids.
        if (buf[at] !== VERSION || length < AT.strings || at + length > buf.length) break;
        if (buf.readDoubleBE(at + AT.scannedAt) >= notBefore) {
          if (n === blob.length) {
            const grownBlob = new Uint32Array(n * 2);
            grownBlob.set(blob);
            blob = grownBlob;
            const grownOffset = new Uint32Array(n * 2);
            grownOffset.set(offset);
            offset = grownOffset;
          }
          blob[n] = b;
          offset[n] = at;
          n++;
        }
        at += length;
      }
    });
    return new RetainedSet(bufs, blob, offset, n);
  }

  /** The first 4 bytes of a record's digest, for a cheap first test. */
  digestPrefix(i: number, type: ExactHashType): number {
    return (this.#blobs[this.#blob[i] as number] as Buffer).readUInt32BE((this.#offset[i] as number) + AT[type]);
  }

  digest(i: number, type: ExactHashType): string {
    const at = (this.#offset[i] as number) + AT[type];
    return (this.#blobs[this.#blob[i] as number] as Buffer).toString('hex', at, at + DIGEST_BYTES[type]);
  }

  item(i: number): RetainedItem {
    const buf = this.#blobs[this.#blob[i] as number] as Buffer;
    const base = this.#offset[i] as number;
    const strings: string[] = [];
    let at = base + AT.strings;
    for (let f = 0; f < STRING_FIELDS.length; f++) {
      const len = buf[at]!;
      strings.push(buf.toString('latin1', at + 1, at + 1 + len));
      at += 1 + len;
    }
    const [eventId = '', messageId = '', conversationId = '', senderId = '', mediaId = '', sentAt = ''] = strings;
    const item: RetainedItem = {
      eventId,
      messageId,
      conversationId,
      senderId,
      mediaId,
      sentAt,
      priority: PRIORITIES[buf[base + AT.priority]!] ?? 'normal',
      scannedAt: buf.readDoubleBE(base + AT.scannedAt),
      md5: this.digest(i, 'md5'),
      sha1: this.digest(i, 'sha1'),
      sha256: this.digest(i, 'sha256'),
    };
    if (this.hasPdq[i]) item.pdq = { hash: buf.toString('hex', base + AT.pdq, base + AT.pdq + 32), quality: this.quality[i]! };
    return item;
  }
}

/** A bank's new entries, indexed for matching. */
export interface NewEntries {
  exact: Record<ExactHashType, Set<string>>;
  pdq: string[];
  size: number;
}

export function newEntriesOf(entries: Iterable<Pick<HashBankEntry, 'type' | 'value'>>): NewEntries {
  const out: NewEntries = { exact: { md5: new Set(), sha1: new Set(), sha256: new Set() }, pdq: [], size: 0 };
  const pdq = new Set<string>();
  for (const e of entries) {
    if (e.type === 'pdq') pdq.add(e.value.toLowerCase());
    else out.exact[e.type].add(e.value.toLowerCase());
  }
  out.pdq = [...pdq];
  out.size = out.pdq.length + EXACT_HASH_TYPES.reduce((n, t) => n + out.exact[t].size, 0);
  return out;
}

/**
 * How PDQ hashes are compared: `index-retained` builds a multi-index over the retained hashes and
 * searches each new entry (the default: 1,000 new entries against 1M retained is 1,000 queries of an
 * index built in one pass, BENCHMARKS.md `retro`); `index-new` indexes the new entries and probes
 * every retained hash; `scan` compares every pair (the baseline).
 */
export type RetroStrategy = 'index-retained' | 'index-new' | 'scan';

export interface RetroMatchOptions {
  /** Max Hamming distance: the policy's threshold for the bank (pdqThresholdFor). */
  radius: number;
  /** Retained PDQ hashes below this quality are not fuzzy-matched, as in the live scan. */
  minQuality: number;
  strategy?: RetroStrategy;
}

/** Retained records (indices into the set, ascending) that one of the new entries matches. */
export function retroCandidates(set: RetainedSet, entries: NewEntries, options: RetroMatchOptions): number[] {
  const hits = new Set<number>();
  for (const type of EXACT_HASH_TYPES) {
    const wanted = entries.exact[type];
    if (wanted.size === 0) continue;
    const prefixes = new Set<number>();
    for (const v of wanted) prefixes.add(Number.parseInt(v.slice(0, 8), 16) >>> 0);
    for (let i = 0; i < set.size; i++) if (prefixes.has(set.digestPrefix(i, type)) && wanted.has(set.digest(i, type))) hits.add(i);
  }
  if (entries.pdq.length > 0) for (const i of pdqCandidates(set, entries.pdq, options)) hits.add(i);
  return [...hits].sort((a, b) => a - b);
}

function pdqCandidates(set: RetainedSet, hashes: readonly string[], o: RetroMatchOptions): Iterable<number> {
  const usable: number[] = [];
  for (let i = 0; i < set.size; i++) if (set.hasPdq[i] && set.quality[i]! >= o.minQuality) usable.push(i);
  const strategy = o.strategy ?? 'index-retained';
  const out = new Set<number>();
  if (strategy === 'index-retained') {
    const words = new Uint32Array(usable.length * 8);
    usable.forEach((i, k) => words.set(set.pdqWords.subarray(i * 8, i * 8 + 8), k * 8));
    const index = PdqIndex.fromWords(words, undefined, { tuneRadius: o.radius });
    for (const matches of index.searchMany(hashes, o.radius)) for (const m of matches) out.add(usable[m.id as number]!);
    return out;
  }
  if (strategy === 'index-new') {
    const index = PdqIndex.build(
      hashes.map((hash, id) => ({ id, hash })),
      { tuneRadius: o.radius },
    );
    for (const i of usable) {
      const hex = wordsHex(set.pdqWords, i);
      if (index.search(hex, o.radius).length > 0) out.add(i);
    }
    return out;
  }
  const queries = new Uint32Array(hashes.length * 8);
  hashes.forEach((h, k) => {
    for (let w = 0; w < 8; w++) queries[k * 8 + w] = Number.parseInt(h.slice(w * 8, w * 8 + 8), 16) >>> 0;
  });
  const words = set.pdqWords;
  for (const i of usable) {
    const o8 = i * 8;
    for (let k = 0; k < hashes.length; k++) {
      let d = 0;
      for (let w = 0; w < 8 && d <= o.radius; w++) d += popcount32(words[o8 + w]! ^ queries[k * 8 + w]!);
      if (d <= o.radius) {
        out.add(i);
        break;
      }
    }
  }
  return out;
}

function wordsHex(words: Uint32Array, i: number): string {
  let s = '';
  for (let w = 0; w < 8; w++) s += words[i * 8 + w]!.toString(16).padStart(8, '0');
  return s;
}

/** The hashes of a retained record, as the live match takes them (no dihedral variants are retained). */
export function retainedHashes(item: RetainedItem): MediaHashes {
  return { md5: item.md5, sha1: item.sha1, sha256: item.sha256, ...(item.pdq ? { pdq: { hash: item.pdq.hash, quality: item.pdq.quality } } : {}) };
}

/**
 * Flags for one past event from the signals its retained media items now match, decided by the live
 * policy on a report of those signals alone (the event's text and other evidence are gone). The flags
 * are marked `retroactive` and keep their ordinary flagId (eventId + category), so a flag already
 * emitted for the event is not emitted twice.
 */
export function retroFlags(
  event: RetainedEvent,
  signals: Signal[],
  bankVersions: Record<string, string>,
  policy: Policy,
  counters?: DecisionCounters,
): RetroDecision {
  const report: ScanReport = {
    eventId: event.eventId,
    signals,
    mediaErrors: [],
    bankVersions,
    modelVersions: {},
    // Only what was retained: the conversation and the priority (the event's own context is not kept).
    context: { conversationId: event.conversationId, priority: event.priority },
  };
  const verdict = decide(report, policy, counters);
  const flags = buildFlags(event, report, verdict, policy).map((f) => ({ ...f, retroactive: true as const }));
  // The event as the brakes' bookkeeping sees it: its ids, nothing else (no text, no media, no recipients).
  const asEvent: MessageEvent = { schema: 'vigil.message.v1', ...pickIds(event), recipientIds: [], media: [] };
  return { event: asEvent, report, verdict, flags, policy, shadow: [] };
}

/** A retro decision in the shape of a pipeline result, so the decision hooks (brakes counting) see it like any other. */
export type RetroDecision = PipelineResult;

function pickIds(e: RetainedEvent): RetainedEvent {
  return { eventId: e.eventId, messageId: e.messageId, conversationId: e.conversationId, senderId: e.senderId, sentAt: e.sentAt, priority: e.priority };
}
