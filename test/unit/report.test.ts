import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MountConfig } from '../../src/core/configs';
import {
  binEntries,
  binsFromEntries,
  emptyLatency,
  mergeLatency,
  parseFioOutput,
  percentileFromBins,
  REPORTED_DIRECTIONS,
  type DirectionResult,
  type FioIterationResult,
} from '../../src/core/fio';
import { buildMatrix, type MatrixEntry } from '../../src/core/matrix';
import {
  PERCENTILES,
  entryReport,
  entryReports,
  fillHistograms,
  parseIteration,
  reportCsv,
  reportRows,
  reportSummary,
  reportsByConfig,
  type EntryReport,
} from '../../src/core/report';
import { parseTestCasesCsv } from '../../src/core/testcases';
import { runFio } from './helpers/fio';
import { BRACED_TEST_CSV, SEED_TEST_CSV } from './helpers/inputs';

// Hand-made iteration results (objects, not fio JSON) pin the arithmetic and the layout; the
// sections further down check the same code against real fio outputs.

const MIB = 2 ** 20;
const config: MountConfig = { label: 'baseline', commit: 'v2.4.0', mountArgs: '--implicit-dirs --o=ro,"x"', mountArgv: [] };
const seedEntries = buildMatrix([config], parseTestCasesCsv(SEED_TEST_CSV, 'tests.csv'));
const seedEntry = seedEntries[0]!;

/** A direction of one iteration: latency samples given as [ns, count] buckets. */
function direction(bwBytesPerSec: number, iops: number, buckets: [number, number][]): DirectionResult {
  const count = buckets.reduce((s, [, n]) => s + n, 0);
  return {
    ioBytes: bwBytesPerSec * 10,
    bwBytesPerSec,
    iops,
    runtimeMs: 10_000,
    totalIos: count,
    clat: {
      count,
      minNs: Math.min(...buckets.map(([k]) => k)),
      maxNs: Math.max(...buckets.map(([k]) => k)),
      meanNs: buckets.reduce((s, [k, n]) => s + k * n, 0) / count,
      bins: binsFromEntries(buckets),
    },
  };
}
const idle = (): DirectionResult => ({ ioBytes: 0, bwBytesPerSec: 0, iops: 0, runtimeMs: 0, totalIos: 0, clat: emptyLatency() });
const iteration = (read: DirectionResult, write: DirectionResult = idle()): FioIterationResult => {
  const group = { groupId: 0, jobCount: 1, errorCount: 0, read, write, trim: idle(), mixed: idle() };
  return { fioVersion: 'fio-3.33', jobCount: 1, errorCount: 0, read, write, trim: idle(), mixed: idle(), groups: [group] };
};

// Two read iterations: 100 MiB/s with every sample at 1 ms, 200 MiB/s with every sample at 9 ms.
const twoIterations = [
  iteration(direction(100 * MIB, 1000, [[1_000_000, 100]])),
  iteration(direction(200 * MIB, 2000, [[9_000_000, 100]])),
];

