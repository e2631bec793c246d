/** PDQ through the whole scan: real decoder and hasher, bank index, policy thresholds, evidence on the flag. */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createMediaHasher } from '../../src/adapters/media-hasher.js';
import { MemHashBankSet } from '../../src/core/banks/hash-bank-set.js';
import { compilePolicy } from '../../src/core/policy.js';
import { processPayload } from '../../src/core/pipeline.js';
import type { Scanner } from '../../src/core/scan.js';
import { standardSources } from '../../src/core/sources.js';
import { MemTextScanner } from '../helpers/mem-ports.js';

const teapot = readFileSync('config/samples/media/teapot-still-life.png');
const hasher = createMediaHasher();

async function pdqOf(bytes: Buffer): Promise<{ hash: string; quality: number }> {
  const h = await hasher.hash(bytes, 'image/png', { dihedral: false });
  if (!h.pdq) throw new Error('no pdq');
  return h.pdq;
}

function policy(pdq: Record<string, unknown> = {}) {
  return compilePolicy({
    version: 1,
    thresholds: { pdq: { default: 31, banks: {}, minQuality: 50, dihedral: true, ...pdq } },
    rules: [{ id: 'h', match: { types: ['pdq', 'md5'] }, category: 'known_media', severity: 'critical', action: 'escalate' }],
  });
}

async function scan(bytes: Buffer, bankHash: string, p = policy()) {
  const scanner: Scanner = {
    sources: () =>
      standardSources({
        hashBanks: new MemHashBankSet([
          { id: 'pdq-bank', version: 'v1', kind: 'block', enabled: true, entries: [{ type: 'pdq', value: bankHash, id: 'entry-1' }] },
        ]),
        textScanner: new MemTextScanner([]),
        pdqHasher: hasher,
      }),
    decoder: hasher,
    maxMediaBytes: 10_000_000,
  };
  const payload = {
    schema: 'vigil.message.v1',
    eventId: 'e-1',
    messageId: 'm-1',
    conversationId: 'c-1',
    senderId: 's-1',
    recipientIds: ['r-1'],
    sentAt: '2026-01-01T00:00:00Z',
    media: [{ id: 'img', mimeType: 'image/png', bytes: bytes.toString('base64') }],
  };
  return processPayload(payload, scanner, p, { maxTextBytes: 1000, maxMediaItems: 4, maxMediaBytes: 10_000_000 });
}

describe('PDQ matching in the scan', () => {
  it('a re-encoded copy matches with distance, threshold and quality on the evidence', async () => {
    const bank = await pdqOf(teapot);
    const copy = await sharp(teapot).resize(200).jpeg({ quality: 60 }).toBuffer();
    const { flags } = await scan(copy, bank.hash);
    expect(flags).toHaveLength(1);
    const signal = flags[0]?.signals[0];
    expect(signal).toMatchObject({
      type: 'pdq',
      sourceId: 'pdq-bank',
      sourceVersion: 'v1',
      entryId: 'entry-1',
      threshold: 31,
      quality: 100,
      variant: 'orig',
      mediaId: 'img',
    });
    expect(signal?.distance).toBeGreaterThan(0);
    expect(signal?.distance).toBeLessThanOrEqual(31);
  });

  it('a mirrored copy matches through the dihedral variants, and names the variant; without dihedral querying it does not', async () => {
    const bank = await pdqOf(teapot);
    const mirrored = await sharp(teapot).flop().png().toBuffer();
    const { flags } = await scan(mirrored, bank.hash);
    expect(flags[0]?.signals[0]).toMatchObject({ type: 'pdq', variant: 'flipy' });
    expect(flags[0]?.signals[0]?.distance).toBeLessThanOrEqual(8);
    expect((await scan(mirrored, bank.hash, policy({ dihedral: false }))).flags).toEqual([]);
  });

  it('dihedral matching per bank: by id or glob, the most specific winning, with a default for the rest', async () => {
    const bank = await pdqOf(teapot);
    const mirrored = await sharp(teapot).flop().png().toBuffer();
    const flagged = async (dihedral: unknown) => (await scan(mirrored, bank.hash, policy({ dihedral }))).flags.length;
    expect(await flagged({ default: false, banks: { 'pdq-*': true } })).toBe(1);
    expect(await flagged({ default: true, banks: { 'pdq-bank': false } })).toBe(0);
    expect(await flagged({ banks: { 'pdq-*': false, 'pdq-bank': true } })).toBe(1);
    expect(await flagged({ banks: { 'pdq-*': false, '*': true } })).toBe(0);
    expect(await flagged({ default: false, banks: { 'other-*': true } })).toBe(0);
    expect(await flagged({ default: false })).toBe(0);
    // The unmirrored copy still matches where variants are off.
    expect((await scan(teapot, bank.hash, policy({ dihedral: { default: false } }))).flags).toHaveLength(1);
    expect(() => policy({ dihedral: { default: true, banks: { 'pdq-bank': 'yes' } } })).toThrow(/dihedral/);
  });

  it('per-bank thresholds from the policy apply', async () => {
    const bank = await pdqOf(teapot);
    const copy = await sharp(teapot).resize(200).jpeg({ quality: 60 }).toBuffer();
    const d = (await scan(copy, bank.hash)).flags[0]?.signals[0]?.distance ?? 0;
    expect(d).toBeGreaterThan(0);
    expect((await scan(copy, bank.hash, policy({ banks: { 'pdq-bank': d - 1 } }))).flags).toEqual([]);
    expect((await scan(copy, bank.hash, policy({ banks: { 'pdq-*': d } }))).flags).toHaveLength(1);
  });

  it('low-quality images are not fuzzy-matched (quality gate), even against their own hash', async () => {
    const flat = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const own = await pdqOf(flat);
    expect(own.quality).toBeLessThan(50);
    expect((await scan(flat, own.hash)).flags).toEqual([]);
    expect((await scan(flat, own.hash, policy({ minQuality: 0 }))).flags).toHaveLength(1);
  });
});

describe('PDQ worker threads', () => {
  it('give bit-identical digests to the inline computation, for every mode, with dihedral variants, and survive bad input', async () => {
    const images = [
      teapot,
      readFileSync('config/samples/media/garden-checker.png'),
      await sharp({ create: { width: 900, height: 700, channels: 3, background: '#3a6ea5' } })
        .composite([{ input: teapot, left: 100, top: 90 }])
        .jpeg()
        .toBuffer(),
    ];
    for (const mode of ['full', 'cli512', 'fast'] as const) {
      const inline = createMediaHasher({ mode });
      const pooled = createMediaHasher({ mode, threads: 2, inlineMaxPixels: 0 });
      try {
        const a = await Promise.all(images.map((b) => inline.hash(b, 'image/png', { dihedral: true })));
        const b = await Promise.all(images.map((b) => pooled.hash(b, 'image/png', { dihedral: true })));
        expect(b).toEqual(a);
        await expect(pooled.hash(Buffer.from('not an image'), 'image/png', { dihedral: false })).rejects.toMatchObject({ code: 'MEDIA_UNSUPPORTED' });
        // Small images come out of sharp in Node's shared Buffer pool: moving them must not break other buffers.
        const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
          .png()
          .toBuffer();
        const keep = Buffer.from('still here');
        expect((await pooled.hash(tiny, 'image/png', { dihedral: false })).pdq?.quality).toBe(0);
        expect(keep.toString()).toBe('still here');
      } finally {
        await inline.close();
        await pooled.close();
        await pooled.close();
      }
    }
  });
});
