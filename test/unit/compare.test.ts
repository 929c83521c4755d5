import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_METRIC_KINDS,
  METRICS,
  compareReports,
  parseMetricList,
  parseThresholds,
  verdictOf,
  type CompareSide,
} from '../../src/core/compare';
import type { MountConfig } from '../../src/core/configs';
import { buildMatrix } from '../../src/core/matrix';
import { entryReport, parseIteration, type EntryReport, type IterationResult } from '../../src/core/report';
import { welchTTest } from '../../src/core/stats';
import { parseTestCasesCsv } from '../../src/core/testcases';
import { expectInputError } from './helpers/input-error';
import { runFio } from './helpers/fio';

const MIB = 2 ** 20;
const fast: MountConfig = { label: 'fast', commit: 'v1', mountArgs: '', mountArgv: [] };
const slow: MountConfig = { label: 'slow', commit: 'v2', mountArgs: '--rate-limited', mountArgv: [] };
const tests = parseTestCasesCsv('test_id,block_size\nrr,4k\nother,4k\n', 'tests.csv');
const [fastRr, fastOther, slowRr, slowOther] = buildMatrix([fast, slow], tests);

let dir: string;
/** Unlimited random reads from the page cache, six times. */
let unlimited: IterationResult[];
/** The same job limited to 4 MiB/s, six times. */
let limited: IterationResult[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-compare-'));
  await mkdir(path.join(dir, 'rr'));
  const job = (extra: string[]) => [
    '--name=rr',
    `--directory=${path.join(dir, 'rr')}`,
    '--size=4m',
    '--bs=4k',
    '--rw=randread',
    '--ioengine=psync',
    '--invalidate=0',
    '--time_based',
    '--output-format=json+',
    ...extra,
  ];
  // Unlimited runs one at a time (they are CPU bound). On a busy machine their bandwidth spreads
  // widely, so six of them: Welch's test needs the spread of the mean to be small against the change.
  // A first run lays out the file, so that every measured run reads it from the page cache.
  await runFio(dir, 'layout.json', job(['--runtime=100ms']));
  const u = [];
  for (let i = 1; i <= 6; i++) u.push(await runFio(dir, `u${i}.json`, job(['--runtime=250ms'])));
  // Rate-limited runs sleep most of the time, so they can run together; a longer runtime evens out
  // the scheduling delays of a busy machine.
  const l = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => runFio(dir, `l${i}.json`, job(['--runtime=1s', '--rate=4m']))));
  unlimited = u.map((r) => parseIteration(r.output));
  limited = l.map((r) => parseIteration(r.output));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const side = (benchmarkId: string, reports: EntryReport[], config?: string): CompareSide => ({ benchmarkId, reports, config });
const gate = parseThresholds('read_bw=5%,read_iops=5%');

