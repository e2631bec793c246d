/**
 * Replay / backfill and reviewer decisions, end to end on the real Redis: a running scan worker,
 * `vigil replay` (in-process CLI) and decision jobs on the decisions queue. Each test has its own prefix.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { Flag } from '../../src/core/contracts.js';
import { sampleEvents } from '../../src/demo/sample-events.js';
import { createLogger } from '../../src/logger.js';
import { startScanService } from '../../src/services/scan-service.js';
import { runCli } from '../helpers/cli.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
});

function tmp(label: string): string {
  return mkdtempSync(join(tmpdir(), `vigil-${label}-`));
}

const event = (id: string, eventId = id): Record<string, unknown> => {
  const s = sampleEvents().find((x) => (x.event as { eventId?: string }).eventId === id);
  if (!s) throw new Error(`no sample ${id}`);
  return { ...(s.event as Record<string, unknown>), eventId, messageId: `${eventId}-msg` };
};

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

async function harness(label: string, overrides: Partial<Record<keyof Config, unknown>> = {}) {
  const prefix = uniquePrefix(label);
  const banks = tmp('banks');
  cpSync('config/samples/banks', banks, { recursive: true });
  const config = testConfig(prefix, { banksDir: banks, ...overrides });
  const service = await startScanService(config, createLogger('silent'));
  const q = (name: string) => {
    const queue = new Queue(name, { connection: { url: REDIS_URL }, prefix });
    queue.on('error', () => undefined);
    return queue;
  };
  const moderation = q(config.moderationQueue);
  const scan = q(config.scanQueue);
  const decisions = q(config.decisionsQueue);
  const redis = new Redis(REDIS_URL);
  cleanups.push(async () => {
    await service.stop();
    await Promise.all([moderation.close(), scan.close(), decisions.close()]);
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const env = { VIGIL_QUEUE_PREFIX: prefix };
  return {
    prefix,
    config,
    moderation,
    scan,
    decisions,
    redis,
    env,
    flags: async () => (await moderation.getJobs(['prioritized', 'waiting'])).map((j) => j.data as Flag).sort((a, b) => a.flagId.localeCompare(b.flagId)),
    /** What a moderation consumer plus the dedupe window's end leave behind: nothing of the queue. */
    forgetModerationQueue: async () => {
      await moderation.obliterate({ force: true });
      const keys = await redis.keys(`${prefix}:${config.moderationQueue}:*`);
      if (keys.length) await redis.del(...keys);
    },
    replay: async (file: string, ...args: string[]) => {
      const r = await runCli(['replay', '--events', file, '--json', '--timeout', '120', ...args], { env });
      expect(r.stderr).not.toMatch(/vigil: /);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    },
  };
}

