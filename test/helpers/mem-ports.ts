/** In-memory implementations of the core's ports, for unit tests of pure logic. */
import { exactHashes } from '../../src/core/exact-hashes.js';
import { VigilError } from '../../src/core/errors.js';
import type { DeadLetter, DeadLetterSink, FlagSink, MediaHasher, MediaHashes, TextMatch, TextScanner } from '../../src/core/ports.js';
import type { Flag } from '../../src/core/contracts.js';
import type { Severity } from '../../src/core/signals.js';

/** Case-insensitive phrase search; enough to exercise the scan → decide path without the real matcher. */
export class MemTextScanner implements TextScanner {
  constructor(private readonly terms: { id: string; phrase: string; category: string; severity: Severity }[], private readonly bank = { id: 'mem-terms', version: 'v1' }) {}
  scan(text: string): TextMatch[] {
    const lower = text.toLowerCase();
    const out: TextMatch[] = [];
    for (const t of this.terms) {
      const at = lower.indexOf(t.phrase);
      if (at >= 0) out.push({ bankId: this.bank.id, bankVersion: this.bank.version, termId: t.id, category: t.category, severity: t.severity, mode: 'whole-word', start: at, end: at + t.phrase.length });
    }
    return out;
  }
  versions(): Record<string, string> {
    return { [this.bank.id]: this.bank.version };
  }
}

/** Exact hashes only; bytes starting with "BAD" are treated as an undecodable image. */
export class MemMediaHasher implements MediaHasher {
  async hash(bytes: Uint8Array): Promise<MediaHashes> {
    if (Buffer.from(bytes.subarray(0, 3)).toString() === 'BAD') throw new VigilError('MEDIA_UNDECODABLE', 'not an image');
    return exactHashes(bytes);
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
