import { describe, expect, it } from 'vitest';
import { contractJsonSchema, parseMessageEvent, salvageIds } from '../../src/core/contracts.js';
import { VigilError } from '../../src/core/errors.js';

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
