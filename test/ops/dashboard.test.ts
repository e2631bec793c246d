/**
 * The queue dashboard on the ops server, on the real Redis with this test's own prefix: no token, no
 * dashboard; no credentials, no access; scan jobs shown without their text or media bytes; every
 * action offered is audited first and the ones that could lose events or add content are refused.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisAuditLog } from '../../src/adapters/audit-log.js';
import { createMetrics } from '../../src/adapters/metrics.js';
import { VigilError } from '../../src/core/errors.js';
import type { DashboardQueue } from '../../src/ops/dashboard.js';
import { startOpsServer } from '../../src/ops/server.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { cliInProcess, freePort } from './helpers.js';

const TOKEN = 'test-ops-token-0123456789abcdef';
const MARKER = 'plover-marmalade-4417';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function setup(label: string) {
  const prefix = uniquePrefix(label);
  const redis = new Redis(REDIS_URL);
  const open = (name: string) => new Queue(name, { connection: redis, prefix });
  const queues: DashboardQueue[] = [
    { role: 'scan', queue: open('vigil-scan') },
    { role: 'moderation', queue: open('vigil-moderation') },
    { role: 'dead_letter', queue: open('vigil-dead-letter') },
  ];
  cleanups.push(async () => {
    await Promise.all(queues.map((q) => q.queue.close()));
    await deletePrefix(prefix);
    redis.disconnect();
  });
  const audit = new RedisAuditLog(redis, prefix);
  return { prefix, redis, queues, audit, scan: queues[0]!.queue, moderation: queues[1]!.queue, dead: queues[2]!.queue };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('ops dashboard', () => {
  it('refuses to start without a token, saying how to set one', async () => {
    const s = await setup('dash-notoken');
    const err = await startOpsServer({ port: 0, dashboard: true, queues: s.queues, audit: s.audit, auth: { public: 'all' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VigilError);
    expect((err as VigilError).code).toBe('CONFIG_INVALID');
    expect((err as VigilError).message).toContain('VIGIL_OPS_TOKEN');
    expect((err as VigilError).message).toContain('openssl rand -hex 32');
    // `vigil ops` says the same and exits 2 (a usage error: nothing was started).
    const saved = process.env.VIGIL_OPS_TOKEN;
    delete process.env.VIGIL_OPS_TOKEN;
    try {
      const cli = await cliInProcess(['ops', '--port', String(await freePort()), '--redis-url', REDIS_URL, '--prefix', s.prefix]);
      expect(cli.code).toBe(2);
      expect(cli.stderr).toContain('needs a token for /dashboard');
    } finally {
      if (saved !== undefined) process.env.VIGIL_OPS_TOKEN = saved;
    }
    // Metrics protected by config also need one.
    const err2 = await startOpsServer({ port: 0, metrics: createMetrics(), auth: { public: 'health' } }).catch((e: unknown) => e);
    expect((err2 as VigilError).message).toContain('needs a token for /metrics');
  });

  it('refuses requests without valid credentials and serves with a bearer token or basic auth; scan jobs are redacted; actions are audited', async () => {
    const s = await setup('dash-auth');
    await s.scan.add(
      'scan',
      {
        schema: 'vigil.message.v1',
        eventId: 'evt-dash-1',
        messageId: 'msg-1',
        conversationId: 'conv-1',
        senderId: 'u1',
        recipientIds: ['u2'],
        sentAt: '2026-01-01T00:00:00Z',
        text: `hello ${MARKER}`,
        media: [{ id: 'm1', mimeType: 'image/png', bytes: Buffer.from(MARKER).toString('base64') }],
        [`${MARKER}-key`]: 1,
      },
      { jobId: 'evt-dash-1' },
    );
    await s.dead.add(
      'MEDIA_UNDECODABLE',
      {
        eventId: 'evt-dash-2',
        code: 'MEDIA_UNDECODABLE',
        message: 'image could not be decoded',
        origin: { kind: 'bullmq', queue: 'vigil-scan', jobId: 'evt-dash-2' },
        at: '2026-01-01T00:00:00Z',
      },
      { jobId: 'dl_x' },
    );
    const metrics = createMetrics();
    const server = await startOpsServer({ port: 0, dashboard: true, queues: s.queues, audit: s.audit, metrics, auth: { token: TOKEN, public: 'all' } });
    cleanups.push(() => server.close());
    const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;

    const none = await fetch(url('/dashboard'));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm="vigil-ops"/);
    expect(((await none.json()) as { hint: string }).hint).toContain('Authorization: Bearer');
    expect((await fetch(url('/dashboard/api/queues'), { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    expect((await fetch(url('/dashboard/api/queues'), { headers: { authorization: basic('alice', 'nope') } })).status).toBe(401);

    const page = await fetch(url('/dashboard'), { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    // Health and metrics are open by default.
    expect((await fetch(url('/healthz'))).status).toBe(200);
    expect((await fetch(url('/metrics'))).status).toBe(200);

    const api = await fetch(url('/dashboard/api/queues?activeQueue=vigil-scan&status=waiting&page=1'), { headers: { authorization: basic('alice', TOKEN) } });
    expect(api.status).toBe(200);
    const text = await api.text();
    const body = JSON.parse(text) as {
      queues: Array<{ name: string; counts: Record<string, number>; jobs: Array<{ id: string; data: Record<string, unknown> }> }>;
    };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['vigil-dead-letter', 'vigil-moderation', 'vigil-scan']);
    const scanQueue = body.queues.find((q) => q.name === 'vigil-scan');
    expect(scanQueue?.counts.waiting).toBe(1);
    expect(scanQueue?.jobs[0]?.data).toMatchObject({
      eventId: 'evt-dash-1',
      text: `[redacted: ${`hello ${MARKER}`.length} characters]`,
      media: [{ id: 'm1', mimeType: 'image/png' }],
      otherFields: '[1 redacted]',
    });
    expect(text).not.toContain(MARKER);
    expect(text).not.toContain(Buffer.from(MARKER).toString('base64'));
    const one = await (await fetch(url('/dashboard/api/queues/vigil-scan/evt-dash-1'), { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(one).toContain('evt-dash-1');
    expect(one).not.toContain(MARKER);

    // Refused: adding or editing jobs, emptying a queue. Nothing is audited for them, and nothing changes.
    const add = await fetch(url('/dashboard/api/queues/vigil-scan/add'), {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'scan', data: { text: 'x' } }),
    });
    expect(add.status).toBe(403);
    const edit = await fetch(url('/dashboard/api/queues/vigil-scan/evt-dash-1/update-data'), {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jobData: {} }),
    });
    expect(edit.status).toBe(403);
    expect((await fetch(url('/dashboard/api/queues/vigil-scan/empty'), { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(403);
    expect(await s.scan.getJobCounts('waiting')).toEqual({ waiting: 1 });

    // Offered: removing a dead-letter entry, written to the audit log with the actor first.
    const clean = await fetch(url('/dashboard/api/queues/vigil-dead-letter/dl_x/clean'), { method: 'PUT', headers: { authorization: basic('alice', TOKEN) } });
    expect(clean.status).toBe(204);
    expect(await s.dead.getJob('dl_x')).toBeUndefined();
    const entries = await s.audit.list();
    expect(entries).toEqual([expect.objectContaining({ actor: 'alice', action: 'dashboard.job.remove', target: 'vigil-dead-letter/dl_x' })]);
    expect(Date.parse(entries[0]?.at ?? '')).toBeGreaterThan(Date.now() - 60_000);
  });

  it('protects /metrics and health when configured, and refuses an action it cannot audit', async () => {
    const s = await setup('dash-protect');
    await s.dead.add(
      'EVENT_INVALID',
      { code: 'EVENT_INVALID', message: 'x', origin: { kind: 'cli', file: 'f', line: 1 }, at: '2026-01-01T00:00:00Z' },
      { jobId: 'dl_y' },
    );
    const broken = { append: () => Promise.reject(new Error('audit store down')) };
    const server = await startOpsServer({
      port: 0,
      dashboard: true,
      queues: s.queues,
      audit: broken,
      metrics: createMetrics(),
      auth: { token: TOKEN, public: 'none' },
    });
    cleanups.push(() => server.close());
    const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;
    expect((await fetch(url('/metrics'))).status).toBe(401);
    expect((await fetch(url('/readyz'))).status).toBe(401);
    expect((await fetch(url('/metrics'), { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(url('/healthz'), { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const clean = await fetch(url('/dashboard/api/queues/vigil-dead-letter/dl_y/clean'), { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(clean.status).toBe(503);
    expect(await s.dead.getJob('dl_y')).toBeDefined();
  });
});
