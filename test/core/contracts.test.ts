import { describe, expect, it } from 'vitest';
import { contractJsonSchema, parseMessageEvent, salvageIds } from '../../src/core/contracts.js';
import { VigilError } from '../../src/core/errors.js';
import { seededUint32 } from '../helpers/seeded-random.js';

const valid = {
  schema: 'vigil.message.v1',
  eventId: 'evt-1',
  messageId: 'msg-1',
  conversationId: 'conv-1',
  senderId: 'user-1',
  recipientIds: ['user-2'],
  sentAt: '2026-01-01T00:00:00Z',
  text: 'hello',
};

function codeOf(payload: unknown, limits?: Parameters<typeof parseMessageEvent>[1]): string {
  try {
    parseMessageEvent(payload, limits);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(VigilError);
    return (err as VigilError).code;
  }
}

describe('vigil.message.v1', () => {
  it('accepts a valid event and fills defaults', () => {
    const e = parseMessageEvent(valid);
    expect(e.priority).toBe('normal');
    expect(e.media).toEqual([]);
  });

  it('parses JSON strings and bytes the same way as objects', () => {
    expect(parseMessageEvent(JSON.stringify(valid))).toEqual(parseMessageEvent(valid));
    expect(parseMessageEvent(Buffer.from(JSON.stringify(valid)))).toEqual(parseMessageEvent(valid));
  });

  it.each([
    ['not JSON', '{nope', 'EVENT_NOT_JSON'],
    ['unknown field', { ...valid, extra: 1 }, 'EVENT_INVALID'],
    ['wrong schema version', { ...valid, schema: 'vigil.message.v2' }, 'EVENT_INVALID'],
    ['missing sender', { ...valid, senderId: undefined }, 'EVENT_INVALID'],
    ['numeric event id (BullMQ reserves integer ids)', { ...valid, eventId: '12345' }, 'EVENT_INVALID'],
    ['id with a colon', { ...valid, eventId: 'a:b' }, 'EVENT_INVALID'],
    ['media with both bytes and ref', { ...valid, media: [{ id: 'm', mimeType: 'image/png', bytes: 'AAAA', ref: 'x' }] }, 'EVENT_INVALID'],
    ['media with neither', { ...valid, media: [{ id: 'm', mimeType: 'image/png' }] }, 'EVENT_INVALID'],
    ['bad base64', { ...valid, media: [{ id: 'm', mimeType: 'image/png', bytes: 'a$b=' }] }, 'EVENT_INVALID'],
    [
      'duplicate media ids',
      {
        ...valid,
        media: [
          { id: 'm', mimeType: 'image/png', bytes: 'AAAA' },
          { id: 'm', mimeType: 'image/png', bytes: 'AAAA' },
        ],
      },
      'EVENT_INVALID',
    ],
    ['a bare array', [valid], 'EVENT_INVALID'],
  ])('rejects %s', (_name, payload, code) => {
    expect(codeOf(payload)).toBe(code);
  });

  it('bounds text, media count and media size (configurable)', () => {
    const limits = { maxTextBytes: 10, maxMediaItems: 1, maxMediaBytes: 6 };
    expect(codeOf({ ...valid, text: 'x'.repeat(11) }, limits)).toBe('TEXT_TOO_LARGE');
    expect(codeOf({ ...valid, text: 'é'.repeat(6) }, limits)).toBe('TEXT_TOO_LARGE'); // 12 UTF-8 bytes
    expect(codeOf({ ...valid, text: 'x'.repeat(10) }, limits)).toBe('ok');
    expect(codeOf({ ...valid, media: [{ id: 'a', mimeType: 'image/png', bytes: Buffer.alloc(7).toString('base64') }] }, limits)).toBe('MEDIA_TOO_LARGE');
    expect(codeOf({ ...valid, media: [{ id: 'a', mimeType: 'image/png', bytes: Buffer.alloc(6).toString('base64') }] }, limits)).toBe('ok');
    const two = [
      { id: 'a', mimeType: 'image/png', ref: 'x' },
      { id: 'b', mimeType: 'image/png', ref: 'y' },
    ];
    expect(codeOf({ ...valid, media: two }, limits)).toBe('EVENT_INVALID');
    expect(codeOf({ ...valid, text: 'x'.repeat(64 * 1024 + 1) })).toBe('TEXT_TOO_LARGE');
  });

  it('never quotes content in its error messages', () => {
    const secret = 'the secret message text 0xDEADBEEF';
    for (const payload of [
      { ...valid, text: secret, extra: secret },
      { ...valid, text: secret.repeat(5000) },
      { ...valid, senderId: secret },
      { ...valid, media: [{ id: 'm', mimeType: secret, bytes: Buffer.from(secret).toString('base64') }] },
    ]) {
      try {
        parseMessageEvent(payload);
        expect.unreachable();
      } catch (err) {
        expect((err as Error).message).not.toContain('secret');
        expect((err as Error).message).not.toContain(Buffer.from(secret).toString('base64').slice(0, 12));
      }
    }
  });

  it('salvages valid ids from a broken payload for dead-letter entries', () => {
    expect(salvageIds({ eventId: 'evt-9', messageId: 'x y', text: 'no' })).toEqual({ eventId: 'evt-9' });
    expect(salvageIds('{broken')).toEqual({});
  });

  it('exports JSON Schemas for both contracts', () => {
    const message = contractJsonSchema('message');
    expect(message.title).toBe('vigil.message.v1');
    expect(message.additionalProperties).toBe(false);
    expect(JSON.stringify(message)).toContain('recipientIds');
    expect(contractJsonSchema('flag').title).toBe('vigil.flag.v1');
  });

  it('says in the JSON Schema that text spans are UTF-16 code units', () => {
    // Find the span property wherever the generator put it (inline or under $defs).
    const spans: Array<{ description?: string }> = [];
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(visit);
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === 'span' && x && typeof x === 'object') spans.push(x as { description?: string });
          visit(x);
        }
    };
    visit(contractJsonSchema('flag'));
    expect(spans.length).toBeGreaterThan(0);
    for (const s of spans) expect(s.description).toMatch(/UTF-16 code units/);
  });
});

