/**
 * The tuning report: one self-contained HTML file (inline CSS and SVG, no script, no external
 * resource of any kind), so it opens from disk or a ticket attachment without a network. It carries
 * ids, versions and counts only: never message text, media or term phrases. Pure.
 */
import { formatThreshold, type SignalKind, type SourceValues, type ThresholdRow } from './thresholds.js';

export interface SourceSection {
  values: SourceValues;
  rows: readonly ThresholdRow[];
  /** The threshold the current policy applies to this source, where it has one. */
  current?: number | undefined;
  recommended?: ThresholdRow | undefined;
}

export interface WhatIfFlag {
  eventId: string;
  category: string;
  truth: 'tp' | 'fp' | 'unlabelled';
}

export interface WhatIfSide {
  count: number;
  tp: number;
  fp: number;
  unlabelled: number;
  /** The first flags, for the reviewer to look up by id. */
  sample: readonly WhatIfFlag[];
}

export interface WhatIf {
  currentVersion: string;
  candidateVersion: string;
  currentFlags: number;
  candidateFlags: number;
  gained: WhatIfSide;
  lost: WhatIfSide;
  notes: readonly string[];
}

export interface ReportInput {
  generatedAt: string;
  targetPrecision: number;
  category?: string | undefined;
  truthFrom: 'labels' | 'decisions';
  counts: Record<string, number>;
  policyVersion: string;
  bankVersions: Record<string, string>;
  modelVersions: Record<string, string>;
  sources: readonly SourceSection[];
  whatIf?: WhatIf | undefined;
  notes: readonly string[];
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(3));
const n = (v: number): string => String(Math.round(v * 10) / 10);

const W = 360;
const H = 260;
const PAD = { left: 44, right: 12, top: 12, bottom: 36 };
const plotW = W - PAD.left - PAD.right;
const plotH = H - PAD.top - PAD.bottom;
const x = (v: number) => PAD.left + v * plotW;
const y = (v: number) => PAD.top + (1 - v) * plotH;

