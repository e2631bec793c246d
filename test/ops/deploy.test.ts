/**
 * The deployment files: docker-compose.yml is valid and gives every long-running service a health
 * check; Prometheus scrapes the port the services serve on; every PromQL expression in the Grafana
 * dashboard and the alert rules names metrics (and labels) the code really exports, so they cannot
 * drift apart. Metric names are parsed out of the expressions, not listed by hand.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createMetrics } from '../../src/adapters/metrics.js';

const compose = (args: string[], env: Record<string, string | undefined>) =>
  execFileSync('docker-compose', ['-f', 'docker-compose.yml', ...args], { encoding: 'utf8', stdio: 'pipe', env: { ...process.env, ...env } });

const PROMQL_WORDS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'rate',
  'irate',
  'increase',
  'deriv',
  'delta',
  'histogram_quantile',
  'topk',
  'bottomk',
  'abs',
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'clamp_min',
  'clamp_max',
  'absent',
  'vector',
  'time',
]);
/** Series Prometheus itself makes, or labels it adds to every series. */
const PROMETHEUS_SERIES = new Set(['up']);
const PROMETHEUS_LABELS = new Set(['job', 'instance', 'le']);

interface Exported {
  labels: Set<string>;
}

/** Every series name the registry exports (histograms as _bucket, _sum, _count), with its label names. */
async function exportedSeries(): Promise<Map<string, Exported>> {
  const { registry } = createMetrics();
  const out = new Map<string, Exported>();
  for (const m of await registry.getMetricsAsJSON()) {
    const metric = registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] };
    const labels = new Set(metric.labelNames ?? []);
    const names =
      String(m.type) === 'histogram'
        ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`]
        : String(m.type) === 'summary'
          ? [m.name, `${m.name}_sum`, `${m.name}_count`]
          : [m.name];
    for (const n of names) out.set(n, { labels: n.endsWith('_bucket') ? new Set([...labels, 'le']) : labels });
  }
  return out;
}

/** Metric names, label matchers and grouping labels of one PromQL expression. */
function parsePromQL(expr: string): { metrics: string[]; selectors: Array<{ metric: string; labels: string[] }>; grouping: string[] } {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const selectors: Array<{ metric: string; labels: string[] }> = [];
  for (const m of noStrings.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g))
    selectors.push({ metric: m[1]!, labels: [...m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!) });
  const grouping = [...noStrings.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)].flatMap((g) =>
    g[1]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const bare = noStrings
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring)\s*\([^)]*\)/g, ' ');
  const metrics = [...bare.matchAll(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\b/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w) && !/^\d/.test(w));
  return { metrics, selectors, grouping };
}

function dashboardExprs(): Array<{ where: string; expr: string }> {
  const dash = JSON.parse(readFileSync('deploy/grafana/dashboards/vigil.json', 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  return dash.panels.flatMap((p) => p.targets.map((t) => ({ where: `dashboard panel "${p.title}"`, expr: t.expr })));
}

function alertExprs(): Array<{ where: string; expr: string }> {
  const rules = parseYaml(readFileSync('deploy/prometheus/alerts.yml', 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
}

describe('deployment files', () => {
  it('docker-compose.yml is valid, needs VIGIL_OPS_TOKEN, and every long-running service has a health check', () => {
    let refusal = '';
    try {
      compose(['config', '-q'], { VIGIL_OPS_TOKEN: undefined });
    } catch (err) {
      refusal = String((err as { stderr?: string }).stderr);
    }
    expect(refusal).toContain('set VIGIL_OPS_TOKEN');
    // `config` validates as `config -q` does, and prints the resolved file.
    const resolved = parseYaml(compose(['config'], { VIGIL_OPS_TOKEN: 'compose-config-check-token' })) as {
      services: Record<string, { healthcheck?: { test?: unknown }; environment?: Record<string, string>; volumes?: Array<string | { source: string }> }>;
    };
    const services = resolved.services;
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['redis', 'kafka', 'bridge', 'worker', 'ops', 'prometheus', 'grafana']));
    // kafka-init is a one-shot job (others wait for it to complete), not a service to probe.
    const unprobed = Object.entries(services)
      .filter(([name, s]) => name !== 'kafka-init' && !s.healthcheck?.test)
      .map(([name]) => name);
    expect(unprobed).toEqual([]);
    // Prometheus scrapes the ops port the worker and bridge really listen on, on every interface.
    const prometheus = parseYaml(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as {
      scrape_configs: Array<{ job_name: string; dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
    };
    for (const svc of ['worker', 'bridge']) {
      const job = prometheus.scrape_configs.find((j) => j.dns_sd_configs?.[0]?.names.includes(svc));
      expect(String(job?.dns_sd_configs?.[0]?.port)).toBe(services[svc]?.environment?.VIGIL_OPS_PORT);
      expect(services[svc]?.environment?.VIGIL_OPS_HOST).toBe('0.0.0.0');
    }
    for (const f of [
      'deploy/prometheus/alerts.yml',
      'deploy/grafana/provisioning/datasources/prometheus.yml',
      'deploy/grafana/provisioning/dashboards/vigil.yml',
      'deploy/grafana/dashboards/vigil.json',
    ])
      expect(existsSync(f)).toBe(true);
  }, 90_000);

  it('every PromQL expression in the Grafana dashboard and the alert rules uses exported metric names and labels', async () => {
    const exported = await exportedSeries();
    const exprs = [...dashboardExprs(), ...alertExprs()];
    expect(exprs.length).toBeGreaterThan(15);
    const problems: string[] = [];
    const used = new Set<string>();
    for (const { where, expr } of exprs) {
      const { metrics, selectors, grouping } = parsePromQL(expr);
      if (metrics.length === 0) problems.push(`${where}: no metric in ${expr}`);
      const known = new Set<string>(PROMETHEUS_LABELS);
      for (const m of metrics) {
        used.add(m);
        const e = exported.get(m);
        if (!e && !PROMETHEUS_SERIES.has(m)) problems.push(`${where}: ${m} is not exported`);
        for (const l of e?.labels ?? []) known.add(l);
      }
      for (const s of selectors) {
        const labels = exported.get(s.metric)?.labels ?? new Set<string>();
        for (const l of s.labels) if (!labels.has(l) && !PROMETHEUS_LABELS.has(l)) problems.push(`${where}: ${s.metric} has no label ${l}`);
      }
      for (const l of grouping) if (!known.has(l)) problems.push(`${where}: grouping by ${l}, which none of its metrics has`);
    }
    expect(problems).toEqual([]);
    // The panels the issue asks for are there.
    for (const m of [
      'vigil_events_scanned_total',
      'vigil_end_to_end_seconds_bucket',
      'vigil_queue_jobs',
      'vigil_dead_lettered_total',
      'vigil_matches_total',
      'vigil_flags_emitted_total',
      'vigil_model_info',
    ])
      expect(used).toContain(m);
  });

  it('docs/operations.md describes every metric Vigil defines (prom-client process metrics aside)', async () => {
    const doc = readFileSync('docs/operations.md', 'utf8');
    const { registry } = createMetrics();
    const ours = (await registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => !/^vigil_(process|nodejs)_/.test(n));
    expect(ours.length).toBeGreaterThan(15);
    expect(ours.filter((n) => !doc.includes(`\`${n}\``))).toEqual([]);
    expect(readFileSync('README.md', 'utf8')).toContain('(docs/operations.md)');
  });

  it('the PromQL parser finds names it should and flags names it should', () => {
    expect(parsePromQL('histogram_quantile(0.95, sum by (le, stage) (rate(vigil_stage_seconds_bucket{stage="hash"}[5m])))')).toEqual({
      metrics: ['vigil_stage_seconds_bucket'],
      selectors: [{ metric: 'vigil_stage_seconds_bucket', labels: ['stage'] }],
      grouping: ['le', 'stage'],
    });
    expect(parsePromQL('max(vigil_queue_jobs{queue="dead_letter"}) > 10 and deriv(vigil_nope[5m]) > 0').metrics).toEqual(['vigil_queue_jobs', 'vigil_nope']);
  });
});
