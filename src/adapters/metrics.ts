/**
 * Prometheus metrics for ops. Label values are bounded: enums (outcomes, stages, states, codes,
 * categories, severities, actions, queue roles) and the ids of banks and models the operator
 * configured. Never event, message or user ids, never content.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Stages of one event's scan. Sources not built yet observe nothing until they exist. */
export const STAGES = ['parse', 'decode', 'hash', 'match', 'classify', 'decide', 'emit'] as const;
export type Stage = (typeof STAGES)[number];

/** Queues by role, not by configured name, so dashboards work whatever the queues are called. */
export const QUEUE_ROLES = ['scan', 'moderation', 'dead_letter'] as const;
export type QueueRole = (typeof QUEUE_ROLES)[number];
export const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export interface RuntimeVersions {
  /** bank id → version. */
  banks: Record<string, string>;
  policy?: string;
  models: Array<{ model: string; version: string; backend: string }>;
}

/** Read at scrape time (not on a timer), so a scrape always sees the current state. */
export interface ScrapeSources {
  queues?: () => Promise<Record<QueueRole, Partial<Record<QueueState, number>>>>;
  /** Scan-queue shards (VIGIL_SCAN_SHARDS > 1), by shard number. */
  scanShards?: () => Promise<Record<string, Partial<Record<QueueState, number>>>>;
  versions?: () => RuntimeVersions;
  /**
   * Running precision from the flag ledger (bank store), per rule, bank and model label (`model/label`).
   * Bank entries are unbounded and never become label values: `vigil precision` shows them.
   */
  precision?: () => Promise<
    Array<{ kind: 'rule' | 'bank' | 'label'; id: string; confirmed: number; rejected: number; escalated: number; precision: number | null }>
  >;
}

