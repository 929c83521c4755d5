import { describe, expect, it } from 'vitest';
import type { Comparison, MetricComparison } from '../../src/core/compare';
import { InputError } from '../../src/core/errors';
import {
  checkSuiteName,
  compareTagVersions,
  parseRefSpec,
  regressionAlert,
  resolveRefFromLsRemote,
  suiteBenchmarkId,
  suiteVerdictOf,
  tagPatternRegExp,
  webhookEnvName,
  type VerdictRecord,
} from '../../src/core/suite';
import { isSafeId } from '../../src/core/ids';

const sha = (c: string) => c.repeat(40);

describe('gcsfuse ref specs', () => {
  it('reads prefixed and bare forms', () => {
    expect(parseRefSpec('tag:v3.*')).toEqual({ kind: 'tag', pattern: 'v3.*' });
    expect(parseRefSpec('v2.?.*')).toEqual({ kind: 'tag', pattern: 'v2.?.*' });
    expect(parseRefSpec('branch:master')).toEqual({ kind: 'branch', name: 'master' });
    expect(parseRefSpec('release/v3')).toEqual({ kind: 'branch', name: 'release/v3' });
    expect(parseRefSpec(sha('a'))).toEqual({ kind: 'commit', sha: sha('a') });
  });

  it('refuses what git or a shell would misread, naming the flag', () => {
    for (const bad of ['commit:abc', 'branch:-x', 'branch:a..b', 'tag:$(id)', 'branch:', 'branch:a b']) {
      expect(() => parseRefSpec(bad), bad).toThrow(InputError);
      expect(() => parseRefSpec(bad), bad).toThrow(/--gcsfuse-ref/);
    }
  });

  it('orders tags as versions: numbers as numbers, pre-releases before their release', () => {
    const tags = ['v3.10.0', 'v3.9.1', 'v3.2.0', 'v3.10.0-rc1', 'v3.1.0'];
    expect([...tags].sort(compareTagVersions)).toEqual(['v3.1.0', 'v3.2.0', 'v3.9.1', 'v3.10.0-rc1', 'v3.10.0']);
  });

  it('matches tag patterns over the whole name, with dots taken literally', () => {
    expect(tagPatternRegExp('v3.*').test('v3.1.0')).toBe(true);
    expect(tagPatternRegExp('v3.*').test('v30')).toBe(false);
    expect(tagPatternRegExp('v3.*').test('xv3.1')).toBe(false);
  });

  const lsRemote = [
    `${sha('1')}\trefs/heads/master`,
    `${sha('2')}\trefs/tags/v3.9.0`,
    `${sha('3')}\trefs/tags/v3.10.0`,
    `${sha('4')}\trefs/tags/v3.10.0^{}`,
    `${sha('5')}\trefs/tags/v2.99.0`,
    `${sha('6')}\trefs/tags/v3.11.0-rc1`,
  ].join('\n');

  it('resolves the newest matching tag to the commit it points at (peeled for annotated tags)', () => {
    expect(resolveRefFromLsRemote(lsRemote, { kind: 'tag', pattern: 'v3.*' }, 'repo')).toEqual({ ref: 'v3.11.0-rc1', commit: sha('6') });
    expect(resolveRefFromLsRemote(lsRemote, { kind: 'tag', pattern: 'v3.*.0' }, 'repo')).toEqual({ ref: 'v3.10.0', commit: sha('4') });
    expect(resolveRefFromLsRemote(lsRemote, { kind: 'branch', name: 'master' }, 'repo')).toEqual({ ref: 'master', commit: sha('1') });
  });

  it('says when nothing matches', () => {
    expect(() => resolveRefFromLsRemote(lsRemote, { kind: 'tag', pattern: 'v4.*' }, 'the-repo')).toThrow(
      /the-repo has no tag matching "v4\.\*"/,
    );
    expect(() => resolveRefFromLsRemote(lsRemote, { kind: 'branch', name: 'main' }, 'the-repo')).toThrow(/no branch "main"/);
  });
});

describe('suite names, run ids and webhook names', () => {
  it('gives each run a safe, time-ordered id', () => {
    const id = suiteBenchmarkId('nightly', new Date('2025-03-04T05:06:07.890Z'), '0123abcd-ef45-6789-0000-000000000000');
    expect(id).toBe('nightly-20250304-050607-0123abcd');
    expect(isSafeId(suiteBenchmarkId('n'.repeat(60), new Date(), 'f'.repeat(36)))).toBe(true);
  });

  it('refuses suite names that cannot name a folder or are too long for run ids', () => {
    expect(() => checkSuiteName('../x')).toThrow(/suite name/);
    expect(() => checkSuiteName('n'.repeat(61))).toThrow(/longer than 60/);
  });

  it('maps a webhook name to the worker variable holding its URL, refusing odd names', () => {
    expect(webhookEnvName('perf-alerts')).toBe('GCSFUSE_BENCH_WEBHOOK_PERF_ALERTS');
    expect(() => webhookEnvName('https://hooks.example/x')).toThrow(/--webhook/);
  });
});