describe('entryReport', () => {
  it('carries the entry, its config and where it ran', () => {
    const r = entryReport(seedEntry, 'vm-2', 'passed', twoIterations);
    expect(r).toMatchObject({
      matrixId: 1,
      testId: '1',
      configLabel: 'baseline',
      commit: 'v2.4.0',
      mountArgs: '--implicit-dirs --o=ro,"x"',
      params: seedEntry.params,
      vm: 'vm-2',
      status: 'passed',
      iterations: 2,
      fioVersion: 'fio-3.33',
      write: null,
    });
  });

  it('summarises bandwidth and IOPS over iterations', () => {
    const read = entryReport(seedEntry, 'vm-1', 'passed', twoIterations).read!;
    expect(read.bwBytesPerSec.n).toBe(2);
    expect(read.bwBytesPerSec.mean).toBe(150 * MIB);
    expect(read.bwBytesPerSec.stddev).toBeCloseTo(Math.SQRT2 * 50 * MIB, 3);
    expect(read.bwBytesPerSec.min).toBe(100 * MIB);
    expect(read.bwBytesPerSec.max).toBe(200 * MIB);
    expect(read.iops.mean).toBe(1500);
  });

  it('pools latency histograms of all iterations; percentiles are never averaged', () => {
    const read = entryReport(seedEntry, 'vm-1', 'passed', twoIterations).read!;
    expect(read.latencySamples).toBe(200);
    // The per-iteration medians are 1 ms and 9 ms; their average (5 ms) is no sample at all.
    expect(read.clatPercentilesNs).toEqual({ p50: 1_000_000, p90: 9_000_000, p99: 9_000_000, 'p99.9': 9_000_000 });
    expect(read.clatMeanNs).toBe(5_000_000);
    expect(read.clatMinNs).toBe(1_000_000);
    expect(read.clatMaxNs).toBe(9_000_000);
  });

  it('weights each iteration by its samples when pooling', () => {
    const r = entryReport(seedEntry, null, 'passed', [
      iteration(direction(MIB, 10, [[1_000, 10]])),
      iteration(direction(MIB, 10, [[2_000, 90]])),
    ]).read!;
    expect(r.clatMeanNs).toBe(1_900);
    expect(r.clatPercentilesNs.p50).toBe(2_000);
  });

  it('has no direction stats for a direction with no I/O', () => {
    const r = entryReport(seedEntry, 'vm-1', 'passed', [iteration(idle(), direction(MIB, 1, [[5, 1]]))]);
    expect(r.read).toBeNull();
    expect(r.write).not.toBeNull();
  });

  it('has no stats at all for an entry with no results', () => {
    expect(entryReport(seedEntry, null, 'missing', [])).toMatchObject({
      vm: null,
      status: 'missing',
      iterations: 0,
      fioVersion: null,
      read: null,
      write: null,
    });
  });
});

describe('reportRows and reportCsv', () => {
  const metricColumns = (dir: string) => [
    `${dir}_bw_MiBps_mean`,
    `${dir}_bw_MiBps_median`,
    `${dir}_bw_MiBps_stddev`,
    `${dir}_bw_cv_pct`,
    `${dir}_bw_MiBps_ci95_low`,
    `${dir}_bw_MiBps_ci95_high`,
    `${dir}_bw_MiBps_min`,
    `${dir}_bw_MiBps_max`,
    `${dir}_bw_outlier_iterations`,
    `${dir}_iops_mean`,
    `${dir}_iops_stddev`,
    `${dir}_lat_min_ms`,
    `${dir}_lat_max_ms`,
    `${dir}_lat_mean_ms`,
    `${dir}_lat_stddev_ms`,
    `${dir}_lat_p50_ms`,
    `${dir}_lat_p90_ms`,
    `${dir}_lat_p99_ms`,
    `${dir}_lat_p99.9_ms`,
  ];

  it('has the identity, parameter, status and metric columns, with units in their names', () => {
    const rows = reportRows([entryReport(seedEntry, 'vm-1', 'passed', twoIterations)]);
    expect(Object.keys(rows[0]!)).toEqual([
      'matrix_id',
      'test_id',
      'config',
      'commit',
      'mount_args',
      'block_size',
      'io_depth',
      'num_jobs',
      'file_size',
      'vm',
      'status',
      'iterations',
      ...metricColumns('read'),
      ...metricColumns('write'),
    ]);
    expect(PERCENTILES).toEqual([50, 90, 99, 99.9]);
  });

  it('writes bandwidth in MiB/s and latency in ms', () => {
    const [row] = reportRows([entryReport(seedEntry, 'vm-1', 'passed', twoIterations)]);
    expect(row).toMatchObject({
      matrix_id: '1',
      test_id: '1',
      config: 'baseline',
      commit: 'v2.4.0',
      block_size: '4k',
      io_depth: '32',
      num_jobs: '1',
      file_size: '1g',
      vm: 'vm-1',
      status: 'passed',
      iterations: '2',
      read_bw_MiBps_mean: '150.00',
      read_bw_MiBps_median: '150.00',
      read_bw_MiBps_stddev: '70.71',
      read_bw_cv_pct: '47.14',
      // 150 ± t(0.975, 1) * 70.71 / sqrt(2) = 150 ± 12.706 * 50
      // Two iterations: no interval (the raw-scale one was -485.31 .. 785.31, below zero).
      read_bw_MiBps_ci95_low: '',
      read_bw_MiBps_ci95_high: '',
      read_bw_MiBps_min: '100.00',
      read_bw_MiBps_max: '200.00',
      read_bw_outlier_iterations: '',
      read_iops_mean: '1500.0',
      read_iops_stddev: '707.1',
      read_lat_min_ms: '1.000',
      read_lat_max_ms: '9.000',
      read_lat_mean_ms: '5.000',
      // Hand-made latencies carry no fio stddev: unknown, left empty.
      read_lat_stddev_ms: '',
      read_lat_p50_ms: '1.000',
      read_lat_p90_ms: '9.000',
      read_lat_p99_ms: '9.000',
      'read_lat_p99.9_ms': '9.000',
    });
    for (const c of metricColumns('write')) expect(row![c], c).toBe('');
  });

  it('rounds sub-millisecond latencies to microseconds', () => {
    const [row] = reportRows([
      entryReport(seedEntry, null, 'passed', [
        iteration(
          direction(1.5 * MIB, 3, [
            [123_456, 1],
            [1_234_567, 1],
          ]),
        ),
      ]),
    ]);
    expect(row).toMatchObject({
      read_bw_MiBps_mean: '1.50',
      read_bw_MiBps_stddev: '0.00',
      read_bw_MiBps_ci95_low: '',
      read_lat_p50_ms: '0.123',
      read_lat_p99_ms: '1.235',
      vm: '',
    });
  });

  it('leaves metrics empty for failed or missing entries', () => {
    const [row] = reportRows([entryReport(seedEntry, null, 'missing', [])]);
    expect(row!.status).toBe('missing');
    for (const c of [...metricColumns('read'), ...metricColumns('write')]) expect(row![c], c).toBe('');
  });

  it('has one parameter column per column any entry has, in a fixed order', () => {
    const braced = buildMatrix([config], parseTestCasesCsv(BRACED_TEST_CSV, 'tests.csv'))[0]!;
    const rows = reportRows([entryReport(seedEntry, null, 'passed', []), entryReport(braced, null, 'passed', [])]);
    const params = ['io_type', 'block_size', 'io_depth', 'num_jobs', 'file_size', 'nr_files', 'direct'];
    for (const row of rows) expect(Object.keys(row).slice(5, 5 + params.length)).toEqual(params);
    expect(rows[0]!.io_type).toBe('');
    expect(rows[1]!.io_type).toBe('read');
  });

  it('writes a CSV that reads back to the same rows, quoting commas and quotes', () => {
    const reports = seedEntries.map((e: MatrixEntry, i) =>
      entryReport(e, `vm-${i}`, i === 2 ? 'failed' : 'passed', i === 2 ? [] : twoIterations),
    );
    const csv = reportCsv(reports);
    expect(csv.split('\n')[0]).toBe(Object.keys(reportRows(reports)[0]!).join(','));
    const back = parse(csv, { columns: true }) as Record<string, string>[];
    expect(back).toEqual(reportRows(reports));
    expect(back[0]!.mount_args).toBe('--implicit-dirs --o=ro,"x"');
  });
});

