/**
 * report/report.html: one self-contained page (no script, no external resource; the charts are
 * SVG drawn here) that opens offline. Every text that comes from inputs or results is escaped.
 */
import { REPORTED_DIRECTIONS, type ReportedDirection } from './fio';
import { MIB, NS_PER_MS, PERCENTILE_METRICS, UNITS } from './metrics';
import type { DirectionStats, EntryReport } from './report';
import { CONFIDENCE_LEVEL, INTERVAL_METHOD, OUTLIER_RULE } from './stats';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML/SVG content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const fmt = (v: number | null | undefined, digits: number): string => (isNum(v) ? v.toFixed(digits) : '–');
/** Coordinates: short, and never locale-formatted. */
const c = (v: number): string => (Math.round(v * 10) / 10).toString();
const ms = (ns: number | null | undefined): number | null => (isNum(ns) ? ns / NS_PER_MS : null);

const DIRECTION_COLORS: Record<ReportedDirection, string> = { read: '#1f77b4', write: '#ff7f0e', trim: '#7f7f7f', mixed: '#2ca02c' };
const PERCENTILE_COLORS = ['#9ecae1', '#6baed6', '#3182bd', '#08519c', '#67000d'];
const WIDTH_MIN = 380;
const HEIGHT = 260;
const M = { top: 28, right: 16, bottom: 52, left: 64 };

function directionsOf(reports: readonly EntryReport[]): ReportedDirection[] {
  return REPORTED_DIRECTIONS.filter((d) => reports.some((r) => r[d]));
}

/** An entry's label in charts and tables: its config, and its fio group when the job file has several. */
const entryLabel = (r: EntryReport) => (r.fioGroup !== undefined ? `${r.configLabel} (group ${r.fioGroup})` : r.configLabel);

/** 1, 2 or 5 times a power of ten, so that about `count` steps cover max. */
function niceStep(max: number, count = 5): number {
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

function svgOpen(width: number, title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" role="img" font-family="sans-serif">` +
    `<title>${escapeHtml(title)}</title>`
  );
}

function legend(items: { label: string; color: string }[], x: number): string {
  let out = '';
  let dx = x;
  for (const item of items) {
    out += `<rect x="${c(dx)}" y="8" width="10" height="10" fill="${item.color}" /><text x="${c(dx + 14)}" y="17" class="legend" font-size="11" fill="#444">${escapeHtml(item.label)}</text>`;
    dx += 22 + item.label.length * 6.5;
  }
  return out;
}

interface BarGroup {
  label: string;
  bars: { label: string; color: string; value: number | null; low?: number | null; high?: number | null; points?: { v: number; outlier: boolean }[] }[];
}

