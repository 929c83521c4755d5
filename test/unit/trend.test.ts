import { describe, expect, it } from 'vitest';
import type { DirectionStats, EntryReport } from '../../src/core/report';
import { sampleStats } from '../../src/core/stats';
import type { SuiteRunRecord, VerdictRecord } from '../../src/core/suite';
import { buildTrend, trendHtml, type TrendRun } from '../../src/core/trend';

const MIB = 2 ** 20;

function dir(bwMiB: number[], p99Ms: number[]): DirectionStats {
  return {
    bwBytesPerSec: sampleStats(bwMiB.map((v) => v * MIB)),
    iops: sampleStats(bwMiB),
    clatMeanNs: 1e6,
    clatMinNs: 1,
    clatMaxNs: 1e7,
    clatStddevNs: null,
    clatPercentilesNs: { p99: 99e6 },
    latencySamples: 10,
    clatHistogramNs: [],
    clatPerIteration: { meanNs: sampleStats([1e6, 1e6]), percentilesNs: { p99: sampleStats(p99Ms.map((v) => v * 1e6)) } },
    iterationTotals: { ioBytes: [], runtimeMs: [], totalIos: [], clatSamples: [] },
  };
}

function report(testId: string, read: DirectionStats | null, status: EntryReport['status'] = 'passed'): EntryReport {
  return {
    matrixId: 1,
    testId,
    configLabel: 'default',
    commit: 'x',
    mountArgs: '',
    params: {},
    vm: 'vm',
    status,
    iterations: 3,
    fioVersion: 'fio-3',
    read,
    write: null,
  };
}

function run(id: string, ref: string, reports: EntryReport[], verdict: VerdictRecord | null = null): TrendRun {
  const record: SuiteRunRecord = {
    suite: 's',
    benchmarkId: id,
    ref,
    commit: 'c'.repeat(40),
    startedAt: `2025-01-0${id.slice(-1)}T00:00:00Z`,
    verdict: verdict?.verdict ?? 'pass',
    baselineId: null,
  };
  return { record, reports, verdict };
}

const regressed: VerdictRecord = {
  suite: 's',
  benchmarkId: 'r3',
  baselineId: 'r2',
  ref: 'v3.2.0',
  commit: 'c'.repeat(40),
  verdict: 'regression',
  reason: 'slower',
  regressions: [
    {
      testId: 'seq<read>',
      baselineConfig: 'default',
      metric: 'read_bw',
      unit: 'MiB/s',
      baseline: 100,
      candidate: 10,
      deltaPct: -90,
      p: 0.001,
      thresholdPct: 10,
    },
  ],
  comparison: null,
};

describe('trend', () => {
  const runs = [
    run('r1', 'v3.0.0', [report('seq<read>', dir([100, 102, 98], [2, 2.2, 1.8]))]),
    run('r2', 'v3.1.0', [report('seq<read>', dir([101, 99, 100], [2, 2, 2]))]),
    run('r3', 'v3.2.0', [report('seq<read>', dir([10, 11, 9], [20, 21, 19]))], regressed),
    run('r4', 'v3.3.0', [report('seq<read>', null, 'failed')]),
  ];
  const t = buildTrend('s', runs);

  it('has one series per test, direction and metric, with a point per run in MiB/s and ms with intervals', () => {
    expect(t.series.map((s) => s.name)).toEqual(['read_bw', 'read_p99_lat']);
    const bw = t.series[0]!;
    expect(bw.points.map((p) => p.ref)).toEqual(['v3.0.0', 'v3.1.0', 'v3.2.0', 'v3.3.0']);
    expect(bw.points[0]!.value).toBeCloseTo(100, 9);
    expect(bw.points[0]!.ci95Low!).toBeLessThan(100);
    expect(bw.points[0]!.ci95High!).toBeGreaterThan(100);
    expect(t.series[1]!.points[2]!.value).toBeCloseTo(20, 9);
    // A failed entry is a gap, not a zero.
    expect(bw.points[3]).toMatchObject({ value: null, ci95Low: null });
  });

  it('marks the regressed metric of the regressed run only', () => {
    expect(t.series[0]!.points.map((p) => p.regression)).toEqual([false, false, true, false]);
    expect(t.series[1]!.points.every((p) => !p.regression)).toBe(true);
    expect(t.runs[2]).toMatchObject({ verdict: 'regression', baselineId: 'r2' });
  });

  it('renders escaped, self-contained HTML with one SVG per series and the regression ringed', () => {
    const html = trendHtml(t);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html).toContain('seq&lt;read&gt;');
    expect(html).not.toContain('seq<read>');
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html.match(/class="point regression"/g)).toHaveLength(1);
    // Three points drawn per chart (the failed run has none), each with its interval.
    expect(html.match(/<circle /g)).toHaveLength(6);
    expect(html.match(/<g class="ci">/g)).toHaveLength(6);
  });
});
