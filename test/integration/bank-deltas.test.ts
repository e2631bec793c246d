/** Workers patch the banks they hold from recorded changes instead of re-reading them in full. */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { BankLoader } from '../../src/app.js';
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
const options: HashMatchOptions = { pdqThreshold: () => 31, pdqMinQuality: 50, dihedral: false };
const entry = (type: 'pdq' | 'md5', value: string, id?: string): StoredHashEntry => ({ type, value, id: id ?? defaultEntryId(type, value), importedAt: '2026-11-27T00:00:00Z', source: 'test' });
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
    expect(patched.hashBanks.versions()).toEqual({ big: 'r4' });

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
    await redis.del(`${prefix}:banks:delta:b:4`);
    await loader.load();
    expect(loader.lastLoad.built).toEqual(['b']);
    await store.importHashEntries('b', batches([entry('pdq', pdqHex())]));
    await loader.load();
    expect(loader.lastLoad.patched).toEqual(['b']);
  });
});
