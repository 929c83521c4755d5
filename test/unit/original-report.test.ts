import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../src/activities/report';
import { LocalArtifactStore } from '../../src/artifacts/local';
import type { MountConfig } from '../../src/core/configs';
import { layout } from '../../src/core/layout';
import { buildMatrix } from '../../src/core/matrix';
import {
  ORIGINAL_REPORT_COLUMNS,
  formatNumber,
  originalConfigReportName,
  originalReportCsv,
  paramsCell,
  reportFileNames,
} from '../../src/core/original-report';
import { emptyBins } from '../../src/core/fio';
import { entryReport, parseIteration, type EntryReport } from '../../src/core/report';
import { parseTestCasesCsv } from '../../src/core/testcases';
import { originalReportColumns } from '../support/compat';
import { runFio } from './helpers/fio';

const MIB = 2 ** 20;
const configs: MountConfig[] = [
  { label: 'baseline', commit: 'v2.4.0', mountArgs: '', mountArgv: [] },
  { label: 'cached', commit: 'master', mountArgs: '--stat-cache-max-size-mb=32', mountArgv: ['--stat-cache-max-size-mb=32'] },
];
const tests = parseTestCasesCsv(
  'test_id,io_type,num_jobs,file_size,block_size,io_depth,nr_files,direct\nrw-1,randrw,2,1m,4k,1,1,0\n',
  'tests.csv',
);
const entries = buildMatrix(configs, tests);
/** Resource summary as the aggregation stores it (reportResources: MiB, MiB/s, %). */
const RESOURCES = {
  gcsfuse_cpu_percent: { avg: 42.5, peak: 130 },
  gcsfuse_rss_MiB: { avg: 100, peak: 250 },
  gcsfuse_vsz_MiB: { avg: 900, peak: 1000 },
  system_cpu_percent: { avg: 12.25, peak: 80 },
  fio_cpu_percent: { avg: 5, peak: 9 },
  page_cache_MiB: { avg: 2048, peak: 4096 },
  net_rx_MiBps: { avg: 10, peak: 20 },
  net_tx_MiBps: { avg: 1, peak: null },
};

interface RawDir {
  io_bytes: number;
  runtime: number;
  clat_ns: { N: number; min: number; max: number; mean: number };
}
interface RawOutput {
  jobs: { read: RawDir; write: RawDir }[];
}

