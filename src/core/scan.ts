/**
 * The scan: one message event in, a ScanReport out. Same code for the queue worker and the offline CLI.
 * Nothing here logs or stores content; bytes live only in this call's memory.
 */
import type { MediaItem, MessageEvent } from './contracts.js';
import { VigilError, toVigilError } from './errors.js';
import { exactHashes } from './exact-hashes.js';
import { pdqThresholdFor, type Policy, type ScanReport } from './policy.js';
import type { HashBankSet, HashMatchOptions, MediaHasher, MediaHashes, MediaStore, TextScanner } from './ports.js';
import type { Signal } from './signals.js';

export interface Scanner {
  /** Current bank snapshot; a hot reload swaps what this returns, a scan in flight keeps its own. */
  hashBanks(): HashBankSet;
  textScanner(): TextScanner;
  mediaHasher: MediaHasher;
  mediaStore?: MediaStore;
  maxMediaBytes: number;
  modelVersions?: () => Record<string, string>;
}

async function mediaBytes(item: MediaItem, scanner: Scanner): Promise<Uint8Array> {
  if (item.bytes !== undefined) return Buffer.from(item.bytes, 'base64');
  if (!scanner.mediaStore) throw new VigilError('MEDIA_REF_UNRESOLVED', `media ${item.id} is a ref but no media store is configured (set VIGIL_MEDIA_DIR)`);
  return scanner.mediaStore.fetch(item.ref ?? '', scanner.maxMediaBytes);
}

/** Versions change only when a snapshot is swapped, so merge them once per snapshot, not per event. */
const mergedVersions = new WeakMap<HashBankSet, WeakMap<TextScanner, Readonly<Record<string, string>>>>();

function bankVersionsOf(banks: HashBankSet, text: TextScanner): Record<string, string> {
  let byText = mergedVersions.get(banks);
  if (!byText) mergedVersions.set(banks, (byText = new WeakMap()));
  let merged = byText.get(text);
  if (!merged) byText.set(text, (merged = Object.freeze({ ...banks.versions(), ...text.versions() })));
  return merged as Record<string, string>;
}

export async function scanEvent(event: MessageEvent, scanner: Scanner, policy: Policy): Promise<ScanReport> {
  const banks = scanner.hashBanks();
  const text = scanner.textScanner();
  const pdq = policy.document.thresholds.pdq;
  const matchOptions: HashMatchOptions = {
    pdqThreshold: (bankId) => pdqThresholdFor(policy, bankId),
    pdqMinQuality: pdq.minQuality,
    dihedral: pdq.dihedral,
  };
  const signals: Signal[] = [];
  const mediaErrors: ScanReport['mediaErrors'] = [];

  for (const item of event.media) {
    let hashes: MediaHashes;
    try {
      const bytes = await mediaBytes(item, scanner);
      if (item.mimeType.toLowerCase().startsWith('image/')) {
        try {
          hashes = await scanner.mediaHasher.hash(bytes, item.mimeType, { dihedral: pdq.dihedral });
        } catch (err) {
          const e = toVigilError(err);
          if (e.retriable) throw e;
          // A hostile or broken image still has exact hashes; match those and record the failure.
          hashes = exactHashes(bytes);
          mediaErrors.push({ mediaId: item.id, code: e.code, message: e.message });
        }
      } else {
        hashes = exactHashes(bytes);
      }
    } catch (err) {
      const e = toVigilError(err);
      if (e.retriable) throw e;
      mediaErrors.push({ mediaId: item.id, code: e.code, message: e.message });
      continue;
    }
    for (const m of banks.match(hashes, matchOptions)) {
      const signal: Signal = { type: m.type, sourceId: m.bankId, sourceVersion: m.bankVersion, entryId: m.entryId, distance: m.distance, mediaId: item.id };
      if (m.threshold !== undefined) signal.threshold = m.threshold;
      if (m.type === 'pdq' && hashes.pdq) signal.quality = hashes.pdq.quality;
      if (m.variant !== undefined) signal.variant = m.variant;
      signals.push(signal);
    }
  }

  if (event.text !== undefined && event.text.length > 0) {
    for (const m of text.scan(event.text)) {
      signals.push({
        type: m.mode === 'pattern' ? 'pattern' : 'term',
        sourceId: m.bankId,
        sourceVersion: m.bankVersion,
        entryId: m.termId,
        category: m.category,
        severity: m.severity,
        span: { start: m.start, end: m.end },
        ...(m.mode === 'pattern' ? {} : { termMode: m.mode }),
      });
    }
  }

  return {
    eventId: event.eventId,
    signals,
    mediaErrors,
    bankVersions: bankVersionsOf(banks, text),
    modelVersions: scanner.modelVersions?.() ?? {},
  };
}
