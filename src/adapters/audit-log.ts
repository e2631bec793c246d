/**
 * The audit log: who changed what, when. An append-only Redis stream (XADD, never trimmed by
 * default) at `${prefix}:vigil:audit` on the bank-store connection. Entries carry ids, names and
 * versions, never message content.
 */
import type { Redis } from 'ioredis';

export type AuditEntry = { at: string; actor: string; action: string; target: string; reason?: string; before?: string; after?: string; diff?: string };

const OPTIONAL_FIELDS = ['reason', 'before', 'after', 'diff'] as const;

export class RedisAuditLog {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#key = `${prefix}:vigil:audit`;
  }

  async append(e: Omit<AuditEntry, 'at'>): Promise<AuditEntry> {
    const entry: AuditEntry = { at: new Date().toISOString(), actor: e.actor, action: e.action, target: e.target };
    for (const f of OPTIONAL_FIELDS) if (e[f] !== undefined) entry[f] = e[f];
    const fields = Object.entries(entry).flat();
    await this.#redis.xadd(this.#key, '*', ...fields);
    return entry;
  }

  /** The most recent entries (default 100), oldest first (as policy-v2's copy of this module returns them). With `action`, only entries of that action; the stream is read newest first, page by page. */
  async list(options: { limit?: number; action?: string } = {}): Promise<AuditEntry[]> {
    const limit = options.limit ?? 100;
    const out: AuditEntry[] = [];
    let end = '+';
    const page = Math.max(limit, 100);
    while (out.length < limit) {
      const rows = await this.#redis.xrevrange(this.#key, end, '-', 'COUNT', page);
      for (const [, flat] of rows) {
        const entry = toEntry(flat);
        if (!options.action || entry.action === options.action) out.push(entry);
        if (out.length >= limit) break;
      }
      const lastRow = rows[rows.length - 1];
      if (rows.length < page || !lastRow) break;
      end = `(${lastRow[0]}`;
    }
    return out.reverse();
  }
}

function toEntry(flat: string[]): AuditEntry {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  const entry: AuditEntry = { at: m.get('at') ?? '', actor: m.get('actor') ?? '', action: m.get('action') ?? '', target: m.get('target') ?? '' };
  for (const f of OPTIONAL_FIELDS) {
    const v = m.get(f);
    if (v !== undefined) entry[f] = v;
  }
  return entry;
}
