/**
 * Retro-matching in the worker (VIGIL_RETRO_WINDOW): the scheduler notices bank revisions that added
 * entries and puts one job per revision on the retro queue (job id = bank, generation, revision, so
 * every worker may enqueue it and BullMQ keeps one); one worker takes it, a worker that dies holding
 * it loses its lock and another retries it. The job matches the revision's new entries against the
 * window and emits retroactive flags through the ordinary flag sink (flagId = eventId + category, so
 * an event flagged before is not flagged twice).
 */
import { Worker, type ConnectionOptions, type Job, type Queue } from 'bullmq';
import type { RedisClient as Redis } from '../adapters/bullmq/connection.js';
import type { ScanRuntime } from '../app.js';
import type { HashBankEntry } from '../core/banks/hash-bank.js';
import type { Flag } from '../core/contracts.js';
import { VigilError, toVigilError } from '../core/errors.js';
import { pdqThresholdFor } from '../core/policy.js';
import type { FlagSink } from '../core/ports.js';
import { newEntriesOf, retainedHashes, retroCandidates, retroFlags, type RetainedEvent, type RetroStrategy } from '../core/retro.js';
import { hashSignal, matchOptionsFor } from '../core/sources.js';
import type { Signal } from '../core/signals.js';
import type { RedisBankStore } from '../adapters/redis-bank-store.js';
import type { RedisRetroWindow } from '../adapters/retro-window.js';
import type { Metrics } from '../adapters/metrics.js';
import type { Logger } from '../logger.js';

/** Match what revisions (from, revision] of a bank added; from = 0: every entry the bank holds (a new bank, or one replaced). */
export interface RetroJobData {
  bankId: string;
  generation: string;
  from: number;
  revision: number;
}

const KEEP_S = 7 * 24 * 3600;
/** Further back than this (in revisions) the recorded changes are not read one by one: the whole bank is matched. */
const MAX_REVISIONS = 1000;

export function retroJobId(d: RetroJobData): string {
  // BullMQ job ids must not contain ':'. Unique per (bank, generation, revisions): that is all it needs to be.
  return `retro_${d.bankId}_${d.generation || 'nogen'}_${d.from}_${d.revision}`;
}

export interface RetroSchedulerOptions {
  store: RedisBankStore;
  /** The bank-store connection: what was scheduled is recorded there, beside the banks. */
  redis: Redis;
  prefix: string;
  queue: Queue<RetroJobData>;
  logger: Logger;
}

/**
 * Turns bank revisions into retro jobs. What each bank was last scheduled at is kept in
 * P:retro:seen (bank id → "generation:revision"). The first scheduler ever run records every bank
 * as it stands (P:retro:baseline), so switching retro-matching on does not match old banks whole;
 * a bank created afterwards has no record, so all its entries are matched.
 */
export class RetroScheduler {
  readonly #o: RetroSchedulerOptions;
  #lastRevision = -1;

  constructor(options: RetroSchedulerOptions) {
    this.#o = options;
  }

