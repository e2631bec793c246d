/**
 * Policy store, shadow mode and false-positive brakes on the real Redis, each test on its own prefix:
 * a running worker swaps policies atomically; a refused apply changes nothing; history, rollback and
 * the audit log agree; shadow rules and a candidate record disagreements and flag nothing; floods are
 * quarantined and daily caps turn actions to review; deconfirmed entries stop matching.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse, stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { Flag, MessageEventInput } from '../../src/core/contracts.js';
import { VigilError } from '../../src/core/errors.js';
import { compilePolicy, decide, type ScanReport } from '../../src/core/policy.js';
import { RedisAuditLog } from '../../src/adapters/audit-log.js';
import { RedisBrakes } from '../../src/adapters/brakes.js';
import { RedisPolicyStore, ReloadingPolicySource } from '../../src/adapters/policy-store.js';
import { RedisShadowLog } from '../../src/adapters/shadow-log.js';
import { sampleEvents } from '../../src/demo/sample-events.js';
import { createLogger } from '../../src/logger.js';
import { createPublisher, type Publisher } from '../../src/publisher.js';
import { startScanService, type ScanService } from '../../src/services/scan-service.js';
import { runCli } from '../helpers/cli.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const shipped = readFileSync('config/policy.yaml', 'utf8');
/** The shipped policy with the known-image rule changed in both severity and action, to detect a half-applied policy. */
const softened = shipped.replace('severity: critical\n    action: remove_and_report', 'severity: high\n    action: escalate');

function redis(): Redis {
  const r = new Redis(REDIS_URL);
  cleanups.push(async () => void r.disconnect());
  return r;
}

function prefix(label: string): string {
  const p = uniquePrefix(label);
  cleanups.push(() => deletePrefix(p));
  return p;
}

interface Harness {
  config: Config;
  publisher: Publisher;
  store: RedisPolicyStore;
  flags(): Promise<Flag[]>;
  drained(): Promise<boolean>;
}

async function harness(label: string, overrides: Partial<Record<keyof Config, unknown>> = {}): Promise<Harness> {
  const p = prefix(label);
  const banks = mkdtempSync(join(tmpdir(), 'vigil-banks-'));
  cpSync('config/samples/banks', banks, { recursive: true });
  const config = testConfig(p, { banksDir: banks, bankReloadMs: 200, ...overrides });
  const publisher = createPublisher({ connection: REDIS_URL, prefix: p, dedupeTtlMs: config.dedupeTtlMs });
  const q = (name: string) => new Queue(name, { connection: { url: REDIS_URL }, prefix: p });
  const scan = q(config.scanQueue);
  const moderation = q(config.moderationQueue);
  cleanups.push(async () => {
    await publisher.close();
    await Promise.all([scan.close(), moderation.close()]);
  });
  return {
    config,
    publisher,
    store: new RedisPolicyStore(redis(), p),
    flags: async () => (await moderation.getJobs(['prioritized', 'waiting'])).map((j) => j.data as Flag),
    drained: async () => Object.values(await scan.getJobCounts('wait', 'active', 'prioritized', 'delayed')).every((n) => n === 0),
  };
}

async function startWorker(config: Config, logs?: Writable): Promise<ScanService> {
  const service = await startScanService(config, createLogger(logs ? 'error' : 'silent', logs));
  cleanups.push(() => service.stop());
  return service;
}

/** The banked teapot image (entry sample-known-bad/teapot-md5), as a new event each call. */
function imageEvent(n: number, conversationId = `conv-${n}`): MessageEventInput {
  const base = sampleEvents().find((s) => s.event.eventId === 'demo-evt-002')?.event;
  if (!base) throw new Error('sample demo-evt-002 missing');
  return { ...(structuredClone(base) as MessageEventInput), eventId: `evt-img-${n}`, messageId: `msg-img-${n}`, conversationId };
}

