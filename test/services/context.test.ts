import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runService, ServiceContext, startupLine } from '../../src/services/context.js';
import { startScanService } from '../../src/services/scan-service.js';
import { VigilError } from '../../src/core/errors.js';
import { createLogger } from '../../src/logger.js';
import { deletePrefix, REDIS_URL, testConfig, uniquePrefix } from '../helpers/redis.js';

function capture(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const logger = createLogger('trace', new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) }));
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(p);
});

describe('ServiceContext', () => {
  it('closes newest first, each on its own: a failing close is logged and the rest still close', async () => {
    const { logger, lines } = capture();
    const ctx = new ServiceContext(logger);
    const closed: string[] = [];
    await ctx.open(
      'a',
      () => 'A',
      () => void closed.push('a'),
    );
    ctx.use('b', { close: () => Promise.reject(new Error('b would not close')) });
    ctx.defer('c', () => void closed.push('c'));
    expect(ctx.names()).toEqual(['a', 'b', 'c']);
    expect(await ctx.close()).toEqual(['b']);
    expect(closed).toEqual(['c', 'a']);
    expect(lines().find((l) => l.msg === 'close failed; closing the rest')).toMatchObject({ resource: 'b' });
    expect(await ctx.close()).toEqual(['b']); // idempotent: nothing is closed twice
    expect(closed).toEqual(['c', 'a']);
  });

  it('an open that throws registers nothing', async () => {
    const ctx = new ServiceContext(createLogger('silent'));
    await expect(
      ctx.open(
        'x',
        () => Promise.reject(new Error('no')),
        () => undefined,
      ),
    ).rejects.toThrow('no');
    expect(ctx.names()).toEqual([]);
  });

  it('runService: a failed start rolls back what was opened and gives one line and the exit code of the error', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const closed: string[] = [];
    try {
      const code = await runService('worker', createLogger('silent'), async (ctx) => {
        ctx.defer('first', () => void closed.push('first'));
        ctx.defer('second', () => void closed.push('second'));
        throw new VigilError('POLICY_INVALID', 'policy file p.yaml: rules.0.severity: invalid\n  and more');
      });
      expect(code).toBe(2);
      expect(closed).toEqual(['second', 'first']);
      expect(write.mock.calls.map((c) => String(c[0]))).toEqual([
        'vigil worker: cannot start: POLICY_INVALID: policy file p.yaml: rules.0.severity: invalid; and more\n',
      ]);
    } finally {
      write.mockRestore();
    }
  });

  it('runService: a fatal error while running closes everything and gives 1', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const closed: string[] = [];
    try {
      const code = await runService('bridge', createLogger('silent'), async (ctx) => {
        ctx.defer('consumer', () => void closed.push('consumer'));
        return { fatal: Promise.resolve(new VigilError('QUEUE_UNAVAILABLE', 'Redis at redis://***@h:1 unreachable for 60 s')) };
      });
      expect(code).toBe(1);
      expect(closed).toEqual(['consumer']);
      expect(String(write.mock.calls[0]?.[0])).toBe('vigil bridge: stopped: QUEUE_UNAVAILABLE: Redis at redis://***@h:1 unreachable for 60 s\n');
    } finally {
      write.mockRestore();
    }
  });

  it('start-up lines mask secrets and carry no stack', () => {
    const line = startupLine('worker', new Error('connect to redis://vigil:s3cr@t/pw@10.0.0.5:6379 failed'));
    expect(line).toBe('vigil worker: cannot start: Error: connect to redis://***@10.0.0.5:6379 failed');
  });

  it('a scan service whose start fails after the worker registered leaves no worker and no connection behind', async () => {
    const prefix = uniquePrefix('ctx');
    prefixes.push(prefix);
    const config = testConfig(prefix);
    class FailingAfterWorker extends ServiceContext {
      override use<T extends { close(): unknown }>(name: string, resource: T): T {
        super.use(name, resource);
        if (name === 'scan worker') throw new Error('injected failure after the worker was created');
        return resource;
      }
    }
    const ctx = new FailingAfterWorker(createLogger('silent'));
    await expect(startScanService(config, createLogger('silent'), ctx)).rejects.toThrow('injected failure');
    expect(ctx.names()).toEqual(expect.arrayContaining(['redis', 'policy and banks', 'moderation queue', 'dead-letter queue', 'scan worker']));
    const q = new Queue(config.scanQueue, { connection: { url: REDIS_URL }, prefix });
    try {
      expect(await q.getWorkersCount()).toBe(0);
    } finally {
      await q.close();
    }
    expect(await ctx.close()).toEqual([]); // already closed by the rollback, nothing failed
  });
});
