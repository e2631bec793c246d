/** In-memory implementations of the core's ports, for unit tests of pure logic. */
import type { VigilError } from '../../src/core/errors.js';
import type {
  DeadLetter,
  DeadLetterSink,
  DecodedImage,
  FlagSink,
  MediaDecoder,
  PdqDigest,
  PdqHasher,
  RasterLease,
  TextMatch,
  TextScanner,
} from '../../src/core/ports.js';
import type { Flag } from '../../src/core/contracts.js';
import type { Severity } from '../../src/core/signals.js';

/** Case-insensitive phrase search; enough to exercise the scan → decide path without the real matcher. */
export class MemTextScanner implements TextScanner {
  constructor(
    private readonly terms: { id: string; phrase: string; category: string; severity: Severity }[],
    private readonly bank = { id: 'mem-terms', version: 'v1' },
  ) {}
  scan(text: string): TextMatch[] {
    const lower = text.toLowerCase();
    const out: TextMatch[] = [];
    for (const t of this.terms) {
      const at = lower.indexOf(t.phrase);
      if (at >= 0)
        out.push({
          bankId: this.bank.id,
          bankVersion: this.bank.version,
          termId: t.id,
          category: t.category,
          severity: t.severity,
          mode: 'whole-word',
          start: at,
          end: at + t.phrase.length,
        });
    }
    return out;
  }
  versions(): Record<string, string> {
    return { [this.bank.id]: this.bank.version };
  }
}

/**
 * A stand-in PDQ: a digest made from the raster's size and first samples (enough to prove which raster
 * a source saw), quality 100. Counts calls.
 */
export class MemPdqHasher implements PdqHasher {
  calls = 0;
  async pdq(image: DecodedImage): Promise<PdqDigest> {
    this.calls++;
    const head = Array.from(image.data.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
    return {
      hash: `${image.width.toString(16).padStart(8, '0')}${image.height.toString(16).padStart(8, '0')}${head}`.padEnd(64, '0').slice(0, 64),
      quality: 100,
    };
  }
}

/** Decodes "fake rasters": any accepted raster signature gives a 4×4 grey image; counts decodes and releases. */
export class MemDecoder implements MediaDecoder {
  decodes = 0;
  released = 0;
  constructor(private readonly fail?: VigilError) {}
  async decode(bytes: Uint8Array): Promise<RasterLease> {
    this.decodes++;
    if (this.fail) throw this.fail;
    const data = new Uint8Array(16).fill(bytes[bytes.length - 1] ?? 0);
    return { image: { width: 4, height: 4, channels: 1, data }, width: 4, height: 4, release: () => void this.released++ };
  }
}

export class MemFlagSink implements FlagSink {
  readonly flags = new Map<string, Flag>();
  async emit(flags: readonly Flag[]): Promise<void> {
    for (const f of flags) if (!this.flags.has(f.flagId)) this.flags.set(f.flagId, f);
  }
}

export class MemDeadLetterSink implements DeadLetterSink {
  readonly entries: DeadLetter[] = [];
  async deadLetter(entry: DeadLetter): Promise<void> {
    this.entries.push(entry);
  }
}