function row(over: Partial<MetricComparison>): MetricComparison {
  return {
    testId: 't1',
    baselineConfig: 'default',
    candidateConfig: 'default',
    metric: 'read_bw',
    unit: 'MiB/s',
    better: 'higher',
    baseline: 100,
    candidate: 100,
    baselineN: 3,
    candidateN: 3,
    deltaPct: 0,
    p: 0.9,
    t: 0,
    df: 4,
    significant: false,
    thresholdPct: 10,
    verdict: 'no significant change',
    ...over,
  };
}

function comparison(
  rows: MetricComparison[],
  over: Partial<Comparison> & { gateIncomplete?: string[]; inconclusiveGated?: number } = {},
): Comparison {
  return {
    baseline: { benchmarkId: 'a', config: null },
    candidate: { benchmarkId: 'b', config: null },
    matchedBy: 'test_id+config',
    alpha: 0.05,
    thresholds: { read_bw: 10 },
    rows,
    unmatched: { baselineOnly: [], candidateOnly: [] },
    skipped: [],
    regressions: rows.filter((r) => r.verdict === 'regression').length,
    untestedGated: rows.filter((r) => r.thresholdPct !== null && r.p === null).length,
    ...over,
  };
}

describe('suite verdicts', () => {
  it('regression names the metrics and their change', () => {
    const v = suiteVerdictOf(comparison([row({ candidate: 40, deltaPct: -60, p: 0.001, significant: true, verdict: 'regression' })]), 0);
    expect(v.verdict).toBe('regression');
    expect(v.reason).toContain('t1 read_bw -60.0%');
  });

  it('pass when nothing is beyond its threshold', () => {
    expect(suiteVerdictOf(comparison([row({ deltaPct: -3, p: 0.2 })]), 0).verdict).toBe('pass');
  });

  it('inconclusive when the gate cannot judge: nothing matched, too few iterations, failed entries', () => {
    expect(suiteVerdictOf(comparison([]), 0)).toMatchObject({
      verdict: 'inconclusive',
      reason: expect.stringMatching(/no test and metric matched/),
    });
    expect(suiteVerdictOf(comparison([row({ p: null, verdict: 'not tested' })]), 0)).toMatchObject({
      verdict: 'inconclusive',
      reason: expect.stringMatching(/fewer than 2 iterations/),
    });
    expect(suiteVerdictOf(comparison([row({})]), 2)).toMatchObject({
      verdict: 'inconclusive',
      reason: expect.stringMatching(/2 entries of this run failed/),
    });
    // compare's own account of why the gate cannot vouch for the run wins.
    expect(suiteVerdictOf(comparison([row({})], { gateIncomplete: ['only 1 of 2 tests matched'] }), 0)).toEqual({
      verdict: 'inconclusive',
      reason: 'only 1 of 2 tests matched',
    });
    expect(
      suiteVerdictOf(comparison([row({ verdict: 'inconclusive' as MetricComparison['verdict'] })], { inconclusiveGated: 1 }), 0),
    ).toMatchObject({ verdict: 'inconclusive', reason: expect.stringMatching(/1 gated metric\(s\) are inconclusive/) });
  });

  it('a regression alert carries the run, the ref and a chat-readable text', () => {
    const v: VerdictRecord = {
      suite: 'nightly',
      benchmarkId: 'nightly-1',
      baselineId: 'nightly-0',
      ref: 'v3.1.0',
      commit: sha('a'),
      verdict: 'regression',
      reason: '1 metric(s) beyond',
      regressions: [
        {
          testId: 't1',
          baselineConfig: 'default',
          metric: 'read_bw',
          unit: 'MiB/s',
          baseline: 100,
          candidate: 40,
          deltaPct: -60,
          p: 0.001,
          thresholdPct: 10,
        },
      ],
      comparison: null,
    };
    const alert = regressionAlert(v);
    expect(alert).toMatchObject({ event: 'regression', suite: 'nightly', benchmarkId: 'nightly-1', ref: 'v3.1.0' });
    expect(alert.text).toContain('nightly regressed at v3.1.0');
  });
});
