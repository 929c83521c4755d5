/**
 * report/report.html: one self-contained page that opens offline: no script, no external
 * resource. Charts are drawn here, server side, with Observable Plot into static SVG (linkedom
 * stands in for the browser's DOM): it gives axes, log scales, legends and text marks that a
 * reader trusts without hand-written SVG code to maintain, and every text it writes goes through
 * the DOM, so labels from inputs are escaped. Every other text from inputs or results is escaped
 * here (escapeHtml).
 *
 * Sections: a header (run date, gcsfuse version and commit per config, fio, machine types,
 * kernels, VMs), an overview of all tests (bandwidth per test x config, with tables sortable by
 * each column through links, still without script), then per test: bandwidth bars with their
 * numbers, latency CDFs from the pooled histograms, fio's logs over time with gcsfuse CPU and
 * memory, and the table of every figure.
 */
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import { REPORTED_DIRECTIONS, type ReportedDirection } from './fio';
import { METRIC_KINDS, MIB, NS_PER_MS, PERCENTILE_METRICS, UNITS, metricKind } from './metrics';
import type { AnalysisOptions, DirectionStats, EntryReport } from './report';
import { CONFIDENCE_LEVEL, intervalMethod, MIN_INTERVAL_ITERATIONS, OUTLIER_RULE } from './stats';
import { MAX_CHARTED_TESTS, STEADY_STATE_RULE, WARMUP_WINDOW_MS } from './timeseries';

export { MAX_CHARTED_TESTS };

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML/SVG content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const fmt = (v: number | null | undefined, digits: number): string => (isNum(v) ? v.toFixed(digits) : '–');
const ms = (ns: number | null | undefined): number | null => (isNum(ns) ? ns / NS_PER_MS : null);
/** A log axis tick: 1, 2 and 5 times a power of ten labelled, as plain decimals. */
const logTick = (v: number): string => ([1, 2, 5].includes(Math.round(v / 10 ** Math.floor(Math.log10(v)))) ? label(v) : '');
/** A number on a bar: 3 significant digits, whole numbers above 1000. */
const label = (v: number): string => (v >= 1000 ? String(Math.round(v)) : String(Number(v.toPrecision(3))));

/**
 * Bounds that keep the page readable and its rendering cheap (Plot on linkedom costs a few ms and
 * some MB per chart; a 10,000-output run would otherwise take seconds and hundreds of MB in the
 * worker): charts for the first MAX_CHARTED_TESTS tests (tables for all), at most
 * MAX_OVERVIEW_BARS bars in the overview, sorted copies of the overview table up to
 * MAX_SORTED_OVERVIEW_ROWS rows. The CSV and summary.json have every figure.
 */
export const MAX_OVERVIEW_BARS = 150;
export const MAX_SORTED_OVERVIEW_ROWS = 1000;

const DIRECTION_COLORS: Record<ReportedDirection, string> = { read: '#1f77b4', write: '#ff7f0e', trim: '#7f7f7f', mixed: '#2ca02c' };
const BW = metricKind('bw')!;
const IOPS = metricKind('iops')!;

function directionsOf(reports: readonly EntryReport[]): ReportedDirection[] {
  return REPORTED_DIRECTIONS.filter((d) => reports.some((r) => r[d]));
}

/** An entry's label in charts and tables: its config, and its fio group when the job file has several. */
const entryLabel = (r: EntryReport) => (r.fioGroup !== undefined ? `${r.configLabel} (group ${r.fioGroup})` : r.configLabel);

// ---------------------------------------------------------------- Plot, server side

/** A chart as static SVG (or a <figure> with its legend), rendered with Plot on a linkedom document. */
export function plot(options: Plot.PlotOptions): string {
  // One document for all charts: parsing a new one per chart costs more than the chart.
  documentForPlots ??= parseHTML('<!DOCTYPE html><html><body></body></html>').document;
  // Every colour here names a series (config, direction, iteration). Said explicitly: with no data Plot would guess
  // a continuous scale, whose legend is a ramp drawn on a <canvas>, which linkedom does not have (the render threw).
  const color = options.color && { type: 'categorical' as const, ...options.color };
  const node = Plot.plot({ ...options, color, document: documentForPlots } as Plot.PlotOptions) as unknown as { outerHTML: string };
  return node.outerHTML;
}
let documentForPlots: ReturnType<typeof parseHTML>['document'] | undefined;