export interface Metrics {
  registry: Registry;
  /** Filled in by whoever owns the queues and the runtime (the ops server, the scan service). */
  sources: ScrapeSources;
  eventsScanned: Counter<'outcome'>;
  flagsEmitted: Counter<'category' | 'severity' | 'action'>;
  deadLettered: Counter<'code'>;
  /** Every typed error a worker or bridge met, retried or not. */
  errors: Counter<'code'>;
  scanSeconds: Histogram<string>;
  /** Event `sentAt` → its flags are on the moderation queue. */
  endToEndSeconds: Histogram<'priority'>;
  stageSeconds: Histogram<'stage'>;
  /** Signals found, by signal type and bank (or model) id. */
  matches: Counter<'type' | 'source'>;
  bridgePaused: Counter<'reason'>;
  /** 1 while the Kafka bridge holds its partitions paused, else 0. */
  bridgePausedNow: Gauge<string>;
  /** Scan-queue backlog as last read by the bridge (what backpressure decides on). */
  bridgeBacklog: Gauge<string>;
  /** Records behind the partition's high watermark, as of the bridge's last fetch of that partition. */
  bridgeLag: Gauge<'partition'>;
  bridgeRecords: Counter<'outcome'>;
  flagsMirrored: Counter<string>;
  /** 1 for the TF.js backend classifiers run on (tensorflow, wasm, cpu) and why (bounded reason enum). */
  modelRuntime: Gauge<'backend' | 'reason'>;
  /** Seconds a classifier model (id from the manifest) took to load, runtime included. */
  modelLoadSeconds: Gauge<'model'>;
  /** Cascade answers: whether a classifier ran on an item (kind: image, text), and the policy's reason. */
  classifierCascade: Counter<'kind' | 'classified' | 'reason'>;
  /** Rules or bank entries quarantined to review-only by the flood monitor (kind: rule, entry). */
  brakeQuarantines: Counter<'kind'>;
  /** Flags whose action a brake lowered to review, by brake code. */
  brakeApplied: Counter<'brake'>;
  /** Shadow comparisons by source (rule, candidate) and outcome (agree, disagree). */
  shadowComparisons: Counter<'source' | 'outcome'>;
  /** Media items not fully scanned (partial or unscanned), by reason (UNSCANNED_REASONS). */
  mediaUnscanned: Counter<'reason'>;
  /** Media items scanned, by outcome and sniffed format. */
  mediaItems: Counter<'outcome' | 'format'>;
  /** Media whose declared type disagrees with its bytes, by declared class and sniffed format. */
  mediaMimeMismatch: Counter<'declared' | 'sniffed'>;
  /** Event texts not fully scanned, by reason. */
  textUnscanned: Counter<'reason'>;
  /**
   * Time and runs of each signal source, by source id (ids are set in the composition root, never
   * from a payload). Counters, not a histogram: this is per source per part of every event, so it is
   * summed in plain numbers (`recordSourceRun`) and handed to prom-client only when scraped.
   */
  sourceSeconds: Counter<'source' | 'kind'>;
  sourceRuns: Counter<'source' | 'kind'>;
  recordSourceRun(sourceId: string, kind: string, seconds: number): void;
  sourceFailures: Counter<'source' | 'code'>;
  /** Decode time only (the budget wait is vigil_decode_wait_seconds). */
  decodeSeconds: Histogram<string>;
  decodeWaitSeconds: Histogram<string>;
  decodeBudgetInUse: Gauge<string>;
  decodeBudgetWaiting: Gauge<string>;
  decodeBudgetCapacity: Gauge<string>;
  queueJobs: Gauge<'queue' | 'state'>;
  scanShardJobs: Gauge<'shard' | 'state'>;
  /** Scan jobs a worker finished (any outcome), by the shard it took them from. */
  shardEvents: Counter<'shard'>;
  bankInfo: Gauge<'bank' | 'version'>;
  policyInfo: Gauge<'version'>;
  modelInfo: Gauge<'model' | 'version' | 'backend'>;
  scrapeErrors: Counter<'source'>;
  /** 1 while a scan worker's bank store has lost banks it holds (it serves its last good snapshot), else 0. */
  bankStoreLost: Gauge<string>;
  /** Retro-match window (VIGIL_RETRO_WINDOW): media items whose hashes were retained, matches, flags, runs. */
  retroRetained: Counter<string>;
  retroMatches: Counter<string>;
  retroFlags: Counter<string>;
  retroRuns: Counter<'outcome'>;
  retroRunSeconds: Histogram<string>;
  /** Hash banks loaded from their snapshot, and banks read from their records because the snapshot could not be used. */
  bankSnapshotLoads: Counter<string>;
  bankSnapshotFallbacks: Counter<'reason'>;
  /** Kafka records the bridge enqueued whose outcome is not final yet (their offsets are not committed). */
  bridgeUnsettled: Gauge<string>;
  bridgeQueueRestarts: Counter<string>;
  /** Reviewer decisions this process consumed, by decision and what the ledger did with it. */
  decisions: Counter<'decision' | 'outcome'>;
  /** Bank entries proposed for deconfirmation (audit log) after enough rejections. */
  deconfirmProposals: Counter<string>;
  /** Running precision per rule, bank and model label, read from the flag ledger at scrape time. */
  precision: Gauge<'kind' | 'id'>;
  precisionDecisions: Gauge<'kind' | 'id' | 'decision'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vigil_' });
  const sources: ScrapeSources = {};
  const registers = [registry];
  const pendingRuns = new Map<string, { source: string; kind: string; runs: number; seconds: number }>();
  const flushRuns = () => {
    for (const t of pendingRuns.values()) {
      if (t.runs === 0) continue;
      sourceRuns.inc({ source: t.source, kind: t.kind }, t.runs);
      sourceSeconds.inc({ source: t.source, kind: t.kind }, t.seconds);
      t.runs = 0;
      t.seconds = 0;
    }
  };
  const sourceSeconds = new Counter({
    name: 'vigil_source_seconds_total',
    help: 'Seconds spent in each signal source (per media item or text), by source; divide by vigil_source_runs_total for the mean.',
    labelNames: ['source', 'kind'],
    registers,
    collect: flushRuns,
  });
  const sourceRuns = new Counter({
    name: 'vigil_source_runs_total',
    help: 'Signal-source runs (one per source per media item or text), by source.',
    labelNames: ['source', 'kind'],
    registers,
    collect: flushRuns,
  });
  const scrapeErrors = new Counter({
    name: 'vigil_ops_scrape_errors_total',
    help: 'Scrape-time reads that failed (queue counts from Redis), by source; the series they feed keep their last values.',
    labelNames: ['source'],
    registers,
  });
  const versions = (): RuntimeVersions | undefined => sources.versions?.();
  const stageSeconds = new Histogram({
    name: 'vigil_stage_seconds',
    help: `Time spent in one stage of one event's scan (${STAGES.join(', ')}); hash includes decoding until decode is timed on its own.`,
    labelNames: ['stage'],
    buckets: [0.00005, 0.0002, 0.001, 0.005, 0.02, 0.1, 0.5, 2],
    registers,
  });
  /** One ledger read per scrape feeds both precision gauges (their collects run together). */
  let precisionRead: Promise<Awaited<ReturnType<NonNullable<ScrapeSources['precision']>>> | undefined> | undefined;
  const readPrecision = () => {
    if (!sources.precision) return Promise.resolve(undefined);
    return (precisionRead ??= sources
      .precision()
      .catch(() => {
        scrapeErrors.inc({ source: 'precision' });
        return undefined;
      })
      .finally(() => setImmediate(() => (precisionRead = undefined))));
  };
  // Every stage is exported from the start, so a stage that never ran reads 0 rather than missing.
  for (const stage of STAGES) stageSeconds.zero({ stage });
  return {
    registry,
    sources,
    eventsScanned: new Counter({
      name: 'vigil_events_scanned_total',
      help: 'Events processed by scan workers, by outcome (flagged, clean, incomplete: a part could not be scanned and nothing was flagged, dead_lettered, retried).',
      labelNames: ['outcome'],
      registers,
    }),
    flagsEmitted: new Counter({
      name: 'vigil_flags_emitted_total',
      help: 'Flags enqueued on the moderation queue, by category, severity and action.',
      labelNames: ['category', 'severity', 'action'],
      registers,
    }),
    deadLettered: new Counter({ name: 'vigil_dead_lettered_total', help: 'Dead-letter entries written, by error code.', labelNames: ['code'], registers }),
    errors: new Counter({
      name: 'vigil_errors_total',
      help: 'Typed errors met while scanning or bridging, by code, whether retried or dead-lettered.',
      labelNames: ['code'],
      registers,
    }),
    scanSeconds: new Histogram({
      name: 'vigil_scan_seconds',
      help: 'Time to scan, decide and emit one event.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    endToEndSeconds: new Histogram({
      name: 'vigil_end_to_end_seconds',
      help: "From the event's sentAt to its flags being on the moderation queue, by event priority (flagged events only).",
      labelNames: ['priority'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    }),
    stageSeconds,
    matches: new Counter({
      name: 'vigil_matches_total',
      help: 'Signals found by scans, by signal type and bank or model id.',
      labelNames: ['type', 'source'],
      registers,
    }),
    bridgePaused: new Counter({
      name: 'vigil_bridge_pauses_total',
      help: 'Times the Kafka bridge paused its partitions (backpressure).',
      labelNames: ['reason'],
      registers,
    }),
    bridgePausedNow: new Gauge({
      name: 'vigil_bridge_paused',
      help: '1 while the Kafka bridge has its partitions paused (scan backlog above the high watermark), else 0.',
      registers,
    }),
    bridgeBacklog: new Gauge({ name: 'vigil_bridge_scan_backlog', help: 'Scan-queue backlog (waiting jobs) as last read by the Kafka bridge.', registers }),
    bridgeLag: new Gauge({
      name: 'vigil_bridge_lag',
      help: 'Kafka records not yet enqueued by this bridge, per partition (high watermark minus next offset, as of the last fetch).',
      labelNames: ['partition'],
      registers,
    }),
    bridgeRecords: new Counter({
      name: 'vigil_bridge_records_total',
      help: 'Kafka records handled by the bridge, by outcome (enqueued, dead_lettered).',
      labelNames: ['outcome'],
      registers,
    }),
    flagsMirrored: new Counter({ name: 'vigil_flags_mirrored_total', help: 'Flags produced to the Kafka flag topic.', registers }),
    bridgeUnsettled: new Gauge({
      name: 'vigil_bridge_unsettled_records',
      help: 'Kafka records enqueued by the bridge whose scan outcome is not final yet; their offsets stay uncommitted.',
      registers,
    }),
    bridgeQueueRestarts: new Counter({
      name: 'vigil_bridge_queue_restarts_total',
      help: 'Queue-Redis restarts the bridge detected (run_id changed); each replays unsettled records from Kafka.',
      registers,
    }),
    retroRetained: new Counter({
      name: 'vigil_retro_retained_items_total',
      help: 'Media items whose hashes (PDQ, MD5, SHA-1, SHA-256) and ids were retained for retro-matching (VIGIL_RETRO_WINDOW); never content.',
      registers,
    }),
    retroMatches: new Counter({
      name: 'vigil_retro_matches_total',
      help: 'Retained media items that entries added to a bank matched (confirmed by the live match: thresholds and allow banks applied).',
      registers,
    }),
    retroFlags: new Counter({ name: 'vigil_retro_flags_total', help: 'Retroactive flags emitted for past messages by retro-matches.', registers }),
    retroRuns: new Counter({
      name: 'vigil_retro_runs_total',
      help: 'Retro-match runs (one per bank revision that added entries), by outcome: flagged, clean, skipped (bank gone, disabled, an allow bank, nothing added), failed (retried).',
      labelNames: ['outcome'],
      registers,
    }),
    retroRunSeconds: new Histogram({
      name: 'vigil_retro_run_seconds',
      help: 'Seconds one retro-match run took: reading the window, matching the new entries, deciding and emitting.',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers,
    }),
    bankStoreLost: new Gauge({
      name: 'vigil_bank_store_lost',
      help: '1 while the bank store has lost banks this worker holds (emptied or rolled back; the worker keeps its last good snapshot and is not ready until an operator restores or accepts the store), else 0.',
      registers,
    }),
    bankSnapshotLoads: new Counter({
      name: 'vigil_bank_snapshot_loads_total',
      help: 'Hash banks a worker loaded from their binary snapshot in the bank store (plus the deltas recorded since).',
      registers,
    }),
    bankSnapshotFallbacks: new Counter({
      name: 'vigil_bank_snapshot_fallbacks_total',
      help: 'Hash banks a worker read from their per-entry records because the snapshot could not be used (missing, checksum, invalid, stale, deltas).',
      labelNames: ['reason'],
      registers,
    }),
    modelRuntime: new Gauge({
      name: 'vigil_model_runtime_info',
      help: 'TF.js backend the classifiers run on (1), with the reason it was chosen (preferred, tfjs_node_missing, tfjs_node_failed, wasm_failed).',
      labelNames: ['backend', 'reason'],
      registers: [registry],
    }),
    modelLoadSeconds: new Gauge({
      name: 'vigil_model_load_seconds',
      help: 'Seconds to load a classifier model at start (runtime, verification, warm-up), by manifest model id.',
      labelNames: ['model'],
      registers: [registry],
    }),
    classifierCascade: new Counter({
      name: 'vigil_classifier_cascade_total',
      help: "Items the policy's classifier cascade sent to a classifier (classified=true) or past it (false), by kind (image, text) and reason (always, unmatched, never, already_matched, condition_false, not_sampled).",
      labelNames: ['kind', 'classified', 'reason'],
      registers: [registry],
    }),
    brakeQuarantines: new Counter({
      name: 'vigil_brake_quarantines_total',
      help: 'Rules or bank entries quarantined to review-only because their hit rate jumped far above baseline.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    brakeApplied: new Counter({
      name: 'vigil_brake_applied_total',
      help: 'Flags whose action a false-positive brake lowered to review, by brake (rule_quarantined, entry_quarantined, daily_cap).',
      labelNames: ['brake'],
      registers: [registry],
    }),
    shadowComparisons: new Counter({
      name: 'vigil_shadow_comparisons_total',
      help: 'Shadow rule and candidate policy verdicts compared with the live verdict, by source and outcome (agree, disagree).',
      labelNames: ['source', 'outcome'],
      registers: [registry],
    }),
    mediaUnscanned: new Counter({
      name: 'vigil_media_unscanned_total',
      help: 'Media items not fully scanned (exact hashes only, or nothing), by reason: video, unsupported_format, unknown_format, too_large, undecodable, timeout, busy, unresolved_ref, store_unavailable, no_decoder, source_failed.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    mediaItems: new Counter({
      name: 'vigil_media_items_total',
      help: 'Media items scanned, by outcome (scanned, partial, unscanned) and sniffed format.',
      labelNames: ['outcome', 'format'],
      registers: [registry],
    }),
    mediaMimeMismatch: new Counter({
      name: 'vigil_media_mime_mismatch_total',
      help: 'Media whose declared MIME type names another format than its bytes are, by declared class and sniffed format.',
      labelNames: ['declared', 'sniffed'],
      registers: [registry],
    }),
    textUnscanned: new Counter({
      name: 'vigil_text_unscanned_total',
      help: 'Event texts not fully scanned (a text source failed), by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    sourceSeconds,
    sourceRuns,
    recordSourceRun(sourceId, kind, seconds) {
      const key = `${kind}\0${sourceId}`;
      const t = pendingRuns.get(key);
      if (t) {
        t.runs++;
        t.seconds += seconds;
      } else pendingRuns.set(key, { source: sourceId, kind, runs: 1, seconds });
    },
    sourceFailures: new Counter({
      name: 'vigil_source_failures_total',
      help: 'Signal-source runs that failed or stopped short, by source and error code.',
      labelNames: ['source', 'code'],
      registers: [registry],
    }),
    decodeSeconds: new Histogram({
      name: 'vigil_decode_seconds',
      help: 'Image decode time (header and pixels), excluding the wait for the decode budget.',
      buckets: [0.005, 0.02, 0.1, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    decodeWaitSeconds: new Histogram({
      name: 'vigil_decode_wait_seconds',
      help: 'Time a decode waited for the decode budget (pixels in flight).',
      buckets: [0, 0.01, 0.1, 0.5, 1, 5, 15, 60],
      registers: [registry],
    }),
    decodeBudgetInUse: new Gauge({
      name: 'vigil_decode_budget_in_use_pixels',
      help: 'Decoded pixels currently held under the decode budget.',
      registers: [registry],
    }),
    decodeBudgetWaiting: new Gauge({ name: 'vigil_decode_budget_waiting', help: 'Decodes waiting for the decode budget.', registers: [registry] }),
    decodeBudgetCapacity: new Gauge({ name: 'vigil_decode_budget_pixels', help: 'The decode budget (VIGIL_DECODE_BUDGET_PIXELS).', registers: [registry] }),
    queueJobs: new Gauge({
      name: 'vigil_queue_jobs',
      help: 'Jobs in the scan, moderation and dead-letter queues by state, read from Redis at scrape time (every process reports the same queues: aggregate with max).',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        if (!sources.queues) return;
        let counts: Awaited<ReturnType<NonNullable<ScrapeSources['queues']>>>;
        try {
          counts = await sources.queues();
        } catch {
          scrapeErrors.inc({ source: 'queues' });
          return;
        }
        for (const queue of QUEUE_ROLES) for (const state of QUEUE_STATES) this.set({ queue, state }, counts[queue]?.[state] ?? 0);
      },
    }),
    scanShardJobs: new Gauge({
      name: 'vigil_scan_shard_jobs',
      help: 'Jobs in each scan-queue shard by state (VIGIL_SCAN_SHARDS > 1; shard is 0 to N-1, at most 64 values), read from Redis at scrape time.',
      labelNames: ['shard', 'state'],
      registers,
      async collect() {
        if (!sources.scanShards) return;
        let counts: Awaited<ReturnType<NonNullable<ScrapeSources['scanShards']>>>;
        try {
          counts = await sources.scanShards();
        } catch {
          scrapeErrors.inc({ source: 'scan_shards' });
          return;
        }
        for (const [shard, byState] of Object.entries(counts)) for (const state of QUEUE_STATES) this.set({ shard, state }, byState[state] ?? 0);
      },
    }),
    shardEvents: new Counter({
      name: 'vigil_scan_shard_events_total',
      help: 'Scan jobs this worker finished (any outcome), by the scan-queue shard it took them from (shard 0 to N-1, at most 64 values).',
      labelNames: ['shard'],
      registers,
    }),
    bankInfo: new Gauge({
      name: 'vigil_bank_info',
      help: 'Banks this process holds: 1 per bank id and version.',
      labelNames: ['bank', 'version'],
      registers,
      collect() {
        const v = versions();
        if (!v) return;
        this.reset();
        for (const [bank, version] of Object.entries(v.banks)) this.set({ bank, version }, 1);
      },
    }),
    policyInfo: new Gauge({
      name: 'vigil_policy_info',
      help: 'Policy version this process decides with (1).',
      labelNames: ['version'],
      registers,
      collect() {
        const v = versions();
        if (!v) return;
        this.reset();
        if (v.policy) this.set({ version: v.policy }, 1);
      },
    }),
    modelInfo: new Gauge({
      name: 'vigil_model_info',
      help: 'Classifier models this process holds: 1 per model id, version and backend.',
      labelNames: ['model', 'version', 'backend'],
      registers,
      collect() {
        const v = versions();
        if (!v) return;
        this.reset();
        for (const m of v.models) this.set({ model: m.model, version: m.version, backend: m.backend }, 1);
      },
    }),
    scrapeErrors,
    decisions: new Counter({
      name: 'vigil_decisions_total',
      help: 'Reviewer decisions (vigil.decision.v1) consumed, by decision (confirmed, rejected, escalated, invalid) and outcome (counted, changed, duplicate, stale, unknown_flag, invalid).',
      labelNames: ['decision', 'outcome'],
      registers,
    }),
    deconfirmProposals: new Counter({
      name: 'vigil_deconfirm_proposals_total',
      help: 'Bank entries proposed for deconfirmation in the audit log after VIGIL_DECONFIRM_PROPOSE_REJECTIONS rejections.',
      registers,
    }),
    precision: new Gauge({
      name: 'vigil_precision',
      help: 'Running precision, (confirmed + escalated) / decided, per rule, bank and model label (id model/label), from the flag ledger at scrape time (every worker reports the same: aggregate with max).',
      labelNames: ['kind', 'id'],
      registers,
      async collect() {
        const rows = await readPrecision();
        if (!rows) return;
        this.reset();
        for (const r of rows) if (r.precision !== null) this.set({ kind: r.kind, id: r.id }, r.precision);
      },
    }),
    precisionDecisions: new Gauge({
      name: 'vigil_precision_decisions',
      help: 'Reviewer decisions counted per rule, bank and model label, by decision, from the flag ledger at scrape time.',
      labelNames: ['kind', 'id', 'decision'],
      registers,
      async collect() {
        const rows = await readPrecision();
        if (!rows) return;
        this.reset();
        for (const r of rows)
          for (const decision of ['confirmed', 'rejected', 'escalated'] as const) this.set({ kind: r.kind, id: r.id, decision }, r[decision]);
      },
    }),
  };
}