/** Vertical bars on a linear axis from 0, with error bars and each iteration as a dot. */
function linearBarChart(title: string, unit: string, groups: BarGroup[], legendItems: { label: string; color: string }[]): string {
  const barW = 22;
  const perGroup = Math.max(1, ...groups.map((g) => g.bars.length));
  const groupW = perGroup * barW + 28;
  const width = Math.max(WIDTH_MIN, M.left + M.right + groups.length * groupW);
  const plotH = HEIGHT - M.top - M.bottom;
  const top = Math.max(
    0,
    ...groups.flatMap((g) => g.bars.flatMap((b) => [b.value ?? 0, b.high ?? 0, ...(b.points ?? []).map((p) => p.v)])),
  );
  const step = top > 0 ? niceStep(top) : 1;
  const yMax = top > 0 ? Math.ceil(top / step) * step : 1;
  const y = (v: number) => M.top + plotH - (v / yMax) * plotH;
  let out = svgOpen(width, title);
  for (let v = 0; v <= yMax + step / 2; v += step) {
    out += `<line x1="${M.left}" x2="${c(width - M.right)}" y1="${c(y(v))}" y2="${c(y(v))}" class="grid" stroke="#e5e5e5" />`;
    out += `<text x="${M.left - 6}" y="${c(y(v) + 4)}" class="tick" font-size="11" fill="#444" text-anchor="end">${escapeHtml(formatTick(v))}</text>`;
  }
  out += `<text x="14" y="${c(M.top + plotH / 2)}" class="axis" font-size="11" fill="#444" text-anchor="middle" transform="rotate(-90 14 ${c(M.top + plotH / 2)})">${escapeHtml(unit)}</text>`;
  groups.forEach((g, gi) => {
    const gx = M.left + gi * groupW + 14;
    g.bars.forEach((b, bi) => {
      const x = gx + bi * barW;
      if (isNum(b.value)) {
        out += `<rect x="${c(x)}" y="${c(y(b.value))}" width="${barW - 4}" height="${c(Math.max(0, y(0) - y(b.value)))}" fill="${b.color}"><title>${escapeHtml(`${g.label} ${b.label}: ${fmt(b.value, 2)} ${unit}`)}</title></rect>`;
      }
      const mid = x + (barW - 4) / 2;
      if (isNum(b.low) && isNum(b.high)) {
        out += `<path d="M${c(mid)} ${c(y(b.high))}V${c(y(Math.max(0, b.low)))}M${c(mid - 5)} ${c(y(b.high))}H${c(mid + 5)}M${c(mid - 5)} ${c(y(Math.max(0, b.low)))}H${c(mid + 5)}" class="err" stroke="#000" stroke-width="1.2" fill="none" />`;
      }
      for (const p of b.points ?? []) {
        out += `<circle cx="${c(mid)}" cy="${c(y(p.v))}" r="2.5" class="${p.outlier ? 'pt outlier' : 'pt'}" fill="${p.outlier ? '#d62728' : '#fff'}" stroke="${p.outlier ? '#d62728' : '#333'}" />`;
      }
    });
    out += `<text x="${c(gx + (g.bars.length * barW) / 2 - 2)}" y="${c(HEIGHT - M.bottom + 16)}" class="tick" font-size="11" fill="#444" text-anchor="middle">${escapeHtml(g.label)}</text>`;
  });
  out += `<line x1="${M.left}" x2="${c(width - M.right)}" y1="${c(y(0))}" y2="${c(y(0))}" class="axisline" stroke="#888" />`;
  out += legend(legendItems, M.left);
  return out + '</svg>';
}

/** Vertical bars on a log10 axis (latency spans orders of magnitude). */
function logBarChart(title: string, unit: string, groups: BarGroup[], legendItems: { label: string; color: string }[]): string {
  const barW = 14;
  const perGroup = Math.max(1, ...groups.map((g) => g.bars.length));
  const groupW = perGroup * barW + 28;
  const width = Math.max(WIDTH_MIN, M.left + M.right + groups.length * groupW);
  const plotH = HEIGHT - M.top - M.bottom;
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v): v is number => isNum(v) && v > 0);
  const lo = values.length ? Math.floor(Math.log10(Math.min(...values))) : -3;
  let hi = values.length ? Math.ceil(Math.log10(Math.max(...values))) : 0;
  if (hi <= lo) hi = lo + 1;
  const y = (v: number) => M.top + plotH - ((Math.log10(v) - lo) / (hi - lo)) * plotH;
  let out = svgOpen(width, title);
  for (let e = lo; e <= hi; e++) {
    out += `<line x1="${M.left}" x2="${c(width - M.right)}" y1="${c(y(10 ** e))}" y2="${c(y(10 ** e))}" class="grid" stroke="#e5e5e5" />`;
    out += `<text x="${M.left - 6}" y="${c(y(10 ** e) + 4)}" class="tick" font-size="11" fill="#444" text-anchor="end">${escapeHtml(formatTick(10 ** e))}</text>`;
  }
  out += `<text x="14" y="${c(M.top + plotH / 2)}" class="axis" font-size="11" fill="#444" text-anchor="middle" transform="rotate(-90 14 ${c(M.top + plotH / 2)})">${escapeHtml(unit)} (log)</text>`;
  groups.forEach((g, gi) => {
    const gx = M.left + gi * groupW + 14;
    g.bars.forEach((b, bi) => {
      if (!isNum(b.value) || b.value <= 0) return;
      const x = gx + bi * barW;
      const yv = y(b.value);
      out += `<rect x="${c(x)}" y="${c(yv)}" width="${barW - 3}" height="${c(Math.max(0, M.top + plotH - yv))}" fill="${b.color}"><title>${escapeHtml(`${g.label} ${b.label}: ${fmt(b.value, 3)} ${unit}`)}</title></rect>`;
    });
    out += `<text x="${c(gx + (g.bars.length * barW) / 2 - 2)}" y="${c(HEIGHT - M.bottom + 16)}" class="tick" font-size="11" fill="#444" text-anchor="middle">${escapeHtml(g.label)}</text>`;
  });
  out += `<line x1="${M.left}" x2="${c(width - M.right)}" y1="${c(M.top + plotH)}" y2="${c(M.top + plotH)}" class="axisline" stroke="#888" />`;
  out += legend(legendItems, M.left);
  return out + '</svg>';
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  if (v >= 1000) return String(Math.round(v));
  if (v >= 1) return String(Number(v.toPrecision(4)));
  return String(Number(v.toPrecision(2)));
}