export function chart(kind: string, svg: string, caption: string): string {
  return `<figure class="chart" data-chart="${escapeHtml(kind)}">${svg}<figcaption>${caption}</figcaption></figure>`;
}

interface BarRow {
  entry: string;
  dir: ReportedDirection;
  value: number;
  low: number | null;
  high: number | null;
}

/** Horizontal bars (one per entry and direction) with their number, the interval and each iteration as a dot. */
function bandwidthChart(testId: string, entries: readonly EntryReport[], ciMin: number): string {
  const dirs = directionsOf(entries);
  const rows: BarRow[] = [];
  const dots: { entry: string; dir: ReportedDirection; value: number; outlier: boolean }[] = [];
  for (const r of entries) {
    for (const d of dirs) {
      const s = r[d];
      const v = s ? BW.value(s) : null;
      if (!s || v === null) continue;
      const name = `${entryLabel(r)} · ${d}`;
      const bw = s.bwBytesPerSec;
      rows.push({
        entry: name,
        dir: d,
        value: v,
        low: isNum(bw.ci95Low) ? bw.ci95Low / MIB : null,
        high: isNum(bw.ci95High) ? bw.ci95High / MIB : null,
      });
      const outliers = new Set(bw.outlierIterations ?? []);
      BW.samples(s).forEach((x, i) => dots.push({ entry: name, dir: d, value: x, outlier: outliers.has(i + 1) }));
    }
  }
  const withInterval = rows.filter((r) => r.low !== null && r.high !== null);
  const svg = plot({
    title: `Bandwidth of test ${testId}`,
    width: 760,
    height: 40 + rows.length * 26,
    marginLeft: 200,
    marginRight: 70,
    x: { label: `${BW.label}, ${BW.unit} →`, grid: true, nice: true },
    y: { label: null, domain: rows.map((r) => r.entry) },
    color: { domain: dirs, range: dirs.map((d) => DIRECTION_COLORS[d]), legend: true },
    marks: [
      Plot.barX(rows, { y: 'entry', x: 'value', fill: 'dir', title: (r: BarRow) => `${r.entry}: ${fmt(r.value, 2)} ${BW.unit}` }),
      Plot.ruleY(withInterval, { y: 'entry', x1: 'low', x2: 'high', stroke: '#000', strokeWidth: 1.5, className: 'err' }),
      Plot.dot(dots, {
        y: 'entry',
        x: 'value',
        r: 3,
        fill: (d: { outlier: boolean }) => (d.outlier ? '#d62728' : '#fff'),
        stroke: '#333',
        className: 'pt',
      }),
      // The number on the bar is the table's mean, to the same digits.
      Plot.text(rows, { y: 'entry', x: 'value', text: (r: BarRow) => fmt(r.value, 2), dx: 6, textAnchor: 'start', className: 'value' }),
      Plot.ruleX([0]),
    ],
  });
  return chart(
    'bandwidth',
    svg,
    `Bandwidth, ${BW.unit} (2^20 bytes/s): bar and number = mean over iterations; black line = ${CONFIDENCE_LEVEL * 100}% confidence interval of the geometric mean (log-scale Student t; none below ${ciMin} iterations); dots = iterations, red = outlier.`,
  );
}

/** The cumulative distribution of an entry's pooled completion-latency histogram, in %. */
function cdfPoints(d: DirectionStats, series: string): { series: string; ms: number; pct: number }[] {
  const total = d.clatHistogramNs.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return [];
  let seen = 0;
  return d.clatHistogramNs.map(([ns, n]) => {
    seen += n;
    return { series, ms: ns / NS_PER_MS, pct: (seen / total) * 100 };
  });
}

