/** What the CLI says is what happened: duplicates, the offline scan, the demo's clean-up. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Flag } from '../../src/core/contracts.js';
import { sampleEvents } from '../../src/demo/sample-events.js';
import { ERROR_CODES, errorKind, exitCodeFor, type ErrorCode } from '../../src/core/errors.js';
import { runCli } from '../helpers/cli.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('cli-truth');
afterAll(() => deletePrefix(prefix));
const event = (id: string) =>
  JSON.stringify({
    schema: 'vigil.message.v1',
    eventId: id,
    messageId: 'm',
    conversationId: 'c',
    senderId: 's',
    recipientIds: ['r'],
    sentAt: '2026-01-01T00:00:00Z',
    text: 'hi',
  });

describe('CLI truthfulness', () => {
  it('publish counts absorbed duplicates separately from published events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-pub-'));
    const first = join(dir, 'first.jsonl');
    writeFileSync(first, `${event('t-1')}\n${event('t-2')}\n${event('t-1')}\n`);
    const r1 = await runCli(['publish', first, '--json'], { env: { VIGIL_QUEUE_PREFIX: prefix } });
    expect(r1.code).toBe(0);
    expect(
      r1.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([
      { line: 1, eventId: 't-1', status: 'published' },
      { line: 2, eventId: 't-2', status: 'published' },
      { line: 3, eventId: 't-1', status: 'duplicate' },
    ]);
    const again = await runCli(['publish', first], { env: { VIGIL_QUEUE_PREFIX: prefix } });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('published 0 event(s) to vigil-scan, 3 duplicate(s) absorbed');
  });

  it("the offline scan prints a duplicate event's flag once", async () => {
    const r = await runCli([
      'scan',
      '--events',
      'config/samples/events.jsonl',
      '--banks',
      'config/samples/banks',
      '--patterns',
      'config/samples/patterns.jsonl',
    ]);
    expect(r.code).toBe(1); // the sample file holds two events that cannot be scanned in full
    const flags = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Flag);
    expect(flags.length).toBe(new Set(flags.map((f) => f.flagId)).size);
    expect(flags.filter((f) => f.eventId === 'demo-evt-002')).toHaveLength(1);
    const expected = new Set(
      sampleEvents()
        .filter((s) => s.expect.startsWith('flag'))
        .map((s) => String(s.event.eventId)),
    );
    expect(new Set(flags.map((f) => f.eventId))).toEqual(expected);
  });

  it('the demo removes every key under its private prefix, dedupe keys included', async () => {
    const r = await runCli(['demo']);
    expect(r.code).toBe(0);
    const redis = new Redis(REDIS_URL);
    try {
      // In-process, the demo's prefix is vigil-demo-<this process's pid>.
      expect(await redis.keys(`vigil-demo-${process.pid}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('a bank another import holds is BANK_BUSY (exit 1), not a bad bank (exit 2)', async () => {
    const redis = new Redis(REDIS_URL);
    try {
      await redis.set(`${prefix}:banks:lock:busy-bank`, 'someone-else', 'EX', 30);
      const file = join(mkdtempSync(join(tmpdir(), 'vigil-busy-')), 'h.txt');
      writeFileSync(file, `md5 ${'c'.repeat(32)}\n`);
      const r = await runCli(['bank', 'import', 'busy-bank', file], { env: { VIGIL_QUEUE_PREFIX: prefix } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^vigil: BANK_BUSY: bank "busy-bank" is being changed by another import/);
    } finally {
      redis.disconnect();
    }
  });

  it('exit codes follow from the error code: configuration and usage 2, everything else 1', () => {
    const byExit = (n: number) => (Object.keys(ERROR_CODES) as ErrorCode[]).filter((c) => exitCodeFor(c) === n).sort();
    expect(byExit(2)).toEqual(['BANK_INVALID', 'CONFIG_INVALID', 'MODEL_INVALID', 'PATTERN_UNSAFE', 'POLICY_INVALID', 'USAGE']);
    expect(errorKind('QUEUE_UNAVAILABLE')).toBe('unavailable');
    expect(errorKind('BANK_STORE_UNAVAILABLE')).toBe('unavailable');
    expect(errorKind('EVENT_INVALID')).toBe('input');
  });
});
