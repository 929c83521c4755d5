import { describe, expect, it } from 'vitest';
import type { Comparison, MetricComparison, Verdict } from '../../src/core/compare';
import { renderCompareHtml, VERDICT_WORDS } from '../../src/core/compare-html';
import { checkWellFormed } from './helpers/well-formed';

const EVIL = '<script>alert("x")</script>';

const row = (testId: string, verdict: Verdict, over: Partial<MetricComparison> = {}): MetricComparison => ({
  testId,
  baselineConfig: 'fast',
  candidateConfig: 'fast',
  metric: 'read_bw',
  unit: 'MiB/s',
  better: 'higher',
  baseline: 100,
  candidate: 80,
  baselineN: 5,
  candidateN: 5,
  baselineInterval: [95, 105],
  candidateInterval: [76, 84],
  deltaPct: -20,
  p: 0.001,
  changeLowPct: -25,
  changeHighPct: -15,
  t: -5,
  df: 8,
  significant: true,
  thresholdPct: 5,
  verdict,
  ...over,
});

const comparison: Comparison = {
  baseline: { benchmarkId: 'run-x', config: null },
  candidate: { benchmarkId: 'run-y', config: null },
  matchedBy: 'test_id+config',
  alpha: 0.05,
  thresholds: { read_bw: 5 },
  rows: [
    row('seq-read', 'regression'),
    row('rand-read', 'better', { candidate: 130, deltaPct: 30, changeLowPct: 20, changeHighPct: 40 }),
    row('small', 'not tested', { baselineN: 1, candidateN: 1, p: null, changeLowPct: null, changeHighPct: null, baselineInterval: null }),
    row('noisy', 'inconclusive', { baselineN: 2, candidateN: 2, p: 0.4, changeLowPct: -60, changeHighPct: 30, candidateInterval: null }),
    row('same', 'no significant change', { candidate: 100, deltaPct: 0, p: 0.9, changeLowPct: -1, changeHighPct: 1 }),
    row(EVIL, 'worse', { deltaPct: -3, changeLowPct: -4, changeHighPct: -2 }),
  ],
  unmatched: { baselineOnly: ['gone @ fast'], candidateOnly: ['new & <b>'] },
  skipped: [],
  regressions: 1,
  untestedGated: 1,
  inconclusiveGated: 1,
  gateIncomplete: ['only in the baseline: gone @ fast'],
  notes: [
    '1 of 5 compared entries ran on different VMs (baseline vm-1; candidate vm-2)',
    'baseline and candidate ran on different machine types',
  ],
};

describe('compare --html page', () => {
  const html = renderCompareHtml(comparison);

  it('is well-formed and has no script or external resource', () => {
    const names = checkWellFormed(html);
    expect(names).toContain('table');
    expect(names).not.toContain('script');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('escapes names from the inputs', () => {
    expect(html).not.toContain(EVIL);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('new &amp; &lt;b&gt;');
  });

  it('has a row for every matched test and metric, with the verdict in words', () => {
    const rows = [...html.matchAll(/<tr class="row" data-test="([^"]*)">(.*?)<\/tr>/g)];
    expect(rows.map((m) => m[1])).toEqual(
      comparison.rows.map((r) => r.testId.replace(/[<>"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)),
    );
    const verdicts = rows.map((m) => /class="verdict[^"]*">([^<]*)/.exec(m[2]!)![1]!.trim());
    expect(verdicts).toEqual(['regression', 'improvement', 'untested', 'inconclusive', 'no significant change', VERDICT_WORDS.worse]);
    // Small samples are marked, the means' intervals shown (or why not).
    expect(rows[2]![2]).toContain('(n&lt;3)');
    expect(rows[0]![2]).toContain('<td>95.00 – 105.0</td>');
    expect(rows[2]![2]).toContain('<td>n/a</td>');
    expect(rows[0]![2]).toContain('<td>-25.0% .. -15.0%</td>');
    expect(rows[0]![2]).toContain('<td>5%</td>');
  });

  it('states the gate, its thresholds and every note, unmatched entries included', () => {
    expect(html).toContain('Gate: read_bw 5%');
    expect(html).toContain('1 regression(s) beyond the thresholds');
    expect(html).toContain('The gate cannot vouch for the candidate');
    expect(html).toContain('ran on different VMs');
    expect(html).toContain('different machine types');
    expect(html).toContain('only in the baseline (not compared): gone @ fast');
  });

  it('charts the change per test with its interval and the threshold line', () => {
    const figures = html.split('<figure class="chart" data-chart="change">').slice(1);
    expect(figures).toHaveLength(1);
    const svg = figures[0]!;
    expect(svg).toMatch(/<svg [^>]*class="plot-[0-9a-f]+"/);
    // One bar label per row with a change, the interval rules and the -5% threshold (higher is better).
    for (const r of comparison.rows) expect(svg).toContain(`${r.deltaPct! > 0 ? '+' : ''}${r.deltaPct!.toFixed(1)}%`);
    expect(svg).toContain('class="threshold"');
    expect(svg).toContain('class="err"');
    expect(svg).toContain('threshold of 5% in the bad direction');
  });

  it('says so when nothing matched', () => {
    const empty = renderCompareHtml({ ...comparison, rows: [], regressions: 0, notes: [], thresholds: {} });
    checkWellFormed(empty);
    expect(empty).toContain('No metric to compare.');
    expect(empty).toContain('No gate');
  });
});