describe('policy store', () => {
  it('history, rollback and the audit log round trip; a refused apply writes nothing and the old version stays live', async () => {
    const p = prefix('ps-round');
    const r = redis();
    const store = new RedisPolicyStore(r, p);
    const first = await store.apply(shipped, { actor: 'alice', reason: 'initial', filePolicy: compilePolicy(parse(softened)) });
    expect(first).toMatchObject({ changed: true, record: { version: 1, actor: 'alice', reason: 'initial' } });
    // The first version is diffed against the file policy the workers were running.
    expect(first.diff).toMatch(/^against the file policy \(sha256:[0-9a-f]{16}\):\n/);
    expect(first.diff).toContain('~ rules.sample-known-bad-media.action: "escalate" → "remove_and_report"');
    expect((await store.apply(shipped, { actor: 'bob', reason: 'again' })).changed).toBe(false);
    const second = await store.apply(softened, { actor: 'bob', reason: 'soften known images' });
    expect(second.record.version).toBe(2);
    expect(second.diff).toContain('~ rules.sample-known-bad-media.action: "remove_and_report" → "escalate"');

    await expect(
      store.apply('version: 2\nrules:\n  - id: x\n    when: { signal: { maxDistance: -1 } }\n    action: review\n', { actor: 'mallory', reason: 'broken' }),
    ).rejects.toSatisfy((e: unknown) => e instanceof VigilError && e.code === 'POLICY_INVALID' && e.message.includes('rules.0.when.signal.maxDistance'));
    expect(await store.liveVersion()).toBe(2);
    expect((await store.history()).map((v) => v.version)).toEqual([1, 2]);

    await store.rollback(1, { actor: 'carol', reason: 'v2 too soft' });
    expect(await store.liveVersion()).toBe(1);
    expect(store.compileRecord((await store.live())!).version).toBe(first.record.hash);
    await expect(store.rollback(9, { actor: 'carol', reason: 'typo' })).rejects.toSatisfy(
      (e: unknown) => e instanceof VigilError && e.code === 'POLICY_VERSION_UNKNOWN',
    );

    const audit = await new RedisAuditLog(r, p).list();
    expect(audit.map((e) => [e.actor, e.action, e.before?.split(' ')[0], e.after?.split(' ')[0], e.reason])).toEqual([
      ['alice', 'policy.apply', undefined, 'v1', 'initial'],
      ['bob', 'policy.apply', 'v1', 'v2', 'soften known images'],
      ['carol', 'policy.rollback', 'v2', 'v1', 'v2 too soft'],
    ]);
    expect(audit[2]?.diff).toContain('"escalate" → "remove_and_report"');
    expect(audit.every((e) => !Number.isNaN(Date.parse(e.at)))).toBe(true);
    expect((await new RedisAuditLog(r, p).list({ action: 'policy.rollback' })).length).toBe(1);
    expect((await new RedisAuditLog(r, p).list({ limit: 1 }))[0]?.action).toBe('policy.rollback');
  });

  // CLI runs go through tsx (seconds each on a loaded machine), so each test makes at most three.
  function cliSetup(label: string) {
    const p = prefix(label);
    const dir = mkdtempSync(join(tmpdir(), 'vigil-policy-'));
    writeFileSync(join(dir, 'a.yaml'), shipped);
    writeFileSync(join(dir, 'bad.yaml'), 'version: 2\nrules:\n  - id: x\n    when: { signal: {} }\n    action: nuke\n');
    return { p, dir, env: { VIGIL_QUEUE_PREFIX: p }, store: new RedisPolicyStore(redis(), p) };
  }

  it('the CLI: apply, then a refused apply (exit 2, the key path named, nothing changes), then history --json', async () => {
    const { dir, env, store } = cliSetup('ps-cli1');
    expect((await runCli(['policy', 'apply', join(dir, 'a.yaml'), '--reason', 'initial', '--actor', 'alice'], { env })).code).toBe(0);
    await store.apply(softened, { actor: 'bob', reason: 'soften' });
    const bad = await runCli(['policy', 'apply', join(dir, 'bad.yaml'), '--reason', 'oops'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('rules.0.action');
    expect(await store.liveVersion()).toBe(2);
    const history = (await runCli(['policy', 'history', '--json'], { env })).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { version: number; live: boolean; actor: string });
    expect(history.map((h) => [h.version, h.live, h.actor])).toEqual([
      [1, false, 'alice'],
      [2, true, 'bob'],
    ]);
  }, 120_000);

  it('the CLI: diff --json against the live version, rollback, audit --json', async () => {
    const { dir, env, store } = cliSetup('ps-cli2');
    await store.apply(shipped, { actor: 'alice', reason: 'initial' });
    await store.apply(softened, { actor: 'bob', reason: 'soften' });
    const diff = await runCli(['policy', 'diff', join(dir, 'a.yaml'), '--json'], { env });
    expect(JSON.parse(diff.stdout)).toContain('~ rules.sample-known-bad-media.action: "escalate" → "remove_and_report"');
    expect((await runCli(['policy', 'rollback', '1', '--reason', 'back', '--actor', 'carol'], { env })).code).toBe(0);
    expect(store.compileRecord((await store.live())!).version).toBe(compilePolicy(parse(shipped)).version);
    const audit = (await runCli(['audit', '--json'], { env })).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; actor: string });
    expect(audit.map((a) => `${a.actor}:${a.action}`)).toEqual(['alice:policy.apply', 'bob:policy.apply', 'carol:policy.rollback']);
  }, 120_000);

  it('the CLI: show prints the applied YAML, of the live version or of VERSION', async () => {
    const { env, store } = cliSetup('ps-cli3');
    await store.apply(shipped, { actor: 'alice', reason: 'initial' });
    await store.apply(softened, { actor: 'bob', reason: 'soften' });
    expect((await runCli(['policy', 'show'], { env })).stdout).toBe(softened);
    expect((await runCli(['policy', 'show', '1'], { env })).stdout).toBe(shipped);
  }, 120_000);

  it('a running worker swaps to an applied policy within seconds, atomically (every flag is wholly one version), and ignores a refused apply', async () => {
    const h = await harness('ps-swap');
    await h.store.apply(shipped, { actor: 'alice', reason: 'initial' });
    await startWorker(h.config);
    // Batches of events in flight while the policy changes underneath the worker.
    let n = 0;
    let after: Flag[] = [];
    for (let batch = 0; batch < 40; batch++) {
      for (let i = 0; i < 8; i++) await h.publisher.publish(imageEvent(n++));
      if (batch === 2) await h.store.apply(softened, { actor: 'bob', reason: 'soften' });
      await waitFor('batch drained', async () => ((await h.drained()) ? true : undefined));
      after = await h.flags();
      if (batch > 2 && after.filter((f) => f.policyRevision === 2).length >= 8) break;
    }
    expect(after.filter((f) => f.policyRevision === 2).length).toBeGreaterThanOrEqual(8);
    const v1 = compilePolicy(parse(shipped)).version;
    const v2 = compilePolicy(parse(softened)).version;
    for (const f of after) {
      const shape = `${f.policyRevision}:${f.policyVersion}:${f.severity}:${f.action}`;
      expect([`1:${v1}:critical:remove_and_report`, `2:${v2}:high:escalate`]).toContain(shape);
      expect(f.ruleIds).toEqual(['sample-known-bad-media']);
    }
    expect(after.some((f) => f.policyRevision === 1)).toBe(true);

    await expect(h.store.apply('version: 2\nrules: []\n', { actor: 'mallory', reason: 'broken' })).rejects.toThrow(/rules/);
    await h.publisher.publish(imageEvent(10_000));
    const last = await waitFor('the flag after the refused apply', async () => (await h.flags()).find((f) => f.eventId === 'evt-img-10000'));
    expect(last).toMatchObject({ policyRevision: 2, policyVersion: v2 });
  }, 90_000);
});

