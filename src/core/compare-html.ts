/**
 * The comparison as one self-contained HTML page (`compare --html`): no script, no external
 * resource, the same style and server-side Observable Plot charts as report.html
 * (html-report.ts). Per matched test and metric: baseline and candidate with their intervals,
 * the change with its interval, the verdict, the gate's thresholds and every note on how
 * comparable the two sides are.
 */
import * as Plot from '@observablehq/plot';
import type { Comparison, MetricComparison, Verdict } from './compare';
import { chart, escapeHtml, plot, STYLE } from './html-report';
import { CONFIDENCE_LEVEL, INTERVAL_METHOD, MIN_INTERVAL_ITERATIONS } from './stats';

/** The verdict as the page words it (the core's 'better'/'worse' read as what they mean to a reviewer). */
export const VERDICT_WORDS: Record<Verdict, string> = {
  regression: 'regression',
  worse: 'worse (within the threshold)',
  better: 'improvement',
  'no significant change': 'no significant change',
  inconclusive: 'inconclusive',
  'not tested': 'untested',
};

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** 4 significant digits, whole numbers from 1000 (as the console table). */
const fmt = (v: number | null | undefined) => (!isNum(v) ? '–' : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(4));
const signed = (v: number | null | undefined) => (!isNum(v) ? '–' : `${v > 0 ? '+' : ''}${v.toFixed(1)}%`);
const interval = (i: readonly [number, number] | null | undefined) => (i ? `${fmt(i[0])} – ${fmt(i[1])}` : 'n/a');
const sideLabel = (s: Comparison['baseline']) => `${s.benchmarkId}${s.config ? ` [${s.config}]` : ''}`;
/** A row's test as the page names it: with its config when two runs are matched by test and config. */
const rowTest = (c: Comparison, r: MetricComparison) => (c.matchedBy === 'test_id+config' ? `${r.testId} @ ${r.baselineConfig}` : r.testId);

function verdictCell(r: MetricComparison): string {
  const small = Math.min(r.baselineN, r.candidateN) < MIN_INTERVAL_ITERATIONS;
  return (
    `<td class="verdict v-${escapeHtml(r.verdict.replace(/ /g, '-'))}">${escapeHtml(VERDICT_WORDS[r.verdict])}` +
    (small ? ` <span class="small-n">(n&lt;${MIN_INTERVAL_ITERATIONS})</span>` : '') +
    `</td>`
  );
}

function table(c: Comparison): string {
  const level = `${Math.round(CONFIDENCE_LEVEL * 100)}%`;
  const head = [
    'test',
    'metric',
    'unit',
    'better',
    'baseline',
    `${level} interval`,
    'candidate',
    `${level} interval`,
    'change',
    `${Math.round((1 - c.alpha) * 100)}% interval of the change`,
    'p',
    'n (base/cand)',
    'threshold',
    'verdict',
  ];
  const rows = c.rows
    .map((r) => {
      const cells = [
        rowTest(c, r),
        r.metric,
        r.unit,
        r.better,
        fmt(r.baseline),
        interval(r.baselineInterval),
        fmt(r.candidate),
        interval(r.candidateInterval),
        signed(r.deltaPct),
        isNum(r.changeLowPct) && isNum(r.changeHighPct) ? `${signed(r.changeLowPct)} .. ${signed(r.changeHighPct)}` : 'n/a',
        r.p === null ? '–' : r.p < 0.0001 ? '<0.0001' : r.p.toFixed(4),
        `${r.baselineN}/${r.candidateN}`,
        r.thresholdPct === null ? '–' : `${r.thresholdPct}%`,
      ];
      return `<tr class="row" data-test="${escapeHtml(r.testId)}">${cells.map((x) => `<td>${escapeHtml(x)}</td>`).join('')}${verdictCell(r)}</tr>`;
    })
    .join('');
  return `<table class="comparison"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`;
}

interface ChangeBar {
  name: string;
  /** candidate / baseline: 1 + change / 100. */
  ratio: number;
  change: number;
  low: number | null;
  high: number | null;
  verdict: string;
}