describe('standard base64 for inline media', () => {
  // The rule, written here from RFC 4648 §4 (alphabet A–Z a–z 0–9 + /, at most two '=' at the end,
  // length a multiple of 4), not taken from the implementation.
  const RFC4648 = /^[A-Za-z0-9+/]*={0,2}$/;
  const valid = (b: string) => RFC4648.test(b) && b.length % 4 === 0;
  const base = {
    schema: 'vigil.message.v1',
    eventId: 'e1',
    messageId: 'm1',
    conversationId: 'c1',
    senderId: 'u1',
    recipientIds: ['u2'],
    sentAt: '2026-11-27T12:00:00Z',
  };
  const accepted = (bytes: string) => {
    try {
      parseMessageEvent({ ...base, media: [{ id: 'm', mimeType: 'image/png', bytes }] });
      return true;
    } catch (err) {
      expect((err as VigilError).code).toBe('EVENT_INVALID');
      return false;
    }
  };
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const ODD = ['=', '-', '_', ' ', '\n', '\t', '\r', '$', '.', 'é', 'ÿ', '\u0100', '€', '😀', '\0', '\x7f', '%', ':'];

  it('accepts exactly what the RFC alphabet accepts, on 30 000 generated strings', () => {
    const next = seededUint32(4648);
    const pick = (n: number) => next() % n;
    let agreed = 0;
    let valids = 0;
    for (let t = 0; t < 30_000; t++) {
      const len = pick(4) === 0 ? pick(12) : pick(64);
      let s = '';
      for (let i = 0; i < len; i++) s += pick(10) === 0 ? ODD[pick(ODD.length)] : ALPHABET[pick(64)];
      if (pick(3) === 0) s += '='.repeat(pick(4));
      if (accepted(s) === valid(s)) agreed++;
      if (valid(s)) valids++;
    }
    expect(agreed).toBe(30_000);
    expect(valids).toBeGreaterThan(1000); // both outcomes well covered
  });

  it('rejects a long valid encoding with one character changed, wherever it is (also across 64 KiB pieces)', () => {
    const next = seededUint32(7);
    const bytes = Buffer.alloc(150_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 255;
    const good = bytes.toString('base64');
    expect(accepted(good)).toBe(true);
    const positions = [
      0,
      1,
      65_535,
      65_536,
      65_537,
      131_071,
      131_072,
      good.length - 3,
      good.length - 1,
      ...Array.from({ length: 20 }, () => next() % good.length),
    ];
    for (const at of positions)
      for (const c of ODD) {
        const bad = good.slice(0, at) + c + good.slice(at + 1);
        expect([at, JSON.stringify(c), accepted(bad)]).toEqual([at, JSON.stringify(c), valid(bad)]);
      }
  });
});
