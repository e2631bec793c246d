import { describe, expect, it } from 'vitest';
import { MemHashBankSet } from '../../src/core/banks/hash-bank-set.js';
import { contentVersion, parseHashBankText, type HashBankData } from '../../src/core/banks/hash-bank.js';
import { parseMessageEvent } from '../../src/core/contracts.js';
import { VigilError } from '../../src/core/errors.js';
import { exactHashes } from '../../src/core/exact-hashes.js';
import { flagIdFor } from '../../src/core/flags.js';
import { processPayload } from '../../src/core/pipeline.js';
import { compilePolicy } from '../../src/core/policy.js';
import type { Scanner } from '../../src/core/scan.js';
import { standardSources } from '../../src/core/sources.js';
import { MemPdqHasher, MemTextScanner } from '../helpers/mem-ports.js';

const badImage = Buffer.from('pretend image bytes: a benign test fixture');
const allowedImage = Buffer.from('another benign fixture that is a known false positive');

function bank(id: string, text: string, kind: 'block' | 'allow' = 'block'): HashBankData {
  const entries = parseHashBankText(text, id);
  return { id, version: contentVersion(entries), kind, enabled: true, entries };
}

const policy = compilePolicy({
  version: 1,
  rules: [
    { id: 'hash', match: { types: ['md5', 'sha1', 'sha256', 'pdq'] }, category: 'known_media', severity: 'critical', action: 'remove_and_report' },
    { id: 'text', match: { types: ['term'] }, action: 'review' },
  ],
});

function scanner(banks: HashBankData[]): Scanner {
  return {
    sources: () =>
      standardSources({
        hashBanks: new MemHashBankSet(banks),
        textScanner: new MemTextScanner([{ id: 'vt', phrase: 'velvet teapot', category: 'grooming', severity: 'high' }]),
        pdqHasher: new MemPdqHasher(),
      }),
    maxMediaBytes: 1024,
  };
}

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
const limits = { maxTextBytes: 1024, maxMediaItems: 4, maxMediaBytes: 1024 };

describe('hash bank files', () => {
  it('parses the python-threatexchange TYPE VALUE convention, with comments and optional ids', () => {
    const md5 = exactHashes(badImage).md5;
    const entries = parseHashBankText(`# comment\n\nMD5 ${md5.toUpperCase()} my-id\nsha1 ${exactHashes(badImage).sha1}\n`, 'f.txt');
    expect(entries).toEqual([
      { type: 'md5', value: md5, id: 'my-id' },
      { type: 'sha1', value: exactHashes(badImage).sha1, id: `sha1:${exactHashes(badImage).sha1.slice(0, 16)}` },
    ]);
  });

  it('reports every bad line with its number', () => {
    expect(() => parseHashBankText('md5 abc\nfoo 00\npdq 12', 'x.txt')).toThrowError(
      /3 bad line\(s\):\n {2}x\.txt:1: md5 hash must be 32 hex digits.*\n {2}x\.txt:2: unknown hash type "foo"/s,
    );
  });

  it('version depends on content, not order', () => {
    const a = parseHashBankText(`md5 ${'a'.repeat(32)}\nmd5 ${'b'.repeat(32)}`, 'a');
    const b = parseHashBankText(`md5 ${'b'.repeat(32)}\nmd5 ${'a'.repeat(32)}`, 'b');
    expect(contentVersion(a)).toBe(contentVersion(b));
    expect(contentVersion(a)).not.toBe(contentVersion(a.slice(1)));
  });
});