let dir: string;
let outputs: string[];
let passed: EntryReport;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-original-report-'));
  // Two iterations of a 2-job random read/write, as the agent runs them (json+, jobs reported apart).
  outputs = [];
  for (const i of [1, 2]) {
    const run = await runFio(dir, `it-${i}.json`, [
      '--name=rw',
      '--rw=randrw',
      '--bs=4k',
      '--size=1m',
      '--numjobs=2',
      '--ioengine=psync',
      `--filename_format=f.$jobnum`,
      '--output-format=json+',
    ]);
    outputs.push(run.output);
  }
  passed = entryReport(
    entries[0]!,
    'vm-1',
    'passed',
    outputs.map((o) => parseIteration(o)),
    { resources: RESOURCES },
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function rowsOf(csv: string): Record<string, string>[] {
  return parse(csv, { columns: true }) as Record<string, string>[];
}

describe("the original tool's combined report", () => {
  it("has compat.md's header, field by field", () => {
    const expected = originalReportColumns();
    expect([...ORIGINAL_REPORT_COLUMNS]).toEqual(expected);
    const header = (parse(originalReportCsv([passed]), { to_line: 1 }) as string[][])[0]!;
    expect(header).toHaveLength(expected.length);
    header.forEach((name, i) => expect(name, `column ${i + 1}`).toBe(expected[i]));
  });

  it('puts the right values in the units the headers name (MB = 10^6 bytes, ms from ns)', () => {
    const row = rowsOf(originalReportCsv([passed]))[0]!;
    const raw = outputs.map((o) => JSON.parse(o.slice(o.indexOf('{'))) as RawOutput);
    for (const dir of ['read', 'write'] as const) {
      const Dir = dir === 'read' ? 'Read' : 'Write';
      // Jobs summed per iteration (bytes over the longest runtime), then the mean over iterations.
      const bw = raw.map((r) => r.jobs.reduce((s, j) => s + j[dir].io_bytes, 0) / (Math.max(...r.jobs.map((j) => j[dir].runtime)) / 1000));
      expect(Number(row[`${Dir} BW (MB/s)`])).toBeCloseTo(bw.reduce((a, b) => a + b, 0) / bw.length / 1e6, 2);
      const lats = raw.flatMap((r) => r.jobs.map((j) => j[dir].clat_ns));
      expect(Number(row[`${Dir} Min (ms)`])).toBeCloseTo(Math.min(...lats.map((l) => l.min)) / 1e6, 4);
      expect(Number(row[`${Dir} Max (ms)`])).toBeCloseTo(Math.max(...lats.map((l) => l.max)) / 1e6, 4);
      const n = lats.reduce((s, l) => s + l.N, 0);
      expect(Number(row[`${Dir} Avg (ms)`])).toBeCloseTo(lats.reduce((s, l) => s + l.N * l.mean, 0) / n / 1e6, 4);
      const stats = passed[dir]!;
      expect(row[`${Dir} StdDev (ms)`]).toBe(formatNumber(stats.clatStddevNs! / 1e6));
      for (const p of ['50', '90', '99']) expect(row[`${Dir} P${p} (ms)`]).toBe(formatNumber(stats.clatPercentilesNs[`p${p}`]! / 1e6));
      // Percentiles are ordered and inside [min, max]: a unit slip (us for ms) would break it.
      const [p50, p90, p99] = ['50', '90', '99'].map((p) => Number(row[`${Dir} P${p} (ms)`]));
      expect(p50).toBeLessThanOrEqual(p90!);
      expect(p90).toBeLessThanOrEqual(p99!);
      expect(p99).toBeLessThanOrEqual(Number(row[`${Dir} Max (ms)`]) + 1e-4);
    }
    expect(row).toMatchObject({
      'Matrix ID': '1',
      'Test ID': 'rw-1',
      Config: 'baseline',
      Commit: 'v2.4.0',
      'IOType|Jobs|FSize|BS|IOD|NrFiles|Direct': 'randrw|2|1m|4k|1|1|0',
      'Avg CPU (%)': '42.5',
      'Peak CPU (%)': '130',
      'Avg Mem (MB)': formatNumber((100 * MIB) / 1e6),
      'Peak Mem (MB)': formatNumber((250 * MIB) / 1e6),
      'Avg PgCache (GB)': formatNumber((2048 * MIB) / 1e9),
      'Peak PgCache (GB)': formatNumber((4096 * MIB) / 1e9),
      'Avg Sys CPU (%)': '12.25',
      'Peak Sys CPU (%)': '80',
      'Avg Net RX (MB/s)': formatNumber((10 * MIB) / 1e6),
      'Peak Net RX (MB/s)': formatNumber((20 * MIB) / 1e6),
      'Avg Net TX (MB/s)': formatNumber(MIB / 1e6),
      'Peak Net TX (MB/s)': '-',
      Iter: '2',
    });
    expect(row['Avg Mem (MB)']).toBe('104.8576');
  });

  it("has '-' for what an entry lacks (no writes, no resources) and leaves failed entries out", () => {
    const readOnly = parseIteration(outputs[0]!);
    readOnly.write = {
      ...readOnly.write,
      ioBytes: 0,
      bwBytesPerSec: 0,
      iops: 0,
      totalIos: 0,
      clat: { ...readOnly.write.clat, count: 0, bins: emptyBins() },
    };
    const noWrites = entryReport(entries[1]!, 'vm-2', 'passed', [readOnly]);
    const failed = entryReport(entries[0]!, 'vm-1', 'failed', []);
    const rows = rowsOf(originalReportCsv([failed, noWrites]));
    expect(rows.map((r) => r['Matrix ID'])).toEqual(['2']);
    const row = rows[0]!;
    for (const c of ORIGINAL_REPORT_COLUMNS.filter((c) => c.startsWith('Write') || /CPU|Mem|PgCache|Net/.test(c)))
      expect(row[c], c).toBe('-');
    expect(Number(row['Read BW (MB/s)'])).toBeGreaterThan(0);
  });

  it('joins the seven parameters, with - for a column the CSV does not have', () => {
    expect(
      paramsCell({ io_type: 'read', num_jobs: '4', file_size: '1g', block_size: '1m', io_depth: '8', nr_files: '2', direct: '1' }),
    ).toBe('read|4|1g|1m|8|2|1');
    expect(paramsCell({ block_size: '4k', io_depth: '32', num_jobs: '1', file_size: '1g' })).toBe('-|1|1g|4k|32|-|-');
  });

  it('formats numbers plainly', () => {
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(1.23456789)).toBe('1.2346');
    expect(formatNumber(1e-7)).toBe('0');
    expect(formatNumber(123456789.5)).toBe('123456789.5');
    expect(formatNumber(null)).toBe('-');
    expect(formatNumber(Number.NaN)).toBe('-');
  });
});

