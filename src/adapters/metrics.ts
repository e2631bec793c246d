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
  /** 1 while a scan worker's bank store has lost banks it holds (it serves its last good snapshot), else 0. */
  bankStoreLost: Gauge<string>;
  /** Kafka records the bridge enqueued whose outcome is not final yet (their offsets are not committed). */
  bridgeUnsettled: Gauge<string>;
  bridgeQueueRestarts: Counter<string>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vigil_' });
  return {
    registry,
    eventsScanned: new Counter({ name: 'vigil_events_scanned_total', help: 'Events processed by scan workers, by outcome (flagged, clean, dead_lettered, retried).', labelNames: ['outcome'], registers: [registry] }),
    flagsEmitted: new Counter({ name: 'vigil_flags_emitted_total', help: 'Flags enqueued on the moderation queue.', labelNames: ['category', 'severity'], registers: [registry] }),
    deadLettered: new Counter({ name: 'vigil_dead_lettered_total', help: 'Dead-letter entries written, by error code.', labelNames: ['code'], registers: [registry] }),
    scanSeconds: new Histogram({ name: 'vigil_scan_seconds', help: 'Time to scan, decide and emit one event.', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] }),
    bridgePaused: new Counter({ name: 'vigil_bridge_pauses_total', help: 'Times the Kafka bridge paused its partitions (backpressure).', labelNames: ['reason'], registers: [registry] }),
    bridgePausedNow: new Gauge({ name: 'vigil_bridge_paused', help: '1 while the Kafka bridge has its partitions paused (scan backlog above the high watermark), else 0.', registers: [registry] }),
    bridgeBacklog: new Gauge({ name: 'vigil_bridge_scan_backlog', help: 'Scan-queue backlog (waiting jobs) as last read by the Kafka bridge.', registers: [registry] }),
    bridgeRecords: new Counter({ name: 'vigil_bridge_records_total', help: 'Kafka records handled by the bridge, by outcome (enqueued, dead_lettered).', labelNames: ['outcome'], registers: [registry] }),
    flagsMirrored: new Counter({ name: 'vigil_flags_mirrored_total', help: 'Flags produced to the Kafka flag topic.', registers: [registry] }),
    bridgeUnsettled: new Gauge({ name: 'vigil_bridge_unsettled_records', help: 'Kafka records enqueued by the bridge whose scan outcome is not final yet; their offsets stay uncommitted.', registers: [registry] }),
    bridgeQueueRestarts: new Counter({ name: 'vigil_bridge_queue_restarts_total', help: 'Queue-Redis restarts the bridge detected (run_id changed); each replays unsettled records from Kafka.', registers: [registry] }),
    bankStoreLost: new Gauge({ name: 'vigil_bank_store_lost', help: '1 while the bank store has lost banks this worker holds (emptied or rolled back; the worker keeps its last good snapshot and is not ready until an operator restores or accepts the store), else 0.', registers: [registry] }),
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
