/**
 * No silent misses, through the real queue path (publisher → scan queue → worker → moderation /
 * dead-letter queues on the real Redis): the bytes decide what is decoded, not the declared type; what
 * Vigil cannot scan is counted, dead-lettered and carried on the flag; one failing part never hides
 * another. Each test has its own key prefix.
 */
import { Queue } from 'bullmq';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { contractLimits, type Config } from '../../src/config.js';
import type { Flag } from '../../src/core/contracts.js';
import type { DeadLetter } from '../../src/core/ports.js';
import { createLogger } from '../../src/logger.js';
import { createPublisher, type Publisher } from '../../src/publisher.js';
import { startScanService, type ScanService } from '../../src/services/scan-service.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const teapot = readFileSync('config/samples/media/teapot-still-life.png');

interface Harness {
  config: Config;
  publisher: Publisher;
  service: ScanService;
  flags(): Promise<Flag[]>;
  deadLetters(): Promise<DeadLetter[]>;
  drained(): Promise<boolean>;
  metrics(): Promise<string>;
}

async function harness(label: string, overrides: Partial<Record<keyof Config, unknown>> = {}): Promise<Harness> {
  const prefix = uniquePrefix(label);
  const banksDir = mkdtempSync(join(tmpdir(), 'vigil-banks-'));
  cpSync('config/samples/banks', banksDir, { recursive: true });
  const config = testConfig(prefix, { banksDir, ...overrides });
  const publisher = createPublisher({ connection: REDIS_URL, prefix, dedupeTtlMs: config.dedupeTtlMs, limits: contractLimits(config) });
  const q = (name: string) => new Queue(name, { connection: { url: REDIS_URL }, prefix });
  const scan = q(config.scanQueue);
  const moderation = q(config.moderationQueue);
  const dead = q(config.deadLetterQueue);
  const service = await startScanService(config, createLogger('silent'));
  cleanups.push(async () => {
    await service.stop();
    await publisher.close();
    await Promise.all([scan.close(), moderation.close(), dead.close()]);
    await deletePrefix(prefix);
  });
  return {
    config,
    publisher,
    service,
    flags: async () => (await moderation.getJobs(['prioritized', 'waiting'])).map((j) => j.data as Flag),
    deadLetters: async () => (await dead.getJobs(['waiting'])).map((j) => j.data as DeadLetter),
    drained: async () => Object.values(await scan.getJobCounts('wait', 'active', 'prioritized', 'delayed')).every((n) => n === 0),
    metrics: () => service.metrics.registry.metrics(),
  };
}

const base = { schema: 'vigil.message.v1', messageId: 'm-1', conversationId: 'c-1', senderId: 's-1', recipientIds: ['r-1'], sentAt: '2026-01-01T00:00:00Z' };

/** Not a real video: an ISO-BMFF `ftyp` box with an MP4 brand, then filler. Benign bytes. */
const fakeMp4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom\0\0\x02\0isomiso2'), Buffer.alloc(256, 7)]);

describe('content decides, not labels', () => {
  it('a banked image re-encoded at another size and declared application/octet-stream, video/mp4 or text/plain is flagged with PDQ evidence, and the mismatch is on the flag', async () => {
    const h = await harness('labels');
    // Another size, another encoding: only PDQ can match it (its md5 is not banked).
    const copy = await sharp(teapot).resize(300).jpeg({ quality: 80 }).toBuffer();
    const types = ['application/octet-stream', 'video/mp4', 'text/plain'];
    for (const [i, mimeType] of types.entries())
      await h.publisher.publish({ ...base, eventId: `label-${i}`, media: [{ id: 'img', mimeType, bytes: copy.toString('base64') }] });
    const flags = await waitFor('three flags', async () => {
      const f = await h.flags();
      return f.length >= 3 && (await h.drained()) ? f : undefined;
    });
    expect(flags.map((f) => f.eventId).sort()).toEqual(['label-0', 'label-1', 'label-2']);
    for (const flag of flags) {
      const mimeType = types[Number(flag.eventId.slice(-1))];
      expect(flag).toMatchObject({ category: 'sample_known_image', severity: 'critical' });
      const pdq = flag.signals.filter((s) => s.type === 'pdq');
      expect(pdq).toEqual([expect.objectContaining({ sourceId: 'sample-known-bad', entryId: 'teapot-pdq', mediaId: 'img', threshold: 31 })]);
      expect(pdq[0]?.distance).toBeLessThanOrEqual(31);
      expect(flag.signals.some((s) => s.type === 'md5')).toBe(false);
      expect(flag.mediaOutcomes).toEqual([{ mediaId: 'img', declaredType: mimeType, sniffedFormat: 'jpeg', mimeMismatch: true, outcome: 'scanned' }]);
    }
    expect(await h.deadLetters()).toEqual([]);
    const body = await h.metrics();
    expect(body).toMatch(/vigil_media_mime_mismatch_total\{declared="application",sniffed="jpeg"\} 1/);
    expect(body).toMatch(/vigil_media_mime_mismatch_total\{declared="video",sniffed="jpeg"\} 1/);
    expect(body).toMatch(/vigil_media_mime_mismatch_total\{declared="text",sniffed="jpeg"\} 1/);
    expect(body).toMatch(/vigil_media_items_total\{outcome="scanned",format="jpeg"\} 3/);
    expect(body).toMatch(/vigil_source_runs_total\{source="hashes",kind="media"\} 3/);
    expect(body).toMatch(/vigil_source_seconds_total\{source="hashes",kind="media"\} \d/);
  });

  it('media Vigil cannot decode (a video, an unknown format) is counted, dead-lettered with its reason and carried on the flag — never a silent clean', async () => {
    const h = await harness('unscanned');
    await h.publisher.publish({ ...base, eventId: 'vid-1', media: [{ id: 'clip', mimeType: 'video/mp4', bytes: fakeMp4.toString('base64') }] });
    await h.publisher.publish({
      ...base,
      eventId: 'unk-1',
      media: [{ id: 'blob', mimeType: 'image/jpeg', bytes: Buffer.from('benign bytes with no signature').toString('base64') }],
    });
    // A video beside a banked image: the image is flagged, and the flag says the video was not decoded.
    await h.publisher.publish({
      ...base,
      eventId: 'mix-1',
      media: [
        { id: 'clip', mimeType: 'video/mp4', bytes: fakeMp4.toString('base64') },
        { id: 'img', mimeType: 'image/png', bytes: teapot.toString('base64') },
      ],
    });
    await waitFor('drain', async () => ((await h.drained()) && (await h.deadLetters()).length >= 3 ? true : undefined));
    const dead = (await h.deadLetters()).map((d) => [d.eventId, d.mediaId, d.part, d.code, d.reason]).sort();
    expect(dead).toEqual([
      ['mix-1', 'clip', 'media', 'MEDIA_UNSUPPORTED', 'video'],
      ['unk-1', 'blob', 'media', 'MEDIA_UNSUPPORTED', 'unknown_format'],
      ['vid-1', 'clip', 'media', 'MEDIA_UNSUPPORTED', 'video'],
    ]);
    const flags = await h.flags();
    expect(flags.map((f) => f.eventId)).toEqual(['mix-1']);
    expect(flags[0]?.mediaOutcomes).toEqual([
      { mediaId: 'clip', declaredType: 'video/mp4', sniffedFormat: 'mp4', mimeMismatch: false, outcome: 'partial', reason: 'video', code: 'MEDIA_UNSUPPORTED' },
      { mediaId: 'img', declaredType: 'image/png', sniffedFormat: 'png', mimeMismatch: false, outcome: 'scanned' },
    ]);
    const body = await h.metrics();
    expect(body).toMatch(/vigil_media_unscanned_total\{reason="video"\} 2/);
    expect(body).toMatch(/vigil_media_unscanned_total\{reason="unknown_format"\} 1/);
    expect(body).toMatch(/vigil_media_mime_mismatch_total\{declared="image",sniffed="unknown"\} 1/);
    expect(body).not.toContain('vid-1');
  });
});