function latencyCdfChart(testId: string, entries: readonly EntryReport[]): string {
  const dirs = directionsOf(entries);
  const points = entries.flatMap((r) =>
    dirs.filter((d) => r[d]).flatMap((d) => cdfPoints(r[d]!, dirs.length > 1 ? `${entryLabel(r)} · ${d}` : entryLabel(r))),
  );
  const percentiles = PERCENTILE_METRICS.map((k) => k.percentile!);
  const svg = plot({
    title: `Completion latency CDF of test ${testId}`,
    width: 640,
    height: 300,
    marginLeft: 50,
    // Plain decimals on the ticks: SI prefixes (10m for 0.01) would read as milliseconds.
    x: { type: 'log', label: `completion latency, ${UNITS.latency} (log) →`, grid: true, tickFormat: logTick },
    y: { label: '↑ % of I/Os at or below', domain: [0, 100], grid: true },
    color: { legend: true },
    marks: [
      Plot.ruleY(percentiles, { stroke: '#bbb', strokeDasharray: '3,3' }),
      Plot.text(percentiles, {
        y: (p: number) => p,
        frameAnchor: 'left',
        text: (p: number) => `p${p}`,
        dy: -5,
        dx: 4,
        fill: '#777',
        textAnchor: 'start',
      }),
      Plot.line(points, { x: 'ms', y: 'pct', stroke: 'series', curve: 'step-after' }),
    ],
  });
  return chart(
    'latency-cdf',
    svg,
    `Completion latency (clat), ${UNITS.latency}, log scale: share of all I/Os of all jobs and iterations at or below each latency, from fio's json+ histograms summed (the dashed lines are the reported percentiles).`,
  );
}

/** fio's logs over time: bandwidth per direction and iteration; gcsfuse CPU and memory on the same clock. */
function timeSeriesCharts(r: EntryReport): string {
  const ts = r.timeSeries;
  if (!ts) return '';
  const bw: { series: string; s: number; mib: number }[] = [];
  const cpu: { series: string; s: number; v: number }[] = [];
  const rss: { series: string; s: number; v: number }[] = [];
  for (const it of ts.iterations) {
    for (const [d, s] of Object.entries(it.directions)) {
      s.tMs.forEach((t, i) => bw.push({ series: `${d} iter ${it.iteration}`, s: t / 1000, mib: s.bwBytesPerSec[i]! / MIB }));
    }
    const res = it.resources;
    res?.tMs.forEach((t, i) => {
      const c = res.gcsfuseCpuPercent[i];
      const m = res.gcsfuseRssBytes[i];
      if (isNum(c)) cpu.push({ series: `iter ${it.iteration}`, s: t / 1000, v: c });
      if (isNum(m)) rss.push({ series: `iter ${it.iteration}`, s: t / 1000, v: m / MIB });
    });
  }
  const title = `${entryLabel(r)} on ${r.vm ?? '–'}`;
  const x = { label: 'seconds since fio began measuring (after ramp_time) →', grid: true };
  const warm = WARMUP_WINDOW_MS / 1000;
  const out = [
    chart(
      'timeseries',
      plot({
        title: `Bandwidth over time: ${title}`,
        width: 640,
        height: 260,
        x,
        y: { label: `↑ ${BW.unit}`, grid: true, zero: true },
        color: { legend: true },
        marks: [
          Plot.rectX([0], { x1: 0, x2: warm, fill: '#f2f2f2' }),
          Plot.line(bw, { x: 's', y: 'mib', stroke: 'series' }),
          Plot.ruleY([0]),
        ],
      }),
      `fio's bandwidth log (1 s averages, all jobs summed), each iteration a line; grey band = the first ${warm} s the steady-state rule compares with the rest.`,
    ),
  ];
  if (cpu.length || rss.length) {
    const small = (what: string, unit: string, data: { series: string; s: number; v: number }[]) =>
      plot({
        title: `gcsfuse ${what}: ${title}`,
        width: 420,
        height: 200,
        x,
        y: { label: `↑ ${unit}`, grid: true, zero: true },
        color: { legend: true },
        marks: [Plot.line(data, { x: 's', y: 'v', stroke: 'series' }), Plot.ruleY([0])],
      });
    if (cpu.length)
      out.push(chart('gcsfuse-cpu', small('CPU', '% of one core', cpu), "gcsfuse's CPU over the same time (100 = one core)."));
    if (rss.length) out.push(chart('gcsfuse-memory', small('memory', 'RSS, MiB', rss), "gcsfuse's resident memory over the same time."));
  }
  return out.join('');
}

