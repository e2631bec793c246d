/**
 * The scan: one message event in, a ScanReport out. Same code for the queue worker and the offline CLI.
 * Nothing here logs or stores content; bytes live only in this call's memory.
 *
 * Each media item is fetched, sniffed (its declared type is a hint, never a gate), decoded once if it
 * is an accepted raster and some source reads pixels, and handed to every media source; the text is
 * handed to every text source. A part that fails is recorded for that part (outcome, reason, code)
 * and the rest of the event is still scanned: a long text never hides an image, an undecodable image
 * still has its exact hashes matched, a crashing classifier never hides a hash match.
 */
import type { MediaItem, MessageEvent } from './contracts.js';
import { VigilError, isVigilError, toVigilError, type ErrorCode } from './errors.js';
import type { Policy, ScanReport } from './policy.js';
import type { MediaDecoder, MediaHashes, MediaStore, RasterLease } from './ports.js';
import { declaredClass, isRasterFormat, isVideoFormat, mimeMismatch, sniffMediaFormat, type DeclaredClass, type SniffedFormat } from './sniff.js';
import type { MediaSource, MediaSourceInput, SourceContext, SourceOutput, SourceSet, TextSource } from './sources.js';
import type { MediaOutcome, PartOutcome, Signal, TextOutcome, UnscannedReason } from './signals.js';

/** Told what happened, for metrics and logs (ids, codes and bounded names only: never content). */
export interface ScanObserver {
  /** Each source run, with its time; `code` when it failed or stopped short. */
  source?(run: { sourceId: string; kind: 'media' | 'text'; stage: 'hash' | 'match' | 'classify'; seconds: number; code?: string }): void;
  /** Each media item of a completed scan. */
  media?(item: MediaOutcome & { eventId: string; declaredClass: DeclaredClass }): void;
  /** The text of a completed scan (when the event has text). */
  text?(text: TextOutcome & { eventId: string }): void;
}

export interface Scanner {
  /** The sources for one scan; a hot reload swaps what this returns, a scan in flight keeps its own set. */
  sources(): SourceSet;
  /** Decodes rasters (under the process's decode budget). Without one, media sources get no raster. */
  decoder?: MediaDecoder;
  mediaStore?: MediaStore;
  maxMediaBytes: number;
  observer?: ScanObserver;
}

export interface ScanOptions {
  /**
   * The event's last attempt. Before it, a retriable failure of any part (decode budget full, decode
   * timeout under load, media store down) rejects the whole scan so the event is retried with backoff
   * and nothing is lost to congestion; on it, the failure is recorded for that part and every other
   * part is still flagged. Default true (the offline scan has no retries).
   */
  finalAttempt?: boolean;
}

async function mediaBytes(item: MediaItem, scanner: Scanner): Promise<Uint8Array> {
  if (item.bytes !== undefined) return Buffer.from(item.bytes, 'base64');
  if (!scanner.mediaStore) throw new VigilError('MEDIA_REF_UNRESOLVED', `media ${item.id} is a ref but no media store is configured (set VIGIL_MEDIA_DIR)`);
  return scanner.mediaStore.fetch(item.ref ?? '', scanner.maxMediaBytes);
}

/** Versions change only when a source set is swapped, so merge them once per set, not per event. */
const mergedVersions = new WeakMap<SourceSet, { banks: Readonly<Record<string, string>>; models: Readonly<Record<string, string>> }>();

export function versionsOf(set: SourceSet): { banks: Readonly<Record<string, string>>; models: Readonly<Record<string, string>> } {
  let merged = mergedVersions.get(set);
  if (!merged) {
    const banks: Record<string, string> = {};
    const models: Record<string, string> = {};
    for (const source of [...set.media, ...set.text]) {
      const v = source.versions();
      Object.assign(banks, v.banks);
      Object.assign(models, v.models);
    }
    merged = { banks: Object.freeze(banks), models: Object.freeze(models) };
    mergedVersions.set(set, merged);
  }
  return merged;
}

