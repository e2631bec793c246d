/** Workers patch the banks they hold from recorded changes instead of re-reading them in full. */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { BankLoader, type BankSnapshot } from '../../src/app.js';
import { bankVersion } from '../../src/adapters/redis-bank-store.js';
import { RedisBankStore, type StoredHashEntry } from '../../src/adapters/redis-bank-store.js';
import { defaultEntryId } from '../../src/core/banks/hash-bank.js';
import type { HashMatchOptions, MediaHashes } from '../../src/core/ports.js';
import { exactHashes } from '../../src/core/exact-hashes.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const rand = seededRandom(5);
const pdqHex = () => Array.from({ length: 64 }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join('');
const flip = (hex: string, bits: number) => {
  const chars = hex.split('');
  for (let i = 0; i < bits; i++) chars[i] = (parseInt(chars[i] ?? '0', 16) ^ 1).toString(16);
  return chars.join('');
};
const options: HashMatchOptions = { pdqThreshold: () => 31, pdqMinQuality: 50, dihedral: () => false };
const entry = (type: 'pdq' | 'md5', value: string, id?: string): StoredHashEntry => ({
  type,
  value,
  id: id ?? defaultEntryId(type, value),
  importedAt: '2026-11-27T00:00:00Z',
  source: 'test',
});
async function* batches<T>(items: T[]): AsyncGenerator<T[]> {
  yield items;
}

async function setup() {
  const prefix = uniquePrefix('deltas');
  const redis = new Redis(REDIS_URL);
  cleanups.push(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const store = new RedisBankStore(redis, prefix);
  return { store, redis, prefix, loader: new BankLoader({ store }) };
}

describe('bank deltas', () => {
  it('appends and removals are patched into the held bank; the result matches a fresh full load', async () => {
    const { store, loader } = await setup();
    const base = Array.from({ length: 3000 }, () => pdqHex());
    await store.importHashEntries('big', batches(base.map((h, i) => entry('pdq', h, i % 7 === 0 ? `custom-${i}` : undefined))));
    await loader.load();
    expect(loader.lastLoad).toEqual({ built: ['big'], patched: [], reused: [] });

    const added = [pdqHex(), pdqHex()];
    const md5 = exactHashes(Buffer.from('benign fixture')).md5;
    await store.importHashEntries('big', batches([entry('pdq', added[0] as string, 'new-a'), entry('pdq', added[1] as string), entry('md5', md5, 'an-md5')]));
    await store.removeEntries('big', [`pdq:${base[0]}`, `pdq:${base[7]}`]);
    // An add of a value already present replaces its entry (new id).
    await store.importHashEntries('big', batches([entry('pdq', base[14] as string, 'renamed-14')]));
    const patched = await loader.load();
    expect(loader.lastLoad).toEqual({ built: [], patched: ['big'], reused: [] });
    expect(patched.hashBanks.versions()).toEqual({ big: expect.stringMatching(/^r4\.[0-9a-f]{8}$/) });

    const fresh = await new BankLoader({ store }).load();
    const queries: MediaHashes[] = [...base.slice(0, 20), ...added].map((h) => ({ ...exactHashes(Buffer.from(h)), pdq: { hash: flip(h, 3), quality: 100 } }));
    queries.push({ ...exactHashes(Buffer.from('benign fixture')) });
    for (const q of queries) expect(patched.hashBanks.match(q, options)).toEqual(fresh.hashBanks.match(q, options));
    const ids = (h: string) => patched.hashBanks.match({ ...exactHashes(Buffer.from('q')), pdq: { hash: h, quality: 100 } }, options).map((m) => m.entryId);
    expect(ids(added[0] as string)).toEqual(['new-a']);
    expect(ids(base[0] as string)).toEqual([]);
    expect(ids(base[14] as string)).toEqual(['renamed-14']);
    expect(patched.hashBanks.match(exactHashes(Buffer.from('benign fixture')), options).map((m) => m.entryId)).toEqual(['an-md5']);

    await loader.load();
    expect(loader.lastLoad).toEqual({ built: [], patched: [], reused: ['big'] });
  });

  it('a replacement, a change of kind, or a missing delta means a full reload', async () => {
    const { store, redis, prefix, loader } = await setup();
    await store.importHashEntries('b', batches([entry('pdq', pdqHex())]));
    await loader.load();
    await store.importHashEntries('b', batches([entry('pdq', pdqHex())]), { mode: 'replace' });
    await loader.load();
    expect(loader.lastLoad.built).toEqual(['b']);
    await store.importHashEntries('b', batches([entry('pdq', pdqHex())]), { kind: 'allow' });
    await loader.load();
    expect(loader.lastLoad.built).toEqual(['b']);
    await store.importHashEntries('b', batches([entry('pdq', pdqHex())]));
    await redis.del(`${prefix}:banks:delta:b:${(await store.get('b'))?.generation}:4`);
    await loader.load();
    expect(loader.lastLoad.built).toEqual(['b']);
    await store.importHashEntries('b', batches([entry('pdq', pdqHex())]));
    await loader.load();
    expect(loader.lastLoad.patched).toEqual(['b']);
  });

  it('a patch never changes a snapshot already taken: each snapshot matches exactly the contents its version names', async () => {
    const { store, loader } = await setup();
    const first = pdqHex();
    await store.importHashEntries('snap', batches([entry('pdq', first, 'first')]));
    const s1 = await loader.load();
    const added = pdqHex();
    await store.importHashEntries('snap', batches([entry('pdq', added, 'added')]));
    await store.removeEntries('snap', [`pdq:${first}`]);
    const s2 = await loader.load();
    expect(loader.lastLoad.patched).toEqual(['snap']);
    const q = (h: string): MediaHashes => ({ ...exactHashes(Buffer.from(h)), pdq: { hash: h, quality: 100 } });
    expect(s1.hashBanks.match(q(added), options)).toEqual([]);
    expect(s1.hashBanks.match(q(first), options).map((m) => m.entryId)).toEqual(['first']);
    expect(s2.hashBanks.match(q(first), options)).toEqual([]);
    expect(s2.hashBanks.match(q(added), options).map((m) => [m.entryId, m.bankVersion])).toEqual([['added', s2.hashBanks.versions().snap]]);
  });

  it('scans racing reloads never name a revision whose contents lack the matched entry', async () => {
    const { store, loader } = await setup();
    const meta = async () => bankVersion((await store.get('race'))!);
    // Contents of every version, by entry id; entries are added and removed as the test goes.
    const contents = new Map<string, Set<string>>();
    const live = new Map<string, { type: 'pdq' | 'md5'; value: string }>();
    const seed = Array.from({ length: 300 }, (_, i) => ({
      id: `seed-${i}`,
      type: (i % 2 ? 'pdq' : 'md5') as 'pdq' | 'md5',
      value: i % 2 ? pdqHex() : exactHashes(Buffer.from(`seed ${i}`)).md5,
    }));
    await store.importHashEntries('race', batches(seed.map((e) => entry(e.type, e.value, e.id))));
    for (const e of seed) live.set(e.id, e);
    contents.set(await meta(), new Set(live.keys()));
    let current: BankSnapshot = await loader.load();
    const all = [...seed];
    let stop = false;
    let checked = 0;
    const scans = (async () => {
      while (!stop) {
        const snapshot = current;
        // A scan takes its snapshot, then waits (decode, PDQ thread) before it matches.
        await new Promise((r) => setImmediate(r));
        const target = all[Math.floor(rand() * all.length)]!;
        const hashes: MediaHashes =
          target.type === 'pdq'
            ? { ...exactHashes(Buffer.from('x')), pdq: { hash: target.value, quality: 100 } }
            : { ...exactHashes(Buffer.from('x')), md5: target.value };
        for (const m of snapshot.hashBanks.match(hashes, options)) {
          expect(contents.get(m.bankVersion), `version ${m.bankVersion}`).toBeDefined();
          expect(contents.get(m.bankVersion)?.has(m.entryId), `${m.entryId} in ${m.bankVersion}`).toBe(true);
          checked++;
        }
      }
    })();
    for (let round = 0; round < 40; round++) {
      const add = {
        id: `add-${round}`,
        type: (round % 2 ? 'pdq' : 'md5') as 'pdq' | 'md5',
        value: round % 2 ? pdqHex() : exactHashes(Buffer.from(`add ${round}`)).md5,
      };
      all.push(add);
      await store.importHashEntries('race', batches([entry(add.type, add.value, add.id)]));
      live.set(add.id, add);
      contents.set(await meta(), new Set(live.keys()));
      const gone = [...live.values()][Math.floor(rand() * live.size)]!;
      const goneId = [...live.entries()].find(([, v]) => v === gone)![0];
      await store.removeEntries('race', [`${gone.type}:${gone.value}`]);
      live.delete(goneId);
      contents.set(await meta(), new Set(live.keys()));
      current = await loader.load();
      await new Promise((r) => setImmediate(r));
    }
    stop = true;
    await scans;
    expect(checked).toBeGreaterThan(10);
  });

  it('a bank removed and created again is a new generation: workers load its new contents', async () => {
    const { store, loader } = await setup();
    const a = pdqHex();
    const b = pdqHex();
    await store.importHashEntries('again', batches([entry('pdq', a, 'old')]));
    const s1 = await loader.load();
    await store.removeBank('again');
    await store.importHashEntries('again', batches([entry('pdq', b, 'new')]));
    const s2 = await loader.load();
    expect(loader.lastLoad.built).toEqual(['again']);
    // Same revision number, different identity.
    expect(s2.hashBanks.versions().again).toMatch(/^r1\./);
    expect(s2.hashBanks.versions().again).not.toBe(s1.hashBanks.versions().again);
    const ids = (h: string) => s2.hashBanks.match({ ...exactHashes(Buffer.from('q')), pdq: { hash: h, quality: 100 } }, options).map((m) => m.entryId);
    expect(ids(b)).toEqual(['new']);
    expect(ids(a)).toEqual([]);
  });
});
