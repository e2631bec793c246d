/** The scan as signal sources: one decode per item shared by every source, per-part isolation, retries, versions. */
import { describe, expect, it } from 'vitest';
import { MemHashBankSet } from '../../src/core/banks/hash-bank-set.js';
import { VigilError } from '../../src/core/errors.js';
import { exactHashes } from '../../src/core/exact-hashes.js';
import { processPayload } from '../../src/core/pipeline.js';
import { compilePolicy } from '../../src/core/policy.js';
import type { ScanObserver, Scanner } from '../../src/core/scan.js';
import { standardSources, type MediaSource, type MediaSourceInput, type TextSource } from '../../src/core/sources.js';
import { MemDecoder, MemPdqHasher, MemTextScanner } from '../helpers/mem-ports.js';

const policy = compilePolicy({
  version: 1,
  rules: [
    { id: 'hash', match: { types: ['md5', 'sha1', 'sha256', 'pdq'] }, category: 'known_media', severity: 'critical', action: 'remove_and_report' },
    { id: 'model', match: { types: ['classifier'] }, category: 'explicit', severity: 'medium', action: 'review' },
    { id: 'text', match: { types: ['term'] }, action: 'review' },
  ],
});
const limits = { maxTextBytes: 4096, maxMediaItems: 4, maxMediaBytes: 4096 };

/** Benign bytes with a PNG signature: the MemDecoder "decodes" them. */
const png = (tag: string) => Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.from(`benign fixture ${tag}`)]);
const bankedPng = png('banked');
const banks = new MemHashBankSet([
  { id: 'known', version: 'k1', kind: 'block', enabled: true, entries: [{ type: 'md5', value: exactHashes(bankedPng).md5, id: 'bad-1' }] },
]);
const terms = new MemTextScanner([{ id: 'vt', phrase: 'velvet teapot', category: 'grooming', severity: 'high' }]);

const event = (extra: Record<string, unknown>) =>
  JSON.stringify({
    schema: 'vigil.message.v1',
    eventId: 'evt-1',
    messageId: 'm-1',
    conversationId: 'c-1',
    senderId: 's-1',
    recipientIds: ['r-1'],
    sentAt: '2026-01-01T00:00:00Z',
    ...extra,
  });
const item = (id: string, bytes: Buffer, mimeType = 'image/png') => ({ id, mimeType, bytes: bytes.toString('base64') });

/** A stand-in image classifier: scores every raster it is given, records what it saw. */
function fakeClassifier(seen: MediaSourceInput[], behaviour: 'ok' | 'throw' | 'typed' = 'ok'): MediaSource {
  return {
    id: 'fake-classifier',
    kind: 'media',
    raster: 'required',
    versions: () => ({ models: { 'fake-model': 'm7' } }),
    scan(input) {
      seen.push(input);
      if (behaviour === 'throw') throw new TypeError('model blew up');
      if (behaviour === 'typed') throw new VigilError('MEDIA_TIMEOUT', 'inference ran out of time');
      return [{ type: 'classifier', sourceId: 'fake-model', sourceVersion: 'm7', entryId: 'porn', score: 0.97, threshold: 0.9 }];
    },
  };
}

function scanner(parts: { media?: MediaSource[]; text?: TextSource[]; decoder?: MemDecoder; observer?: ScanObserver } = {}): Scanner {
  return {
    sources: () =>
      standardSources({
        hashBanks: banks,
        textScanner: terms,
        pdqHasher: new MemPdqHasher(),
        ...(parts.media ? { media: parts.media } : {}),
        ...(parts.text ? { text: parts.text } : {}),
      }),
    decoder: parts.decoder ?? new MemDecoder(),
    maxMediaBytes: 4096,
    ...(parts.observer ? { observer: parts.observer } : {}),
  };
}