describe('vigil replay', () => {
  it('replay twice → no duplicate flags, also after the moderation queue forgot the first ones; summary counts new, known and dead letters', async () => {
    const h = await harness('replay');
    const file = join(tmp('replay'), 'events.jsonl');
    const lines = [event('demo-evt-002'), event('demo-evt-004'), event('demo-evt-001')].map((e) => JSON.stringify(e));
    writeFileSync(file, `${lines.join('\n')}\n{"schema":"vigil.message.v1"}\n${lines[0]}\n`);

    const first = await h.replay(file, '--replay-id', 'first-run');
    expect(first).toEqual({ replayId: 'first-run', events: 3, flagsNew: 2, flagsAlreadyKnown: 0, deadLetters: 1, complete: true });
    const flags = await h.flags();
    expect(flags.map((f) => f.eventId).sort()).toEqual(['demo-evt-002', 'demo-evt-004']);
    // Events keep their ids (so their flags keep their flagIds); backfill is the only change.
    expect(flags.every((f) => f.eventPriority === 'backfill')).toBe(true);

    // Past the dedupe window the queue remembers nothing; the flag ledger still does.
    await h.forgetModerationQueue();
    expect(await h.flags()).toEqual([]);
    const second = await h.replay(file);
    expect(second).toMatchObject({ events: 3, flagsNew: 0, flagsAlreadyKnown: 2, deadLetters: 1, complete: true });
    expect(second.replayId).toMatch(/^rp-/);
    expect(await h.flags()).toEqual([]);

    // The same replay id again adds nothing it already replayed.
    const again = await h.replay(file, '--replay-id', 'first-run');
    expect(again).toMatchObject({ replayId: 'first-run', events: 3, flagsNew: 2, flagsAlreadyKnown: 0 });
    expect(await h.flags()).toEqual([]);
  }, 120_000);

  it('replayed jobs wait behind live traffic (backfill priority) and carry the replay id, never changing the event', async () => {
    const h = await harness('replay-prio');
    // Stop the worker's intake so the queued jobs can be read.
    await h.scan.pause();
    const file = join(tmp('replay-prio'), 'events.jsonl');
    writeFileSync(file, `${JSON.stringify(event('demo-evt-004'))}\n`);
    const r = await runCli(['replay', '--events', file, '--replay-id', 'prio', '--no-wait', '--json'], { env: h.env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ replayId: 'prio', events: 1, complete: false });
    const jobs = await h.scan.getJobs(['prioritized', 'waiting']);
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    expect(job.name).toBe('replay.prio');
    expect(job.id).toBe('replay.prio.demo-evt-004');
    expect(job.opts.priority).toBe(1);
    // The sample sets no priority: the job's event is the original with priority backfill and nothing else changed.
    expect(event('demo-evt-004').priority).toBeUndefined();
    expect(job.data).toEqual({ ...event('demo-evt-004'), media: [], priority: 'backfill' });
  }, 60_000);
});

