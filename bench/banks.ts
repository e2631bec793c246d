/**
 * Hash banks in Redis at scale: import speed, Redis memory, a worker's load from the bank's binary
 * snapshot against the load from its per-entry records (measured in the same run, each load in a
 * fresh process like a starting worker), a small append applied as a delta, a worker's cold start
 * with a 1M bank against one with no bank, and the same loads at 10M entries on a private
 * redis-server (the shared Redis never holds 10M entries).
 *
 *   npm run bench -- banks [--entries 1000000] [--big 10000000] [--append 1000] [--rounds 3]
 *
 * Data: seeded random PDQ hashes (and 10% MD5s): the 1M bank written to a temporary file in the
 * python-threatexchange format and imported the way `vigil bank import` does; the 10M bank
 * generated in batches straight into the store (a 700 MB text file would only measure the disk).
 */
import { built, intArg } from './_shared.js';
import { Redis } from 'ioredis';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type * as App from '../src/app.js';
import type * as HashListReader from '../src/adapters/hash-list-reader.js';
import type * as BankStore from '../src/adapters/redis-bank-store.js';
import type { StoredHashEntry } from '../src/adapters/redis-bank-store.js';
import type * as ExactHashes from '../src/core/exact-hashes.js';
import { deletePrefix } from '../test/helpers/redis.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { seededUint32 } from '../test/helpers/seeded-random.js';
const { exactHashes } = await built<typeof ExactHashes>('core/exact-hashes.js');
const { RedisBankStore } = await built<typeof BankStore>('adapters/redis-bank-store.js');
const { openHashList } = await built<typeof HashListReader>('adapters/hash-list-reader.js');
const { BankLoader } = await built<typeof App>('app.js');

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run$ = promisify(execFile);

function entryLine(i: number, seed: number, next: () => number): string {
  if (i % 10 === 9) return `md5 ${exactHashes(Buffer.from(`bench-${seed}-${i}`)).md5}`;
  return `pdq ${Array.from({ length: 8 }, () => next().toString(16).padStart(8, '0')).join('')}`;
}