describe('compareReports on real fio results', () => {
  it('finds a regression from unlimited to rate-limited runs, with its change and p-value', () => {
    const base = [entryReport(fastRr!, 'vm-1', 'passed', unlimited)];
    const cand = [entryReport(fastRr!, 'vm-1', 'passed', limited.slice(0, 3))];
    const c = compareReports(side('run-x', base), side('run-y', cand), { thresholds: gate });
    expect(c.matchedBy).toBe('test_id+config');
    const bw = c.rows.find((r) => r.metric === 'read_bw')!;
    const b = unlimited.map((r) => r.read.bwBytesPerSec / MIB);
    const l = limited.slice(0, 3).map((r) => r.read.bwBytesPerSec / MIB);
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    expect(bw).toMatchObject({
      testId: 'rr',
      baselineConfig: 'fast',
      candidateConfig: 'fast',
      unit: 'MiB/s',
      better: 'higher',
      baselineN: 6,
      candidateN: 3,
      thresholdPct: 5,
    });
    expect(bw.baseline).toBeCloseTo(mean(b), 9);
    expect(bw.candidate).toBeCloseTo(mean(l), 9);
    expect(bw.candidate!).toBeLessThan(4.5);
    expect(bw.deltaPct).toBeCloseTo(((mean(l) - mean(b)) / mean(b)) * 100, 9);
    expect(bw.deltaPct!).toBeLessThan(-50);
    // Welch's test on the logarithms: changes are ratios.
    expect(bw.p).toBeCloseTo(welchTTest(b.map(Math.log), l.map(Math.log))!.p, 12);
    // The interval of the change holds the observed ratio of geometric means, and stays above -100%.
    const geo = (v: number[]) => Math.exp(mean(v.map(Math.log)));
    const ratioPct = (geo(l) / geo(b) - 1) * 100;
    expect(bw.changeLowPct!).toBeLessThan(ratioPct);
    expect(bw.changeHighPct!).toBeGreaterThan(ratioPct);
    expect(bw.changeLowPct!).toBeGreaterThan(-100);
    expect(bw.p!).toBeLessThan(0.05);
    expect(bw.verdict).toBe('regression');
    expect(c.rows.find((r) => r.metric === 'read_iops')!.verdict).toBe('regression');
    expect(c.regressions).toBe(2);
    expect(c.alpha).toBe(0.05);
    expect(c.thresholds).toEqual({ read_bw: 5, read_iops: 5 });
  });

  it('finds none between two similar runs', () => {
    const base = [entryReport(fastRr!, 'vm-1', 'passed', limited.slice(0, 3))];
    const cand = [entryReport(fastRr!, 'vm-2', 'passed', limited.slice(3))];
    const c = compareReports(side('run-x', base), side('run-y', cand), { thresholds: gate });
    const bw = c.rows.find((r) => r.metric === 'read_bw')!;
    expect(Math.abs(bw.deltaPct!)).toBeLessThan(10);
    expect(bw.verdict).not.toBe('regression');
    expect(c.regressions).toBe(0);
  });

  it('does not count a large change that is not significant (noisy iterations)', () => {
    // Each side mixes fast and throttled iterations: the means differ a lot, the spread is larger.
    const base = [entryReport(fastRr!, 'vm-1', 'passed', [unlimited[0]!, unlimited[1]!, limited[0]!])];
    const cand = [entryReport(fastRr!, 'vm-1', 'passed', [unlimited[0]!, limited[1]!, limited[2]!])];
    const bw = compareReports(side('x', base), side('y', cand), { thresholds: gate }).rows.find((r) => r.metric === 'read_bw')!;
    expect(bw.deltaPct!).toBeLessThan(-10);
    expect(bw.p!).toBeGreaterThan(0.05);
    // Not significant, but its interval reaches far beyond the 5% threshold: the gate cannot tell.
    expect(bw.changeLowPct!).toBeLessThan(-5);
    expect(bw).toMatchObject({ significant: false, verdict: 'inconclusive' });
  });

  it('calls no significant change only when the interval of the change stays within the threshold', () => {
    const same = [entryReport(fastRr!, 'vm-1', 'passed', limited.slice(0, 3))];
    const c = compareReports(side('x', same), side('y', same), { thresholds: new Map([['read_bw', 50]]) });
    const bw = c.rows.find((r) => r.metric === 'read_bw')!;
    expect(bw.changeLowPct!).toBeGreaterThan(-50);
    expect(bw.verdict).toBe('no significant change');
    expect(c.gateIncomplete).toEqual([]);
  });

  it('cannot test, and so never gates, one iteration against one', () => {
    const fastest = [...unlimited].sort((x, y) => y.read.bwBytesPerSec - x.read.bwBytesPerSec)[0]!;
    const base = [entryReport(fastRr!, 'vm-1', 'passed', [fastest])];
    const cand = [entryReport(fastRr!, 'vm-1', 'passed', [limited[0]!])];
    const c = compareReports(side('x', base), side('y', cand), { thresholds: gate });
    const bw = c.rows.find((r) => r.metric === 'read_bw')!;
    expect(bw).toMatchObject({ p: null, t: null, verdict: 'not tested', baselineN: 1, candidateN: 1 });
    expect(bw.deltaPct!).toBeLessThan(-50);
    expect(c.regressions).toBe(0);
    expect(c.untestedGated).toBe(2);
  });

  it('calls the reverse change an improvement, not a regression', () => {
    const base = [entryReport(fastRr!, 'vm-1', 'passed', limited.slice(0, 3))];
    const cand = [entryReport(fastRr!, 'vm-1', 'passed', unlimited)];
    const c = compareReports(side('x', base), side('y', cand), { thresholds: gate });
    expect(c.rows.find((r) => r.metric === 'read_bw')).toMatchObject({ verdict: 'better', significant: true });
    expect(c.regressions).toBe(0);
  });

  it('compares two configs of one run, matching entries by test id', () => {
    const run = [
      entryReport(fastRr!, 'vm-1', 'passed', unlimited),
      entryReport(fastOther!, 'vm-2', 'passed', limited.slice(0, 3)),
      entryReport(slowRr!, 'vm-1', 'passed', limited.slice(3)),
      entryReport(slowOther!, 'vm-2', 'failed', []),
    ];
    const c = compareReports(side('run', run, 'fast'), side('run', run, 'slow'), { thresholds: parseThresholds('bw=5%') });
    expect(c.matchedBy).toBe('test_id');
    expect(c.baseline).toEqual({ benchmarkId: 'run', config: 'fast' });
    expect(c.candidate).toEqual({ benchmarkId: 'run', config: 'slow' });
    expect(new Set(c.rows.map((r) => r.testId))).toEqual(new Set(['rr']));
    expect(c.rows.find((r) => r.metric === 'read_bw')).toMatchObject({
      baselineConfig: 'fast',
      candidateConfig: 'slow',
      verdict: 'regression',
    });
    expect(c.skipped).toEqual([{ key: 'other', reason: 'baseline passed, candidate failed' }]);
    expect(c.regressions).toBe(1);
  });

  it('compares latency percentiles by their pooled value, tested over per-iteration percentiles', () => {
    const base = [entryReport(fastRr!, 'vm-1', 'passed', unlimited)];
    const cand = [entryReport(fastRr!, 'vm-1', 'passed', limited.slice(0, 3))];
    const c = compareReports(side('x', base), side('y', cand));
    // Default metrics: bandwidth, IOPS, p50 and p99 latency of each direction with I/O.
    expect(c.rows.map((r) => r.metric)).toEqual(['read_bw', 'read_iops', 'read_p50_lat', 'read_p99_lat']);
    const p99 = c.rows.find((r) => r.metric === 'read_p99_lat')!;
    expect(p99).toMatchObject({ unit: 'ms', better: 'lower', baselineN: 6, candidateN: 3, thresholdPct: null });
    expect(p99.baseline).toBe(base[0]!.read!.clatPercentilesNs.p99! / 1e6);
    const perIteration = (r: EntryReport) => r.read!.clatPerIteration.percentilesNs.p99!.values.map((v) => v / 1e6);
    expect(p99.p).toBeCloseTo(welchTTest(perIteration(base[0]!).map(Math.log), perIteration(cand[0]!).map(Math.log))!.p, 12);
    // Without thresholds nothing is a regression, whatever changed.
    expect(c.regressions).toBe(0);
    const all = compareReports(side('x', base), side('y', cand), { metrics: parseMetricList('all') });
    expect(all.rows.map((r) => r.metric)).toEqual(METRICS.filter((m) => m.direction === 'read').map((m) => m.name));
  });

  it('lists entries found on one side only, matching runs by test id and config', () => {
    const base = [entryReport(fastRr!, 'vm-1', 'passed', unlimited), entryReport(fastOther!, 'vm-1', 'passed', unlimited)];
    const cand = [entryReport(fastRr!, 'vm-1', 'passed', unlimited), entryReport(slowRr!, 'vm-1', 'passed', unlimited)];
    const c = compareReports(side('x', base), side('y', cand));
    expect(c.unmatched).toEqual({ baselineOnly: ['other @ fast'], candidateOnly: ['rr @ slow'] });
    expect(new Set(c.rows.map((r) => `${r.testId} @ ${r.baselineConfig}`))).toEqual(new Set(['rr @ fast']));
    // The same iterations on both sides: no change at all.
    expect(c.rows.every((r) => r.deltaPct === 0 && r.verdict === 'no significant change')).toBe(true);
  });

  it('refuses a config a run does not have, a config on one side only, and a bad alpha', () => {
    const run = [entryReport(fastRr!, 'vm-1', 'passed', unlimited)];
    expectInputError(
      () => compareReports(side('run', run, 'nope'), side('run', run, 'fast')),
      { flag: '--baseline-config' },
      '--baseline-config: ',
      'benchmark "run" has no config "nope" (its configs: fast)',
    );
    expectInputError(
      () => compareReports(side('run', run, 'fast'), side('run', run)),
      { flag: '--candidate-config' },
      '--candidate-config: ',
      'give both',
    );
    expectInputError(
      () => compareReports(side('a', run), side('b', run), { alpha: 1.5 }),
      { flag: '--alpha' },
      '--alpha: ',
      'between 0 and 1',
    );
  });
});

