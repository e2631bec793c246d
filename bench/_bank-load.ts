/**
 * One worker's bank load in a fresh process, as a worker starting does it: connect, load every bank
 * of the store under PREFIX, report the seconds and the RSS the banks added. Used by bench/banks.ts.
 *
 *   node --import tsx bench/_bank-load.ts REDIS_URL PREFIX snapshots|records
 */
import { Redis } from 'ioredis';
import { built } from './_shared.js';
import type * as App from '../src/app.js';
import type * as BankStore from '../src/adapters/redis-bank-store.js';

const [url = '', prefix = '', how = 'snapshots'] = process.argv.slice(2);
const { BankLoader } = await built<typeof App>('app.js');
const { RedisBankStore } = await built<typeof BankStore>('adapters/redis-bank-store.js');
const redis = new Redis(url);
await redis.ping();
const store = new RedisBankStore(redis, prefix);
const rss0 = process.memoryUsage().rss;
const fallbacks: string[] = [];
const loader = new BankLoader({ store, snapshots: how === 'snapshots', onSnapshotFallback: (bank, reason) => fallbacks.push(`${bank}:${reason}`) });
const t = performance.now();
const snap = await loader.load();
const s = (performance.now() - t) / 1000;
const rss = process.memoryUsage().rss;
process.stdout.write(
  `${JSON.stringify({ s, rssAddedMiB: (rss - rss0) / 2 ** 20, rssMiB: rss / 2 ** 20, versions: snap.hashBanks.versions(), loaded: loader.lastSnapshots.loaded, fallbacks })}\n`,
);
redis.disconnect();
