/**
 * Trends of a suite: each test's bandwidth and p99 latency over its runs, with 95% confidence
 * intervals, the gcsfuse ref of each point and the regressions marked. Pure: the data, then one
 * offline HTML page with static SVG (no script, no network).
 */
import type { Direction } from './fio';
import { MIB, percentileKey, type DirectionStats, type EntryReport } from './report';
import { CONFIDENCE_LEVEL } from './stats';
import type { SuiteRunRecord, SuiteVerdict, VerdictRecord } from './suite';

export interface TrendRun {
  record: SuiteRunRecord;
  reports: EntryReport[];
  verdict: VerdictRecord | null;
}

export type TrendMetric = 'bw' | 'p99_lat';

export interface TrendPoint {
  benchmarkId: string;
  ref: string;
  /** In the series' unit; null when the run has no value for it (the test failed or was not run). */
  value: number | null;
  ci95Low: number | null;
  ci95High: number | null;
  /** Iterations behind the value. */
  n: number;
  /** The run's gate found this metric regressed against its baseline. */
  regression: boolean;
}

export interface TrendSeries {
  testId: string;
  config: string;
  direction: Direction;
  metric: TrendMetric;
  /** Compare's metric name, e.g. read_bw. */
  name: string;
  unit: 'MiB/s' | 'ms';
  better: 'higher' | 'lower';
  /** One per run, in run order. */
  points: TrendPoint[];
}

export interface Trend {
  suite: string;
  runs: {
    benchmarkId: string;
    ref: string;
    commit: string;
    startedAt: string;
    verdict: SuiteVerdict | null;
    baselineId: string | null;
    reason: string | null;
  }[];
  series: TrendSeries[];
  method: Record<string, string>;
}

const DIRECTIONS: readonly Direction[] = ['read', 'write', 'trim'];
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const scale = (v: number | null | undefined, by: number) => (num(v) ? v / by : null);

function pointOf(metric: TrendMetric, d: DirectionStats): Omit<TrendPoint, 'benchmarkId' | 'ref' | 'regression'> {
  if (metric === 'bw') {
    const s = d.bwBytesPerSec;
    return { value: scale(s.mean, MIB), ci95Low: scale(s.ci95Low, MIB), ci95High: scale(s.ci95High, MIB), n: s.n ?? s.values?.length ?? 0 };
  }
  // The mean of the iterations' own p99 carries a confidence interval; the pooled p99 (older reports) does not.
  const per = d.clatPerIteration?.percentilesNs?.[percentileKey(99)];
  if (per && num(per.mean))
    return { value: per.mean / 1e6, ci95Low: scale(per.ci95Low, 1e6), ci95High: scale(per.ci95High, 1e6), n: per.n };
  return { value: scale(d.clatPercentilesNs[percentileKey(99)], 1e6), ci95Low: null, ci95High: null, n: 0 };
}

export function buildTrend(suite: string, runs: readonly TrendRun[]): Trend {
  const keys = new Map<string, Omit<TrendSeries, 'points'>>();
  for (const run of runs) {
    for (const r of run.reports) {
      for (const direction of DIRECTIONS) {
        if (!r[direction]) continue;
        for (const metric of ['bw', 'p99_lat'] as const) {
          const key = JSON.stringify([r.testId, r.configLabel, direction, metric]);
          if (!keys.has(key)) {
            keys.set(key, {
              testId: r.testId,
              config: r.configLabel,
              direction,
              metric,
              name: `${direction}_${metric}`,
              unit: metric === 'bw' ? 'MiB/s' : 'ms',
              better: metric === 'bw' ? 'higher' : 'lower',
            });
          }
        }
      }
    }
  }
  const series: TrendSeries[] = [...keys.values()]
    .sort(
      (a, b) =>
        a.testId.localeCompare(b.testId) ||
        a.config.localeCompare(b.config) ||
        DIRECTIONS.indexOf(a.direction) - DIRECTIONS.indexOf(b.direction) ||
        a.metric.localeCompare(b.metric),
    )
    .map((s) => ({
      ...s,
      points: runs.map((run) => {
        const r = run.reports.find((e) => e.testId === s.testId && e.configLabel === s.config);
        const d = r?.status === 'passed' ? r[s.direction] : null;
        const regression = (run.verdict?.regressions ?? []).some(
          (g) => g.testId === s.testId && g.baselineConfig === s.config && g.metric === s.name,
        );
        const base = { benchmarkId: run.record.benchmarkId, ref: run.record.ref, regression };
        return d ? { ...base, ...pointOf(s.metric, d) } : { ...base, value: null, ci95Low: null, ci95High: null, n: 0 };
      }),
    }));
  return {
    suite,
    runs: runs.map((r) => ({
      benchmarkId: r.record.benchmarkId,
      ref: r.record.ref,
      commit: r.record.commit,
      startedAt: r.record.startedAt,
      verdict: r.verdict?.verdict ?? (r.record.startedAt ? r.record.verdict : null),
      baselineId: r.verdict?.baselineId ?? null,
      reason: r.verdict?.reason ?? null,
    })),
    series,
    method: {
      bw: 'mean bandwidth over the iterations, MiB/s (2^20 bytes/s)',
      p99_lat:
        "mean of the iterations' own p99 completion latency, ms (the pooled p99 without an interval for reports that lack per-iteration percentiles)",
      interval: `${CONFIDENCE_LEVEL * 100}% confidence interval of the mean (Student t, n - 1 df); none with fewer than 2 iterations`,
      regression:
        "marked where the run's gate (compare with the suite's thresholds) found the metric worse than the baseline beyond its threshold, significantly",
    },
  };
}

