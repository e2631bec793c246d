/**
 * Retro-matching (VIGIL_RETRO_WINDOW=30d): Redis bytes per retained media item, and the time to
 * match 1,000 new bank entries against 1M retained items — with each PDQ strategy and the
 * pair-by-pair scan as the baseline, in the same run, on the same data.
 *
 *   npm run bench -- retro [--retained 1000000] [--entries 1000]
 *
 * Runs against a private redis-server on a free loopback port (not the shared Redis). Data: seeded
 * random PDQ hashes and digests; realistic ids (eventId, messageId, conversationId, senderId of
 * 20–24 characters, an ISO sentAt). Of the new entries, 5% are near-duplicates (10 bits flipped) of
 * retained PDQ hashes, 5% exact SHA-256 digests of retained items, the rest unrelated PDQ hashes.
 */
import { Redis } from 'ioredis';
import { loadavg } from 'node:os';
import { built, intArg } from './_shared.js';
import type * as Retro from '../src/core/retro.js';
import type * as RetroWindow from '../src/adapters/retro-window.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { seededUint32 } from '../test/helpers/seeded-random.js';

const { newEntriesOf, retroCandidates } = await built<typeof Retro>('core/retro.js');
const { RedisRetroWindow } = await built<typeof RetroWindow>('adapters/retro-window.js');

const WINDOW_MS = 30 * 24 * 3600 * 1000;
const RADIUS = 31;