function axes(xLabel: string, yLabel: string, xTicks: [number, string][], yTicks: [number, string][]): string {
  const parts = [
    `<line x1="${PAD.left}" y1="${y(0)}" x2="${x(1)}" y2="${y(0)}" stroke="#555"/>`,
    `<line x1="${PAD.left}" y1="${y(0)}" x2="${PAD.left}" y2="${y(1)}" stroke="#555"/>`,
  ];
  for (const [v, label] of xTicks)
    parts.push(
      `<line x1="${n(x(v))}" y1="${y(0)}" x2="${n(x(v))}" y2="${y(0) + 4}" stroke="#555"/><text x="${n(x(v))}" y="${y(0) + 15}" text-anchor="middle">${esc(label)}</text>`,
    );
  for (const [v, label] of yTicks)
    parts.push(
      `<line x1="${PAD.left - 4}" y1="${n(y(v))}" x2="${PAD.left}" y2="${n(y(v))}" stroke="#555"/><text x="${PAD.left - 6}" y="${n(y(v) + 4)}" text-anchor="end">${esc(label)}</text>`,
    );
  parts.push(`<text x="${PAD.left + plotW / 2}" y="${H - 4}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(11 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  return parts.join('');
}

const unitTicks: [number, string][] = [0, 0.25, 0.5, 0.75, 1].map((v) => [v, v.toFixed(2)]);

/** Precision (y) against recall (x), one point per threshold; the recommended and current thresholds marked. */
export function prCurveSvg(section: SourceSection): string {
  const points = section.rows
    .filter((r) => r.precision !== undefined && r.recall !== undefined)
    .map((r) => ({ r, px: x(r.recall as number), py: y(r.precision as number) }))
    .sort((a, b) => a.r.recall! - b.r.recall! || b.r.precision! - a.r.precision!);
  const { signal, source } = section.values;
  // Recommended: a circle; current: a square (they often coincide, so both stay visible).
  const mark = (row: ThresholdRow | undefined, cls: string, colour: string, label: string) => {
    if (!row || row.precision === undefined || row.recall === undefined) return '';
    const title = `<title>${esc(label)} ${esc(formatThreshold(signal, row.threshold))}</title>`;
    const cx = x(row.recall);
    const cy = y(row.precision);
    return cls === 'current'
      ? `<rect class="${cls}" x="${n(cx - 7)}" y="${n(cy - 7)}" width="14" height="14" fill="none" stroke="${colour}" stroke-width="2">${title}</rect>`
      : `<circle class="${cls}" cx="${n(cx)}" cy="${n(cy)}" r="5" fill="none" stroke="${colour}" stroke-width="2">${title}</circle>`;
  };
  const currentRow = section.current === undefined ? undefined : section.rows.find((r) => r.threshold === section.current);
  const line =
    points.length > 1
      ? `<polyline class="curve" fill="none" stroke="#1f5fa8" stroke-width="2" points="${points.map((p) => `${n(p.px)},${n(p.py)}`).join(' ')}"/>`
      : '';
  const dots = points.map((p) => `<circle class="point" cx="${n(p.px)}" cy="${n(p.py)}" r="2" fill="#1f5fa8"/>`).join('');
  return `<svg class="pr-curve" data-signal="${esc(signal)}" data-source="${esc(source)}" data-points="${points.length}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="precision-recall curve of ${esc(signal)} ${esc(source)}">${axes('recall', 'precision', unitTicks, unitTicks)}${line}${dots}${mark(section.recommended, 'recommended', '#1a7f37', 'recommended')}${mark(currentRow, 'current', '#b35900', 'current policy')}${points.length === 0 ? `<text x="${PAD.left + plotW / 2}" y="${PAD.top + plotH / 2}" text-anchor="middle">no predictions at any threshold</text>` : ''}</svg>`;
}

/** How the source's values spread over positives and negatives (events it found nothing on are not drawn). */
export function distributionSvg(values: SourceValues): string {
  const kind: SignalKind = values.signal;
  let bins: { from: number; to: number; label: string }[];
  if (kind === 'pdq') bins = Array.from({ length: 17 }, (_, i) => ({ from: i * 4, to: i * 4 + 3, label: String(i * 4) }));
  else if (kind === 'classifier') bins = Array.from({ length: 20 }, (_, i) => ({ from: i / 20, to: (i + 1) / 20, label: (i / 20).toFixed(2) }));
  else {
    // A loop, not Math.max(...values): a spread of a million arguments overflows the stack.
    let max = 1;
    for (const v of values.positives) if (v > max) max = v;
    for (const v of values.negatives) if (v > max) max = v;
    bins = Array.from({ length: Math.min(max, 10) }, (_, i) => ({ from: i + 1, to: i + 1, label: String(i + 1) }));
  }
  const binOf = (v: number): number => {
    if (kind === 'pdq') return Math.min(bins.length - 1, Math.floor(v / 4));
    if (kind === 'classifier') return Math.min(bins.length - 1, Math.floor(v * 20));
    return Math.min(bins.length - 1, v - 1);
  };
  const pos = bins.map(() => 0);
  const neg = bins.map(() => 0);
  for (const v of values.positives) pos[binOf(v)]!++;
  for (const v of values.negatives) neg[binOf(v)]!++;
  const top = Math.max(1, ...pos, ...neg);
  const bw = plotW / bins.length;
  const bars: string[] = [];
  bins.forEach((b, i) => {
    const hp = (pos[i]! / top) * plotH;
    const hn = (neg[i]! / top) * plotH;
    const x0 = PAD.left + i * bw;
    if (pos[i])
      bars.push(
        `<rect class="bar positive" x="${n(x0 + 1)}" y="${n(y(0) - hp)}" width="${n(bw / 2 - 1)}" height="${n(hp)}" fill="#c4362c"><title>${esc(b.label)}: ${pos[i]} positive</title></rect>`,
      );
    if (neg[i])
      bars.push(
        `<rect class="bar negative" x="${n(x0 + bw / 2)}" y="${n(y(0) - hn)}" width="${n(bw / 2 - 1)}" height="${n(hn)}" fill="#6b8fb5"><title>${esc(b.label)}: ${neg[i]} negative</title></rect>`,
      );
  });
  const step = Math.max(1, Math.ceil(bins.length / 6));
  const xTicks: [number, string][] = bins.flatMap((b, i) => (i % step === 0 ? [[(i + 0.5) / bins.length, b.label] as [number, string]] : []));
  const yTicks: [number, string][] = [
    [0, '0'],
    [1, String(top)],
  ];
  const xLabel = kind === 'pdq' ? 'smallest PDQ distance (bins of 4)' : kind === 'classifier' ? 'highest score' : 'distinct entries matched';
  return `<svg class="distribution" data-signal="${esc(kind)}" data-source="${esc(values.source)}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="distribution of ${esc(kind)} ${esc(values.source)}">${axes(xLabel, 'events', xTicks, yTicks)}${bars.join('')}</svg>`;
}

function keyValueTable(rows: [string, string][]): string {
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

function whatIfSide(name: string, side: WhatIfSide): string {
  const more = side.count > side.sample.length ? `<p>… and ${side.count - side.sample.length} more (first ${side.sample.length} listed).</p>` : '';
  const list = side.sample.length
    ? `<table class="flags"><tr><th>eventId</th><th>category</th><th>truth</th></tr>${side.sample
        .map(
          (f) =>
            `<tr><td><code>${esc(f.eventId)}</code></td><td>${esc(f.category)}</td><td>${f.truth === 'unlabelled' ? 'unlabelled' : f.truth.toUpperCase()}</td></tr>`,
        )
        .join('')}</table>${more}`
    : '<p>none</p>';
  return `<section class="whatif-${name}"><h3>Flags ${name}: ${side.count} (${side.tp} true positive, ${side.fp} false positive, ${side.unlabelled} unlabelled)</h3>${list}</section>`;
}

export function renderReport(input: ReportInput): string {
  const { sources } = input;
  const summary = sources
    .map((s, i) => {
      const r = s.recommended;
      const cur = s.current === undefined ? '–' : formatThreshold(s.values.signal, s.current);
      const rec = r
        ? `<td class="threshold">${esc(formatThreshold(r.signal, r.threshold))}</td><td>${pct(r.precision)}</td><td>${pct(r.recall)}</td><td>${r.tp}</td><td>${r.fp}</td>`
        : '<td class="threshold">not reached</td><td>–</td><td>–</td><td>–</td><td>–</td>';
      return `<tr data-signal="${esc(s.values.signal)}" data-source="${esc(s.values.source)}" data-recommended="${r ? esc(formatThreshold(r.signal, r.threshold)) : ''}"><td>${esc(s.values.signal)}</td><td><a href="#source-${i}">${esc(s.values.source)}</a></td><td>${esc(cur)}</td>${rec}</tr>`;
    })
    .join('');
  const sections = sources
    .map((s, i) => {
      const table = s.rows
        .map(
          (r) =>
            `<tr><td>${esc(formatThreshold(r.signal, r.threshold))}</td><td>${r.tp}</td><td>${r.fp}</td><td>${r.fn}</td><td>${r.tn}</td><td>${pct(r.precision)}</td><td>${pct(r.recall)}</td></tr>`,
        )
        .join('');
      return `<section class="source" id="source-${i}"><h2>${esc(s.values.signal)}: ${esc(s.values.source)}</h2>
<p>${s.values.positives.length} positive and ${s.values.negatives.length} negative event(s) with a value from this source; the rest are predicted negative at every threshold.</p>
<div class="charts">${prCurveSvg(s)}${distributionSvg(s.values)}</div>
<details><summary>counts at every threshold</summary><table class="counts"><tr><th>threshold</th><th>tp</th><th>fp</th><th>fn</th><th>tn</th><th>precision</th><th>recall</th></tr>${table}</table></details></section>`;
    })
    .join('\n');
  const w = input.whatIf;
  const whatIf = w
    ? `<section id="what-if"><h2>What if: candidate policy</h2>${keyValueTable([
        ['current policy', w.currentVersion],
        ['candidate policy', w.candidateVersion],
        ['flags under the current policy', String(w.currentFlags)],
        ['flags under the candidate', String(w.candidateFlags)],
      ])}${whatIfSide('gained', w.gained)}${whatIfSide('lost', w.lost)}${w.notes.map((t) => `<p class="note">${esc(t)}</p>`).join('')}</section>`
    : '';
  const versions = (v: Record<string, string>) =>
    Object.entries(v)
      .map(([k, ver]) => `${k}@${ver}`)
      .join(', ') || 'none';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vigil tuning report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}.charts{display:flex;flex-wrap:wrap;gap:16px}svg{background:#fff;border:1px solid #ddd}
svg text{font:11px sans-serif;fill:#333}.note{color:#6a4a00}code{font-size:12px}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
</style></head><body>
<h1>Vigil tuning report</h1>
${keyValueTable([
  ['generated', input.generatedAt],
  ['ground truth', input.truthFrom === 'labels' ? 'labels file' : 'reviewer decisions'],
  ['positive means', input.category ? `labelled ${input.category}` : 'any label'],
  ['target precision', String(input.targetPrecision)],
  ...Object.entries(input.counts).map(([k, v]): [string, string] => [k, String(v)]),
  ['policy', input.policyVersion],
  ['banks', versions(input.bankVersions)],
  ['models', versions(input.modelVersions)],
])}
${input.notes.map((t) => `<p class="note">${esc(t)}</p>`).join('')}
<h2>Thresholds for a precision of ${esc(String(input.targetPrecision))}</h2>
<p>Per source, of the thresholds that reach the target precision, the one with the highest recall (the strictest on a tie). Current: the threshold the policy applies now.</p>
<table id="recommendations"><tr><th>signal</th><th>source</th><th>current</th><th>recommended</th><th>precision</th><th>recall</th><th>tp</th><th>fp</th></tr>${summary}</table>
<p class="legend">Charts: <span style="background:#1f5fa8"></span>precision–recall per threshold, <span style="border:2px solid #1a7f37;border-radius:50%"></span>recommended, <span style="border:2px solid #b35900"></span>current policy; <span style="background:#c4362c"></span>positive events, <span style="background:#6b8fb5"></span>negative events.</p>
${whatIf}
${sections}
</body></html>
`;
}