/** What the steady-state rule found for an entry, in words. */
function findingsText(r: EntryReport): string {
  const ts = r.timeSeries;
  if (!ts) return '';
  const parts = Object.entries(ts.summary).map(([d, s]) => {
    const steady =
      s.steadyBwBytesPerSec === null
        ? 'not judged (too short)'
        : `steady state ${fmt(s.steadyBwBytesPerSec / MIB, 2)} ${BW.unit} over ${s.judged} iteration(s)`;
    const found = s.findings.map(
      (f) => `<strong class="finding">${escapeHtml(f.finding)}</strong> in iteration ${escapeHtml(f.iterations.join(', '))}`,
    );
    return `${escapeHtml(d)}: ${escapeHtml(steady)}${found.length ? `; ${found.join('; ')}` : s.steadyBwBytesPerSec === null ? '' : '; no warm-up or throttling'}`;
  });
  return `<p class="meta findings">${escapeHtml(entryLabel(r))}: ${parts.join(' · ')}</p>`;
}

// ---------------------------------------------------------------- tables

function entryTable(entries: readonly EntryReport[]): string {
  const head = [
    'config',
    'commit',
    'vm',
    'status',
    'dir',
    'iter',
    `${BW.unit} mean`,
    'median',
    `${CONFIDENCE_LEVEL * 100}% CI`,
    'cv %',
    'outlier iter.',
    IOPS.unit,
    `lat mean ${UNITS.latency}`,
    'stddev',
    ...PERCENTILE_METRICS.map((k) => `p${k.percentile}`),
    'max',
  ];
  let rows = '';
  for (const r of entries) {
    const dirs = directionsOf([r]);
    if (dirs.length === 0) {
      rows += `<tr class="${escapeHtml(r.status)}"><td>${escapeHtml(entryLabel(r))}</td><td>${escapeHtml(r.commit)}</td><td>${escapeHtml(r.vm ?? '–')}</td><td>${escapeHtml(r.status)}</td><td colspan="${head.length - 4}">no results</td></tr>`;
      continue;
    }
    for (const d of dirs) {
      const s = r[d]!;
      const bw = s.bwBytesPerSec;
      const ci =
        isNum(bw.ci95Low) && isNum(bw.ci95High)
          ? `${fmt(bw.ci95Low / MIB, 2)} – ${fmt(bw.ci95High / MIB, 2)}`
          : `n/a${bw.ciUnavailable ? ` (${bw.ciUnavailable})` : ''}`;
      const cells = [
        entryLabel(r),
        r.commit,
        r.vm ?? '–',
        r.status,
        d,
        String(r.iterations),
        fmt(BW.value(s), 2),
        fmt(bw.median / MIB, 2),
        ci,
        fmt(isNum(bw.cv) ? bw.cv * 100 : null, 1),
        (bw.outlierIterations ?? []).join(', ') || '–',
        fmt(IOPS.value(s), 0),
        fmt(ms(s.clatMeanNs), 3),
        fmt(ms(s.clatStddevNs), 3),
        ...PERCENTILE_METRICS.map((k) => fmt(k.value(s), 3)),
        fmt(ms(s.clatMaxNs), 3),
      ];
      const flagged = (bw.outlierIterations ?? []).length > 0 ? ' outliers' : '';
      rows += `<tr class="${escapeHtml(r.status)}${flagged}">${cells.map((x) => `<td>${escapeHtml(x)}</td>`).join('')}</tr>`;
    }
  }
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`;
}

interface OverviewRow {
  test: string;
  anchor: string;
  entry: string;
  dir: ReportedDirection;
  bw: number | null;
  iops: number | null;
  p99: number | null;
  steady: number | null;
}

const OVERVIEW_SORTS: { key: 'test' | 'entry' | 'bw' | 'iops' | 'p99'; header: string }[] = [
  { key: 'test', header: 'test' },
  { key: 'entry', header: 'config' },
  { key: 'bw', header: `${BW.unit}` },
  { key: 'iops', header: IOPS.unit },
  { key: 'p99', header: `p99 ${UNITS.latency}` },
];

/**
 * The overview table, sortable without script: one copy per sort order, shown by :target when
 * its header link is followed (the test order is shown first).
 */
function overviewTables(rows: readonly OverviewRow[]): string {
  const sortable = rows.length <= MAX_SORTED_OVERVIEW_ROWS;
  const cmp = (key: (typeof OVERVIEW_SORTS)[number]['key']) => (a: OverviewRow, b: OverviewRow) => {
    if (key === 'test' || key === 'entry') return 0; // matrix order, stable
    const x = a[key];
    const y = b[key];
    if (x === null || y === null) return x === null ? (y === null ? 0 : 1) : -1;
    return key === 'p99' ? x - y : y - x; // best first: highest bandwidth/IOPS, lowest latency
  };
  const byEntry = (a: OverviewRow, b: OverviewRow) => a.entry.localeCompare(b.entry);
  const table = (key: (typeof OVERVIEW_SORTS)[number]['key']) => {
    const sorted = key === 'entry' ? [...rows].sort(byEntry) : [...rows].sort(cmp(key));
    const head =
      OVERVIEW_SORTS.map(
        (s) =>
          `<th>${sortable ? `<a href="#overview-by-${s.key}">${escapeHtml(s.header)}${s.key === key ? ' ▼' : ''}</a>` : escapeHtml(s.header)}</th>`,
      ).join('') + '<th>dir</th><th>steady MiB/s</th>';
    const body = sorted
      .map(
        (r) =>
          `<tr><td><a href="#${r.anchor}">${escapeHtml(r.test)}</a></td><td>${escapeHtml(r.entry)}</td><td>${fmt(r.bw, 2)}</td><td>${fmt(r.iops, 0)}</td><td>${fmt(r.p99, 3)}</td><td>${escapeHtml(r.dir)}</td><td>${fmt(r.steady, 2)}</td></tr>`,
      )
      .join('');
    return `<div class="sorted${key === 'test' ? ' default' : ''}" id="overview-by-${key}"><table class="overview"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
  };
  if (!sortable)
    return `<p class="meta">${rows.length} rows: too many to keep a sorted copy per column here; sort the CSV report.</p>${table('test')}`;
  // The default copy comes last so ':target ~ .default' can hide it.
  return `<div class="sortable">${OVERVIEW_SORTS.filter((s) => s.key !== 'test')
    .map((s) => table(s.key))
    .join('')}${table('test')}</div>`;
}

