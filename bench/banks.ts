/**
 * Hash banks in Redis at scale: import speed, Redis memory, a worker's full load, and a small
 * append applied as a delta — next to the full reload it replaces, measured in the same run.
 *
 *   npm run bench -- banks [--entries 1000000] [--append 1000]
 *
 * Data: seeded random PDQ hashes (and 10% MD5s) written to a temporary file in the
 * python-threatexchange format, imported the way `vigil bank import` does.
 */
import { built, intArg } from './_shared.js';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as App from '../src/app.js';
import type * as HashListReader from '../src/adapters/hash-list-reader.js';
import type * as BankStore from '../src/adapters/redis-bank-store.js';
import type { StoredHashEntry } from '../src/adapters/redis-bank-store.js';
import type * as ExactHashes from '../src/core/exact-hashes.js';
import { deletePrefix } from '../test/helpers/redis.js';
import { seededUint32 } from '../test/helpers/seeded-random.js';
const { exactHashes } = await built<typeof ExactHashes>('core/exact-hashes.js');
const { RedisBankStore } = await built<typeof BankStore>('adapters/redis-bank-store.js');
const { openHashList } = await built<typeof HashListReader>('adapters/hash-list-reader.js');
const { BankLoader } = await built<typeof App>('app.js');

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function hashList(n: number, seed: number): string {
  const next = seededUint32(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 10 === 9) lines.push(`md5 ${exactHashes(Buffer.from(`bench-${seed}-${i}`)).md5}`);
    else lines.push(`pdq ${Array.from({ length: 8 }, () => next().toString(16).padStart(8, '0')).join('')}`);
  }
  return `${lines.join('\n')}\n`;
}

async function importFile(store: InstanceType<typeof RedisBankStore>, bank: string, file: string): Promise<number> {
  const { batches } = await openHashList(file, { format: 'te' });
  const importedAt = new Date().toISOString();
  const started = performance.now();
  await store.importHashEntries(
    bank,
    (async function* () {
      for await (const b of batches) yield b.map((e): StoredHashEntry => ({ ...e, source: 'bench', importedAt }));
    })(),
  );
  return (performance.now() - started) / 1000;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);

export async function run(args: string[]): Promise<string> {
  const n = intArg(args, 'entries', 1_000_000);
  const append = intArg(args, 'append', 1000);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-banks-'));
  const prefix = `bench-banks-${randomBytes(3).toString('hex')}`;
  const redis = new Redis(REDIS_URL);
  try {
    const big = join(dir, 'big.txt');
    const small = join(dir, 'append.txt');
    writeFileSync(big, hashList(n, 1));
    writeFileSync(small, hashList(append, 2));
    const store = new RedisBankStore(redis, prefix);

    const mem0 = await usedMemory(redis);
    const importS = await importFile(store, 'bench', big);
    const redisBytes = (await usedMemory(redis)) - mem0;

    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const loader = new BankLoader({ store });
    let t = performance.now();
    await loader.load();
    const fullLoadS = (performance.now() - t) / 1000;
    const rssAfterLoad = process.memoryUsage().rss - rss0;

    await importFile(store, 'bench', small);
    t = performance.now();
    await loader.load();
    const deltaS = (performance.now() - t) / 1000;
    const patched = loader.lastLoad.patched.includes('bench');

    // Baseline: what every worker did before deltas — read and build the whole bank again.
    t = performance.now();
    await new BankLoader({ store }).load();
    const rebuildS = (performance.now() - t) / 1000;

    return `## Hash banks in Redis (import, worker load, delta reload)

Command: \`npm run bench -- banks --entries ${n} --append ${append}\`. ${n.toLocaleString('en-US')} entries (90% random PDQ, 10% MD5, seeded) in the
python-threatexchange format, imported as \`vigil bank import\` does (batches of 10,000, provenance per entry); a worker's
\`BankLoader\` then loads the bank from Redis and compiles it (exact maps + PDQ multi-index). Then ${append.toLocaleString('en-US')} more entries are
appended and the worker reloads: patched from the recorded delta, against a full reload of the same revision in the same run.

| step | time | rate / size |
| --- | ---: | ---: |
| import into Redis | ${importS.toFixed(1)} s | ${Math.round(n / importS).toLocaleString('en-US')} entries/s; Redis +${mib(redisBytes)} (${Math.round(redisBytes / n)} B/entry) |
| worker: full load and compile | ${fullLoadS.toFixed(1)} s | process RSS +${mib(rssAfterLoad)} |
| worker: reload after +${append} entries, ${patched ? 'patched from the delta' : '**full reload (delta not used)**'} | ${(deltaS * 1000).toFixed(0)} ms | |
| baseline: full reload of the same revision | ${rebuildS.toFixed(1)} s | |

Delta reload vs full reload: ${(rebuildS / deltaS).toFixed(0)}× faster.`;
  } finally {
    redis.disconnect();
    await deletePrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}
