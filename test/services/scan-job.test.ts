/** The transport-free scan job handler: outcomes, the worker-owned retry budget, dead letters. */
import { describe, expect, it } from 'vitest';
import { MemHashBankSet } from '../../src/core/banks/hash-bank-set.js';
import { VigilError } from '../../src/core/errors.js';
import { compilePolicy } from '../../src/core/policy.js';
import type { Scanner } from '../../src/core/scan.js';
import { standardSources } from '../../src/core/sources.js';
import { createMetrics } from '../../src/adapters/metrics.js';
import { createLogger } from '../../src/logger.js';
import { createScanJobHandler, type ScanJobHandlerOptions } from '../../src/services/scan-job.js';
import { MemDeadLetterSink, MemFlagSink, MemDecoder, MemPdqHasher, MemTextScanner } from '../helpers/mem-ports.js';

const policy = compilePolicy({ version: 1, rules: [{ id: 'text', match: { types: ['term'] }, action: 'review' }] });
const scanner: Scanner = {
  sources: () =>
    standardSources({
      hashBanks: new MemHashBankSet([]),
      textScanner: new MemTextScanner([{ id: 'vt', phrase: 'velvet teapot', category: 'grooming', severity: 'high' }]),
      pdqHasher: new MemPdqHasher(),
    }),
  // Any accepted raster signature "decodes"... and fails, as a broken image would.
  decoder: new MemDecoder(new VigilError('MEDIA_UNDECODABLE', 'test image is broken')),
  maxMediaBytes: 1024,
};
const event = (extra: Record<string, unknown> = {}) =>
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
const origin = { kind: 'bullmq' as const, queue: 'scan', jobId: 'evt-1' };

function handler(overrides: Partial<ScanJobHandlerOptions> = {}) {
  const flags = new MemFlagSink();
  const deadLetters = new MemDeadLetterSink();
  const metrics = createMetrics();
  const handle = createScanJobHandler({
    scanner,
    policy: () => policy,
    limits: { maxTextBytes: 1024, maxMediaItems: 4, maxMediaBytes: 1024 },
    flags,
    deadLetters,
    logger: createLogger('silent'),
    metrics,
    retry: { maxAttempts: 3, backoffMs: 100 },
    ...overrides,
  });
  const outcomes = async () => Object.fromEntries((await metrics.eventsScanned.get()).values.map((v) => [String(v.labels.outcome), v.value]));
  return { handle, flags, deadLetters, outcomes };
}

describe('scan job handler', () => {
  it('flagged, clean, and incomplete (a media item dead-lettered, nothing flagged) are told apart', async () => {
    const h = handler();
    expect(await h.handle({ payload: event({ text: 'a velvet teapot' }), origin, attempt: 1 })).toMatchObject({
      status: 'scanned',
      outcome: 'flagged',
      flagIds: [expect.any(String)],
    });
    expect(await h.handle({ payload: event({ eventId: 'evt-2', text: 'hello' }), origin, attempt: 1 })).toMatchObject({
      status: 'scanned',
      outcome: 'clean',
      flagIds: [],
    });
    // A PNG signature, so the content is taken for an image, then a body that does not decode.
    const bad = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('BAD image')]).toString('base64');
    const r = await h.handle({ payload: event({ eventId: 'evt-3', media: [{ id: 'm1', mimeType: 'image/png', bytes: bad }] }), origin, attempt: 1 });
    expect(r).toMatchObject({ status: 'scanned', outcome: 'incomplete', mediaErrors: 1 });
    expect(h.deadLetters.entries.map((e) => [e.eventId, e.code, e.mediaId, e.part, e.reason])).toEqual([
      ['evt-3', 'MEDIA_UNDECODABLE', 'm1', 'media', 'undecodable'],
    ]);
    expect(await h.outcomes()).toEqual({ flagged: 1, clean: 1, incomplete: 1 });
  });

  it("a retriable failure is retried by the worker's own budget with doubling delays, then dead-lettered as RETRIES_EXHAUSTED", async () => {
    const failing = { emit: () => Promise.reject(new VigilError('QUEUE_UNAVAILABLE', 'moderation queue down')) };
    const h = handler({ flags: failing, retry: { maxAttempts: 3, backoffMs: 100 } });
    const payload = event({ text: 'a velvet teapot' });
    expect(await h.handle({ payload, origin, attempt: 1 })).toEqual({ status: 'retry', code: 'QUEUE_UNAVAILABLE', delayMs: 100 });
    expect(await h.handle({ payload, origin, attempt: 2 })).toEqual({ status: 'retry', code: 'QUEUE_UNAVAILABLE', delayMs: 200 });
    expect(await h.handle({ payload, origin, attempt: 3 })).toEqual({ status: 'dead_lettered', code: 'RETRIES_EXHAUSTED', eventId: 'evt-1', retained: true });
    expect(h.deadLetters.entries).toEqual([
      expect.objectContaining({
        code: 'RETRIES_EXHAUSTED',
        message: 'gave up after 3 attempt(s): QUEUE_UNAVAILABLE: moderation queue down',
        eventId: 'evt-1',
        origin,
      }),
    ]);
    expect(await h.outcomes()).toEqual({ retried: 2, dead_lettered: 1 });
  });

  it('a non-retriable failure is dead-lettered at once with its own code', async () => {
    const h = handler();
    expect(await h.handle({ payload: 'not json', origin, attempt: 1 })).toEqual({ status: 'dead_lettered', code: 'EVENT_NOT_JSON', retained: false });
    expect(h.deadLetters.entries.map((e) => e.code)).toEqual(['EVENT_NOT_JSON']);
  });

  it('when the dead letter cannot be written, the handler throws so the transport retries (nothing is lost)', async () => {
    const h = handler({ deadLetters: { deadLetter: () => Promise.reject(new VigilError('QUEUE_UNAVAILABLE', 'dlq down')) } });
    await expect(h.handle({ payload: 'not json', origin, attempt: 1 })).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE' });
  });
});