describe('report values from real fio results', () => {
  let dir: string;
  /** Two iterations, each as fio writes a group_reporting result of one run. */
  let runs: { output: string }[];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-report-'));
    // One fio run (fio is slow to start) with two reporting groups, split into one output per group.
    const group = (i: number) => [`--name=it${i}`, `--directory=${path.join(dir, `it${i}`)}`, '--new_group'];
    for (const i of [1, 2]) await mkdir(path.join(dir, `it${i}`));
    const run = await runFio(dir, 'iterations.json', [
      '--size=1m',
      '--bs=4k',
      '--rw=randread',
      '--ioengine=psync',
      '--numjobs=2',
      '--group_reporting',
      '--output-format=json+',
      ...group(1),
      ...group(2),
    ]);
    const json = JSON.parse(run.output) as { jobs: unknown[] };
    expect(json.jobs).toHaveLength(2);
    runs = json.jobs.map((job) => ({ output: JSON.stringify({ ...json, jobs: [job] }, null, 2) }));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("matches fio's own numbers for a single iteration", () => {
    const job = (
      JSON.parse(runs[0]!.output) as {
        jobs: { read: { bw: number; bw_bytes: number; iops: number; clat_ns: { mean: number; percentile: Record<string, number> } } }[];
      }
    ).jobs[0]!.read;
    const [row] = reportRows([entryReport(seedEntry, 'vm-1', 'passed', [parseFioOutput(runs[0]!.output)])]);
    expect(row!.read_bw_MiBps_mean).toBe((job.bw_bytes / MIB).toFixed(2));
    // fio's `bw` is KiB/s: the MiB/s column times 1024 agrees with it to rounding.
    expect(Math.abs(Number(row!.read_bw_MiBps_mean) * 1024 - job.bw)).toBeLessThanOrEqual(6);
    expect(row!.read_iops_mean).toBe(job.iops.toFixed(1));
    expect(row!.read_lat_mean_ms).toBe((job.clat_ns.mean / 1e6).toFixed(3));
    expect(row!.read_lat_p50_ms).toBe((job.clat_ns.percentile['50.000000']! / 1e6).toFixed(3));
    expect(row!.read_lat_p90_ms).toBe((job.clat_ns.percentile['90.000000']! / 1e6).toFixed(3));
    expect(row!.read_lat_p99_ms).toBe((job.clat_ns.percentile['99.000000']! / 1e6).toFixed(3));
    expect(row!.write_bw_MiBps_mean).toBe('');
  });

  it('pools two iterations', () => {
    const results = runs.map((r) => parseFioOutput(r.output));
    const report = entryReport(seedEntry, 'vm-1', 'passed', results);
    const read = report.read!;
    expect(report.iterations).toBe(2);
    expect(read.bwBytesPerSec.mean).toBe((results[0]!.read.bwBytesPerSec + results[1]!.read.bwBytesPerSec) / 2);
    // Both iterations read the same 2 x 1 MiB in 4 KiB blocks.
    expect(read.latencySamples).toBe(2 * 2 * 256);
    const pooled = mergeLatency(results.map((r) => r.read.clat));
    for (const p of PERCENTILES) expect(read.clatPercentilesNs[`p${p}`]).toBe(percentileFromBins(pooled.bins, p));
    expect(read.clatPercentilesNs.p50!).toBeLessThanOrEqual(read.clatPercentilesNs.p90!);
    expect(read.clatPercentilesNs.p90!).toBeLessThanOrEqual(read.clatPercentilesNs.p99!);
    expect(read.clatMinNs).toBe(Math.min(results[0]!.read.clat.minNs, results[1]!.read.clat.minNs));
    expect(read.clatMaxNs).toBe(Math.max(results[0]!.read.clat.maxNs, results[1]!.read.clat.maxNs));
  });
});

