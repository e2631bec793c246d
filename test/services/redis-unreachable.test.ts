/**
 * Bounded waits for Redis: every command that needs Redis gives up after the connect timeout with
 * one line naming the URL (password masked) and exit 1; the library rejects with QUEUE_UNAVAILABLE;
 * a running worker that loses Redis logs "Redis unreachable, retrying" and stops after its grace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VigilError } from '../../src/core/errors.js';
import { createLogger } from '../../src/logger.js';
import { createPublisher } from '../../src/publisher.js';
import { startScanService } from '../../src/services/scan-service.js';
import { runCli } from '../helpers/cli.js';
import { testConfig, uniquePrefix, waitFor } from '../helpers/redis.js';

const SECRET = 'hunter2-marker-77';
const UNREACHABLE = `redis://vigil:${SECRET}@127.0.0.1:1`;
const TIMEOUT_MS = 1500;
const dir = mkdtempSync(join(tmpdir(), 'vigil-unreachable-'));
const event = {
  schema: 'vigil.message.v1',
  eventId: 'u-1',
  messageId: 'm',
  conversationId: 'c',
  senderId: 's',
  recipientIds: ['r'],
  sentAt: '2026-01-01T00:00:00Z',
  text: 'hi',
};
writeFileSync(join(dir, 'events.jsonl'), `${JSON.stringify(event)}\n`);
writeFileSync(join(dir, 'hashes.txt'), `md5 ${'a'.repeat(32)}\n`);
writeFileSync(join(dir, 'terms.jsonl'), `${JSON.stringify({ id: 'vt', phrase: 'velvet teapot', category: 'sample', severity: 'low' })}\n`);

const commands: string[][] = [
  ['worker'],
  ['bridge', '--brokers', '127.0.0.1:9'],
  ['bank', 'list'],
  ['bank', 'import', 'somebank', join(dir, 'hashes.txt')],
  ['bank', 'stats', 'somebank'],
  ['publish', join(dir, 'events.jsonl')],
  ['queues'],
  ['dead-letters'],
  ['terms', 'import', join(dir, 'terms.jsonl'), '--redis'],
];

describe('Redis unreachable', () => {
  /** Process start-up on this machine right now (`vigil bank --help`), which the bound below adds to the timeout. */
  let startupMs = 0;
  beforeAll(async () => {
    startupMs = (await runCli(['bank', '--help'], { spawn: true })).ms;
  }, 60_000);

  for (const args of commands) {
    it(`vigil ${args.slice(0, 2).join(' ')} exits 1 within the connect timeout, naming the URL with its password masked`, { timeout: 60_000 }, async () => {
      const r = await runCli(args, { env: { REDIS_URL: UNREACHABLE, VIGIL_REDIS_CONNECT_TIMEOUT_MS: String(TIMEOUT_MS) }, spawn: true });
      expect(r.code).toBe(1);
      // The timeout plus process start-up (and the heavier modules of some commands); far from "never".
      expect(r.ms).toBeLessThan(TIMEOUT_MS + 5000 + 3 * startupMs);
      const errorLines = r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.includes('QUEUE_UNAVAILABLE'));
      expect(errorLines).toHaveLength(1);
      expect(errorLines[0]).toContain(`Redis at redis://***@127.0.0.1:1 did not answer within ${TIMEOUT_MS} ms`);
      expect(r.stderr + r.stdout).not.toContain(SECRET);
    });
  }

  it('createPublisher().publish() and backlog() reject with a typed QUEUE_UNAVAILABLE', async () => {
    const publisher = createPublisher({ connection: UNREACHABLE, connectTimeoutMs: 500 });
    try {
      const started = Date.now();
      const err = await publisher.publish(event).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VigilError);
      expect(err).toMatchObject({ code: 'QUEUE_UNAVAILABLE', retriable: true });
      expect((err as Error).message).not.toContain(SECRET);
      expect(Date.now() - started).toBeLessThan(5000);
      await expect(publisher.backlog()).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE' });
    } finally {
      await publisher.close();
    }
  });
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('Redis lost while running', () => {
  let server: ChildProcess | undefined;
  afterAll(() => void server?.kill('SIGKILL'));

  it('the worker logs "Redis unreachable, retrying" every few seconds and reports a fatal outage after its grace', { timeout: 90_000 }, async () => {
    const port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const url = `redis://127.0.0.1:${port}`;
    await waitFor('own redis-server', async () => {
      const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG' ? true : undefined;
      } catch {
        return undefined;
      } finally {
        probe.disconnect();
      }
    });
    const chunks: string[] = [];
    const logger = createLogger('info', new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) }));
    const config = testConfig(uniquePrefix('outage'), { redisUrl: url, redisOutageGraceMs: 4000, redisConnectTimeoutMs: 2000 });
    const service = await startScanService(config, logger);
    try {
      const lostAt = Date.now();
      server.kill('SIGKILL');
      const fatal = await Promise.race([service.fatal, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000))]);
      expect(fatal).toMatchObject({ code: 'QUEUE_UNAVAILABLE' });
      expect(Date.now() - lostAt).toBeGreaterThanOrEqual(4000);
      const logs = chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { msg: string; url?: string; level: number });
      const retrying = logs.filter((l) => l.msg === 'Redis unreachable, retrying');
      expect(retrying.length).toBeGreaterThanOrEqual(2);
      expect(retrying[0]).toMatchObject({ url, level: 40 });
    } finally {
      const stopping = Date.now();
      await service.stop();
      // Bounded although Redis is gone: the worker's drain gives up after its lock duration.
      expect(Date.now() - stopping).toBeLessThan(config.lockDurationMs + 5000 + 3000);
    }
  });
});
