/**
 * The demo's built-in events: benign synthetic images and harmless stand-in phrases that hit the
 * sample banks in config/samples/banks. Nothing here resembles real abuse material.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MessageEventInput } from '../core/contracts.js';
import { packageRoot } from '../paths.js';

function media(name: string): string {
  return readFileSync(join(packageRoot(), 'config/samples/media', name)).toString('base64');
}

/** Each sample says what the demo expects of it, so the demo can check itself. */
export interface SampleEvent {
  expect: 'flag' | 'clean' | 'dead-letter' | 'flag+dead-letter' | 'duplicate';
  why: string;
  event: MessageEventInput | Record<string, unknown>;
}

export function sampleEvents(): SampleEvent[] {
  const base = (n: number, extra: Record<string, unknown>): MessageEventInput => ({
    schema: 'vigil.message.v1',
    eventId: `demo-evt-${String(n).padStart(3, '0')}`,
    messageId: `demo-msg-${String(n).padStart(3, '0')}`,
    conversationId: `demo-conv-${n % 3}`,
    senderId: `demo-user-${n % 4}`,
    recipientIds: [`demo-user-${(n + 1) % 4}`],
    sentAt: new Date(Date.UTC(2026, 0, 1, 12, 0, n)).toISOString(),
    ...extra,
  });
  const teapot = media('teapot-still-life.png');
  return [
    { expect: 'clean', why: 'ordinary chat', event: base(1, { text: 'are you still coming to the picnic on saturday?' }) },
    { expect: 'flag', why: 'image whose MD5 is in the sample bank', event: base(2, { media: [{ id: 'm1', mimeType: 'image/png', bytes: teapot }] }) },
    {
      expect: 'flag',
      why: 'resized, re-encoded copy of a banked image: only PDQ can match it',
      event: base(3, { media: [{ id: 'm1', mimeType: 'image/jpeg', bytes: media('teapot-still-life-resized.jpg') }] }),
    },
    { expect: 'flag', why: 'stand-in term "velvet teapot"', event: base(4, { text: 'did you bring the velvet teapot for the party?' }) },
    {
      expect: 'clean',
      why: 'benign image and text',
      event: base(5, { text: 'look at my garden!', media: [{ id: 'm1', mimeType: 'image/png', bytes: media('garden-checker.png') }] }),
    },
    {
      expect: 'flag',
      why: 'user report: image whose SHA-256 is banked, served first',
      event: base(6, {
        priority: 'report',
        context: { reportId: 'demo-report-1' },
        media: [{ id: 'm1', mimeType: 'image/png', bytes: media('harbour-sunset.png') }],
      }),
    },
    { expect: 'flag', why: 'critical stand-in term', event: base(7, { text: 'meet me by the moonlit accordion' }) },
    {
      expect: 'dead-letter',
      why: 'declared image/png but not an image: dead-lettered with its code (exact hashes still matched)',
      event: base(8, { media: [{ id: 'm1', mimeType: 'image/png', bytes: Buffer.from('this is not a png file at all').toString('base64') }] }),
    },
    { expect: 'dead-letter', why: 'malformed event (no senderId)', event: { ...base(9, { text: 'hello' }), senderId: undefined } },
    { expect: 'flag', why: 'evasion: leetspeak, lookalike letters and dotted-apart letters', event: base(10, { text: 'u got the V3LV3T t.e.a.p.o.t?' }) },
    { expect: 'flag', why: 'risk patterns: an age question and a move to another platform', event: base(11, { text: 'how old r u? add me on telegram' }) },
    {
      expect: 'duplicate',
      why: 'same eventId as demo-evt-002: deduplicated, no second flag',
      event: base(2, { media: [{ id: 'm1', mimeType: 'image/png', bytes: teapot }] }),
    },
  ];
}