interface GroupLat {
  N: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  percentile: Record<string, number>;
}
interface GroupJob {
  read: { bw_bytes: number; clat_ns: GroupLat };
  write: { bw_bytes: number; clat_ns: GroupLat };
}

describe("report values against fio's group_reporting output", () => {
  let dir: string;
  /** Three jobs of random reads and writes reported as one group: fio merges their histograms and stddevs itself. */
  let grouped: { output: string; job: GroupJob };
  /** Two iterations (two reporting groups of one run), each as its own output. */
  let iterations: { output: string; job: GroupJob }[];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-report-group-'));
    for (const sub of ['g', 'it1', 'it2']) await mkdir(path.join(dir, sub));
    const [g, two] = await Promise.all([
      runFio(dir, 'group.json', [
        '--name=g',
        `--directory=${path.join(dir, 'g')}`,
        '--size=2m',
        '--bs=4k',
        '--rw=randrw',
        '--ioengine=psync',
        '--numjobs=3',
        '--group_reporting',
        '--output-format=json+',
      ]),
      runFio(dir, 'two.json', [
        '--size=1m',
        '--bs=4k',
        '--rw=randrw',
        '--ioengine=psync',
        '--numjobs=2',
        '--group_reporting',
        '--output-format=json+',
        ...[1, 2].flatMap((i) => [`--name=it${i}`, `--directory=${path.join(dir, `it${i}`)}`, '--new_group']),
      ]),
    ]);
    const gj = JSON.parse(g.output) as { jobs: GroupJob[] };
    expect(gj.jobs).toHaveLength(1);
    grouped = { output: g.output, job: gj.jobs[0]! };
    const tj = JSON.parse(two.output) as { jobs: GroupJob[] };
    expect(tj.jobs).toHaveLength(2);
    iterations = tj.jobs.map((job) => ({ output: JSON.stringify({ ...tj, jobs: [job] }), job }));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("gives fio's own p50, p90, p99, p99.9, min, max, mean and stddev of a group", () => {
    const report = entryReport(seedEntry, 'vm-1', 'passed', [parseIteration(grouped.output)]);
    for (const d of ['read', 'write'] as const) {
      const fio = grouped.job[d].clat_ns;
      const s = report[d]!;
      expect(s.clatPercentilesNs).toEqual({
        p50: fio.percentile['50.000000'],
        p90: fio.percentile['90.000000'],
        p99: fio.percentile['99.000000'],
        'p99.9': fio.percentile['99.900000'],
      });
      expect(s.clatMinNs).toBe(fio.min);
      expect(s.clatMaxNs).toBe(fio.max);
      expect(s.latencySamples).toBe(fio.N);
      expect(Math.abs(s.clatMeanNs - fio.mean) / fio.mean).toBeLessThan(1e-9);
      expect(Math.abs(s.clatStddevNs! - fio.stddev) / fio.stddev).toBeLessThan(1e-9);
      // And the CSV prints them in ms.
      const [row] = reportRows([report]);
      expect(row![`${d}_lat_p99.9_ms`]).toBe((fio.percentile['99.900000']! / 1e6).toFixed(3));
      expect(row![`${d}_lat_stddev_ms`]).toBe((fio.stddev / 1e6).toFixed(3));
      expect(row![`${d}_lat_max_ms`]).toBe((fio.max / 1e6).toFixed(3));
      expect(row![`${d}_lat_min_ms`]).toBe((fio.min / 1e6).toFixed(3));
    }
  });

  it("keeps each iteration's values: bandwidth, and latency percentiles equal to fio's per iteration", () => {
    const report = entryReport(
      seedEntry,
      'vm-1',
      'passed',
      iterations.map((i) => parseIteration(i.output)),
    );
    for (const d of ['read', 'write'] as const) {
      const s = report[d]!;
      expect(s.bwBytesPerSec.values).toEqual(iterations.map((i) => i.job[d].bw_bytes));
      expect(
        s.clatPerIteration.meanNs.values.map((v, i) => Math.abs(v - iterations[i]!.job[d].clat_ns.mean) / v).every((e) => e < 1e-9),
      ).toBe(true);
      for (const [key, fioKey] of [
        ['p50', '50.000000'],
        ['p99', '99.000000'],
        ['p99.9', '99.900000'],
      ] as const) {
        expect(s.clatPerIteration.percentilesNs[key]!.values).toEqual(iterations.map((i) => i.job[d].clat_ns.percentile[fioKey]));
      }
      expect(s.iterationTotals.clatSamples).toEqual(iterations.map((i) => i.job[d].clat_ns.N));
      expect(
        s.iterationTotals.ioBytes.reduce((a, b) => a + b) +
          (d === 'read' ? report.write! : report.read!).iterationTotals.ioBytes.reduce((a, b) => a + b),
      ).toBe(2 * 2 * MIB); // two iterations of two 1 MiB jobs
    }
  });

  it('keeps the pooled histogram, from which every percentile is recomputed, through results.json', () => {
    const report = entryReport(
      seedEntry,
      'vm-1',
      'passed',
      iterations.map((i) => parseIteration(i.output)),
    );
    const back = JSON.parse(JSON.stringify(report)) as EntryReport;
    for (const d of ['read', 'write'] as const) {
      const s = back[d]!;
      const bins = binsFromEntries(s.clatHistogramNs);
      expect(bins.counts.reduce((a, b) => a + b, 0)).toBe(s.latencySamples);
      expect(s.clatHistogramNs.map(([k]) => k)).toEqual(bins.ns);
      for (const p of PERCENTILES) expect(percentileFromBins(bins, p)).toBe(s.clatPercentilesNs[`p${p}`]);
      // The pooled histogram is the sum of the iterations' histograms, never an average of percentiles.
      const merged = mergeLatency(iterations.map((i) => parseFioOutput(i.output)[d].clat));
      expect(s.clatHistogramNs).toEqual(binEntries(merged.bins).filter(([, n]) => n > 0));
      expect(s.bwBytesPerSec).toEqual(report[d]!.bwBytesPerSec);
    }
  });
});