describe('the gate cannot silently pass', () => {
  it('says so when nothing matched (a renamed config) or only part did', () => {
    const base = [entryReport(fastRr!, 'vm-1', 'passed', unlimited)];
    const renamed = [entryReport(slowRr!, 'vm-1', 'passed', unlimited)];
    const none = compareReports(side('x', base), side('y', renamed), { thresholds: gate });
    expect(none.regressions).toBe(0);
    expect(none.gateIncomplete![0]).toBe('no gated metric was compared: nothing matched between the two runs');
    const part = compareReports(side('x', [...base, entryReport(fastOther!, 'vm-1', 'passed', unlimited)]), side('y', base), {
      thresholds: gate,
    });
    expect(part.gateIncomplete).toContain('only in the baseline: other @ fast');
    // Without a gate nothing is required.
    expect(compareReports(side('x', base), side('y', renamed)).gateIncomplete).toEqual([]);
  });

  it('notes different VMs and machine types, and too few iterations', () => {
    const base = [{ ...entryReport(fastRr!, 'vm-1', 'passed', unlimited.slice(0, 2)), machineType: 'n2-standard-8' }];
    const cand = [{ ...entryReport(fastRr!, 'vm-2', 'passed', unlimited.slice(2, 4)), machineType: 'e2-standard-4' }];
    const c = compareReports(side('x', base), side('y', cand));
    expect(c.notes).toEqual([
      "1 of 1 compared entries ran on different VMs (baseline vm-1; candidate vm-2): differences may be the machines'",
      'baseline and candidate ran on different machine types (baseline n2-standard-8; candidate e2-standard-4)',
      'some metrics have only 2 iteration(s) on a side: too few to show any but very large changes (see the change intervals)',
    ]);
  });

  it('matches fio groups of a job file group by group', () => {
    const g = (id: number) => ({ ...entryReport(fastRr!, 'vm-1', 'passed', unlimited), fioGroup: id });
    const c = compareReports(side('x', [g(0), g(1)]), side('y', [g(1)]));
    expect(c.unmatched.baselineOnly).toEqual(['rr group 0 @ fast']);
    expect(c.rows.every((r) => r.deltaPct === 0)).toBe(true);
  });
});