describe('policy source (what a worker reads per job)', () => {
  it('uses the file while the store is empty, the store once a version is live, and keeps a snapshot whole', async () => {
    const p = prefix('ps-source');
    const store = new RedisPolicyStore(redis(), p);
    const source = await ReloadingPolicySource.open('config/policy.yaml', store, createLogger('silent'));
    const fileSnap = source.current();
    expect(fileSnap.origin).toBe('file');
    expect(fileSnap.live.revision).toBeUndefined();
    expect(await source.reload()).toBe(false);
    expect(source.current()).toBe(fileSnap);

    await store.apply(softened, { actor: 'bob', reason: 'soften' });
    await store.setCandidate(shipped, { actor: 'bob', reason: 'compare' });
    expect(await source.reload()).toBe(true);
    const storeSnap = source.current();
    expect(storeSnap).toMatchObject({
      origin: 'store',
      live: { revision: 1, version: compilePolicy(parse(softened)).version },
      candidate: { version: compilePolicy(parse(shipped)).version },
    });
    expect(Object.isFrozen(storeSnap) && Object.isFrozen(storeSnap.live) && Object.isFrozen(storeSnap.live.document.rules)).toBe(true);
    // The snapshot a job holds does not change under it.
    expect(fileSnap.live.document.rules[0]?.action).toBe('remove_and_report');
    await store.setCandidate(undefined, { actor: 'bob', reason: 'done' });
    expect(await source.reload()).toBe(true);
    expect(source.current().candidate).toBeUndefined();
    expect(source.current().live).toBe(storeSnap.live);
  });
});