function bandwidthChart(testId: string, entries: readonly EntryReport[]): string {
  const dirs = directionsOf(entries);
  const groups: BarGroup[] = entries.map((r) => ({
    label: entryLabel(r),
    bars: dirs.map((d) => {
      const s = r[d]?.bwBytesPerSec;
      const outliers = new Set(s?.outlierIterations ?? []);
      return {
        label: d,
        color: DIRECTION_COLORS[d],
        value: s ? s.mean / MIB : null,
        low: isNum(s?.ci95Low) ? s!.ci95Low! / MIB : null,
        high: isNum(s?.ci95High) ? s!.ci95High! / MIB : null,
        points: (s?.values ?? []).map((v, i) => ({ v: v / MIB, outlier: outliers.has(i + 1) })),
      };
    }),
  }));
  return linearBarChart(`Bandwidth of test ${testId}`, UNITS.bandwidth, groups, dirs.map((d) => ({ label: d, color: DIRECTION_COLORS[d] })));
}

const LATENCY_BARS: { label: string; value(d: DirectionStats): number | null }[] = [
  ...PERCENTILE_METRICS.map((k) => ({ label: `p${k.percentile}`, value: k.value })),
  { label: 'max', value: (d: DirectionStats) => ms(d.clatMaxNs) },
];

function latencyChart(testId: string, entries: readonly EntryReport[]): string {
  const dirs = directionsOf(entries);
  const groups: BarGroup[] = entries.flatMap((r) =>
    dirs
      .filter((d) => r[d])
      .map((d) => ({
        label: dirs.length > 1 ? `${entryLabel(r)} ${d}` : entryLabel(r),
        bars: LATENCY_BARS.map((b, i) => ({ label: b.label, color: PERCENTILE_COLORS[i]!, value: b.value(r[d]!) })),
      })),
  );
  return logBarChart(`Completion latency of test ${testId}`, UNITS.latency, groups, LATENCY_BARS.map((b, i) => ({ label: b.label, color: PERCENTILE_COLORS[i]! })));
}

function entryTable(entries: readonly EntryReport[]): string {
  const head = [
    'config', 'commit', 'vm', 'status', 'dir', 'iter', 'MiB/s mean', 'median', `${CONFIDENCE_LEVEL * 100}% CI`, 'cv %', 'outlier iter.',
    'IOPS', 'lat mean ms', 'stddev', ...PERCENTILE_METRICS.map((k) => `p${k.percentile}`), 'max',
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
      const ci = isNum(bw.ci95Low) && isNum(bw.ci95High) ? `${fmt(bw.ci95Low / MIB, 2)} – ${fmt(bw.ci95High / MIB, 2)}` : `n/a${bw.ciUnavailable ? ` (${bw.ciUnavailable})` : ''}`;
      const cells = [
        entryLabel(r), r.commit, r.vm ?? '–', r.status, d, String(r.iterations),
        fmt(bw.mean / MIB, 2), fmt(bw.median / MIB, 2), ci, fmt(isNum(bw.cv) ? bw.cv * 100 : null, 1), (bw.outlierIterations ?? []).join(', ') || '–',
        fmt(s.iops.mean, 0), fmt(ms(s.clatMeanNs), 3), fmt(ms(s.clatStddevNs), 3),
        ...PERCENTILE_METRICS.map((k) => fmt(k.value(s), 3)), fmt(ms(s.clatMaxNs), 3),
      ];
      const flagged = (bw.outlierIterations ?? []).length > 0 ? ' outliers' : '';
      rows += `<tr class="${escapeHtml(r.status)}${flagged}">${cells.map((x) => `<td>${escapeHtml(x)}</td>`).join('')}</tr>`;
    }
  }
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`;
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#222;max-width:1400px}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.meta,.method{color:#444;font-size:.9rem}.method li{margin:.2rem 0}
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure.chart{margin:0}figcaption{font-size:.8rem;color:#555;max-width:520px}
table{border-collapse:collapse;font-size:.8rem;margin-top:.6rem}th,td{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f4f4f4}td:first-child,td:nth-child(2),td:nth-child(3),td:nth-child(4),td:nth-child(5){text-align:left}
tr.failed td,tr.missing td{color:#a00}tr.outliers td:nth-child(11){color:#a00;font-weight:bold}
code{background:#f4f4f4;padding:0 .2rem}
`;