function overviewChart(rows: readonly OverviewRow[]): string {
  const all = rows.filter((r) => r.bw !== null);
  // One row per bar (test, direction and config): bars of the same test are never stacked.
  const bars = all.slice(0, MAX_OVERVIEW_BARS).map((r) => ({ ...r, name: `${r.test} · ${r.dir} · ${r.entry}` }));
  if (bars.length === 0) return '';
  const cut = all.length > bars.length ? ` The first ${bars.length} of ${all.length} bars, in matrix order; the table below has all.` : '';
  const configs = [...new Set(bars.map((b) => b.entry))];
  const svg = plot({
    title: 'Bandwidth per test and config',
    width: 900,
    height: 50 + bars.length * 20,
    marginLeft: 220,
    marginRight: 70,
    x: { label: `${BW.label}, ${BW.unit} →`, grid: true, nice: true },
    y: { label: null, domain: [...new Set(bars.map((b) => b.name))], padding: 0.1 },
    color: { domain: configs, legend: true },
    marks: [
      Plot.barX(bars, {
        y: 'name',
        x: 'bw',
        fill: 'entry',
        title: (b: OverviewRow) => `${b.test} ${b.entry} ${b.dir}: ${fmt(b.bw, 2)} ${BW.unit}`,
      }),
      Plot.text(bars, {
        y: 'name',
        x: 'bw',
        text: (b: OverviewRow) => fmt(b.bw, 2),
        dx: 6,
        textAnchor: 'start',
        className: 'value',
      }),
      Plot.ruleX([0]),
    ],
  });
  return chart(
    'overview',
    svg,
    `Mean bandwidth over iterations, ${BW.unit}, of every test, direction and config (configs by colour), the number on each bar.${cut}`,
  );
}

