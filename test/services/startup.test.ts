/**
 * A worker that cannot start says so in one line and exits non-zero within seconds, through the
 * service context, whether started as `vigil worker` or `node dist/workers/scan.js`; and it is not
 * left counted as a connected worker.
 */
import { createServer, type Server } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBankStore } from '../../src/adapters/redis-bank-store.js';
import { runCli, runNode } from '../helpers/cli.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-startup-'));
const prefix = uniquePrefix('startup');
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await deletePrefix(prefix);
});

writeFileSync(
  join(dir, 'bad-policy.yaml'),
  'version: 1\nrules:\n  - id: x\n    match: { types: [md5] }\n    category: c\n    severity: extreme\n    action: review\n',
);
const banks = join(dir, 'banks');
const { mkdirSync } = await import('node:fs');
mkdirSync(banks);
writeFileSync(join(banks, 'twice.txt'), `md5 ${'a'.repeat(32)}\n`);

async function busyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, server };
}

const cases: { name: string; env: () => Promise<Record<string, string>>; expect: RegExp; exit: number }[] = [
  { name: 'bad policy', env: async () => ({ VIGIL_POLICY_FILE: join(dir, 'bad-policy.yaml') }), expect: /POLICY_INVALID: .*rules\.0\.severity/, exit: 2 },
  {
    name: 'missing banks folder',
    env: async () => ({ VIGIL_BANKS_DIR: join(dir, 'no-such-folder') }),
    expect: /BANK_INVALID: cannot read banks folder/,
    exit: 2,
  },
  {
    name: 'missing patterns file',
    env: async () => ({ VIGIL_PATTERNS_FILE: join(dir, 'no-such-patterns.jsonl') }),
    expect: /BANK_INVALID: pattern rules .*ENOENT/,
    exit: 2,
  },
  {
    name: 'metrics port in use',
    env: async () => {
      const { port, server } = await busyPort();
      cleanups.push(() => new Promise((r) => server.close(() => r())));
      return { VIGIL_OPS_PORT: String(port) };
    },
    expect: /EADDRINUSE/,
    exit: 1,
  },
  {
    name: 'a bank defined both in files and in Redis',
    env: async () => {
      const redis = new Redis(REDIS_URL);
      await new RedisBankStore(redis, prefix).importHashEntries(
        'twice',
        (async function* () {
          yield [{ type: 'md5' as const, value: 'b'.repeat(32), id: 'x', importedAt: new Date().toISOString() }];
        })(),
      );
      redis.disconnect();
      return { VIGIL_BANKS_DIR: banks };
    },
    expect: /BANK_INVALID: bank "twice" is defined twice/,
    exit: 2,
  },
];

describe('worker start-up failures', () => {
  /**
   * What starting the same code costs on this machine right now (`vigil worker --help` loads the same
   * modules and exits): on a loaded machine process start-up alone can take seconds, and it is not
   * what this test is about. The failing start must end within 10 s on top of that; a start-up that
   * does more than `--help` (Redis, policy, banks, PDQ threads) scales with the same load, hence 3×.
   */
  let startupMs = 0;
  beforeAll(async () => {
    startupMs = (await runCli(['worker', '--help'], { spawn: true })).ms;
  }, 60_000);

  for (const c of cases) {
    for (const how of ['vigil worker', 'node dist/workers/scan.js'] as const) {
      it(`${c.name}: ${how} exits ${c.exit} within 10 s (plus process start-up) with one line`, { timeout: 60_000 }, async () => {
        const env = { VIGIL_QUEUE_PREFIX: prefix, VIGIL_SCAN_QUEUE: 'startup-scan', ...(await c.env()) };
        const r = how === 'vigil worker' ? await runCli(['worker'], { env, spawn: true }) : await runNode(['dist/workers/scan.js'], { env });
        expect(r.code).toBe(c.exit);
        expect(r.ms).toBeLessThan(10_000 + 3 * startupMs);
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^vigil worker: cannot start: /);
        expect(lines[0]).toMatch(c.expect);
        expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
        const q = new Queue('startup-scan', { connection: { url: REDIS_URL }, prefix });
        try {
          expect(await q.getWorkersCount()).toBe(0);
        } finally {
          await q.close();
        }
      });
    }
  }
});