/** The whole report page. Charts per test: bandwidth (error bars: 95% CI of the mean) and latency percentiles. */
export function renderHtmlReport(benchmarkId: string, reports: readonly EntryReport[]): string {
  const tests = new Map<string, EntryReport[]>();
  for (const r of reports) tests.set(r.testId, [...(tests.get(r.testId) ?? []), r]);
  const passed = reports.filter((r) => r.status === 'passed').length;
  const configs = [...new Set(reports.map((r) => r.configLabel))];
  const fioVersions = [...new Set(reports.map((r) => r.fioVersion).filter((v): v is string => !!v))];

  let sections = '';
  let nav = '';
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
    let charts = '';
    if (withData.length) {
      charts =
        `<div class="charts">` +
        `<figure class="chart">${bandwidthChart(testId, withData)}<figcaption>Bandwidth, MiB/s (2^20 bytes/s): bar = mean over iterations; ` +
        `error bar = ${CONFIDENCE_LEVEL * 100}% confidence interval of the geometric mean (log-scale Student t; none below 3 iterations); dots = iterations, red = outlier.</figcaption></figure>` +
        `<figure class="chart">${latencyChart(testId, withData)}<figcaption>Completion latency, ms, log scale: percentiles of the histogram pooled over all jobs and iterations, and the maximum.</figcaption></figure>` +
        `</div>`;
    } else {
      charts = `<p class="meta">No entry of this test passed: nothing to chart.</p>`;
    }
    sections += `<section id="${anchor}"><h2>Test <code>${escapeHtml(testId)}</code></h2><p class="meta">${params}</p>${charts}${entryTable(entries)}</section>`;
  }

  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" />` +
    `<title>${escapeHtml(`gcsfuse-bench report: ${benchmarkId}`)}</title><style>${STYLE}</style></head><body>` +
    `<h1>gcsfuse-bench report: <code>${escapeHtml(benchmarkId)}</code></h1>` +
    `<p class="meta">${reports.length} entries, ${passed} passed, ${reports.length - passed} not passed; configs: ${configs.map((x) => `<code>${escapeHtml(x)}</code>`).join(', ') || '–'}; ` +
    `fio: ${escapeHtml(fioVersions.join(', ') || '–')}</p>` +
    `<ul class="method">` +
    `<li>Bandwidth: fio's bytes over the longest job runtime of each iteration, in MiB/s (2^20 bytes/s); mean, median, sample standard deviation and coefficient of variation over iterations.</li>` +
    `<li>Error bars and CI columns: ${escapeHtml(INTERVAL_METHOD)}.</li>` +
    (reports.some((r) => r.fioGroup !== undefined) ? `<li>Job files with several fio groups (stonewall/new_group): one result per group, labelled "(group N)".</li>` : '') +
    `<li>Latency: completion latency (clat), percentiles of fio's json+ histograms summed over jobs and iterations (never averaged); stddev pooled exactly from each job's count, mean and stddev.</li>` +
    `<li>Outliers: ${escapeHtml(OUTLIER_RULE)}.</li>` +
    `</ul><nav><ul>${nav}</ul></nav>${sections}</body></html>\n`
  );
}