describe('shadow mode', () => {
  it('shadow rules and a candidate policy record disagreements by event id, count agreement, and emit no flags', async () => {
    const doc = parse(shipped) as { rules: Record<string, unknown>[] };
    // A shadow rule that would remove known media from any bank, ahead of the live rules.
    doc.rules.unshift({
      id: 'try-remove-all-hashes',
      status: 'shadow',
      when: { signal: { type: ['md5', 'sha1', 'sha256', 'pdq'] } },
      category: 'sample_known_image',
      severity: 'critical',
      action: 'escalate',
    });
    // A candidate whose only rule is about text: the live image flag is a disagreement (shadow: none).
    const candidate = stringify({ version: 2, rules: [{ id: 'text-only', when: { signal: { type: 'term' } }, action: 'escalate' }] });
    const h = await harness('shadow');
    await h.store.apply(stringify(doc), { actor: 'alice', reason: 'with a shadow rule' });
    await h.store.setCandidate(candidate, { actor: 'alice', reason: 'try text only' });
    const service = await startWorker(h.config);
    for (let i = 0; i < 3; i++) await h.publisher.publish(imageEvent(i));
    const text = sampleEvents().find((s) => s.event.eventId === 'demo-evt-004')?.event;
    await h.publisher.publish({ ...structuredClone(text!), eventId: 'evt-text-1', messageId: 'msg-text-1' });
    await waitFor('drain', async () => ((await h.drained()) && (await h.flags()).length >= 4 ? true : undefined));

    const flags = await h.flags();
    // Live flags only: the shadow rule claimed nothing, and the candidate flagged nothing.
    expect(flags.map((f) => `${f.eventId}:${f.category}:${f.action}:${f.ruleIds?.join('+')}`).sort()).toEqual([
      'evt-img-0:sample_known_image:remove_and_report:sample-known-bad-media',
      'evt-img-1:sample_known_image:remove_and_report:sample-known-bad-media',
      'evt-img-2:sample_known_image:remove_and_report:sample-known-bad-media',
      'evt-text-1:sample_grooming:review:text',
    ]);
    const log = new RedisShadowLog(redis(), h.config.queuePrefix);
    const report = await waitFor('shadow stats for 4 events', async () => {
      const r = await log.report();
      return r.find((x) => x.ruleId === 'try-remove-all-hashes')?.wouldFlag === 3 && r.find((x) => x.ruleId === 'text-only')?.wouldFlag === 1 ? r : undefined;
    });
    const rule = report.find((x) => x.ruleId === 'try-remove-all-hashes');
    expect(rule).toMatchObject({ source: 'rule', wouldFlag: 3, agree: 0, disagree: 3, agreement: 0 });
    expect([...(rule?.disagreementExamples ?? [])].sort()).toEqual(['evt-img-0', 'evt-img-1', 'evt-img-2']);
    expect(report.find((x) => x.ruleId === 'text-only')).toMatchObject({
      source: 'candidate',
      wouldFlag: 1,
      disagree: 1,
      disagreementExamples: ['evt-text-1'],
    });
    expect(report.find((x) => x.source === 'candidate' && x.ruleId === 'sample-known-bad-media')).toMatchObject({ wouldFlag: 0, disagree: 3 });
    const recent = await log.recent(50);
    expect(recent.length).toBe(7);
    for (const e of recent) expect(Object.keys(e).sort()).toEqual(['at', 'category', 'eventId', 'live', 'policyVersion', 'ruleId', 'shadow', 'source']);

    const metrics = await service.metrics.registry.metrics();
    expect(metrics).toMatch(/vigil_shadow_comparisons_total\{source="rule",outcome="disagree"\} 3/);
    expect(metrics).toMatch(/vigil_shadow_comparisons_total\{source="candidate",outcome="disagree"\} 4/);
    const cli = await runCli(['policy', 'shadow-report', '--json'], { env: { VIGIL_QUEUE_PREFIX: h.config.queuePrefix } });
    const json = JSON.parse(cli.stdout) as { rules: { ruleId: string; wouldFlag: number }[] };
    expect(json.rules.find((r) => r.ruleId === 'try-remove-all-hashes')?.wouldFlag).toBe(3);
  }, 90_000);
});

