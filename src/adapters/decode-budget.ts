/**
 * One memory budget for every image decode in the process, counted in decoded pixels in flight.
 *
 * A decoded raster (and what libvips holds while producing it) is what blows a worker's memory: a
 * 100-Mpx image is 300 MB of RGB before PDQ even starts, and a burst of sixteen at once used to take a
 * worker past 5 GiB. So a decode first reads the image header (cheap: no pixels), then waits here
 * until its pixels fit under the budget, and holds them until every source that reads the raster is
 * done with it. Waiting is not decoding: the decode timeout starts only once the budget is granted.
 *
 * Grants are first come, first served (a large image is not starved by a stream of small ones). An
 * image larger than the whole budget is granted when nothing else is in flight, so it still decodes,
 * alone. A wait is bounded: past `maxWaitMs` the caller gets MEDIA_BUSY, which is retriable, so the
 * event is retried with backoff rather than completed without its media scanned.
 */
import { VigilError } from '../core/errors.js';

export interface DecodeBudgetOptions {
  /** Pixels (width × height) that may be decoded or held at once. Config decodeBudgetPixels. */
  pixels: number;
  /** Longest wait for a grant before MEDIA_BUSY. Config decodeWaitMs. */
  maxWaitMs: number;
  /** Told each grant's wait, and the pixels in use after every change (for metrics). */
  onWait?: (seconds: number) => void;
  onInUse?: (pixels: number, waiting: number) => void;
}

/** A grant; `release()` is idempotent and must be called once the raster is no longer needed. */
export interface BudgetGrant {
  readonly pixels: number;
  release(): void;
}

interface Waiter {
  pixels: number;
  grant: (g: BudgetGrant) => void;
  fail: (err: VigilError) => void;
  timer: NodeJS.Timeout;
  since: number;
}

export class DecodeBudget {
  readonly capacity: number;
  readonly maxWaitMs: number;
  #inUse = 0;
  #inFlight = 0;
  readonly #queue: Waiter[] = [];
  readonly #onWait: ((seconds: number) => void) | undefined;
  readonly #onInUse: ((pixels: number, waiting: number) => void) | undefined;

  constructor(options: DecodeBudgetOptions) {
    if (!Number.isInteger(options.pixels) || options.pixels < 1) throw new RangeError('DecodeBudget: pixels must be a positive integer');
    if (!Number.isInteger(options.maxWaitMs) || options.maxWaitMs < 1) throw new RangeError('DecodeBudget: maxWaitMs must be a positive integer');
    this.capacity = options.pixels;
    this.maxWaitMs = options.maxWaitMs;
    this.#onWait = options.onWait;
    this.#onInUse = options.onInUse;
  }

  /** Pixels currently granted. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Requests waiting for a grant. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Resolves once `pixels` fit (or, for an image larger than the budget, once nothing else is in flight). */
  acquire(pixels: number): Promise<BudgetGrant> {
    const want = Math.max(1, Math.min(Math.ceil(pixels), this.capacity));
    if (this.#queue.length === 0 && this.#fits(want)) {
      this.#onWait?.(0);
      return Promise.resolve(this.#grant(want));
    }
    return new Promise<BudgetGrant>((resolve, reject) => {
      const waiter: Waiter = {
        pixels: want,
        grant: resolve,
        fail: reject,
        since: Date.now(),
        timer: setTimeout(() => {
          const at = this.#queue.indexOf(waiter);
          if (at < 0) return;
          this.#queue.splice(at, 1);
          this.#changed();
          reject(
            new VigilError(
              'MEDIA_BUSY',
              `no decode budget within ${this.maxWaitMs} ms (${this.#inUse} of ${this.capacity} pixels in use, ${this.#queue.length} waiting); retried later`,
            ),
          );
          // The head may have been blocking smaller requests behind it.
          this.#drain();
        }, this.maxWaitMs),
      };
      waiter.timer.unref?.();
      this.#queue.push(waiter);
      this.#changed();
    });
  }

  #fits(pixels: number): boolean {
    return this.#inFlight === 0 || this.#inUse + pixels <= this.capacity;
  }

  #grant(pixels: number): BudgetGrant {
    this.#inUse += pixels;
    this.#inFlight++;
    this.#changed();
    let released = false;
    return {
      pixels,
      release: () => {
        if (released) return;
        released = true;
        this.#inUse -= pixels;
        this.#inFlight--;
        this.#drain();
        this.#changed();
      },
    };
  }

  #drain(): void {
    for (;;) {
      const head = this.#queue[0];
      if (!head || !this.#fits(head.pixels)) return;
      this.#queue.shift();
      clearTimeout(head.timer);
      this.#onWait?.((Date.now() - head.since) / 1000);
      head.grant(this.#grant(head.pixels));
    }
  }

  #changed(): void {
    this.#onInUse?.(this.#inUse, this.#queue.length);
  }
}