// ---------------------------------------------------------------- header

const distinct = (values: readonly (string | null | undefined)[]): string[] => [...new Set(values.filter((v): v is string => !!v))];

function header(reports: readonly EntryReport[]): string {
  const env = reports.map((r) => r.environment).filter((e) => !!e);
  const dates = distinct(env.map((e) => e!.collectedAt)).sort();
  const runDate = dates.length ? (dates[0] === dates[dates.length - 1] ? dates[0]! : `${dates[0]} – ${dates[dates.length - 1]}`) : '–';
  const configs = [...new Set(reports.map((r) => r.configLabel))];
  const configRows = configs
    .map((c) => {
      const of = reports.filter((r) => r.configLabel === c);
      const e = of.map((r) => r.environment);
      return (
        `<tr><td><code>${escapeHtml(c)}</code></td><td>${escapeHtml(distinct(of.map((r) => r.commit)).join(', '))}</td>` +
        `<td>${escapeHtml(distinct(e.map((x) => x?.gcsfuseVersion)).join(', ') || '–')}</td><td>${escapeHtml(distinct(e.map((x) => x?.gcsfuseCommit)).join(', ') || '–')}</td>` +
        `<td>${escapeHtml(distinct(of.map((r) => r.mountArgs)).join(' | ') || '–')}</td></tr>`
      );
    })
    .join('');
  const fio = distinct([...reports.map((r) => r.fioVersion), ...env.map((e) => e!.fioVersion)]);
  const facts: [string, string[]][] = [
    ['run date (first entry)', [runDate]],
    ['fio', fio],
    ['machine types', distinct(reports.map((r) => r.environment?.machineType ?? r.machineType))],
    ['kernels', distinct(env.map((e) => e!.kernel))],
    ['VMs', distinct(reports.map((r) => r.vm))],
  ];
  return (
    `<dl class="facts">${facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v.join(', ') || '–')}</dd>`).join('')}</dl>` +
    `<table class="configs"><thead><tr><th>config</th><th>ref asked for</th><th>gcsfuse version</th><th>gcsfuse commit (build)</th><th>mount args</th></tr></thead><tbody>${configRows}</tbody></table>`
  );
}

/** The report's style sheet, shared with the comparison page (compare-html.ts). */
export const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#222;max-width:1500px}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}h3{font-size:1rem}
.meta,.method{color:#444;font-size:.9rem}.method li{margin:.2rem 0}
.facts{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem;font-size:.9rem}.facts dt{font-weight:600}.facts dd{margin:0}
.charts{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}figure.chart{margin:0}figcaption{font-size:.8rem;color:#555;max-width:640px}
table{border-collapse:collapse;font-size:.8rem;margin-top:.6rem}th,td{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f4f4f4}td:first-child,td:nth-child(2),td:nth-child(3),td:nth-child(4),td:nth-child(5){text-align:left}
table.configs td{text-align:left}th a{color:inherit}
tr.failed td,tr.missing td{color:#a00}tr.outliers td:nth-child(11){color:#a00;font-weight:bold}
.finding{color:#a00}code{background:#f4f4f4;padding:0 .2rem}
.sortable .sorted{display:none}.sortable .sorted:target,.sortable .default{display:block}.sortable .sorted:target~.default{display:none}
`;