describe('false-positive brakes', () => {
  const policy = compilePolicy({
    version: 2,
    brakes: { flood: { factor: 3, minCount: 5, baselineHours: 24 } },
    rules: [{ id: 'hash', when: { signal: { type: 'md5' } }, category: 'k', severity: 'critical', action: 'remove_and_report', dailyCap: 1000 }],
  });
  const hit = (entryId: string): ScanReport => ({
    eventId: `e-${entryId}`,
    signals: [{ type: 'md5', sourceId: 'bank', sourceVersion: 'r1', entryId, mediaId: 'm', distance: 0 }],
    mediaErrors: [],
    bankVersions: {},
    modelVersions: {},
    context: { conversationId: 'c' },
  });

  it('an entry flooding far above its baseline is quarantined after the configured burst; one at its usual rate is not', async () => {
    const p = prefix('brake-flood');
    let now = Date.UTC(2026, 11, 2, 12, 0, 0);
    const brakes = new RedisBrakes(redis(), p, () => now);
    // Baseline: "steady" matches 4 times an hour for the past day (mean 4/h); "spiky" once in the whole day.
    const start = now;
    for (let i = 24; i >= 1; i--) {
      now = start - i * 3600_000;
      for (let k = 0; k < 4; k++) await brakes.record(decide(hit('steady'), policy, brakes.counters()), policy);
    }
    now = start - 5 * 3600_000;
    await brakes.record(decide(hit('spiky'), policy, brakes.counters()), policy);
    now = start;
    await brakes.refresh();

    const actions: string[] = [];
    for (let i = 0; i < 8; i++) {
      now += 6000; // past the 5 s re-check interval
      const v = decide(hit('spiky'), policy, brakes.counters());
      actions.push(v.flags[0]?.action ?? 'none');
      await brakes.record(v, policy);
      await brakes.record(decide(hit('steady'), policy, brakes.counters()), policy);
    }
    // Hits 1-4 act; the 5th reaches minCount above 3 × baseline and quarantines; from then on, review.
    expect(actions).toEqual([
      'remove_and_report',
      'remove_and_report',
      'remove_and_report',
      'remove_and_report',
      'remove_and_report',
      'review',
      'review',
      'review',
    ]);
    const q = await brakes.quarantined();
    expect(q.map((x) => x.key).sort()).toEqual(['entry:bank/spiky', 'rule:hash']);
    expect(await brakes.hourly('entry:bank/steady', 25)).toEqual([...Array<number>(24).fill(4), 8]);
    expect(q.find((x) => x.key === 'entry:bank/spiky')).toMatchObject({ hourCount: 5, by: 'vigil-brakes' });
    expect(decide(hit('spiky'), policy, brakes.counters()).flags[0]?.brake).toEqual({
      codes: ['rule_quarantined', 'entry_quarantined'],
      intendedAction: 'remove_and_report',
    });
    expect(decide(hit('steady'), policy, brakes.counters()).flags[0]?.brake).toEqual({ codes: ['rule_quarantined'], intendedAction: 'remove_and_report' });
    const audit = await new RedisAuditLog(redis(), p).list({ action: 'brake.quarantine' });
    expect(audit.map((a) => a.target).sort()).toEqual(['entry:bank/spiky', 'rule:hash']);

    // Released by a person: acts again, and the flood check leaves it alone for a while.
    await brakes.release('entry:bank/spiky', { actor: 'alice', reason: 'checked' });
    await brakes.release('rule:hash', { actor: 'alice', reason: 'checked' });
    await brakes.refresh();
    now += 6000;
    const v = decide(hit('spiky'), policy, brakes.counters());
    expect(v.flags[0]?.action).toBe('remove_and_report');
    await brakes.record(v, policy);
    expect(await brakes.quarantined()).toEqual([]);
  });

  it("the daily cap turns a rule's automated actions to review, per UTC day, across brake instances (workers)", async () => {
    const p = prefix('brake-cap');
    let now = Date.UTC(2026, 11, 2, 23, 59, 0);
    const capped = compilePolicy({
      version: 2,
      rules: [{ id: 'hash', when: { signal: { type: 'md5' } }, category: 'k', severity: 'critical', action: 'escalate', dailyCap: 3 }],
    });
    const a = new RedisBrakes(redis(), p, () => now);
    const b = new RedisBrakes(redis(), p, () => now);
    const out: string[] = [];
    for (let i = 0; i < 5; i++) {
      const w = i % 2 === 0 ? a : b;
      await w.refresh();
      const v = decide(hit(`x${i}`), capped, w.counters());
      out.push(`${v.flags[0]?.action}${v.flags[0]?.brake ? `(${v.flags[0].brake.codes.join()})` : ''}`);
      await w.record(v, capped);
    }
    expect(out).toEqual(['escalate', 'escalate', 'escalate', 'review(daily_cap)', 'review(daily_cap)']);
    expect(await a.actionsToday()).toEqual({ hash: 3 });
    now += 120_000; // the next UTC day
    await a.refresh();
    expect(decide(hit('y'), capped, a.counters()).flags[0]?.action).toBe('escalate');
  });

  it('a deconfirmed bank entry stops matching on a running worker, and matches again once reconfirmed (both audited)', async () => {
    const h = await harness('deconfirm');
    await startWorker(h.config);
    const env = { VIGIL_QUEUE_PREFIX: h.config.queuePrefix };
    const de = await runCli(['bank', 'deconfirm', 'sample-known-bad', 'teapot-md5', '--reason', 'stock photo', '--actor', 'alice'], { env });
    expect(de.code).toBe(0);
    // The image matches two entries (md5 and PDQ): both are known false positives here.
    const brakes = new RedisBrakes(redis(), h.config.queuePrefix);
    expect(await brakes.deconfirm('sample-known-bad', 'teapot-pdq', { actor: 'alice', reason: 'stock photo' })).toBe(true);
    expect(await brakes.deconfirm('sample-known-bad', 'teapot-pdq', { actor: 'alice', reason: 'again' })).toBe(false);
    expect((await brakes.deconfirmed()).map((d) => `${d.bank}/${d.entry}`).sort()).toEqual(['sample-known-bad/teapot-md5', 'sample-known-bad/teapot-pdq']);
    // Once the worker's snapshot has them, an event scanned produces no flag.
    let n = 0;
    await waitFor('an image event scanned without a flag', async () => {
      await h.publisher.publish(imageEvent(n++));
      await waitFor('drain', async () => ((await h.drained()) ? true : undefined));
      const flagged = new Set((await h.flags()).map((f) => f.eventId));
      return flagged.has(`evt-img-${n - 1}`) ? undefined : true;
    });
    const clean = n - 1;
    expect((await runCli(['bank', 'reconfirm', 'sample-known-bad', 'teapot-md5', '--reason', 'was right after all', '--actor', 'bob'], { env })).code).toBe(0);
    // Reconfirming one entry is enough for the image to match again (through its md5).
    await waitFor('a flag again after reconfirm', async () => {
      await h.publisher.publish(imageEvent(n++));
      await waitFor('drain', async () => ((await h.drained()) ? true : undefined));
      return (await h.flags()).some((f) => f.eventId === `evt-img-${n - 1}`) ? true : undefined;
    });
    expect((await h.flags()).some((f) => f.eventId === `evt-img-${clean}`)).toBe(false);
    const audit = await new RedisAuditLog(redis(), h.config.queuePrefix).list();
    expect(audit.map((a) => `${a.actor}:${a.action}:${a.target}`)).toEqual([
      'alice:bank.deconfirm:sample-known-bad/teapot-md5',
      'alice:bank.deconfirm:sample-known-bad/teapot-pdq',
      'bob:bank.reconfirm:sample-known-bad/teapot-md5',
    ]);
    const again = (await h.flags()).find((f) => f.eventId === `evt-img-${n - 1}`);
    expect(again?.signals.map((s) => s.entryId)).toEqual(['teapot-md5']);
  }, 90_000);

  it('a flooding entry is quarantined on a running worker: later flags are review with the brake on them', async () => {
    const doc = parse(shipped) as Record<string, unknown>;
    doc.brakes = { flood: { factor: 10, minCount: 4, baselineHours: 24 } };
    const h = await harness('flood-worker');
    await h.store.apply(stringify(doc), { actor: 'alice', reason: 'tight flood brake' });
    const lines: string[] = [];
    const service = await startWorker(h.config, new Writable({ write: (chunk: Buffer, _enc, done) => void (lines.push(chunk.toString()), done()) }));
    for (let i = 0; i < 4; i++) await h.publisher.publish(imageEvent(i));
    await waitFor('4 flags', async () => ((await h.flags()).length >= 4 ? true : undefined));
    const brakes = new RedisBrakes(redis(), h.config.queuePrefix);
    await waitFor('quarantine', async () => ((await brakes.quarantined()).some((q) => q.key === 'entry:sample-known-bad/teapot-md5') ? true : undefined));
    await h.publisher.publish(imageEvent(99));
    const braked = await waitFor('a braked flag', async () => (await h.flags()).find((f) => f.eventId === 'evt-img-99'));
    expect(braked).toMatchObject({ action: 'review', brake: { intendedAction: 'remove_and_report' } });
    expect(braked.brake?.codes).toContain('entry_quarantined');
    expect(await service.metrics.registry.metrics()).toMatch(/vigil_brake_quarantines_total\{kind="entry"\} 2/);
    expect(await service.metrics.registry.metrics()).toMatch(/vigil_brake_applied_total\{brake="entry_quarantined"\} [1-9]/);
    const errors = lines.map((l) => JSON.parse(l) as { level: number; brake?: string; msg: string }).filter((l) => l.level >= 50 && l.brake);
    expect(errors.map((e) => e.brake).sort()).toEqual([
      'entry:sample-known-bad/teapot-md5',
      'entry:sample-known-bad/teapot-pdq',
      'rule:sample-known-bad-media',
    ]);
  }, 90_000);
});
