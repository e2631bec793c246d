/**
 * The append-only audit log of everything the safety team (and the brakes) change: policy versions,
 * shadow candidates, quarantines, deconfirmed bank entries. A Redis stream on the bank-store
 * connection at `${prefix}:vigil:audit`, never trimmed. Entries hold ids, versions, reasons and
 * policy diffs — never message content.
 */
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './bullmq/connection.js';
import { VigilError } from '../core/errors.js';

export type AuditEntry = { at: string; actor: string; action: string; target: string; reason?: string; before?: string; after?: string; diff?: string };

const FIELDS = ['at', 'actor', 'action', 'target', 'reason', 'before', 'after', 'diff'] as const;

export function auditKey(prefix: string): string {
  return `${prefix}:vigil:audit`;
}

function toFields(e: AuditEntry): string[] {
  const out: string[] = [];
  for (const k of FIELDS) if (e[k] !== undefined) out.push(k, String(e[k]));
  return out;
}

function fromFields(fields: string[]): AuditEntry {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) o[fields[i] as string] = fields[i + 1] as string;
  const e: AuditEntry = { at: o.at ?? '', actor: o.actor ?? '', action: o.action ?? '', target: o.target ?? '' };
  for (const k of ['reason', 'before', 'after', 'diff'] as const) if (o[k] !== undefined) e[k] = o[k];
  return e;
}

export class RedisAuditLog {
  readonly #redis: RedisClient;
  readonly #key: string;

  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis;
    this.#key = auditKey(prefix);
  }

  /** Adds the entry to a MULTI, so a change and its audit record commit together. */
  appendIn(multi: ChainableCommander, e: Omit<AuditEntry, 'at'>): AuditEntry {
    const entry: AuditEntry = { at: new Date().toISOString(), ...e };
    multi.xadd(this.#key, '*', ...toFields(entry));
    return entry;
  }

  async append(e: Omit<AuditEntry, 'at'>): Promise<AuditEntry> {
    const entry: AuditEntry = { at: new Date().toISOString(), ...e };
    try {
      await this.#redis.xadd(this.#key, '*', ...toFields(entry));
    } catch (err) {
      throw new VigilError('QUEUE_UNAVAILABLE', `audit log: append failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
    return entry;
  }

  /** The most recent entries (default 100), oldest first; `action` keeps only that action (or prefix ending in `.`). */
  async list(options: { limit?: number; action?: string } = {}): Promise<AuditEntry[]> {
    const limit = options.limit ?? 100;
    const wanted = (e: AuditEntry) =>
      options.action === undefined || e.action === options.action || (options.action.endsWith('.') && e.action.startsWith(options.action));
    const out: AuditEntry[] = [];
    let end = '+';
    try {
      // Newest first in pages, until enough entries pass the filter or the stream is exhausted.
      for (;;) {
        const page = await this.#redis.xrevrange(this.#key, end, '-', 'COUNT', 500);
        for (const [, fields] of page) {
          const e = fromFields(fields);
          if (wanted(e)) out.push(e);
          if (out.length >= limit) break;
        }
        if (out.length >= limit || page.length < 500) break;
        end = `(${page[page.length - 1]?.[0] ?? '0-0'}`;
      }
    } catch (err) {
      throw new VigilError('QUEUE_UNAVAILABLE', `audit log: read failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
    return out.reverse();
  }
}