/** Colours that read as the verdicts do (red bad, green good, greys for what cannot be told). */
const VERDICT_COLORS: Record<Verdict, string> = {
  regression: '#d62728',
  worse: '#ff9f40',
  better: '#2ca02c',
  'no significant change': '#9e9e9e',
  inconclusive: '#e6c229',
  'not tested': '#d0d0d0',
};

/** A ratio on the chart's axis as the change it is, in %. */
const ratioTick = (v: number): string => `${v > 1 ? '+' : ''}${Number(((v - 1) * 100).toPrecision(3))}%`;

/**
 * One chart per metric: the change per test, its interval, and the gate's threshold in the bad
 * direction. On a log axis of candidate/baseline: changes are ratios (-50% is as far as +100%), and
 * a +80000% change does not squash a -99% regression into the zero line.
 */
function changeCharts(c: Comparison): string {
  const metrics = [...new Set(c.rows.map((r) => r.metric))];
  const ratio = (pct: number | null | undefined) => (isNum(pct) && pct > -100 ? 1 + pct / 100 : null);
  return metrics
    .map((metric) => {
      const rows = c.rows.filter((r) => r.metric === metric && ratio(r.deltaPct) !== null);
      if (rows.length === 0) return '';
      const bars: ChangeBar[] = rows.map((r) => ({
        name: rowTest(c, r),
        ratio: ratio(r.deltaPct)!,
        change: r.deltaPct!,
        low: ratio(r.changeLowPct),
        high: ratio(r.changeHighPct),
        verdict: VERDICT_WORDS[r.verdict],
      }));
      const first = rows[0]!;
      const threshold = first.thresholdPct;
      // The line a regression crosses: below no change when higher is better, above when lower is.
      const limit =
        threshold === null || (first.better === 'higher' && threshold >= 100)
          ? []
          : [ratio(first.better === 'higher' ? -threshold : threshold)!];
      const withInterval = bars.filter((b) => b.low !== null && b.high !== null);
      const verdicts = Object.keys(VERDICT_WORDS) as Verdict[];
      const svg = plot({
        title: `Change of ${metric} (${first.unit}, ${first.better} is better), candidate vs baseline`,
        width: 760,
        height: 70 + bars.length * 26,
        marginLeft: 220,
        marginRight: 80,
        insetLeft: 60,
        x: { type: 'log', label: 'change (log scale of candidate / baseline) →', grid: true, tickFormat: ratioTick },
        y: { label: null, domain: bars.map((b) => b.name) },
        color: { domain: verdicts.map((v) => VERDICT_WORDS[v]), range: verdicts.map((v) => VERDICT_COLORS[v]), legend: true },
        marks: [
          Plot.barX(bars, {
            y: 'name',
            x1: 1,
            x2: 'ratio',
            fill: 'verdict',
            title: (b: ChangeBar) => `${b.name}: ${signed(b.change)} (${b.verdict})`,
          }),
          Plot.ruleY(withInterval, { y: 'name', x1: 'low', x2: 'high', stroke: '#000', strokeWidth: 1.5, className: 'err' }),
          // The number beyond each bar's end: right of a gain, left of a loss.
          ...[true, false].map((up) =>
            Plot.text(
              bars.filter((b) => b.ratio >= 1 === up),
              {
                y: 'name',
                x: 'ratio',
                text: (b: ChangeBar) => signed(b.change),
                dx: up ? 6 : -6,
                textAnchor: up ? 'start' : 'end',
                className: 'value',
              },
            ),
          ),
          Plot.ruleX(limit, { stroke: '#d62728', strokeDasharray: '4,3', strokeWidth: 1.5, className: 'threshold' }),
          Plot.ruleX([1]),
        ],
      });
      const caption =
        `Change of the candidate vs the baseline, per test, on a log scale of candidate / baseline: bar and number = change of the value; black line = its ${Math.round((1 - c.alpha) * 100)}% interval (Welch, log scale)` +
        (threshold === null
          ? '; no threshold for this metric.'
          : `; red dashed line = the gate's threshold of ${threshold}% in the bad direction.`);
      return chart('change', svg, escapeHtml(caption));
    })
    .join('');
}