describe('verdictOf', () => {
  // An interval of the change of deltaPct ± 3 points unless given.
  const v = (
    deltaPct: number | null,
    p: number | null,
    better: 'higher' | 'lower',
    thresholdPct: number | null,
    interval?: [number, number],
  ) =>
    verdictOf(
      {
        deltaPct,
        p,
        better,
        thresholdPct,
        changeLowPct: interval?.[0] ?? (deltaPct ?? 0) - 3,
        changeHighPct: interval?.[1] ?? (deltaPct ?? 0) + 3,
      },
      0.05,
    ).verdict;

  it('counts a regression only in the bad direction, beyond the threshold, and significant', () => {
    expect(v(-10, 0.01, 'higher', 5)).toBe('regression');
    expect(v(10, 0.01, 'lower', 5)).toBe('regression');
    expect(v(-10, 0.01, 'higher', null)).toBe('worse'); // no threshold: reported, not gated
    expect(v(-4, 0.01, 'higher', 5)).toBe('worse'); // within the threshold
    expect(v(-5, 0.01, 'higher', 5)).toBe('worse'); // at the threshold: allowed
    expect(v(-2, 0.2, 'higher', 5, [-4, 1])).toBe('no significant change'); // the interval stays within the threshold
    expect(v(-10, 0.2, 'higher', 5, [-30, 12])).toBe('inconclusive'); // it could be a 30% loss
    expect(v(-10, 0.05, 'higher', 5, [-20, 0])).toBe('inconclusive'); // p must be below alpha
    expect(v(2, 0.5, 'lower', 5, [-4, 9])).toBe('inconclusive'); // latency could be 9% worse
    expect(v(-10, 0.2, 'higher', null, [-30, 12])).toBe('no significant change'); // no threshold to detect
    expect(verdictOf({ deltaPct: -2, p: 0.5, better: 'higher', thresholdPct: 5 }, 0.05).verdict).toBe('inconclusive'); // no interval: cannot tell
    expect(v(10, 0.01, 'higher', 5)).toBe('better');
    expect(v(-10, 0.01, 'lower', 5)).toBe('better');
    expect(v(-10, null, 'higher', 5)).toBe('not tested');
    expect(v(null, 0.01, 'higher', 5, [-1, 1])).toBe('no significant change');
    expect(
      verdictOf({ deltaPct: -10, p: 0.03, better: 'higher', thresholdPct: 5, changeLowPct: -12, changeHighPct: -1 }, 0.01).verdict,
    ).toBe('inconclusive');
  });
});