describe('signal sources', () => {
  it('each media item is decoded once, and every raster source reads that same raster; the budget lease is released', async () => {
    const seen: MediaSourceInput[] = [];
    const decoder = new MemDecoder();
    const { flags, report } = await processPayload(
      event({ media: [item('a', bankedPng), item('b', png('other'))] }),
      scanner({ media: [fakeClassifier(seen)], decoder }),
      policy,
      limits,
    );
    expect(decoder.decodes).toBe(2);
    expect(decoder.released).toBe(2);
    expect(seen.map((s) => [s.item.id, s.sniffed, s.raster?.width])).toEqual([
      ['a', { format: 'png', mimeMismatch: false }, 4],
      ['b', { format: 'png', mimeMismatch: false }, 4],
    ]);
    expect(flags.map((f) => f.category)).toEqual(['explicit', 'known_media']);
    const explicit = flags.find((f) => f.category === 'explicit');
    // The scan stamps the media id on a source's signal, and the model's version on the flag.
    expect(explicit?.signals.map((s) => s.mediaId)).toEqual(['a', 'b']);
    expect(explicit?.modelVersions).toEqual({ 'fake-model': 'm7' });
    expect(explicit?.bankVersions).toEqual({ known: 'k1', 'mem-terms': 'v1' });
    expect(report.media?.every((m) => m.outcome === 'scanned')).toBe(true);
  });

  it('a source that throws loses only its own signals, for that part: the banked image and the phrase are still flagged', async () => {
    const seen: MediaSourceInput[] = [];
    const brokenText: TextSource = {
      id: 'broken-text',
      kind: 'text',
      versions: () => ({}),
      scan: () => {
        throw new RangeError('bad');
      },
    };
    const { flags, report } = await processPayload(
      event({ text: 'bring the velvet teapot', media: [item('a', bankedPng)] }),
      scanner({ media: [fakeClassifier(seen, 'throw')], text: [brokenText] }),
      policy,
      limits,
    );
    expect(flags.map((f) => f.category)).toEqual(['grooming', 'known_media']);
    expect(report.media).toEqual([
      { mediaId: 'a', declaredType: 'image/png', sniffedFormat: 'png', mimeMismatch: false, outcome: 'partial', reason: 'source_failed', code: 'INTERNAL' },
    ]);
    expect(report.mediaErrors).toEqual([expect.objectContaining({ mediaId: 'a', code: 'INTERNAL', reason: 'source_failed', sourceId: 'fake-classifier' })]);
    expect(report.text).toEqual({ outcome: 'partial', reason: 'source_failed', code: 'INTERNAL' });
    expect(report.textErrors).toEqual([expect.objectContaining({ code: 'INTERNAL', reason: 'source_failed', sourceId: 'broken-text' })]);
    expect(flags[0]?.textOutcome).toEqual({ outcome: 'partial', reason: 'source_failed', code: 'INTERNAL' });
    // The error message names the source, never the content.
    expect(JSON.stringify(report)).not.toContain('velvet');
  });

  it('a text the text source refuses (TEXT_TOO_LARGE) is recorded for the text; the image is still flagged', async () => {
    const tooLong: TextSource = {
      id: 'terms-small',
      kind: 'text',
      versions: () => ({}),
      scan: () => {
        throw new VigilError('TEXT_TOO_LARGE', 'text is 5000 units, limit 10');
      },
    };
    const { flags, report } = await processPayload(
      event({ text: 'x'.repeat(100), media: [item('a', bankedPng)] }),
      scanner({ text: [tooLong] }),
      policy,
      limits,
    );
    expect(flags.map((f) => f.category)).toEqual(['known_media']);
    expect(report.textErrors).toEqual([{ code: 'TEXT_TOO_LARGE', message: 'text is 5000 units, limit 10', reason: 'too_large', sourceId: 'terms-small' }]);
  });

  it('a transient failure retries the event before its last attempt, and on the last attempt is recorded for that part only', async () => {
    const busy = new MemDecoder(new VigilError('MEDIA_BUSY', 'no decode budget within 10 ms'));
    const payload = event({ text: 'velvet teapot', media: [item('a', bankedPng)] });
    await expect(processPayload(payload, scanner({ decoder: busy }), policy, limits, { finalAttempt: false })).rejects.toMatchObject({
      code: 'MEDIA_BUSY',
      retriable: true,
    });
    const last = await processPayload(payload, scanner({ decoder: busy }), policy, limits, { finalAttempt: true });
    expect(last.flags.map((f) => f.category)).toEqual(['grooming', 'known_media']);
    expect(last.report.media?.[0]).toMatchObject({ outcome: 'partial', reason: 'busy', code: 'MEDIA_BUSY' });
    // A typed retriable failure from a source behaves the same way.
    const seen: MediaSourceInput[] = [];
    await expect(processPayload(payload, scanner({ media: [fakeClassifier(seen, 'typed')] }), policy, limits, { finalAttempt: false })).rejects.toMatchObject({
      code: 'MEDIA_TIMEOUT',
    });
    const recorded = await processPayload(payload, scanner({ media: [fakeClassifier(seen, 'typed')] }), policy, limits);
    expect(recorded.report.media?.[0]).toMatchObject({ outcome: 'partial', reason: 'timeout', code: 'MEDIA_TIMEOUT' });
  });

  it('sources that need a raster are skipped for media that is not one, and the item says why; bytes sources still run', async () => {
    const seen: MediaSourceInput[] = [];
    const decoder = new MemDecoder();
    const gif = Buffer.from('GIF89a benign');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>');
    const { report } = await processPayload(
      event({ media: [item('s', svg, 'image/svg+xml'), item('g', gif, 'application/octet-stream')] }),
      scanner({ media: [fakeClassifier(seen)], decoder }),
      policy,
      limits,
    );
    expect(decoder.decodes).toBe(1);
    expect(seen.map((s) => s.item.id)).toEqual(['g']);
    expect(report.media).toEqual([
      {
        mediaId: 's',
        declaredType: 'image/svg+xml',
        sniffedFormat: 'svg',
        mimeMismatch: false,
        outcome: 'partial',
        reason: 'unsupported_format',
        code: 'MEDIA_UNSUPPORTED',
      },
      { mediaId: 'g', declaredType: 'application/octet-stream', sniffedFormat: 'gif', mimeMismatch: true, outcome: 'scanned' },
    ]);
  });

  it('every source run is timed and reported to the observer with ids and codes only', async () => {
    const runs: { sourceId: string; kind: string; code?: string }[] = [];
    const media: { mediaId: string; outcome: string; declaredClass: string }[] = [];
    const observer: ScanObserver = {
      source: (r) => runs.push({ sourceId: r.sourceId, kind: r.kind, ...(r.code ? { code: r.code } : {}) }),
      media: (m) => media.push({ mediaId: m.mediaId, outcome: m.outcome, declaredClass: m.declaredClass }),
    };
    await processPayload(
      event({ text: 'hello', media: [item('a', bankedPng, 'video/mp4')] }),
      scanner({ media: [fakeClassifier([], 'throw')], observer }),
      policy,
      limits,
    );
    expect(runs).toEqual([
      { sourceId: 'hashes', kind: 'media' },
      { sourceId: 'fake-classifier', kind: 'media', code: 'INTERNAL' },
      { sourceId: 'terms', kind: 'text' },
    ]);
    expect(media).toEqual([{ mediaId: 'a', outcome: 'partial', declaredClass: 'video' }]);
  });
});
