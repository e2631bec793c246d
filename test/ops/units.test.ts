/** Pure parts of the ops surface: config keys, credentials, redaction of scan jobs, --since. */
import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig, opsListen } from '../../src/config.js';
import type { VigilError } from '../../src/core/errors.js';
import { assertTokenFor, checkAuthorization, needsToken } from '../../src/ops/auth.js';
import { parseSince } from '../../src/ops/dead-letters.js';
import { scanJobView } from '../../src/ops/redact.js';

const config = (env: Record<string, string>) => loadConfig({ env });
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const TOKEN = 'unit-test-token-0123456789';

describe('ops config', () => {
  it('VIGIL_OPS_PORT, or the old VIGIL_METRICS_PORT; both with different values is refused', () => {
    expect(opsListen(config({}))).toEqual({ port: 0, host: '127.0.0.1', legacyKey: false });
    expect(opsListen(config({ VIGIL_OPS_PORT: '9464', VIGIL_OPS_HOST: '0.0.0.0' }))).toEqual({ port: 9464, host: '0.0.0.0', legacyKey: false });
    expect(opsListen(config({ VIGIL_METRICS_PORT: '9100', VIGIL_METRICS_HOST: '0.0.0.0' }))).toEqual({ port: 9100, host: '0.0.0.0', legacyKey: true });
    expect(opsListen(config({ VIGIL_METRICS_PORT: '9100', VIGIL_OPS_PORT: '9100' })).legacyKey).toBe(false);
    expect(() => config({ VIGIL_METRICS_PORT: '9100', VIGIL_OPS_PORT: '9464' })).toThrow(/VIGIL_METRICS_PORT \(9100\) is the old name of VIGIL_OPS_PORT/);
  });

  it('the token is at least 16 characters, never printed, and empty means unset', () => {
    let err: unknown;
    try {
      config({ VIGIL_OPS_TOKEN: 'short-secret' });
    } catch (e) {
      err = e;
    }
    expect((err as VigilError).code).toBe('CONFIG_INVALID');
    expect((err as VigilError).message).toContain('VIGIL_OPS_TOKEN (opsToken) = (hidden)');
    expect((err as VigilError).message).not.toContain('short-secret');
    expect(describeConfig(config({ VIGIL_OPS_TOKEN: TOKEN })).opsToken).toBe('***');
    expect(config({ VIGIL_OPS_TOKEN: '' }).opsToken).toBeUndefined();
    expect(() => config({ VIGIL_OPS_PUBLIC: 'everyone' })).toThrow(/VIGIL_OPS_PUBLIC/);
  });
});

describe('ops credentials', () => {
  it('accepts the token as bearer or as the basic-auth password (user = actor), nothing else', () => {
    expect(checkAuthorization(`Bearer ${TOKEN}`, TOKEN)).toEqual({ ok: true, actor: 'bearer-token' });
    expect(checkAuthorization(`bearer ${TOKEN}`, TOKEN, 'carol')).toEqual({ ok: true, actor: 'carol' });
    expect(checkAuthorization(`Bearer ${TOKEN}`, TOKEN, 'not a name!')).toEqual({ ok: true, actor: 'bearer-token' });
    expect(checkAuthorization(basic('alice', TOKEN), TOKEN)).toEqual({ ok: true, actor: 'alice' });
    expect(checkAuthorization(basic('', TOKEN), TOKEN)).toEqual({ ok: true, actor: 'basic-auth' });
    expect(checkAuthorization(basic('alice', `${TOKEN}x`), TOKEN).ok).toBe(false);
    expect(checkAuthorization(`Bearer ${TOKEN.slice(1)}`, TOKEN).ok).toBe(false);
    expect(checkAuthorization(`Token ${TOKEN}`, TOKEN)).toEqual({ ok: false, reason: 'unsupported authorization scheme' });
    expect(checkAuthorization(undefined, TOKEN)).toEqual({ ok: false, reason: 'no credentials' });
  });

  it('what needs a token under each VIGIL_OPS_PUBLIC, and refusing to start without one', () => {
    const table = (['all', 'health', 'none'] as const).map((pub) => [pub, needsToken('health', pub), needsToken('metrics', pub), needsToken('dashboard', pub)]);
    expect(table).toEqual([
      ['all', false, false, true],
      ['health', false, true, true],
      ['none', true, true, true],
    ]);
    expect(() => assertTokenFor(['health', 'metrics'], { public: 'all' })).not.toThrow();
    expect(() => assertTokenFor(['health', 'metrics'], { public: 'none' })).toThrow(/needs a token for \/healthz and \/readyz, \/metrics/);
    expect(() => assertTokenFor(['dashboard'], { public: 'all', token: TOKEN })).not.toThrow();
  });
});

describe('scan job redaction', () => {
  it('keeps ids and shape, drops text, bytes, refs, context and unknown fields', () => {
    const view = scanJobView({
      schema: 'vigil.message.v1',
      eventId: 'e1',
      messageId: 'm1',
      conversationId: 'c1',
      senderId: 's1',
      recipientIds: ['r1', 'r2'],
      sentAt: '2026-01-01T00:00:00Z',
      priority: 'report',
      text: 'secret words',
      media: [{ id: 'a', mimeType: 'image/png', bytes: 'AAAA' }, { id: 'b', mimeType: 'image/jpeg', ref: 'users/42/photo.jpg' }, 'junk'],
      context: { reportId: 'rep-1', locale: 'en' },
      'secret words as a key': true,
    });
    expect(view).toEqual({
      schema: 'vigil.message.v1',
      eventId: 'e1',
      messageId: 'm1',
      conversationId: 'c1',
      senderId: 's1',
      sentAt: '2026-01-01T00:00:00Z',
      priority: 'report',
      recipients: 2,
      text: '[redacted: 12 characters]',
      media: [{ id: 'a', mimeType: 'image/png', bytes: '[redacted: about 3 bytes]' }, { id: 'b', mimeType: 'image/jpeg', ref: '[redacted]' }, '[redacted]'],
      context: '[redacted]',
      otherFields: '[1 redacted]',
    });
    expect(JSON.stringify(view)).not.toContain('secret');
  });

  it('an id field that is not a plain id (spaces, long, not a string) is not shown; non-objects are described, not shown', () => {
    expect(scanJobView({ eventId: 'has spaces in it', messageId: 'x'.repeat(300), senderId: 42, text: 7 })).toEqual({ text: '[redacted]' });
    expect(scanJobView('not json {')).toEqual({ redacted: 'payload is a string of 10 characters, not an event' });
    expect(scanJobView(null)).toEqual({ redacted: 'payload is null, not an event' });
    expect(scanJobView([1, 2])).toEqual({ redacted: 'payload is an array, not an event' });
  });
});

describe('--since', () => {
  it('takes an ISO time or a span back from now, and refuses anything else', () => {
    const now = Date.parse('2026-06-01T12:00:00Z');
    expect(parseSince('90s', now).toISOString()).toBe('2026-06-01T11:58:30.000Z');
    expect(parseSince('6h', now).toISOString()).toBe('2026-06-01T06:00:00.000Z');
    expect(parseSince('2d', now).toISOString()).toBe('2026-05-30T12:00:00.000Z');
    expect(parseSince('2026-01-31T12:00:00Z', now).toISOString()).toBe('2026-01-31T12:00:00.000Z');
    for (const bad of ['yesterday', '5 minutes', '12', '-1h']) expect(() => parseSince(bad, now)).toThrow(/--since/);
  });
});
