/** The process-wide decode budget: grants in order, bounded waits, and waiting never counted as decode time. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DecodeBudget } from '../../src/adapters/decode-budget.js';
import { SharpImageDecoder } from '../../src/adapters/sharp-decoder.js';
import { waitFor } from '../helpers/redis.js';

describe('DecodeBudget', () => {
  it('grants first come, first served; a request larger than the budget runs alone; release is idempotent', async () => {
    const budget = new DecodeBudget({ pixels: 100, maxWaitMs: 10_000 });
    const order: string[] = [];
    const a = await budget.acquire(60);
    const big = budget.acquire(500).then((g) => (order.push('big'), g));
    const small = budget.acquire(10).then((g) => (order.push('small'), g)); // fits now, but waits its turn behind "big"
    await waitFor('both queued', async () => (budget.waiting === 2 ? true : undefined));
    expect(budget.inUse).toBe(60);
    a.release();
    a.release();
    const g1 = await big;
    expect(g1.pixels).toBe(100); // capped at the budget: it runs alone
    expect(budget.inUse).toBe(100);
    expect(order).toEqual(['big']);
    g1.release();
    (await small).release();
    expect(order).toEqual(['big', 'small']);
    expect(budget.inUse).toBe(0);
  });

  it('a wait is bounded: past maxWaitMs the caller gets MEDIA_BUSY, which is retriable, and the queue behind it moves on', async () => {
    const budget = new DecodeBudget({ pixels: 100, maxWaitMs: 50 });
    const held = await budget.acquire(90);
    await expect(budget.acquire(50)).rejects.toMatchObject({ code: 'MEDIA_BUSY', retriable: true });
    expect(budget.waiting).toBe(0);
    held.release();
    (await budget.acquire(100)).release();
  });
});

describe('SharpImageDecoder under a decode budget', () => {
  const image = (seed: number) =>
    sharp({ create: { width: 1000, height: 800, channels: 3, background: { r: seed * 20, g: 90, b: 160 } } })
      .jpeg()
      .toBuffer();

  it('never holds more pixels than the budget, whatever the number of decodes asked for at once', async () => {
    let peak = 0;
    const budget = new DecodeBudget({ pixels: 2_000_000, maxWaitMs: 60_000, onInUse: (p) => (peak = Math.max(peak, p)) });
    const decoder = new SharpImageDecoder({ budget });
    const inputs = await Promise.all(Array.from({ length: 8 }, (_, i) => image(i)));
    // Each lease is held a moment after its decode, as a source reading the raster would.
    const results = await Promise.all(
      inputs.map(async (b) => {
        const lease = await decoder.decodeLeased(b);
        await new Promise((r) => setImmediate(r));
        const size = lease.image.data.length;
        lease.release();
        return size;
      }),
    );
    expect(results).toEqual(Array(8).fill(1000 * 800 * 3));
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(2_000_000);
    expect(budget.inUse).toBe(0);
  });

  it('time spent waiting for the budget is not decode time: a decode that waited far longer than its timeout still succeeds', async () => {
    const budget = new DecodeBudget({ pixels: 1_000_000, maxWaitMs: 60_000 });
    const timeoutMs = 250;
    const decoder = new SharpImageDecoder({ budget, timeoutMs });
    const bytes = await image(3);
    const holder = await budget.acquire(1_000_000);
    const started = Date.now();
    const pending = decoder.decodeLeased(bytes);
    await waitFor('the decode to queue for the budget', async () => (budget.waiting === 1 ? true : undefined));
    // Keep it waiting well past its decode timeout.
    await waitFor('three timeouts to pass', async () => (Date.now() - started > 3 * timeoutMs ? true : undefined));
    holder.release();
    const lease = await pending;
    expect(lease.image.width).toBe(1000);
    lease.release();
    expect(budget.inUse).toBe(0);
  });

  it('a failed decode gives its share of the budget back', async () => {
    const budget = new DecodeBudget({ pixels: 1_000_000, maxWaitMs: 1000 });
    const decoder = new SharpImageDecoder({ budget });
    const good = await image(1);
    const truncated = good.subarray(0, Math.floor(good.length / 2));
    await expect(decoder.decodeLeased(truncated)).rejects.toMatchObject({ code: 'MEDIA_UNDECODABLE' });
    await waitFor('the grant to come back', async () => (budget.inUse === 0 ? true : undefined));
  });
});