describe('optional column groups, per-config reports and the summary', () => {
  const braced = buildMatrix(
    [config, { label: 'tuned', commit: 'v2.5.0', mountArgs: '--kernel-list-cache-ttl-secs=-1', mountArgv: [] }],
    parseTestCasesCsv(SEED_TEST_CSV, 'tests.csv'),
  );

  it('adds trim columns only when an entry trimmed', () => {
    const plain = reportRows([entryReport(seedEntry, null, 'passed', twoIterations)]);
    expect(Object.keys(plain[0]!).some((c) => c.startsWith('trim_'))).toBe(false);
    const trimmed: FioIterationResult = { ...iteration(idle()), trim: direction(3 * MIB, 30, [[2_000_000, 5]]) };
    const rows = reportRows([entryReport(seedEntry, null, 'passed', twoIterations), entryReport(seedEntry, null, 'passed', [trimmed])]);
    expect(rows[1]).toMatchObject({ trim_bw_MiBps_mean: '3.00', trim_lat_p50_ms: '2.000', read_bw_MiBps_mean: '' });
    expect(rows[0]!.trim_bw_MiBps_mean).toBe('');
  });

  it('adds resource columns when entries have resources, named by path in snake_case', () => {
    const resources = {
      gcsfuseCpuPercent: { avg: 12.5, peak: 80 },
      gcsfuseRssBytes: { avg: 1000.25, peak: 2048 },
      fioProcesses: { avg: 1, peak: 3 },
    };
    const reports = [
      entryReport(seedEntry, 'vm-1', 'passed', twoIterations, { resources }),
      entryReport(seedEntries[1]!, 'vm-1', 'failed', []),
    ];
    const rows = reportRows(reports);
    const columns = Object.keys(rows[0]!);
    expect(columns.slice(-6)).toEqual([
      'gcsfuse_cpu_percent_avg',
      'gcsfuse_cpu_percent_peak',
      'gcsfuse_rss_bytes_avg',
      'gcsfuse_rss_bytes_peak',
      'fio_processes_avg',
      'fio_processes_peak',
    ]);
    expect(rows[0]).toMatchObject({ gcsfuse_cpu_percent_avg: '12.500', gcsfuse_cpu_percent_peak: '80', gcsfuse_rss_bytes_avg: '1000.250' });
    expect(rows[1]!.gcsfuse_cpu_percent_avg).toBe('');
    // Without resources anywhere, no resource column.
    expect(Object.keys(reportRows([reports[1]!])[0]!).some((c) => c.startsWith('gcsfuse_'))).toBe(false);
    // A resource named like another column does not replace it.
    const clash = reportRows([entryReport(seedEntry, 'vm-1', 'passed', twoIterations, { resources: { status: 'x' } })])[0]!;
    expect(clash).toMatchObject({ status: 'passed', resources_status: 'x' });
  });

  it('groups entries by config, in matrix order, for one CSV per config', () => {
    const reports = braced.map((e) => entryReport(e, 'vm-1', 'passed', twoIterations));
    const byConfig = reportsByConfig(reports);
    expect([...byConfig.keys()]).toEqual(['baseline', 'tuned']);
    expect(byConfig.get('tuned')!.map((r) => r.matrixId)).toEqual([4, 5, 6]);
    const back = parse(reportCsv(byConfig.get('tuned')!), { columns: true }) as Record<string, string>[];
    expect(back.map((r) => r.config)).toEqual(['tuned', 'tuned', 'tuned']);
    expect(back[0]!.mount_args).toBe('--kernel-list-cache-ttl-secs=-1');
  });

  it('summarises every entry in MiB/s and ms, with the method', () => {
    const reports = [entryReport(braced[0]!, 'vm-1', 'passed', twoIterations), entryReport(braced[3]!, null, 'missing', [])];
    const s = reportSummary('bench-1', reports);
    expect(s).toMatchObject({
      benchmarkId: 'bench-1',
      counts: { entries: 2, passed: 1, failed: 0, missing: 1 },
      configs: ['baseline', 'tuned'],
      tests: ['1'],
    });
    expect(s.method.confidenceInterval).toMatch(
      /95% confidence interval of the geometric mean.*Student t.*not computed below 3 iterations/,
    );
    expect(s.method.outliers).toMatch(/modified z-score/);
    const read = s.entries[0]!.read!;
    expect(read.bwMiBps).toMatchObject({ mean: 150, median: 150, min: 100, max: 200, values: [100, 200], outlierIterations: [] });
    expect([read.bwMiBps.ci95Low, read.bwMiBps.ci95High]).toEqual([null, null]);
    expect(read.bwMiBps.ci95Unavailable).toBe('2 iterations: an interval needs 3 or more');
    expect(read.bwMiBps.geoMean).toBeCloseTo(Math.sqrt(100 * 200), 9);
    expect(read.latencyMs).toMatchObject({ p50: 1, p90: 9, p99: 9, 'p99.9': 9, min: 1, max: 9, mean: 5, stddev: null });
    expect(s.entries[1]).toMatchObject({ status: 'missing', read: null, write: null });
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});

describe('real fio outputs the report must not get wrong (test/fixtures/fio)', () => {
  const fixture = (name: string) => readFile(path.join(__dirname, '../fixtures/fio', name), 'utf8');

  it('unified_rw_reporting=1: figures in a mixed direction (CSV columns mixed_*), not empty', async () => {
    const it1 = parseIteration(await fixture('unified-rw.json'));
    const [r] = entryReports(seedEntry, 'vm-1', 'passed', [it1, it1, it1]);
    expect(r!.read).toBeNull();
    expect(r!.write).toBeNull();
    expect(r!.mixed!.bwBytesPerSec.mean).toBe(it1.mixed.bwBytesPerSec);
    expect(r!.mixed!.latencySamples).toBe(3 * it1.mixed.clat.count);
    expect(r!.mixed!.clatStddevNs).toBeGreaterThan(0);
    const [row] = reportRows([r!]);
    expect(row!.mixed_bw_MiBps_mean).toBe((it1.mixed.bwBytesPerSec / 2 ** 20).toFixed(2));
    expect(row!['mixed_lat_p99.9_ms']).not.toBe('');
    expect(reportSummary('b', [r!]).entries[0]!.mixed!.bwMiBps.mean).toBeCloseTo(it1.mixed.bwBytesPerSec / 2 ** 20, 9);
  });

  it('several groups: one result per group, the CSV says which (fio_group); merged only when asked', async () => {
    const it1 = parseIteration(await fixture('two-groups.json'));
    const reports = entryReports(seedEntry, 'vm-1', 'passed', [it1, it1]);
    expect(reports.map((r) => r.fioGroup)).toEqual([0, 1]);
    expect(reports[0]!.write!.bwBytesPerSec.mean).toBe(it1.groups[0]!.write.bwBytesPerSec);
    expect(reports[1]!.write!.bwBytesPerSec.mean).toBe(it1.groups[1]!.write.bwBytesPerSec);
    // 1 MiB and 4 KiB latencies stay apart.
    expect(reports[0]!.write!.latencySamples).toBe(2 * it1.groups[0]!.write.clat.count);
    expect(reports[1]!.write!.latencySamples).toBe(2 * it1.groups[1]!.write.clat.count);
    const rows = reportRows(reports);
    expect(rows.map((r) => r.fio_group)).toEqual(['0', '1']);
    expect(Object.keys(rows[0]!).indexOf('fio_group')).toBe(Object.keys(rows[0]!).indexOf('test_id') + 1);
    // One-group outputs keep the CSV as it was: no fio_group column.
    expect(Object.keys(reportRows([entryReport(seedEntry, 'vm-1', 'passed', twoIterations)])[0]!)).not.toContain('fio_group');
    const [merged] = entryReports(seedEntry, 'vm-1', 'passed', [it1, it1], {}, 'merged');
    expect(merged!.fioGroup).toBeUndefined();
    expect(merged!.write!.iterationTotals.runtimeMs[0]).toBe(it1.groups[0]!.write.runtimeMs + it1.groups[1]!.write.runtimeMs);
  });
});

describe('deferred histograms (EntryExtras.deferHistograms)', () => {
  it('leave clatHistogramNs empty until fillHistograms writes in what an ordinary report has, in the same place', () => {
    const outputs = ['two-groups.json', 'unified-rw.json', 'number-ios-1000.json'].map((f) =>
      parseIteration(readFileSync(path.join(import.meta.dirname, '../fixtures/fio', f), 'utf8')),
    );
    const ordinary = entryReports(seedEntry, 'vm-1', 'passed', outputs);
    const deferred = entryReports(seedEntry, 'vm-1', 'passed', outputs, { deferHistograms: true });
    expect(deferred.flatMap((r) => REPORTED_DIRECTIONS.map((d) => r[d]?.clatHistogramNs.length ?? 0)).every((n) => n === 0)).toBe(true);
    deferred.forEach(fillHistograms);
    expect(JSON.stringify(deferred)).toBe(JSON.stringify(ordinary));
    expect(ordinary.some((r) => REPORTED_DIRECTIONS.some((d) => (r[d]?.clatHistogramNs.length ?? 0) > 0))).toBe(true);
  });
});