export function reasonFor(code: string, format?: SniffedFormat): UnscannedReason {
  switch (code) {
    case 'MEDIA_TOO_LARGE':
    case 'TEXT_TOO_LARGE':
      return 'too_large';
    case 'MEDIA_UNDECODABLE':
      return 'undecodable';
    case 'MEDIA_UNSUPPORTED':
      if (format && isVideoFormat(format)) return 'video';
      return format === undefined || format === 'unknown' ? 'unknown_format' : 'unsupported_format';
    case 'MEDIA_TIMEOUT':
      return 'timeout';
    case 'MEDIA_BUSY':
      return 'busy';
    case 'MEDIA_REF_UNRESOLVED':
      return 'unresolved_ref';
    case 'MEDIA_STORE_UNAVAILABLE':
      return 'store_unavailable';
    default:
      return 'source_failed';
  }
}

interface Failure {
  error: VigilError;
  reason: UnscannedReason;
  sourceId?: string;
}

interface SourceResult {
  signals: readonly Signal[];
  failure?: VigilError;
  /** The source did some of its work (it returned, possibly `incomplete`), rather than throwing. */
  ran: boolean;
}

/** Runs one source with its own error isolation and timing. */
async function runSource(
  source: MediaSource | TextSource,
  run: () => SourceOutput | Promise<SourceOutput>,
  observer: ScanObserver | undefined,
): Promise<SourceResult> {
  const started = performance.now();
  let result: SourceResult;
  try {
    const out = await run();
    result = Array.isArray(out)
      ? { signals: out, ran: true }
      : { signals: (out as { signals: readonly Signal[] }).signals, failure: (out as { incomplete: VigilError }).incomplete, ran: true };
  } catch (err) {
    // A VigilError is the source's own typed verdict on the input; anything else is a fault in the
    // source, isolated to this part and not retried (retrying a buggy classifier would only delay
    // every other part's flags).
    result = {
      signals: [],
      failure: isVigilError(err)
        ? err
        : new VigilError('INTERNAL', `signal source ${source.id} failed: ${toVigilError(err).message}`, { cause: err, retriable: false }),
      ran: false,
    };
  }
  observer?.source?.({
    sourceId: source.id,
    kind: source.kind,
    stage: source.stage ?? (source.kind === 'text' ? 'match' : 'hash'),
    seconds: (performance.now() - started) / 1000,
    ...(result.failure ? { code: result.failure.code } : {}),
  });
  return result;
}

function notARaster(item: MediaItem, format: SniffedFormat): VigilError {
  if (isVideoFormat(format))
    return new VigilError('MEDIA_UNSUPPORTED', `media ${item.id} is a ${format} video: frames are not decoded, only exact hashes were matched`);
  if (format === 'unknown') return new VigilError('MEDIA_UNSUPPORTED', `media ${item.id} has no known file signature: only exact hashes were matched`);
  return new VigilError('MEDIA_UNSUPPORTED', `media ${item.id} is ${format}, not an accepted raster format: only exact hashes were matched`);
}

function outcomeOf(failures: readonly Failure[], completed: number): PartOutcome {
  if (failures.length === 0) return 'scanned';
  return completed > 0 ? 'partial' : 'unscanned';
}