/** The whole report page. */
export function renderHtmlReport(benchmarkId: string, reports: readonly EntryReport[], analysis: AnalysisOptions = {}): string {
  const ciMin = Math.max(2, analysis.ciMinIterations ?? MIN_INTERVAL_ITERATIONS);
  const tests = new Map<string, EntryReport[]>();
  for (const r of reports) tests.set(r.testId, [...(tests.get(r.testId) ?? []), r]);
  const passed = reports.filter((r) => r.status === 'passed').length;

  let sections = '';
  let nav = '';
  const overview: OverviewRow[] = [];
  let i = 0;
  for (const [testId, entries] of tests) {
    i++;
    const anchor = `test-${i}`;
    nav += `<li><a href="#${anchor}">${escapeHtml(testId)}</a></li>`;
    const params = Object.entries(entries[0]!.params)
      .filter(([k]) => k !== 'test_id')
      .map(([k, v]) => `${escapeHtml(k)}=<code>${escapeHtml(v)}</code>`)
      .join(' ');
    const withData = entries.filter((r) => directionsOf([r]).length > 0);
    for (const r of withData) {
      for (const d of directionsOf([r])) {
        const s = r[d]!;
        const steady = d === 'mixed' ? undefined : r.timeSeries?.summary[d]?.steadyBwBytesPerSec;
        overview.push({
          test: testId,
          anchor,
          entry: entryLabel(r),
          dir: d,
          bw: BW.value(s),
          iops: IOPS.value(s),
          p99: metricKind('p99_lat')!.value(s),
          steady: isNum(steady) ? steady / MIB : null,
        });
      }
    }
    let body: string;
    if (withData.length && i > MAX_CHARTED_TESTS) {
      body = `<p class="meta">Charts are drawn for the first ${MAX_CHARTED_TESTS} tests of ${tests.size}; this test's figures are in the table (and in the CSV report).</p>`;
    } else if (withData.length) {
      const series = withData.filter((r) => r.timeSeries);
      body =
        `<div class="charts">${bandwidthChart(testId, withData, ciMin)}${latencyCdfChart(testId, withData)}</div>` +
        (series.length
          ? `<h3>Over time</h3>${series.map((r) => `${findingsText(r)}<div class="charts">${timeSeriesCharts(r)}</div>`).join('')}`
          : `<p class="meta">No fio logs were stored for this test: no time series.</p>`);
    } else {
      body = `<p class="meta">No entry of this test passed: nothing to chart.</p>`;
    }
    sections += `<section id="${anchor}" class="test"><h2>Test <code>${escapeHtml(testId)}</code></h2><p class="meta">${params}</p>${body}${entryTable(entries)}</section>`;
  }

  const metrics = METRIC_KINDS.map((k) => `${k.kind} (${k.unit}, ${k.better} is better)`).join(', ');
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" />` +
    `<title>${escapeHtml(`gcsfuse-bench report: ${benchmarkId}`)}</title><style>${STYLE}</style></head><body>` +
    `<h1>gcsfuse-bench report: <code>${escapeHtml(benchmarkId)}</code></h1>` +
    `<p class="meta">${reports.length} entries, ${passed} passed, ${reports.length - passed} not passed.</p>` +
    header(reports) +
    (overview.length
      ? `<h2 id="overview">Overview</h2><div class="charts">${overviewChart(overview)}</div>${overviewTables(overview)}`
      : '') +
    `<ul class="method">` +
    `<li>Bandwidth: fio's bytes over the longest job runtime of each iteration, in ${BW.unit} (2^20 bytes/s); mean, median, sample standard deviation and coefficient of variation over iterations.</li>` +
    `<li>Intervals: ${escapeHtml(intervalMethod(ciMin))}.</li>` +
    (reports.some((r) => r.fioGroup !== undefined)
      ? `<li>Job files with several fio groups (stonewall/new_group): one result per group, labelled "(group N)"; the time series are of all groups.</li>`
      : '') +
    `<li>Latency: completion latency (clat), percentiles of fio's json+ histograms summed over jobs and iterations (never averaged); stddev pooled exactly from each job's count, mean and stddev.</li>` +
    `<li>Outliers: ${escapeHtml(OUTLIER_RULE)}.</li>` +
    `<li>Over time: ${escapeHtml(STEADY_STATE_RULE)}. fio leaves ramp_time out of its figures and of its logs.</li>` +
    `<li>Metrics: ${escapeHtml(metrics)}.</li>` +
    `</ul><nav><ul>${nav}</ul></nav>${sections}</body></html>\n`
  );
}