export async function run(args: string[]): Promise<string> {
  const n = intArg(args, 'retained', 1_000_000);
  const k = intArg(args, 'entries', 1000);
  const load0 = loadavg();
  const server = await startRedisServer();
  const redis = new Redis(server.url);
  try {
    const next = seededUint32(42);
    const hexOf = (words: number) => {
      let s = '';
      for (let i = 0; i < words; i++) s += next().toString(16).padStart(8, '0');
      return s;
    };
    const window = new RedisRetroWindow(redis, 'bench', WINDOW_MS);
    const now = Date.now();
    const pdqs: string[] = [];
    const sha256s: string[] = [];
    const used0 = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
    let recordBytes = 0;
    const t0 = performance.now();
    const { encodeRetained } = await built<typeof Retro>('core/retro.js');
    for (let at = 0; at < n; at += 5000) {
      const items: Retro.RetainedItem[] = [];
      for (let i = at; i < Math.min(n, at + 5000); i++) {
        const pdq = hexOf(8);
        const sha256 = hexOf(8);
        pdqs.push(pdq);
        sha256s.push(sha256);
        const item: Retro.RetainedItem = {
          eventId: `evt_${hexOf(2)}${i}`,
          messageId: `msg_${hexOf(2)}${i}`,
          conversationId: `conv_${hexOf(2)}`,
          senderId: `user_${hexOf(2)}`,
          mediaId: `m${i % 3}`,
          sentAt: new Date(now - ((i * 2591) % (WINDOW_MS - 3_600_000))).toISOString(),
          priority: 'normal',
          // Spread over the window, as a month of traffic would be.
          scannedAt: now - ((i * 2591) % (WINDOW_MS - 3_600_000)),
          md5: hexOf(4),
          sha1: hexOf(5),
          sha256,
          pdq: { hash: pdq, quality: 90 + (i % 11) },
        };
        recordBytes += encodeRetained(item).length;
        items.push(item);
      }
      await window.retain(items);
    }
    const writeS = (performance.now() - t0) / 1000;
    const used1 = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
    let usage = 0;
    const keys = window.keys(now);
    let present = 0;
    for (const key of keys) {
      const u = await redis.memory('USAGE', key);
      if (u !== null) {
        usage += Number(u);
        present++;
      }
    }

    // The new entries.
    const flip = (hex: string, bits: number) => {
      const b = Buffer.from(hex, 'hex');
      for (let j = 0; j < bits; j++) b[(j * 13) % 32]! ^= 1 << (j % 8);
      return b.toString('hex');
    };
    const entries: { type: 'pdq' | 'sha256'; value: string }[] = [];
    const nearCount = Math.round(k * 0.05);
    const exactCount = Math.round(k * 0.05);
    for (let j = 0; j < nearCount; j++) entries.push({ type: 'pdq', value: flip(pdqs[(j * 7919) % n]!, 10) });
    for (let j = 0; j < exactCount; j++) entries.push({ type: 'sha256', value: sha256s[(j * 104729 + 1) % n]! });
    while (entries.length < k) entries.push({ type: 'pdq', value: hexOf(8) });
    const wanted = newEntriesOf(entries);

    let t = performance.now();
    const set = await window.read(now + 1);
    const readS = (performance.now() - t) / 1000;
    const results: Record<string, { s: number; found: number }> = {};
    let reference: number[] | undefined;
    for (const strategy of ['index-retained', 'index-new', 'scan'] as const) {
      t = performance.now();
      const found = retroCandidates(set, wanted, { radius: RADIUS, minQuality: 50, strategy });
      results[strategy] = { s: (performance.now() - t) / 1000, found: found.length };
      if (reference && found.join() !== reference.join()) throw new Error(`strategy ${strategy} found other candidates than index-retained`);
      reference ??= found;
    }
    if (set.size !== n) throw new Error(`read ${set.size} retained items, wrote ${n}`);
    const load1 = loadavg();
    const f = (s: number) => `${s.toFixed(2)} s`;
    const best = results['index-retained']!;
    const scan = results['scan']!;
    const indexNew = results['index-new']!;
    return [
      '## Retro-matching (`npm run bench -- retro`)',
      '',
      `${n.toLocaleString('en')} retained media items (VIGIL_RETRO_WINDOW=30d, ${keys.length} time buckets of ${window.bucketMs / 60000} min, ${present} present) in a private redis-server; ${k.toLocaleString('en')} new bank entries (${nearCount} near-duplicate PDQ, ${exactCount} exact SHA-256, the rest unrelated PDQ), radius ${RADIUS}.`,
      '',
      '| Measure | Value |',
      '| --- | --- |',
      `| Record size (PDQ + quality, MD5, SHA-1, SHA-256, 6 ids, time) | ${(recordBytes / n).toFixed(1)} B per item (mean) |`,
      `| Redis MEMORY USAGE of the window's keys | ${(usage / n).toFixed(1)} B per item (${(usage / 2 ** 20).toFixed(0)} MiB) |`,
      `| Redis INFO used_memory delta | ${((used1 - used0) / n).toFixed(1)} B per item |`,
      `| Writing the window (5,000 items per MULTI) | ${f(writeS)} (${Math.round(n / writeS).toLocaleString('en')} items/s) |`,
      `| Reading the window (GET of every bucket, parse) | ${f(readS)} |`,
      `| Match, **index-retained** (multi-index over the retained PDQ, 1 query per new entry; exact digests by prefix filter) | ${f(best.s)} |`,
      `| Match, index-new (multi-index over the new entries, probe every retained hash) | ${f(indexNew.s)} |`,
      `| Match, baseline: pair-by-pair scan | ${f(scan.s)} |`,
      `| Candidates found (all three agree) | ${best.found} |`,
      `| Retro-match total, default strategy (read + match) | ${f(readS + best.s)}; the baseline scan is ${(scan.s / best.s).toFixed(1)}× the default's match time |`,
      '',
      `Load average during the run: ${load0.map((l) => l.toFixed(1)).join(' / ')} at start, ${load1.map((l) => l.toFixed(1)).join(' / ')} at end (1/5/15 min; the machine is shared with other jobs, so absolute times are pessimistic, ratios within the run fair). The live path then confirms each candidate against the live banks and decides with the policy: proportional to candidates, not to the window.`,
    ].join('\n');
  } finally {
    redis.disconnect();
    await server.stop();
  }
}