describe('report file names', () => {
  it('gives the report name to the format asked for', () => {
    expect(reportFileNames()).toEqual({ own: 'combined_report.csv' });
    expect(reportFileNames('default', 'nightly.csv')).toEqual({ own: 'nightly.csv' });
    expect(reportFileNames('original')).toEqual({ own: 'report.csv', original: 'combined_report.csv' });
    expect(reportFileNames('original', 'nightly.csv')).toEqual({ own: 'report.csv', original: 'nightly.csv' });
    expect(reportFileNames('original', 'report.csv')).toEqual({ own: 'combined_report.csv', original: 'report.csv' });
  });

  it('names per-config reports as the original does: <report name>_<label>.csv', () => {
    expect(originalConfigReportName('combined_report.csv', 'baseline')).toBe('combined_report_baseline.csv');
    expect(originalConfigReportName('nightly', 'x-1')).toBe('nightly_x-1.csv');
    expect(originalConfigReportName('combined_report.csv', 'a/b c')).toBe('combined_report_a_2Fb_20c.csv');
  });
});

describe('writeReport with the original format', () => {
  let root: string;
  let store: LocalArtifactStore;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-original-write-'));
    store = new LocalArtifactStore(root);
    const second = entryReport(
      entries[1]!,
      'vm-2',
      'passed',
      outputs.map((o) => parseIteration(o)),
    );
    for (const id of ['b-orig', 'b-config', 'b-default', 'b-bad'])
      await store.put(layout.report(id, 'results.json'), JSON.stringify([passed, second]));
    await store.put(
      layout.config('b-config'),
      JSON.stringify({ benchmarkId: 'b-config', reportFormat: 'original', reportName: 'nightly.csv' }),
    );
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const file = (id: string, name: string) => readFile(path.join(root, id, 'report', name), 'utf8');

  it('writes the original combined report under the report name, ours beside it, and per-config reports of both', async () => {
    const r = await writeReport(store, {
      benchmarkId: 'b-orig',
      reportFormat: 'original',
      reportName: 'combined_report.csv',
      separateConfigs: true,
    });
    expect(r.files).toEqual({ own: 'report.csv', original: 'combined_report.csv' });
    expect(r.keys.map((k) => path.basename(k))).toEqual([
      'report.csv',
      'results.json',
      'combined_report.csv',
      'summary.json',
      'report.html',
      'baseline.csv',
      'combined_report_baseline.csv',
      'cached.csv',
      'combined_report_cached.csv',
    ]);
    const original = await file('b-orig', 'combined_report.csv');
    expect(original.split('\n')[0]).toBe(originalReportCsv([]).trim());
    expect(rowsOf(original).map((r) => r.Config)).toEqual(['baseline', 'cached']);
    expect(rowsOf(await file('b-orig', 'combined_report_cached.csv')).map((r) => [r['Matrix ID'], r.Config])).toEqual([['2', 'cached']]);
    // Ours is the richer report: its own columns, not the original's.
    expect(Object.keys(rowsOf(await file('b-orig', 'report.csv'))[0]!)).not.toContain('Read BW (MB/s)');
  });

  it("takes the format and name from the benchmark's config.json when the workflow does not pass them", async () => {
    const r = await writeReport(store, { benchmarkId: 'b-config' });
    expect(r.files).toEqual({ own: 'report.csv', original: 'nightly.csv' });
    expect(rowsOf(await file('b-config', 'nightly.csv'))).toHaveLength(2);
  });

  it('keeps the default: only our report, as combined_report.csv', async () => {
    const r = await writeReport(store, 'b-default');
    expect(r.files).toEqual({ own: 'combined_report.csv' });
    expect(r.keys.map((k) => path.basename(k))).toEqual(['combined_report.csv', 'results.json', 'summary.json', 'report.html']);
  });

  it('falls back to combined_report.csv for a name that would leave report/ or replace another file', async () => {
    for (const bad of ['../escape.csv', 'summary.json']) {
      const r = await writeReport(store, { benchmarkId: 'b-bad', reportFormat: 'original', reportName: bad });
      expect(r.files.original).toBe('combined_report.csv');
      expect(r.warning).toContain(JSON.stringify(bad));
    }
    expect(JSON.parse(await file('b-bad', 'summary.json'))).toHaveProperty('benchmarkId', 'b-bad');
  });
});