describe('per-part isolation', () => {
  it('a text longer than the text scanner used to accept no longer dead-letters the event: its banked image is flagged and the text is scanned', async () => {
    // The event contract admits 256 KiB of text; the text scanner used to refuse anything over 64 Ki
    // UTF-16 units (TEXT_TOO_LARGE), dead-lettering the whole event, image and all.
    const h = await harness('long-text', { maxTextBytes: 256 * 1024 });
    const text = `${'a quiet afternoon by the harbour. '.repeat(3000)}bring the velvet teapot`;
    expect(text.length).toBeGreaterThan(64 * 1024);
    const copy = await sharp(teapot).resize(250).png().toBuffer();
    await h.publisher.publish({ ...base, eventId: 'long-1', text, media: [{ id: 'img', mimeType: 'image/png', bytes: copy.toString('base64') }] });
    const flags = await waitFor('two flags', async () => {
      const f = await h.flags();
      return f.length >= 2 && (await h.drained()) ? f : undefined;
    });
    expect(flags.map((f) => f.category).sort()).toEqual(['sample_grooming', 'sample_known_image']);
    expect(flags.find((f) => f.category === 'sample_known_image')?.signals.map((s) => s.type)).toEqual(['pdq']);
    expect(flags[0]?.textOutcome).toEqual({ outcome: 'scanned' });
    expect(await h.deadLetters()).toEqual([]);
  });
});

/** Distinct bytes, same pixels: a JPEG comment segment right after SOI, tagged per copy. */
function tagged(jpeg: Buffer, tag: string): Buffer {
  const text = Buffer.from(`benign copy ${tag}`);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(text.length + 2);
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xfe]), len, text, jpeg.subarray(2)]);
}

describe('decoding under a memory budget', () => {
  it('a burst of 16 large banked images through one worker with room for two at a time: 16 of 16 flagged with PDQ evidence', async () => {
    const side = 1600;
    const h = await harness('burst', { decodeBudgetPixels: 2 * side * side + 1, concurrency: 16 });
    const big = await sharp(teapot).resize(side, side, { fit: 'fill' }).jpeg({ quality: 85 }).toBuffer();
    const events = Array.from({ length: 16 }, (_, i) => ({
      ...base,
      eventId: `burst-${i}`,
      media: [{ id: 'img', mimeType: 'image/jpeg', bytes: tagged(big, String(i)).toString('base64') }],
    }));
    await h.publisher.publishBatch(events);
    const flags = await waitFor(
      '16 flags',
      async () => {
        const f = await h.flags();
        return f.length >= 16 && (await h.drained()) ? f : undefined;
      },
      90_000,
    );
    expect(new Set(flags.map((f) => f.eventId)).size).toBe(16);
    for (const f of flags) expect(f.signals.map((s) => [s.type, s.entryId])).toEqual([['pdq', 'teapot-pdq']]);
    expect(await h.deadLetters()).toEqual([]);
    const body = await h.metrics();
    expect(body).toMatch(/vigil_decode_wait_seconds_count 16/);
    expect(body).toMatch(/vigil_decode_seconds_count 16/);
    expect(body).toMatch(new RegExp(`vigil_decode_budget_pixels ${2 * side * side + 1}`));
    expect(body).toMatch(/vigil_decode_budget_in_use_pixels 0/);
  }, 120_000);
});