function hashList(n: number, seed: number): string {
  const next = seededUint32(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(entryLine(i, seed, next));
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

/** The same entries as a file of `n` lines would hold, generated batch by batch. */
async function importGenerated(
  store: InstanceType<typeof RedisBankStore>,
  bank: string,
  n: number,
  seed: number,
  onProgress: (written: number) => void,
): Promise<number> {
  const next = seededUint32(seed);
  const importedAt = new Date().toISOString();
  const started = performance.now();
  await store.importHashEntries(
    bank,
    (async function* () {
      for (let i = 0; i < n; i += 10_000) {
        const batch: StoredHashEntry[] = [];
        for (let j = i; j < Math.min(n, i + 10_000); j++) {
          const [type, value] = entryLine(j, seed, next).split(' ') as ['pdq' | 'md5', string];
          batch.push({ type, value, id: `${type}:${value.slice(0, 16)}`, source: 'bench', importedAt });
        }
        yield batch;
      }
    })(),
    { onProgress },
  );
  return (performance.now() - started) / 1000;
}

interface ChildLoad {
  s: number;
  rssAddedMiB: number;
  rssMiB: number;
  loaded: string[];
  fallbacks: string[];
}

/** A load in a fresh process (see bench/_bank-load.ts). */
async function childLoad(url: string, prefix: string, how: 'snapshots' | 'records'): Promise<ChildLoad> {
  const { stdout } = await run$(process.execPath, ['--import', 'tsx', 'bench/_bank-load.ts', url, prefix, how], { maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ChildLoad;
  if (how === 'snapshots' && (r.loaded.length !== 1 || r.fallbacks.length)) throw new Error(`snapshot load fell back: ${r.fallbacks.join(', ')}`);
  return r;
}

/** Seconds from spawning a scan worker to its "scan worker ready" log line. */
async function coldStart(url: string, prefix: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['dist/workers/scan.js'], {
    // No image classifier: its model load (~2 s) would dilute the banks' share of the start.
    env: {
      ...process.env,
      REDIS_URL: url,
      VIGIL_QUEUE_PREFIX: prefix,
      VIGIL_SCAN_QUEUE: 'bench-cold',
      VIGIL_OPS_PORT: '0',
      VIGIL_LOG_LEVEL: 'info',
      VIGIL_IMAGE_MODEL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    let err = '';
    child.stdout.resume();
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker not ready within 180 s')), 180_000);
      // The worker logs (pino, JSON lines) on stderr.
      createInterface({ input: child.stderr }).on('line', (line) => {
        err = `${err}${line}\n`.slice(-2000);
        if (line.includes('"scan worker ready"')) {
          clearTimeout(timer);
          resolve((performance.now() - started) / 1000);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`worker exited before ready: ${err.slice(-500)}`));
      });
    });
  } finally {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    await exited;
  }
}

/** 1000000 → "1M"; other sizes in full. */
const short = (n: number) => (n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n.toLocaleString('en-US'));
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
const load1 = () => loadavg()[0]?.toFixed(2) ?? '?';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const secs = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
const progress = (what: string) => {
  let last = 0;
  return (written: number) => {
    if (Date.now() - last < 5000) return;
    last = Date.now();
    process.stderr.write(`${what}: ${written.toLocaleString('en-US')} entries written\n`);
  };
};

export async function run(args: string[]): Promise<string> {
  const n = intArg(args, 'entries', 1_000_000);
  const bigN = intArg(args, 'big', 10_000_000);
  const append = intArg(args, 'append', 1000);
  const rounds = intArg(args, 'rounds', 3);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-banks-'));
  const prefix = `bench-banks-${randomBytes(3).toString('hex')}`;
  const empty = `${prefix}-empty`;
  const redis = new Redis(REDIS_URL);
  const lines: string[] = [];
  try {
    const big = join(dir, 'big.txt');
    const small = join(dir, 'append.txt');
    writeFileSync(big, hashList(n, 1));
    writeFileSync(small, hashList(append, 2));
    const store = new RedisBankStore(redis, prefix);

    // 1. Import (the snapshot is written as the revision is committed).
    const importLoad = load1();
    const mem0 = await usedMemory(redis);
    const importS = await importFile(store, 'bench', big);
    const redisBytes = (await usedMemory(redis)) - mem0;
    const snap = await store.snapshotOf('bench');
    if (!snap) throw new Error('no snapshot written');

    // 2. A worker's full load, from the snapshot and from the records, alternating, each in a fresh process.
    const loadRounds: { load: string; snap: ChildLoad; records: ChildLoad }[] = [];
    for (let r = 0; r < rounds; r++) {
      const load = load1();
      const s = await childLoad(REDIS_URL, prefix, 'snapshots');
      const records = await childLoad(REDIS_URL, prefix, 'records');
      loadRounds.push({ load, snap: s, records });
      process.stderr.write(`${short(n)} load round ${r + 1}: snapshot ${s.s.toFixed(2)} s, records ${records.s.toFixed(2)} s (load ${load})\n`);
    }

    // 3. Delta reload: a worker holding the bank patches a small append on.
    const deltaLoad = load1();
    const loader = new BankLoader({ store });
    await loader.load();
    await importFile(store, 'bench', small);
    let t = performance.now();
    await loader.load();
    const deltaS = (performance.now() - t) / 1000;
    const patched = loader.lastLoad.patched.includes('bench');
    // Baselines of the same revision: a fresh worker (snapshot + the delta since), and one reading the records.
    t = performance.now();
    const fresh = new BankLoader({ store });
    await fresh.load();
    const freshS = (performance.now() - t) / 1000;
    const freshFromSnapshot = fresh.lastSnapshots.loaded.includes('bench');
    t = performance.now();
    await new BankLoader({ store, snapshots: false }).load();
    const rebuildS = (performance.now() - t) / 1000;

    // 4. Cold start of a scan worker: no bank vs the 1M bank, alternating.
    const cold: { load: string; none: number; bank: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      const load = load1();
      const none = await coldStart(REDIS_URL, empty);
      const bank = await coldStart(REDIS_URL, prefix);
      cold.push({ load, none, bank });
      process.stderr.write(`cold start round ${r + 1}: no bank ${none.toFixed(2)} s, ${short(n)} bank ${bank.toFixed(2)} s (load ${load})\n`);
    }
    const ratios = cold.map((c) => c.bank / c.none);

    lines.push(`## Hash banks in Redis (import, worker load, delta reload)

Command: \`npm run bench -- banks --entries ${n} --big ${bigN} --append ${append} --rounds ${rounds}\`. ${n.toLocaleString('en-US')} entries (90% random PDQ,
10% MD5, seeded) in the python-threatexchange format, imported as \`vigil bank import\` does (batches of 10,000, provenance per
entry); committing the revision also writes its binary snapshot (digest words, non-default ids, sha256; chunks of ≤ 64 MiB).
A worker's \`BankLoader\` then loads the bank, each load in a fresh process as a starting worker does: from the snapshot (a few
GETs, then the exact sets and the PDQ multi-index built over the snapshot's words in place), against the per-entry records
(HSCAN + parse, the path before snapshots and the fallback now), alternating in the same run. The machine is shared with other
work: the 1-minute load average is given at the start of every step and round.

| step | load avg | time | rate / size |
| --- | ---: | ---: | ---: |
| import into Redis (records + snapshot) | ${importLoad} | ${importS.toFixed(1)} s | ${Math.round(n / importS).toLocaleString('en-US')} entries/s; Redis +${mib(redisBytes)} (${Math.round(redisBytes / n)} B/entry), of which snapshot ${mib(snap.bytes)} (${(snap.bytes / n).toFixed(1)} B/entry) |
| worker: full load from the snapshot (median of ${rounds}) | | **${median(loadRounds.map((r) => r.snap.s)).toFixed(2)} s** | process RSS +${median(loadRounds.map((r) => r.snap.rssAddedMiB)).toFixed(0)} MiB |
| baseline: full load from the records (median of ${rounds}) | | ${median(loadRounds.map((r) => r.records.s)).toFixed(2)} s | process RSS +${median(loadRounds.map((r) => r.records.rssAddedMiB)).toFixed(0)} MiB |
| worker: reload after +${append} entries, ${patched ? 'patched from the delta' : '**full reload (delta not used)**'} | ${deltaLoad} | ${(deltaS * 1000).toFixed(0)} ms | |
| fresh worker at that revision: ${freshFromSnapshot ? 'snapshot + the delta since' : '**records (snapshot not used)**'} | | ${freshS.toFixed(2)} s | |
| baseline: full reload of that revision from the records | | ${rebuildS.toFixed(2)} s | |

Raw rounds (load avg at the start of the round; snapshot s / records s; RSS added MiB):
${loadRounds.map((r, i) => `- round ${i + 1} (load ${r.load}): snapshot ${r.snap.s.toFixed(2)} s (+${r.snap.rssAddedMiB.toFixed(0)} MiB), records ${r.records.s.toFixed(2)} s (+${r.records.rssAddedMiB.toFixed(0)} MiB), ratio ${(r.records.s / r.snap.s).toFixed(1)}×`).join('\n')}

Snapshot load vs records load: ${median(loadRounds.map((r) => r.records.s / r.snap.s)).toFixed(1)}× faster (median of the per-round ratios). Delta reload vs full reload: ${(rebuildS / deltaS).toFixed(0)}× faster.

### Worker cold start, ${short(n)} bank vs no bank

\`node dist/workers/scan.js\` spawned until its \`scan worker ready\` log line (policy, banks, PDQ hasher, queue connected; no
image classifier, whose model load would only add the same seconds to both), once
with an empty bank store and once with the ${n.toLocaleString('en-US')}-entry bank (loaded from its snapshot), alternating in each round.

| round | load avg | no bank | ${short(n)} bank | ratio |
| --- | ---: | ---: | ---: | ---: |
${cold.map((c, i) => `| ${i + 1} | ${c.load} | ${c.none.toFixed(2)} s | ${c.bank.toFixed(2)} s | ${(c.bank / c.none).toFixed(2)}× |`).join('\n')}

Cold start with a ${short(n)} bank: **${median(ratios).toFixed(2)}×** the cold start with no bank (median of the per-round ratios; raw: ${secs(ratios)}).`);
  } finally {
    redis.disconnect();
    await deletePrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  }

  // 5. 10M entries on a private redis-server (no memory limit), never on the shared one.
  const server = await startRedisServer({ args: ['--maxmemory', '0'] });
  const own = new Redis(server.url);
  try {
    const store = new RedisBankStore(own, 'bench10m');
    const importLoad = load1();
    const mem0 = await usedMemory(own);
    const importS = await importGenerated(store, 'big', bigN, 3, progress(`import ${bigN}`));
    const redisBytes = (await usedMemory(own)) - mem0;
    const snap = await store.snapshotOf('big');
    if (!snap) throw new Error('no snapshot written');
    const snapRounds: { load: string; r: ChildLoad }[] = [];
    for (let r = 0; r < Math.min(rounds, 2); r++) {
      const load = load1();
      snapRounds.push({ load, r: await childLoad(server.url, 'bench10m', 'snapshots') });
      process.stderr.write(`${short(bigN)} snapshot load round ${r + 1}: ${snapRounds.at(-1)?.r.s.toFixed(2)} s (load ${load})\n`);
    }
    const recordsLoad = load1();
    const records = await childLoad(server.url, 'bench10m', 'records');
    process.stderr.write(`${short(bigN)} records load: ${records.s.toFixed(2)} s (load ${recordsLoad})\n`);
    lines.push(`### ${short(bigN)} entries (private redis-server, no memory limit)

${bigN.toLocaleString('en-US')} entries of the same mix, generated and imported in batches of 10,000 into a redis-server of the
benchmark's own; each load in a fresh process.

| step | load avg | time | size |
| --- | ---: | ---: | ---: |
| import (records + snapshot) | ${importLoad} | ${importS.toFixed(1)} s | Redis +${mib(redisBytes)}, of which snapshot ${mib(snap.bytes)} in ${snap.chunks} chunks |
${snapRounds.map((s, i) => `| worker: full load from the snapshot, round ${i + 1} | ${s.load} | **${s.r.s.toFixed(2)} s** | process RSS ${s.r.rssMiB.toFixed(0)} MiB (+${s.r.rssAddedMiB.toFixed(0)} MiB for the bank) |`).join('\n')}
| baseline: full load from the records | ${recordsLoad} | ${records.s.toFixed(2)} s | process RSS ${records.rssMiB.toFixed(0)} MiB (+${records.rssAddedMiB.toFixed(0)} MiB) |

${short(bigN)} snapshot load vs records load: ${(records.s / median(snapRounds.map((s) => s.r.s))).toFixed(1)}× faster.`);
  } finally {
    own.disconnect();
    await server.stop();
  }
  return lines.join('\n\n');
}