/** The comparison page. */
export function renderCompareHtml(c: Comparison): string {
  const title = `gcsfuse-bench comparison: ${sideLabel(c.baseline)} vs ${sideLabel(c.candidate)}`;
  const thresholds = Object.entries(c.thresholds);
  const notes: string[] = [...(c.notes ?? [])];
  if (c.unmatched.baselineOnly.length) notes.push(`only in the baseline (not compared): ${c.unmatched.baselineOnly.join(', ')}`);
  if (c.unmatched.candidateOnly.length) notes.push(`only in the candidate (not compared): ${c.unmatched.candidateOnly.join(', ')}`);
  for (const s of c.skipped) notes.push(`not compared: ${s.key} (${s.reason})`);
  const gate = thresholds.length
    ? `<p class="gate">Gate: ${escapeHtml(thresholds.map(([m, pct]) => `${m} ${pct}%`).join(', '))}. ` +
      (c.regressions
        ? `<strong class="regression">${c.regressions} regression(s) beyond the thresholds.</strong>`
        : 'No regression beyond the thresholds.') +
      (c.gateIncomplete?.length
        ? ` <strong class="incomplete">The gate cannot vouch for the candidate: ${escapeHtml(c.gateIncomplete.join('; '))}.</strong>`
        : '') +
      `</p>`
    : `<p class="gate">No gate: no --max-regression thresholds were given.</p>`;
  const counts = Object.entries(VERDICT_WORDS)
    .map(([v, word]) => [word, c.rows.filter((r) => r.verdict === v).length] as const)
    .filter(([, n]) => n > 0)
    .map(([word, n]) => `${n} ${word}`)
    .join(', ');
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" />` +
    `<title>${escapeHtml(title)}</title><style>${STYLE}${COMPARE_STYLE}</style></head><body>` +
    `<h1>gcsfuse-bench comparison</h1>` +
    `<dl class="facts"><dt>baseline</dt><dd><code>${escapeHtml(sideLabel(c.baseline))}</code></dd>` +
    `<dt>candidate</dt><dd><code>${escapeHtml(sideLabel(c.candidate))}</code></dd>` +
    `<dt>matched by</dt><dd>${c.matchedBy === 'test_id+config' ? 'test id and config' : 'test id'}</dd>` +
    `<dt>significance</dt><dd>Welch's t-test over the logarithms of the iterations' values, alpha ${escapeHtml(c.alpha)}</dd>` +
    `<dt>verdicts</dt><dd>${escapeHtml(counts || 'no metric compared')}</dd></dl>` +
    gate +
    (notes.length ? `<h2>Notes</h2><ul class="notes">${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '') +
    `<h2>Change per test</h2>` +
    (c.rows.length ? `<div class="charts">${changeCharts(c)}</div>${table(c)}` : '<p class="meta">No metric to compare.</p>') +
    `<ul class="method">` +
    `<li>Values: each side's figure as in report.html (mean over iterations; latency percentiles of the pooled histograms). Intervals of the values: ${escapeHtml(INTERVAL_METHOD)}.</li>` +
    `<li>Change: (candidate − baseline) / baseline; its interval is Welch's interval of the difference of the mean logarithms, exponentiated (ratio of geometric means).</li>` +
    `<li>Verdicts: regression = worse than the threshold and significant (p &lt; alpha); improvement / worse = significant; inconclusive = not significant but the interval of the change reaches beyond the threshold; untested = fewer than 2 iterations on a side; n&lt;${MIN_INTERVAL_ITERATIONS} marks samples too small to show any but very large changes.</li>` +
    `</ul></body></html>\n`
  );
}

const COMPARE_STYLE = `
.v-regression,.regression,.incomplete{color:#a00;font-weight:bold}.v-better{color:#060}.v-inconclusive,.v-not-tested{color:#a60}
.small-n{color:#a60;font-weight:normal}.notes li{margin:.2rem 0}table.comparison td:nth-child(-n+4){text-align:left}
`;
