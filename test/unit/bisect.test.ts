import { describe, expect, it } from 'vitest';
import {
  bisectRoundId,
  checkBisectId,
  checkBisectIterations,
  checkBisectRef,
  commitVerdictOf,
  maxProbesFor,
  moreIterations,
  nextProbe,
  parseRevList,
} from '../../src/core/bisect';
import { oneTestCsv } from '../../src/core/bisect-csv';
import type { Comparison, MetricComparison } from '../../src/core/compare';
import { InputError } from '../../src/core/errors';
import { parseTestCasesCsv } from '../../src/core/testcases';

/** Runs the halving against a known first bad index; returns the index found and the probes made. */
function bisect(commits: number, firstBad: number): { found: number; probes: number } {
  let [good, bad, probes] = [-1, commits - 1, 0];
  for (let p = nextProbe(good, bad); p !== null; p = nextProbe(good, bad)) {
    probes++;
    if (p >= firstBad) bad = p;
    else good = p;
  }
  return { found: bad, probes };
}

describe('halving', () => {
  it('finds every first bad commit of every path up to 70 commits within ceil(log2(N)) probes', () => {
    for (let n = 1; n <= 70; n++) {
      for (let first = 0; first < n; first++) {
        const r = bisect(n, first);
        expect(r.found, `n=${n} first=${first}`).toBe(first);
        expect(r.probes).toBeLessThanOrEqual(maxProbesFor(n));
      }
    }
    expect([1, 2, 8, 9, 1000].map(maxProbesFor)).toEqual([0, 1, 3, 4, 10]);
  });

  it('adds iterations to the side with fewer, the candidate on a tie, and stops at the cap', () => {
    const it3 = { initial: 3, step: 3, max: 8 };
    expect(moreIterations(3, 3, it3)).toEqual({ side: 'candidate', add: 3 });
    expect(moreIterations(3, 6, it3)).toEqual({ side: 'good', add: 3 });
    expect(moreIterations(6, 6, it3)).toEqual({ side: 'candidate', add: 2 });
    expect(moreIterations(8, 8, it3)).toBeNull();
  });
});

describe('inputs', () => {
  it('keeps only the test asked for, and names the file and the tests it has otherwise', () => {
    const csv = 'test_id,io_type,block_size,file_size,num_jobs\na,read,64k,4m,1\nb,write,"1m",8m,2\n';
    const one = oneTestCsv(csv, 'tests.csv', 'b');
    expect(parseTestCasesCsv(one, 'x').map((t) => [t.testId, t.params.num_jobs])).toEqual([['b', '2']]);
    expect(() => oneTestCsv(csv, 'tests.csv', 'c')).toThrow(/--test-id, tests\.csv: test id "c" is not in tests\.csv \(its tests: a, b\)/);
    // Without a test_id column, the row number is the id and stays the id.
    expect(parseTestCasesCsv(oneTestCsv('io_type,block_size\nread,4k\nwrite,8k\n', 'f.csv', '2'), 'x').map((t) => t.testId)).toEqual(['2']);
  });

  it('refuses refs an option parser or a range would read, ids too long for round ids, and iteration settings the test cannot use', () => {
    for (const ok of ['v3.1.0', 'master', 'feature/x', 'a'.repeat(40)]) expect(checkBisectRef(ok, { flag: '--good' })).toBe(ok);
    for (const bad of ['--upload-pack=x', '-x', 'a..b', 'HEAD~1', 'x^{}', 'a b', '', 'x.lock'])
      expect(() => checkBisectRef(bad, { flag: '--bad' })).toThrow(InputError);
    expect(() => checkBisectId('b'.repeat(81))).toThrow(/longer than 80/);
    expect(bisectRoundId('b'.repeat(80), 'f'.repeat(40), 99).length).toBeLessThanOrEqual(100);
    expect(() => checkBisectIterations({ initial: 1, step: 1, max: 4 })).toThrow(/--iterations: must be at least 2/);
    expect(() => checkBisectIterations({ initial: 5, step: 1, max: 4 })).toThrow(/--max-iterations: must be at least --iterations/);
  });

  it('reads rev-list output and refuses an empty path as "not a descendant"', () => {
    const [a, b] = ['a'.repeat(40), 'b'.repeat(40)];
    expect(parseRevList(`${a}\n${b}\n`, 'g', 'b')).toEqual([a, b]);
    expect(() => parseRevList('', 'v2', 'v1')).toThrow(
      /--bad: no commit leads from v2 to v1: the bad commit must be a descendant of the good one/,
    );
  });
});

describe('verdict of a commit against the good one', () => {
  const row = (r: Partial<MetricComparison>): MetricComparison =>
    ({
      testId: 't',
      baselineConfig: 'c',
      candidateConfig: 'c',
      metric: 'read_bw',
      unit: 'MiB/s',
      better: 'higher',
      baseline: 100,
      candidate: 50,
      baselineN: 3,
      candidateN: 3,
      deltaPct: -50,
      p: 0.001,
      t: 9,
      df: 4,
      significant: true,
      thresholdPct: 10,
      verdict: 'regression',
      ...r,
    }) as MetricComparison;
  const comparison = (rows: MetricComparison[], extra: Partial<Comparison> = {}): Comparison =>
    ({
      rows,
      regressions: rows.filter((r) => r.verdict === 'regression').length,
      untestedGated: rows.filter((r) => r.thresholdPct !== null && r.p === null).length,
      inconclusiveGated: rows.filter((r) => r.verdict === 'inconclusive').length,
      gateIncomplete: [],
      skipped: [],
      ...extra,
    }) as unknown as Comparison;

  it('is bad on a regression, good within the threshold, inconclusive when the gate cannot vouch', () => {
    expect(commitVerdictOf(comparison([row({})]))).toMatchObject({ verdict: 'bad', reason: expect.stringContaining('read_bw -50.0%') });
    expect(commitVerdictOf(comparison([row({ deltaPct: -3, p: 0.4, verdict: 'no significant change' })])).verdict).toBe('good');
    // Significantly worse but within the threshold is not the change looked for.
    expect(commitVerdictOf(comparison([row({ deltaPct: -5, verdict: 'worse' })])).verdict).toBe('good');
    expect(
      commitVerdictOf(
        comparison([row({ deltaPct: -8, p: 0.2, verdict: 'inconclusive' })], { gateIncomplete: ['1 gated metric(s) inconclusive'] }),
      ),
    ).toEqual({ verdict: 'inconclusive', reason: '1 gated metric(s) inconclusive' });
    expect(commitVerdictOf(comparison([row({ thresholdPct: null, verdict: 'worse' })])).verdict).toBe('inconclusive');
  });
});
