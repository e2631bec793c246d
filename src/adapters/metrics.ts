/** Prometheus metrics for ops. Labels are bounded enums (codes, categories): never ids or content. */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  eventsScanned: Counter<'outcome'>;
  flagsEmitted: Counter<'category' | 'severity'>;
  deadLettered: Counter<'code'>;
  scanSeconds: Histogram<string>;
  bridgePaused: Counter<'reason'>;
  /** 1 while the Kafka bridge holds its partitions paused, else 0. */
  bridgePausedNow: Gauge<string>;
  /** Scan-queue backlog as last read by the bridge (what backpressure decides on). */
  bridgeBacklog: Gauge<string>;
  bridgeRecords: Counter<'outcome'>;
  flagsMirrored: Counter<string>;
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
  /** 1 for the TF.js backend classifiers run on (tensorflow, wasm, cpu) and why (bounded reason enum). */
  modelRuntime: Gauge<'backend' | 'reason'>;
  /** Seconds a classifier model (id from the manifest) took to load, runtime included. */
  modelLoadSeconds: Gauge<'model'>;
  /** Rules or bank entries quarantined to review-only by the flood monitor (kind: rule, entry). */
  brakeQuarantines: Counter<'kind'>;
  /** Flags whose action a brake lowered to review, by brake code. */
  brakeApplied: Counter<'brake'>;
  /** Shadow comparisons by source (rule, candidate) and outcome (agree, disagree). */
  shadowComparisons: Counter<'source' | 'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vigil_' });
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
  const sourceSeconds = new Counter({ name: 'vigil_source_seconds_total', help: 'Seconds spent in each signal source (per media item or text), by source; divide by vigil_source_runs_total for the mean.', labelNames: ['source', 'kind'], registers: [registry], collect: flushRuns });
  const sourceRuns = new Counter({ name: 'vigil_source_runs_total', help: 'Signal-source runs (one per source per media item or text), by source.', labelNames: ['source', 'kind'], registers: [registry], collect: flushRuns });
  return {
    registry,
    eventsScanned: new Counter({ name: 'vigil_events_scanned_total', help: 'Events processed by scan workers, by outcome (flagged, clean, incomplete: a media item could not be scanned and nothing was flagged, dead_lettered, retried).', labelNames: ['outcome'], registers: [registry] }),
    flagsEmitted: new Counter({ name: 'vigil_flags_emitted_total', help: 'Flags enqueued on the moderation queue.', labelNames: ['category', 'severity'], registers: [registry] }),
    deadLettered: new Counter({ name: 'vigil_dead_lettered_total', help: 'Dead-letter entries written, by error code.', labelNames: ['code'], registers: [registry] }),
    scanSeconds: new Histogram({ name: 'vigil_scan_seconds', help: 'Time to scan, decide and emit one event.', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] }),
    bridgePaused: new Counter({ name: 'vigil_bridge_pauses_total', help: 'Times the Kafka bridge paused its partitions (backpressure).', labelNames: ['reason'], registers: [registry] }),
    bridgePausedNow: new Gauge({ name: 'vigil_bridge_paused', help: '1 while the Kafka bridge has its partitions paused (scan backlog above the high watermark), else 0.', registers: [registry] }),
    bridgeBacklog: new Gauge({ name: 'vigil_bridge_scan_backlog', help: 'Scan-queue backlog (waiting jobs) as last read by the Kafka bridge.', registers: [registry] }),
    bridgeRecords: new Counter({ name: 'vigil_bridge_records_total', help: 'Kafka records handled by the bridge, by outcome (enqueued, dead_lettered).', labelNames: ['outcome'], registers: [registry] }),
    flagsMirrored: new Counter({ name: 'vigil_flags_mirrored_total', help: 'Flags produced to the Kafka flag topic.', registers: [registry] }),
    mediaUnscanned: new Counter({ name: 'vigil_media_unscanned_total', help: 'Media items not fully scanned (exact hashes only, or nothing), by reason: video, unsupported_format, unknown_format, too_large, undecodable, timeout, busy, unresolved_ref, store_unavailable, no_decoder, source_failed.', labelNames: ['reason'], registers: [registry] }),
    mediaItems: new Counter({ name: 'vigil_media_items_total', help: 'Media items scanned, by outcome (scanned, partial, unscanned) and sniffed format.', labelNames: ['outcome', 'format'], registers: [registry] }),
    mediaMimeMismatch: new Counter({ name: 'vigil_media_mime_mismatch_total', help: 'Media whose declared MIME type names another format than its bytes are, by declared class and sniffed format.', labelNames: ['declared', 'sniffed'], registers: [registry] }),
    textUnscanned: new Counter({ name: 'vigil_text_unscanned_total', help: 'Event texts not fully scanned (a text source failed), by reason.', labelNames: ['reason'], registers: [registry] }),
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
    sourceFailures: new Counter({ name: 'vigil_source_failures_total', help: 'Signal-source runs that failed or stopped short, by source and error code.', labelNames: ['source', 'code'], registers: [registry] }),
    decodeSeconds: new Histogram({ name: 'vigil_decode_seconds', help: 'Image decode time (header and pixels), excluding the wait for the decode budget.', buckets: [0.005, 0.02, 0.1, 0.5, 1, 2, 5, 10], registers: [registry] }),
    decodeWaitSeconds: new Histogram({ name: 'vigil_decode_wait_seconds', help: 'Time a decode waited for the decode budget (pixels in flight).', buckets: [0, 0.01, 0.1, 0.5, 1, 5, 15, 60], registers: [registry] }),
    decodeBudgetInUse: new Gauge({ name: 'vigil_decode_budget_in_use_pixels', help: 'Decoded pixels currently held under the decode budget.', registers: [registry] }),
    decodeBudgetWaiting: new Gauge({ name: 'vigil_decode_budget_waiting', help: 'Decodes waiting for the decode budget.', registers: [registry] }),
    decodeBudgetCapacity: new Gauge({ name: 'vigil_decode_budget_pixels', help: 'The decode budget (VIGIL_DECODE_BUDGET_PIXELS).', registers: [registry] }),
    modelRuntime: new Gauge({ name: 'vigil_model_runtime_info', help: 'TF.js backend the classifiers run on (1), with the reason it was chosen (preferred, tfjs_node_missing, tfjs_node_failed, wasm_failed).', labelNames: ['backend', 'reason'], registers: [registry] }),
    modelLoadSeconds: new Gauge({ name: 'vigil_model_load_seconds', help: 'Seconds to load a classifier model at start (runtime, verification, warm-up), by manifest model id.', labelNames: ['model'], registers: [registry] }),
    brakeQuarantines: new Counter({ name: 'vigil_brake_quarantines_total', help: 'Rules or bank entries quarantined to review-only because their hit rate jumped far above baseline.', labelNames: ['kind'], registers: [registry] }),
    brakeApplied: new Counter({ name: 'vigil_brake_applied_total', help: 'Flags whose action a false-positive brake lowered to review, by brake (rule_quarantined, entry_quarantined, daily_cap).', labelNames: ['brake'], registers: [registry] }),
    shadowComparisons: new Counter({ name: 'vigil_shadow_comparisons_total', help: 'Shadow rule and candidate policy verdicts compared with the live verdict, by source and outcome (agree, disagree).', labelNames: ['source', 'outcome'], registers: [registry] }),
  };
}

/** Serves /metrics; port 0 means metrics are off and nothing listens. */
export async function serveMetrics(metrics: Metrics, port: number, host = '127.0.0.1'): Promise<{ close(): Promise<void>; port: number } | undefined> {
  if (port === 0) return undefined;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry
      .metrics()
      .then((body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body))
      .catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  let closed: Promise<void> | undefined;
  return {
    port,
    close: () => (closed ??= new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}