  /** Enqueues the jobs for bank changes since the last poll; returns how many it enqueued. */
  async poll(): Promise<number> {
    const { store, redis, prefix, queue } = this.#o;
    const revision = await store.revision();
    if (revision === this.#lastRevision) return 0;
    const metas = (await store.list()).filter((m) => m.type === 'hash');
    const seenKey = `${prefix}:retro:seen`;
    const mark = (m: (typeof metas)[number]) => `${m.generation ?? ''}:${m.revision}`;
    await redis.eval(
      "if redis.call('SET', KEYS[1], '1', 'NX') then for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end end return 0",
      2,
      `${prefix}:retro:baseline`,
      seenKey,
      ...metas.flatMap((m) => [m.id, mark(m)]),
    );
    const seen = await redis.hgetall(seenKey);
    const jobs: RetroJobData[] = [];
    const done: string[] = [];
    for (const m of metas) {
      // A disabled bank is not matched (nor marked): once enabled again, what it gained meanwhile is.
      if (!m.enabled || m.kind !== 'block') continue;
      const was = seen[m.id];
      if (was === mark(m)) continue;
      const [generation = '', rev = '0'] = (was ?? '').split(':');
      const generationNow = m.generation ?? '';
      const from = was !== undefined && generation === generationNow ? Number(rev) : 0;
      if (from > 0 && from < m.revision && m.revision - from <= MAX_REVISIONS)
        for (let r = from + 1; r <= m.revision; r++) jobs.push({ bankId: m.id, generation: generationNow, from: r - 1, revision: r });
      else if (from === 0 || from < m.revision) jobs.push({ bankId: m.id, generation: generationNow, from: 0, revision: m.revision });
      done.push(m.id, mark(m));
    }
    if (jobs.length > 0)
      await queue.addBulk(
        jobs.map((data) => ({
          name: 'retro',
          data,
          opts: {
            jobId: retroJobId(data),
            attempts: 5,
            backoff: { type: 'exponential', delay: 1000 },
            removeOnComplete: { age: KEEP_S },
            removeOnFail: { age: KEEP_S },
          },
        })),
      );
    // Marked only once enqueued: a crash in between enqueues the same job ids again (kept once).
    if (done.length > 0) await redis.hset(seenKey, ...done);
    this.#lastRevision = revision;
    if (jobs.length > 0) this.#o.logger.info({ jobs: jobs.map(retroJobId) }, 'retro-match runs scheduled');
    return jobs.length;
  }
}

export interface RetroRunOptions {
  store: RedisBankStore;
  window: RedisRetroWindow;
  runtime: Pick<ScanRuntime, 'hashBanks' | 'policy' | 'hooks'>;
  /** How long to wait for this worker's banks to reach the job's revision before the job is retried. Default 10 s. */
  holdWaitMs?: number;
  flags: FlagSink;
  metrics?: Metrics | undefined;
  logger: Logger;
  strategy?: RetroStrategy;
  now?: () => number;
}

export interface RetroRunResult {
  outcome: 'flagged' | 'clean' | 'skipped';
  /** New entries matched, retained items in the window, candidates, confirmed items, flag ids. */
  entries: number;
  retained: number;
  candidates: number;
  matched: number;
  flagIds: string[];
}

/** The revision a snapshot holds a bank at, when it is that generation. */
function heldRevision(version: string | undefined, generation: string): number {
  const m = version ? /^r(\d+)(?:\.(.*))?$/.exec(version) : null;
  if (!m || (m[2] ?? '') !== generation) return -1;
  return Number(m[1]);
}

/** One retro-match run. Throws (and the job is retried) when the store or the flag sink fails. */
export async function runRetroMatch(d: RetroJobData, o: RetroRunOptions): Promise<RetroRunResult> {
  const started = performance.now();
  const result: RetroRunResult = { outcome: 'skipped', entries: 0, retained: 0, candidates: 0, matched: 0, flagIds: [] };
  const finish = () => {
    o.metrics?.retroRuns.inc({ outcome: result.outcome });
    o.metrics?.retroRunSeconds.observe((performance.now() - started) / 1000);
    o.logger.info({ bankId: d.bankId, revision: d.revision, ...result, flagIds: result.flagIds.length }, 'retro-match run');
    return result;
  };
  const meta = await o.store.get(d.bankId);
  if (!meta || meta.type !== 'hash' || meta.kind !== 'block' || !meta.enabled || (meta.generation ?? '') !== d.generation) return finish();
  let entries: HashBankEntry[] | undefined;
  if (d.from > 0) {
    const changes = await o.store.hashDeltas(meta, d.from, d.revision);
    if (changes) entries = changes.flatMap((c) => (c.op === 'add' ? [c.entry] : []));
  }
  if (!entries) {
    // Not recorded (a new bank, a replacement, an expired change): every entry the bank holds now.
    entries = [];
    for await (const batch of o.store.hashEntries(d.bankId)) entries.push(...batch);
  }
  result.entries = entries.length;
  if (entries.length === 0) return finish();

  // Confirm against the live banks at (at least) this revision, so allow banks and thresholds apply.
  // The worker's own reload (every VIGIL_BANK_RELOAD_MS) brings it there; a bounded wait, then a retry of the job.
  const deadline = Date.now() + (o.holdWaitMs ?? 10_000);
  while (heldRevision(o.runtime.hashBanks().versions()[d.bankId], d.generation) < d.revision && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  const banks = o.runtime.hashBanks();
  if (heldRevision(banks.versions()[d.bankId], d.generation) < d.revision)
    throw new VigilError('BANK_STORE_UNAVAILABLE', `retro-match of bank ${d.bankId} r${d.revision}: this worker does not hold that revision yet`);
  const policy = o.runtime.policy();
  const matchOptions = { ...matchOptionsFor(policy), dihedral: () => false };

  const retained = await o.window.read(o.now?.() ?? Date.now());
  result.retained = retained.size;
  const candidates = retroCandidates(retained, newEntriesOf(entries), {
    radius: pdqThresholdFor(policy, d.bankId),
    minQuality: matchOptions.pdqMinQuality,
    ...(o.strategy ? { strategy: o.strategy } : {}),
  });
  result.candidates = candidates.length;
  const newIds = new Set(entries.map((e) => e.id));
  // Per event, per media item (a retried scan may have retained an item twice).
  const events = new Map<string, { event: RetainedEvent; media: Map<string, Signal[]> }>();
  for (const i of candidates) {
    const item = retained.item(i);
    const matches = banks.match(retainedHashes(item), matchOptions).filter((m) => m.bankId === d.bankId && newIds.has(m.entryId));
    if (matches.length === 0) continue;
    let e = events.get(item.eventId);
    if (!e) events.set(item.eventId, (e = { event: item, media: new Map() }));
    e.media.set(
      item.mediaId,
      matches.map((m) => hashSignal(m, item.mediaId, item.pdq?.quality)),
    );
  }
  const counters = o.runtime.hooks?.counters();
  const flags: Flag[] = [];
  const decisions = [];
  for (const { event, media } of events.values()) {
    result.matched += media.size;
    const decision = retroFlags(event, [...media.values()].flat(), banks.versions(), policy, counters);
    decisions.push(decision);
    flags.push(...decision.flags);
  }
  o.metrics?.retroMatches.inc(result.matched);
  for (let i = 0; i < flags.length; i += 500) await o.flags.emit(flags.slice(i, i + 500));
  // Flags are out; the brakes count these hits like live ones (a flood of retro hits quarantines too).
  const hooks = o.runtime.hooks;
  if (hooks)
    for (const decision of decisions)
      await hooks.after(decision).catch((err: unknown) => o.logger.error({ err: toVigilError(err) }, 'could not record brakes counters for a retro-match'));
  o.metrics?.retroFlags.inc(flags.length);
  result.flagIds = flags.map((f) => f.flagId);
  result.outcome = flags.length > 0 ? 'flagged' : 'clean';
  return finish();
}

export interface RetroWorkerOptions extends RetroRunOptions {
  connection: ConnectionOptions;
  prefix: string;
  queue: string;
  lockDurationMs: number;
}

/** The retro queue's consumer: one run at a time per worker process. */
export class RetroWorker {
  readonly worker: Worker<RetroJobData, RetroRunResult>;
  #closing: Promise<void> | undefined;

  constructor(o: RetroWorkerOptions) {
    this.worker = new Worker<RetroJobData, RetroRunResult>(
      o.queue,
      async (job: Job<RetroJobData>) => {
        try {
          return await runRetroMatch(job.data, o);
        } catch (err) {
          const e = toVigilError(err);
          o.metrics?.retroRuns.inc({ outcome: 'failed' });
          o.logger.warn(
            { code: e.code, err: e, bankId: job.data.bankId, revision: job.data.revision, attempt: job.attemptsMade + 1 },
            'retro-match run failed; will retry',
          );
          throw e;
        }
      },
      {
        connection: o.connection,
        prefix: o.prefix,
        concurrency: 1,
        lockDuration: o.lockDurationMs,
        stalledInterval: Math.max(1000, Math.floor(o.lockDurationMs / 2)),
      },
    );
    this.worker.on('error', (err) => o.logger.error({ err }, 'retro worker error'));
  }

  close(): Promise<void> {
    return (this.#closing ??= this.worker.close());
  }
}
