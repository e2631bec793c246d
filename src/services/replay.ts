/**
 * Replay / backfill: re-publish past events (a JSONL file, or a range of the Kafka topic) onto the
 * scan queue at `backfill` priority under a replay id, so new banks, terms, models or policy reach old
 * messages. Workers take backfill only when nothing else waits.
 *
 * - Events keep their eventId (and so their flags keep their flagIds). Only `priority` is set to
 *   `backfill`; text, media and ids are never touched. The replay id travels with the job (its name
 *   `replay.ID` and job id `replay.ID.EVENTID`), so the original's dedupe key does not swallow it.
 * - Flags are deduplicated by flagId against the flag ledger (bank store, VIGIL_FLAG_RECORD_RETENTION_S),
 *   not only the moderation queue's dedupe window: replaying twice raises no flag twice.
 * - Workers count each replayed event's outcome once in the replay's record; the command waits for
 *   them and prints events, flags new, flags already known and dead letters.
 * - Publishing pauses while the scan backlog is above VIGIL_BRIDGE_HIGH_WATERMARK (until it is under
 *   the low watermark), like the bridge, so a large backfill does not fill the queue Redis.
 */
import type { MessageEvent } from '../core/contracts.js';
import type { DeadLetter, DeadLetterSink } from '../core/ports.js';
import { VigilError } from '../core/errors.js';
import type { ShardedScanQueue } from '../adapters/bullmq/queues.js';
import type { RedisFlagLedger, ReplayState } from '../adapters/flag-ledger.js';
import type { Parsed } from '../adapters/kafka/bridge.js';

export const REPLAY_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** A fresh replay id: `rp-` + UTC time + random suffix (ids only, safe as a job-name part). */
export function newReplayId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `rp-${t}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface ReplayPublisherOptions {
  replayId: string;
  source: string;
  scanQueue: Pick<ShardedScanQueue, 'enqueue' | 'backlog'>;
  deadLetters: DeadLetterSink;
  ledger: Pick<RedisFlagLedger, 'startReplay' | 'replayPublished'>;
  highWatermark: number;
  lowWatermark: number;
  batchSize?: number;
  /** How often a paused replay re-reads the backlog. */
  pollMs?: number;
  onProgress?: (read: number) => void;
}

export interface ReplayPublished {
  /** Records read. */
  read: number;
  /** Distinct events put on the scan queue. */
  published: number;
  /** Events that appeared more than once in the replay (absorbed). */
  duplicates: number;
  /** Records that did not parse (dead-lettered). */
  invalid: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Publishes what `add` is given; `finish` writes the published count the workers' progress is measured against. */
export function replayPublisher(o: ReplayPublisherOptions) {
  const batchSize = o.batchSize ?? 500;
  const stats: ReplayPublished = { read: 0, published: 0, duplicates: 0, invalid: 0 };
  let batch: MessageEvent[] = [];
  let started = false;
  const start = async () => {
    if (!started) await o.ledger.startReplay(o.replayId, o.source);
    started = true;
  };
  const flush = async () => {
    if (batch.length === 0) return;
    let backlog = await o.scanQueue.backlog();
    if (backlog + batch.length > o.highWatermark) {
      while (backlog > o.lowWatermark) {
        await sleep(o.pollMs ?? 500);
        backlog = await o.scanQueue.backlog();
      }
    }
    const dup = await o.scanQueue.enqueue(batch, { replayId: o.replayId });
    const d = dup.filter(Boolean).length;
    stats.duplicates += d;
    stats.published += batch.length - d;
    batch = [];
  };
  return {
    stats,
    async add(parsed: Parsed): Promise<void> {
      await start();
      stats.read++;
      if ('dead' in parsed) {
        await o.deadLetters.deadLetter(parsed.dead);
        stats.invalid++;
      } else {
        // Backfill is the one thing a replay changes, so live traffic always goes first.
        batch.push({ ...parsed.event, priority: 'backfill' });
        if (batch.length >= batchSize) await flush();
      }
      o.onProgress?.(stats.read);
    },
    async finish(): Promise<ReplayPublished> {
      await start();
      await flush();
      await o.ledger.replayPublished(o.replayId, stats.published, stats.invalid);
      return stats;
    },
  };
}

/** Parsed line of a JSONL file → dead-letter origin of the CLI kind. */
export function fileOrigin(file: string, line: number): DeadLetter['origin'] {
  return { kind: 'cli', file, line };
}

/**
 * Waits until workers have counted every published event (or `timeoutMs` passed: REPLAY_TIMEOUT,
 * with the state so far). The workers go on after a timeout; `vigil replay --status ID` reads it later.
 */
export async function waitForReplay(
  ledger: Pick<RedisFlagLedger, 'replay'>,
  replayId: string,
  options: { timeoutMs: number; pollMs?: number; onProgress?: (s: ReplayState) => void },
): Promise<ReplayState> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const state = await ledger.replay(replayId);
    if (!state) throw new VigilError('USAGE', `no replay ${replayId} (unknown, or older than VIGIL_REPLAY_RETENTION_S)`);
    options.onProgress?.(state);
    if (state.published >= 0 && state.done >= state.published) return state;
    if (Date.now() > deadline)
      throw Object.assign(
        new VigilError(
          'REPLAY_TIMEOUT',
          `replay ${replayId}: ${state.done} of ${state.published} event(s) done after ${Math.round(options.timeoutMs / 1000)} s; workers keep going`,
        ),
        { state },
      );
    await sleep(options.pollMs ?? 500);
  }
}