export async function scanEvent(event: MessageEvent, scanner: Scanner, policy: Policy, options: ScanOptions = {}): Promise<ScanReport> {
  const finalAttempt = options.finalAttempt ?? true;
  const set = scanner.sources();
  const observer = scanner.observer;
  const signals: Signal[] = [];
  const hashes: Record<string, MediaHashes> = {};
  const context: SourceContext = { event, policy, signals, hashed: (mediaId, h) => void (hashes[mediaId] = h) };
  const mediaErrors: ScanReport['mediaErrors'] = [];
  const media: MediaOutcome[] = [];
  /** Before the last attempt a transient failure retries the event; on it, it is recorded. */
  const keep = (err: VigilError): VigilError => {
    if (err.retriable && !finalAttempt) throw err;
    return err;
  };
  const wantsRaster = set.media.some((s) => s.raster !== 'none');

  for (const item of event.media) {
    let bytes: Uint8Array;
    try {
      bytes = await mediaBytes(item, scanner);
    } catch (err) {
      const e = keep(toVigilError(err));
      const reason = reasonFor(e.code);
      media.push({ mediaId: item.id, declaredType: item.mimeType, mimeMismatch: false, outcome: 'unscanned', reason, code: e.code });
      mediaErrors.push({ mediaId: item.id, code: e.code, message: e.message, reason });
      continue;
    }
    const format = sniffMediaFormat(bytes);
    const input: MediaSourceInput = { item, bytes, sniffed: { format, mimeMismatch: mimeMismatch(item.mimeType, format) } };
    const failures: Failure[] = [];
    let lease: RasterLease | undefined;
    if (wantsRaster) {
      if (!isRasterFormat(format)) failures.push({ error: notARaster(item, format), reason: reasonFor('MEDIA_UNSUPPORTED', format) });
      else if (!scanner.decoder)
        failures.push({ error: new VigilError('MEDIA_UNSUPPORTED', `media ${item.id}: no image decoder is configured`), reason: 'no_decoder' });
      else {
        try {
          lease = await scanner.decoder.decode(bytes);
          input.raster = lease.image;
        } catch (err) {
          const e = keep(toVigilError(err));
          failures.push({ error: e, reason: reasonFor(e.code, format) });
        }
      }
    }
    let completed = 0;
    try {
      for (const source of set.media) {
        if (input.raster && input.raster.data.byteLength !== input.raster.width * input.raster.height * input.raster.channels) {
          // A source lent the pixels to a thread that failed: later sources must not read a detached buffer.
          delete input.raster;
          failures.push({
            error: new VigilError('INTERNAL', `media ${item.id}: the decoded raster was lost by a failed source`, { retriable: false }),
            reason: 'source_failed',
          });
        }
        if (source.raster === 'required' && !input.raster) continue;
        const result = await runSource(source, () => source.scan(input, context), observer);
        for (const s of result.signals) signals.push(s.mediaId === item.id ? s : { ...s, mediaId: item.id });
        if (result.failure) failures.push({ error: keep(result.failure), reason: reasonFor(sourceCode(result.failure), format), sourceId: source.id });
        if (result.ran) completed++;
      }
    } finally {
      lease?.release();
    }
    const first = failures[0];
    const outcome: MediaOutcome = {
      mediaId: item.id,
      declaredType: item.mimeType,
      sniffedFormat: format,
      mimeMismatch: input.sniffed.mimeMismatch,
      outcome: outcomeOf(failures, completed),
    };
    if (first) {
      outcome.reason = first.reason;
      outcome.code = first.error.code;
    }
    media.push(outcome);
    for (const f of failures)
      mediaErrors.push({ mediaId: item.id, code: f.error.code, message: f.error.message, reason: f.reason, ...(f.sourceId ? { sourceId: f.sourceId } : {}) });
  }

  let text: TextOutcome | undefined;
  const textErrors: NonNullable<ScanReport['textErrors']> = [];
  if (event.text !== undefined && event.text.length > 0) {
    const failures: Failure[] = [];
    let completed = 0;
    for (const source of set.text) {
      const result = await runSource(source, () => source.scan(event.text ?? '', context), observer);
      signals.push(...result.signals);
      if (result.failure) failures.push({ error: keep(result.failure), reason: reasonFor(sourceCode(result.failure)), sourceId: source.id });
      if (result.ran) completed++;
    }
    text = { outcome: outcomeOf(failures, completed) };
    const first = failures[0];
    if (first) {
      text.reason = first.reason;
      text.code = first.error.code;
    }
    for (const f of failures)
      textErrors.push({ code: f.error.code, message: f.error.message, reason: f.reason, ...(f.sourceId ? { sourceId: f.sourceId } : {}) });
  }

  if (observer) {
    for (const m of media) observer.media?.({ ...m, eventId: event.eventId, declaredClass: declaredClass(m.declaredType) });
    if (text) observer.text?.({ ...text, eventId: event.eventId });
  }
  const versions = versionsOf(set);
  const report: ScanReport = {
    eventId: event.eventId,
    signals,
    mediaErrors,
    textErrors,
    media,
    bankVersions: versions.banks as Record<string, string>,
    modelVersions: versions.models as Record<string, string>,
  };
  if (text) report.text = text;
  if (Object.keys(hashes).length > 0) report.hashes = hashes;
  return report;
}

/** A source's own typed failure keeps its code's reason; an unexpected fault is `source_failed`. */
function sourceCode(err: VigilError): ErrorCode | 'SOURCE_FAILED' {
  return err.code === 'INTERNAL' ? 'SOURCE_FAILED' : err.code;
}