describe('reviewer decisions', () => {
  it('decisions update precision metrics and vigil precision; a changed decision moves its counts, a repeated one counts once; N rejections propose deconfirmation', async () => {
    const port = await freePort();
    const h = await harness('decisions', { opsPort: port, deconfirmProposeRejections: 2 });
    const file = join(tmp('decisions'), 'events.jsonl');
    // Two events with the same banked image (same bank entry), and a phrase.
    writeFileSync(
      file,
      [event('demo-evt-002', 'dec-img-a'), event('demo-evt-002', 'dec-img-b'), event('demo-evt-004', 'dec-txt')].map((e) => JSON.stringify(e)).join('\n'),
    );
    expect(await h.replay(file)).toMatchObject({ events: 3, flagsNew: 3 });
    const flags = await h.flags();
    const byEvent = new Map(flags.map((f) => [f.eventId, f]));
    const a = byEvent.get('dec-img-a')!;
    const b = byEvent.get('dec-img-b')!;
    const t = byEvent.get('dec-txt')!;
    const entry = (f: Flag) => {
      const s = f.signals.find((x) => x.entryId !== undefined && x.type !== 'classifier')!;
      return `${s.sourceId}/${s.entryId}`;
    };
    expect(entry(a)).toBe(entry(b));

    const decide = (flagId: string, decision: string, at: string, extra: Record<string, unknown> = {}) =>
      h.decisions.add('decision', { schema: 'vigil.decision.v1', flagId, decision, at, ...extra });
    await decide(a.flagId, 'confirmed', '2026-12-01T10:00:00Z', { reasonCode: 'csam.confirmed', reviewerRef: 'rv-17' });
    await decide(t.flagId, 'escalated', '2026-12-01T10:01:00Z');
    await decide(t.flagId, 'escalated', '2026-12-01T10:01:00Z'); // the same decision again
    await decide('flg_unknown', 'rejected', '2026-12-01T10:02:00Z');
    await decide(a.flagId, 'confirmed', '2026-12-01T10:03:00Z', { note: 'free text is not part of the contract' });

    const precision = async (...args: string[]) => {
      const r = await runCli(['precision', '--json', ...args], { env: h.env });
      expect(r.code).toBe(0);
      return r.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    const row = (rows: Record<string, unknown>[], kind: string, id: string) => rows.find((r) => r.kind === kind && r.id === id);
    const bankA = entry(a).split('/')[0]!;
    const termBank = t.signals[0]!.sourceId;
    await waitFor('decisions counted', async () => {
      const rows = await precision();
      return row(rows, 'bank', bankA)?.decided === 1 && row(rows, 'bank', termBank)?.decided === 1 ? rows : undefined;
    });
    const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let body = await metrics();
    expect(body).toContain(`vigil_precision{kind="bank",id="${bankA}"} 1`);
    expect(body).toContain(`vigil_precision{kind="bank",id="${termBank}"} 1`);
    expect(body).toContain(`vigil_precision_decisions{kind="bank",id="${termBank}",decision="escalated"} 1`);
    await waitFor('invalid and duplicate decisions seen', async () => {
      const m = await metrics();
      return /vigil_decisions_total\{decision="escalated",outcome="duplicate"\} 1/.test(m) &&
        /vigil_decisions_total\{decision="invalid",outcome="invalid"\} 1/.test(m) &&
        /vigil_decisions_total\{decision="rejected",outcome="unknown_flag"\} 1/.test(m)
        ? true
        : undefined;
    });
    // Entry ids never become label values.
    expect(body).not.toContain(entry(a));

    // A reviewer overturns a and rejects b: same entry rejected twice → proposed, not applied.
    await decide(a.flagId, 'rejected', '2026-12-01T11:00:00Z');
    await decide(b.flagId, 'rejected', '2026-12-01T11:00:00Z');
    const rows = await waitFor('rejections counted', async () => {
      const r = await precision();
      return row(r, 'entry', entry(a))?.rejected === 2 ? r : undefined;
    });
    expect(row(rows, 'entry', entry(a))).toEqual({ kind: 'entry', id: entry(a), confirmed: 0, rejected: 2, escalated: 0, decided: 2, precision: 0 });
    expect(row(rows, 'bank', bankA)).toMatchObject({ confirmed: 0, rejected: 2, precision: 0 });
    for (const rule of a.ruleIds ?? []) expect(row(rows, 'rule', rule)).toMatchObject({ rejected: 2, confirmed: 0 });
    for (const rule of t.ruleIds ?? []) expect(row(rows, 'rule', rule)).toMatchObject({ escalated: 1 });
    body = await metrics();
    expect(body).toContain(`vigil_precision{kind="bank",id="${bankA}"} 0`);

    const audit = await waitFor('proposal audited', async () => {
      const r = await runCli(['audit', '--json'], { env: h.env });
      const entries = r.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, string>);
      return entries.some((e) => e.action === 'bank.deconfirm.proposed') ? entries : undefined;
    });
    // Every entry of the image's evidence (its MD5 and its PDQ entry) was rejected twice: each proposed once.
    const entriesOfA = [
      ...new Set(a.signals.filter((x) => x.entryId !== undefined && x.type !== 'classifier').map((x) => `${x.sourceId}/${x.entryId}`)),
    ].sort();
    const proposed = await waitFor('every proposal audited', async () => {
      const r = await runCli(['audit', '--json', '--action', 'bank.deconfirm.proposed'], { env: h.env });
      const entries = r.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, string>);
      return entries.length >= entriesOfA.length ? entries : undefined;
    });
    expect(proposed.map((e) => e.target).sort()).toEqual(entriesOfA);
    for (const e of proposed) expect(e).toMatchObject({ actor: 'vigil-precision', reason: expect.stringContaining('rejected by reviewers 2 time(s)') });
    expect(audit.some((e) => e.action === 'bank.deconfirm')).toBe(false);
    const deconfirmed = await runCli(['bank', 'deconfirmed', '--json'], { env: h.env });
    expect(deconfirmed.stdout.trim()).toBe('');
    // The table form names every kind.
    const table = await runCli(['precision'], { env: h.env });
    expect(table.stdout).toMatch(/^kind\s+id\s+confirmed\s+escalated\s+rejected\s+decided\s+precision/);
    expect(table.stdout).toContain(entry(a));
  }, 120_000);
});