describe('scan → decide → flags', () => {
  const banks = [
    bank('known', `md5 ${exactHashes(badImage).md5} bad-1\nsha256 ${exactHashes(allowedImage).sha256} fp-1`),
    bank('fp', `md5 ${exactHashes(allowedImage).md5}`, 'allow'),
  ];

  it('flags a known-bad image with its evidence and provenance', async () => {
    const { flags } = await processPayload(
      event({ media: [{ id: 'img', mimeType: 'image/png', bytes: badImage.toString('base64') }] }),
      scanner(banks),
      policy,
      limits,
    );
    expect(flags).toHaveLength(1);
    const [flag] = flags;
    expect(flag).toMatchObject({
      schema: 'vigil.flag.v1',
      flagId: flagIdFor('evt-1', 'known_media'),
      category: 'known_media',
      severity: 'critical',
      action: 'remove_and_report',
      policyVersion: policy.version,
    });
    expect(flag?.signals).toEqual([{ type: 'md5', sourceId: 'known', sourceVersion: banks[0]?.version, entryId: 'bad-1', distance: 0, mediaId: 'img' }]);
    expect(flag?.bankVersions).toEqual({ known: banks[0]?.version, fp: banks[1]?.version, 'mem-terms': 'v1' });
  });

  it('flags a known phrase with its span and never the text', async () => {
    const text = 'bring the Velvet Teapot tonight';
    const { flags } = await processPayload(event({ text }), scanner(banks), policy, limits);
    expect(flags).toHaveLength(1);
    expect(flags[0]?.signals[0]).toMatchObject({ type: 'term', entryId: 'vt', span: { start: 10, end: 23 } });
    expect(JSON.stringify(flags)).not.toContain('Velvet');
  });

  it('a benign event gives no flag', async () => {
    const { flags } = await processPayload(
      event({ text: 'see you at the picnic', media: [{ id: 'i', mimeType: 'image/png', bytes: Buffer.from('benign').toString('base64') }] }),
      scanner(banks),
      policy,
      limits,
    );
    expect(flags).toEqual([]);
  });

  it('an allow-bank hit suppresses the block-bank hit for that media', async () => {
    const { flags } = await processPayload(
      event({ media: [{ id: 'i', mimeType: 'image/png', bytes: allowedImage.toString('base64') }] }),
      scanner(banks),
      policy,
      limits,
    );
    expect(flags).toEqual([]);
  });

  it('a disabled bank does not match', async () => {
    const disabled = banks.map((b) => ({ ...b, enabled: false }));
    const { flags } = await processPayload(
      event({ media: [{ id: 'img', mimeType: 'image/png', bytes: badImage.toString('base64') }] }),
      scanner(disabled),
      policy,
      limits,
    );
    expect(flags).toEqual([]);
  });

  it('bytes that are no image are still matched by exact hash, and reported partial with their reason and the mismatch', async () => {
    const bytes = Buffer.concat([Buffer.from('BAD'), badImage]);
    const b = [bank('known', `md5 ${exactHashes(bytes).md5} bad-2`)];
    const { flags, report } = await processPayload(
      event({ media: [{ id: 'x', mimeType: 'image/png', bytes: bytes.toString('base64') }] }),
      scanner(b),
      policy,
      limits,
    );
    expect(flags).toHaveLength(1);
    expect(report.mediaErrors).toEqual([
      { mediaId: 'x', code: 'MEDIA_UNSUPPORTED', message: 'media x has no known file signature: only exact hashes were matched', reason: 'unknown_format' },
    ]);
    expect(flags[0]?.mediaOutcomes).toEqual([
      {
        mediaId: 'x',
        declaredType: 'image/png',
        sniffedFormat: 'unknown',
        mimeMismatch: true,
        outcome: 'partial',
        reason: 'unknown_format',
        code: 'MEDIA_UNSUPPORTED',
      },
    ]);
  });

  it('a media ref without a media store is reported, not thrown', async () => {
    const { report } = await processPayload(event({ media: [{ id: 'r', mimeType: 'image/png', ref: 'a/b.png' }] }), scanner(banks), policy, limits);
    expect(report.mediaErrors[0]?.code).toBe('MEDIA_REF_UNRESOLVED');
    expect(report.media).toEqual([
      { mediaId: 'r', declaredType: 'image/png', mimeMismatch: false, outcome: 'unscanned', reason: 'unresolved_ref', code: 'MEDIA_REF_UNRESOLVED' },
    ]);
  });

  it('flags are deterministic: same event, same flags', async () => {
    const payload = event({ text: 'velvet teapot', media: [{ id: 'img', mimeType: 'image/png', bytes: badImage.toString('base64') }] });
    const a = await processPayload(payload, scanner(banks), policy, limits);
    const b = await processPayload(payload, scanner(banks), policy, limits);
    expect(a.flags).toEqual(b.flags);
    expect(a.flags.map((f) => f.category)).toEqual(['grooming', 'known_media']);
  });

  it('invalid events throw a typed, non-retriable error', async () => {
    await expect(processPayload('{"schema":"nope"}', scanner(banks), policy, limits)).rejects.toSatisfy(
      (e: unknown) => e instanceof VigilError && e.code === 'EVENT_INVALID' && !e.retriable,
    );
    expect(parseMessageEvent(event({})).eventId).toBe('evt-1');
  });
});

describe('compiled hash banks', () => {
  const hex = (seed: number) => Array.from({ length: 8 }, (_, i) => ((seed * 2654435761 + i * 40503) >>> 0).toString(16).padStart(8, '0')).join('');
  const options = { pdqThreshold: () => 31, pdqMinQuality: 50, dihedral: () => false };

  it('report custom and default entry ids for PDQ and exact hashes alike, and several ids for one hash', () => {
    const md5 = exactHashes(badImage).md5;
    const set = new MemHashBankSet([
      {
        id: 'b',
        version: 'v',
        kind: 'block',
        enabled: true,
        entries: [
          { type: 'pdq', value: hex(1), id: 'custom-pdq' },
          { type: 'pdq', value: hex(2), id: `pdq:${hex(2).slice(0, 16)}` },
          { type: 'md5', value: md5, id: 'first' },
          { type: 'md5', value: md5, id: `md5:${md5.slice(0, 16)}` },
        ],
      },
    ]);
    const ids = (pdq: string) => set.match({ ...exactHashes(Buffer.from('x')), pdq: { hash: pdq, quality: 100 } }, options).map((m) => m.entryId);
    expect(ids(hex(1))).toEqual(['custom-pdq']);
    expect(ids(hex(2))).toEqual([`pdq:${hex(2).slice(0, 16)}`]);
    expect(set.match(exactHashes(badImage), options).map((m) => m.entryId)).toEqual(['first', `md5:${md5.slice(0, 16)}`]);
  });
});