describe('parseThresholds and parseMetricList', () => {
  it('reads metric=N% lists; a name without direction sets both, all sets every metric, the most specific wins', () => {
    expect(parseThresholds('read_bw=5%,p99_lat=10%')).toEqual(
      new Map([
        ['read_bw', 5],
        ['read_p99_lat', 10],
        ['write_p99_lat', 10],
        ['trim_p99_lat', 10],
        ['mixed_p99_lat', 10],
      ]),
    );
    const m = parseThresholds('read_bw=2, bw = 7.5% ,all=20%');
    expect(m.get('read_bw')).toBe(2);
    expect(m.get('write_bw')).toBe(7.5);
    expect(m.get('write_p50_lat')).toBe(20);
    expect(m.size).toBe(METRICS.length);
    expect(parseThresholds('p99.9_lat=0%').get('read_p99.9_lat')).toBe(0);
  });

  it('refuses what it cannot read, naming the flag', () => {
    const flag = { flag: '--max-regression' };
    expectInputError(() => parseThresholds('read_bw'), flag, '--max-regression: ', '"read_bw" is not metric=N%');
    expectInputError(() => parseThresholds('read_bw=-5%'), flag, '--max-regression: ', 'is not metric=N%');
    expectInputError(() => parseThresholds('read_bw=5%%'), flag, '--max-regression: ');
    expectInputError(() => parseThresholds('speed=5%'), flag, '--max-regression: ', 'unknown metric "speed"', /metric names are bw, iops/);
    expectInputError(() => parseThresholds('bw=5%,bw=6%'), flag, '--max-regression: ', '"bw" is given twice');
    expectInputError(() => parseThresholds(' , '), flag, '--max-regression: ', 'no threshold given');
  });

  it('expands metric lists without duplicates', () => {
    expect(parseMetricList('read_bw,bw')).toEqual(['read_bw', 'write_bw', 'trim_bw', 'mixed_bw']);
    expect(parseMetricList('all')).toHaveLength(METRICS.length);
    expect(DEFAULT_METRIC_KINDS).toEqual(['bw', 'iops', 'p50_lat', 'p99_lat']);
    expectInputError(() => parseMetricList('read_bw,latency'), { flag: '--metrics' }, '--metrics: ', 'unknown metric "latency"');
  });
});