// ---------------------------------------------------------------- HTML

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));
const short = (s: string, n = 14) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

const W = 680;
const H = 240;
const M = { left: 64, right: 16, top: 16, bottom: 58 };

/** One series as a static SVG chart: points with their intervals, refs on the x axis, regressions ringed in red. */
export function seriesSvg(s: TrendSeries): string {
  const values = s.points.flatMap((p) => [p.value, p.ci95Low, p.ci95High]).filter(num);
  const yMax = values.length ? Math.max(...values) * 1.1 || 1 : 1;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const x = (i: number) => M.left + (s.points.length === 1 ? plotW / 2 : (i * plotW) / (s.points.length - 1));
  const y = (v: number) => M.top + plotH - (Math.max(v, 0) / yMax) * plotH;
  const parts: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"/>`);
    parts.push(`<text class="tick" x="${M.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
  }
  parts.push(
    `<text class="unit" x="12" y="${M.top + plotH / 2}" transform="rotate(-90 12 ${M.top + plotH / 2})" text-anchor="middle">${esc(s.unit)}</text>`,
  );
  const line = s.points.map((p, i) => (p.value === null ? null : `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`)).filter(Boolean);
  if (line.length > 1) parts.push(`<polyline class="line" points="${line.join(' ')}"/>`);
  s.points.forEach((p, i) => {
    const cx = x(i).toFixed(1);
    parts.push(
      `<text class="ref" x="${cx}" y="${H - M.bottom + 16}" transform="rotate(30 ${cx} ${H - M.bottom + 16})">${esc(short(p.ref))}</text>`,
    );
    if (p.value === null) return;
    if (p.ci95Low !== null && p.ci95High !== null) {
      const [lo, hi] = [y(p.ci95Low).toFixed(1), y(p.ci95High).toFixed(1)];
      parts.push(
        `<g class="ci"><line x1="${cx}" x2="${cx}" y1="${lo}" y2="${hi}"/><line x1="${x(i) - 4}" x2="${x(i) + 4}" y1="${lo}" y2="${lo}"/><line x1="${x(i) - 4}" x2="${x(i) + 4}" y1="${hi}" y2="${hi}"/></g>`,
      );
    }
    const ci = p.ci95Low !== null && p.ci95High !== null ? ` (95% CI ${fmt(p.ci95Low)} to ${fmt(p.ci95High)}, n=${p.n})` : '';
    const tip = `${p.benchmarkId} @ ${p.ref}: ${fmt(p.value)} ${s.unit}${ci}${p.regression ? ' - REGRESSION' : ''}`;
    parts.push(
      `<circle class="point${p.regression ? ' regression' : ''}" cx="${cx}" cy="${y(p.value).toFixed(1)}" r="${p.regression ? 6 : 4}" data-run="${esc(p.benchmarkId)}"><title>${esc(tip)}</title></circle>`,
    );
  });
  const title = `${s.testId} [${s.config}] ${s.direction} ${s.metric === 'bw' ? 'bandwidth' : 'p99 latency'} (${s.better} is better)`;
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" class="chart" data-series="${esc(s.name)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg></figure>`;
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:24px;color:#222}h2{margin-top:32px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.verdict-regression{color:#b00020;font-weight:bold}.verdict-pass{color:#176f2c}.grid{stroke:#eee}.tick,.ref,.unit{font-size:11px;fill:#555}.line{fill:none;stroke:#1a73e8;stroke-width:1.5}
.ci line{stroke:#1a73e8;stroke-opacity:.5}.point{fill:#1a73e8}.point.regression{fill:#b00020;stroke:#b00020;stroke-width:3;fill-opacity:.6}figure{display:inline-block;margin:8px}figcaption{font-weight:600}`;

export function trendHtml(t: Trend): string {
  const rows = t.runs
    .map(
      (r) =>
        `<tr><td>${esc(r.benchmarkId)}</td><td>${esc(r.ref)}</td><td><code>${esc(r.commit.slice(0, 12))}</code></td><td>${esc(r.startedAt || '-')}</td><td class="verdict-${esc(r.verdict ?? 'none')}">${esc(r.verdict ?? '-')}</td><td>${esc(r.baselineId ?? '-')}</td><td>${esc(r.reason ?? '')}</td></tr>`,
    )
    .join('\n');
  const groups = new Map<string, TrendSeries[]>();
  for (const s of t.series) groups.set(`${s.testId} [${s.config}]`, [...(groups.get(`${s.testId} [${s.config}]`) ?? []), s]);
  const sections = [...groups]
    .map(([name, ss]) => `<section class="test"><h2>${esc(name)}</h2>${ss.map(seriesSvg).join('\n')}</section>`)
    .join('\n');
  const regressions = t.series.reduce((n, s) => n + s.points.filter((p) => p.regression).length, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gcsfuse-bench trend: ${esc(t.suite)}</title><style>${STYLE}</style></head>
<body>
<h1>Suite ${esc(t.suite)}: ${t.runs.length} runs, ${regressions} regressed points</h1>
<table class="runs"><thead><tr><th>benchmark</th><th>gcsfuse ref</th><th>commit</th><th>started</th><th>verdict</th><th>baseline</th><th>why</th></tr></thead><tbody>
${rows}
</tbody></table>
<p>${Object.entries(t.method)
    .map(([k, v]) => `<b>${esc(k)}</b>: ${esc(v)}`)
    .join('<br>')}</p>
${sections}
</body></html>
`;
}
