/**
 * Export rows built from real fio outputs (tiny jobs run here with an argv, never a shell): every
 * value is checked against the number fio printed for that iteration, and against the
 * per-iteration values the report keeps in results.json; the BigQuery schema and the rows agree.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MountConfig } from '../../src/core/configs';
import {
  EXPORT_COLUMNS,
  bigQuerySchema,
  bigQuerySchemaJson,
  entryRows,
  exportRows,
  parseBigQueryTable,
  parseExportIteration,
  toNdjson,
  type ExportEntryInput,
  type ExportIteration,
  type ExportRow,
} from '../../src/core/export-rows';
import type { Direction } from '../../src/core/fio';
import { buildMatrix, type MatrixEntry } from '../../src/core/matrix';
import { ENTRY_METADATA_SCHEMA, type EntryMetadata } from '../../src/core/metadata';
import { PERCENTILES, entryReport, parseIteration, percentileKey } from '../../src/core/report';
import { parseTestCasesCsv } from '../../src/core/testcases';
import { expectInputError } from './helpers/input-error';
import { runFio, type FioRun } from './helpers/fio';

interface RawLat {
  N: number;
  min: number;
  max: number;
  mean: number;
  percentile?: Record<string, number>;
}
interface RawDir {
  io_bytes: number;
  bw_bytes: number;
  iops: number;
  runtime: number;
  total_ios: number;
  clat_ns: RawLat;
}
interface RawJob {
  read: RawDir;
  write: RawDir;
  trim: RawDir;
}
interface RawOutput {
  'fio version': string;
  timestamp_ms: number;
  jobs: RawJob[];
}

const raw = (run: FioRun): RawOutput => JSON.parse(run.output) as RawOutput;

const config: MountConfig = {
  label: 'tuned',
  commit: 'v3.4.0',
  mountArgs: '--implicit-dirs --o=ro',
  mountArgv: ['--implicit-dirs', '--o=ro'],
};
const TESTS_CSV = 'test_id,io_type,block_size,io_depth,num_jobs,file_size,direct\nmixed,randrw,4k,1,2,256k,0\nseq,read,8k,1,1,128k,0\n';
const [mixedEntry, readEntry] = buildMatrix([config], parseTestCasesCsv(TESTS_CSV, 'tests.csv')) as [MatrixEntry, MatrixEntry];

const metadata: EntryMetadata = {
  schema: ENTRY_METADATA_SCHEMA,
  benchmarkId: 'bench-1',
  vm: 'vm-1',
  matrixId: 1,
  testId: 'mixed',
  collectedAt: '2026-01-01T00:00:00.000Z',
  host: {
    hostname: 'vm-1',
    machineType: 'n2-standard-16',
    zone: 'us-west4-a',
    kernelRelease: '6.1.0-31-cloud-amd64',
    arch: 'x64',
    cpuCount: 16,
    cpuModel: 'Intel(R) Xeon(R)',
    memoryTotalBytes: 64 * 2 ** 30,
    nodeVersion: 'v20.19.0',
    fioVersion: 'fio-3.33',
  },
  gcsfuse: {
    binary: '/opt/gcsfuse/bin/gcsfuse',
    versionOutput: 'gcsfuse version 3.4.0 (Go version go1.24.0)',
    version: '3.4.0',
    goVersion: 'go1.24.0',
    moduleVersion: 'v3.4.0',
    commit: '0123456789ab',
    binarySha256: 'f'.repeat(64),
  },
  mount: {
    kind: 'gcsfuse',
    configLabel: 'tuned',
    configCommit: 'v3.4.0',
    mountArgs: '--implicit-dirs --o=ro',
    mountArgv: ['--implicit-dirs', '--o=ro'],
    mountPoint: '/mnt/gcs',
  },
  job: { sha256: 'a'.repeat(64), bytes: 321 },
};

let dir: string;
let grouped: FioRun[]; // 3 iterations: randrw, 1 job, group_reporting, json+ (fio's numbers are the iteration's)
let multi: FioRun; // randrw, 2 jobs reported separately, json+ (the iteration is their sum)
let plain: FioRun; // sequential read, json without histograms

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-export-'));
  for (const sub of ['g1', 'g2', 'g3', 'multi', 'plain']) await mkdir(path.join(dir, sub));
  const randrw = (sub: string, numjobs: number) => [
    '--name=t',
    `--directory=${path.join(dir, sub)}`,
    '--size=256k',
    '--bs=4k',
    '--rw=randrw',
    '--ioengine=psync',
    `--numjobs=${numjobs}`,
    '--randrepeat=1',
    '--output-format=json+',
  ];
  const runs = await Promise.all([
    runFio(dir, 'g1.json', [...randrw('g1', 1), '--group_reporting']),
    runFio(dir, 'g2.json', [...randrw('g2', 1), '--group_reporting']),
    runFio(dir, 'g3.json', [...randrw('g3', 1), '--group_reporting']),
    runFio(dir, 'multi.json', randrw('multi', 2)),
    runFio(dir, 'plain.json', [
      '--name=s',
      `--directory=${path.join(dir, 'plain')}`,
      '--size=128k',
      '--bs=8k',
      '--rw=read',
      '--ioengine=psync',
      '--output-format=json',
    ]),
  ]);
  grouped = runs.slice(0, 3);
  multi = runs[3]!;
  plain = runs[4]!;
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const iterationsOf = (runs: FioRun[]): ExportIteration[] => runs.map((r, i) => parseExportIteration(i + 1, r.output));
const input = (entry: MatrixEntry, runs: FioRun[], meta: EntryMetadata | null = metadata): ExportEntryInput => ({
  benchmarkId: 'bench-1',
  entry,
  vm: 'vm-1',
  iterations: iterationsOf(runs),
  metadata: meta,
});
const rowOf = (rows: ExportRow[], iteration: number, direction: Direction) => {
  const found = rows.filter((r) => r.iteration === iteration && r.direction === direction);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const RW: Direction[] = ['read', 'write'];

describe('entryRows from real fio outputs', () => {
  it('gives one row per iteration and direction with I/O, in iteration order', () => {
    const rows = entryRows(input(mixedEntry, grouped));
    expect(rows.map((r) => `${r.iteration}/${r.direction}`)).toEqual(['1/read', '1/write', '2/read', '2/write', '3/read', '3/write']);
    const keys = rows.map((r) => `${r.benchmark_id}/${r.matrix_id}/${r.iteration}/${r.direction}`);
    expect(new Set(keys).size).toBe(rows.length);
  });

  it("has fio's own numbers of each iteration (group_reporting: one job is the iteration)", () => {
    const rows = entryRows(input(mixedEntry, grouped));
    grouped.forEach((run, i) => {
      const out = raw(run);
      expect(out.jobs).toHaveLength(1);
      for (const d of RW) {
        const fio = out.jobs[0]![d];
        expect(fio.total_ios).toBeGreaterThan(0);
        const row = rowOf(rows, i + 1, d);
        expect(row.bw_bytes_per_sec).toBe(fio.bw_bytes);
        expect(row.iops).toBeCloseTo(fio.iops, 6);
        expect(row.runtime_ms).toBe(fio.runtime);
        expect(row.io_bytes).toBe(fio.io_bytes);
        expect(row.lat_mean_ns).toBeCloseTo(fio.clat_ns.mean, 6);
        expect(row.lat_max_ns).toBe(fio.clat_ns.max);
        // fio's percentile list is read from the same histogram the row's percentiles come from.
        const p = fio.clat_ns.percentile!;
        expect(row.lat_p50_ns).toBe(p['50.000000']);
        expect(row.lat_p90_ns).toBe(p['90.000000']);
        expect(row.lat_p99_ns).toBe(p['99.000000']);
        expect(row.lat_p999_ns).toBe(p['99.900000']);
        expect(row.fio_version).toBe(out['fio version']);
        expect(row.recorded_at).toBe(new Date(out.timestamp_ms).toISOString());
      }
    });
  });

  it('sums the jobs of an iteration as the report does (bytes over the longest runtime, pooled latency)', () => {
    const out = raw(multi);
    expect(out.jobs).toHaveLength(2);
    const rows = entryRows(input(mixedEntry, [multi]));
    for (const d of RW) {
      const jobs = out.jobs.map((j) => j[d]);
      const row = rowOf(rows, 1, d);
      const ioBytes = jobs.reduce((s, j) => s + j.io_bytes, 0);
      const runtime = Math.max(...jobs.map((j) => j.runtime));
      expect(row.io_bytes).toBe(ioBytes);
      expect(row.runtime_ms).toBe(runtime);
      expect(row.bw_bytes_per_sec).toBe(Math.floor((ioBytes * 1000) / runtime));
      expect(row.iops).toBeCloseTo((jobs.reduce((s, j) => s + j.total_ios, 0) * 1000) / runtime, 6);
      expect(row.lat_max_ns).toBe(Math.max(...jobs.map((j) => j.clat_ns.max)));
      const n = jobs.reduce((s, j) => s + j.clat_ns.N, 0);
      expect(row.lat_mean_ns).toBeCloseTo(jobs.reduce((s, j) => s + j.clat_ns.mean * j.clat_ns.N, 0) / n, 6);
    }
  });

  it('equals the per-iteration values results.json keeps for the same outputs', () => {
    for (const runs of [grouped, [multi, ...grouped]]) {
      const rows = entryRows(input(mixedEntry, runs));
      const report = entryReport(
        mixedEntry,
        'vm-1',
        'passed',
        runs.map((r) => parseIteration(r.output)),
      );
      for (const d of RW) {
        const stats = report[d]!;
        const dirRows = rows.filter((r) => r.direction === d);
        expect(dirRows.map((r) => r.bw_bytes_per_sec)).toEqual(stats.bwBytesPerSec.values);
        expect(dirRows.map((r) => r.iops)).toEqual(stats.iops.values);
        expect(dirRows.map((r) => r.io_bytes)).toEqual(stats.iterationTotals.ioBytes);
        expect(dirRows.map((r) => r.runtime_ms)).toEqual(stats.iterationTotals.runtimeMs);
        expect(dirRows.map((r) => r.lat_mean_ns)).toEqual(stats.clatPerIteration.meanNs.values);
        expect(dirRows.map((r) => r.lat_p50_ns)).toEqual(stats.clatPerIteration.percentilesNs[percentileKey(50)]!.values);
        expect(dirRows.map((r) => r.lat_p999_ns)).toEqual(stats.clatPerIteration.percentilesNs[percentileKey(99.9)]!.values);
        expect(Math.max(...dirRows.map((r) => r.lat_max_ns!))).toBe(stats.clatMaxNs);
      }
    }
  });

  it('leaves percentiles null without json+ histograms, and directions without I/O out', () => {
    const out = raw(plain);
    const rows = entryRows(input(readEntry, [plain]));
    expect(rows.map((r) => r.direction)).toEqual(['read']);
    const row = rows[0]!;
    expect(row).toMatchObject({ lat_p50_ns: null, lat_p90_ns: null, lat_p99_ns: null, lat_p999_ns: null, io_bytes: 128 * 1024 });
    expect(row.lat_mean_ns).toBeCloseTo(out.jobs[0]!.read.clat_ns.mean, 6);
    expect(row.lat_max_ns).toBe(out.jobs[0]!.read.clat_ns.max);
    expect(row.bw_bytes_per_sec).toBe(out.jobs[0]!.read.bw_bytes);
  });

  it("keeps a direction's idle iteration as a row of zeros, like the report's per-iteration values", () => {
    // Iteration 2 only read: its write row says so, instead of leaving a gap a dashboard would hide.
    const runs = [grouped[0]!, plain];
    const rows = entryRows(input(mixedEntry, runs));
    expect(rows.map((r) => `${r.iteration}/${r.direction}`)).toEqual(['1/read', '1/write', '2/read', '2/write']);
    expect(rowOf(rows, 2, 'write')).toMatchObject({
      bw_bytes_per_sec: 0,
      iops: 0,
      io_bytes: 0,
      runtime_ms: 0,
      lat_mean_ns: null,
      lat_max_ns: null,
      lat_p50_ns: null,
    });
    const report = entryReport(
      mixedEntry,
      'vm-1',
      'passed',
      runs.map((r) => parseIteration(r.output)),
    );
    expect(rows.filter((r) => r.direction === 'write').map((r) => r.bw_bytes_per_sec)).toEqual(report.write!.bwBytesPerSec.values);
  });

  it('carries the context to reproduce each row: run, config, test parameters, machine, versions, job hash', () => {
    const row = entryRows(input(mixedEntry, grouped))[0]!;
    expect(row).toMatchObject({
      benchmark_id: 'bench-1',
      matrix_id: 1,
      test_id: 'mixed',
      config_label: 'tuned',
      commit: 'v3.4.0',
      mount_args: '--implicit-dirs --o=ro',
      vm: 'vm-1',
      block_size: '4k',
      io_depth: 1,
      num_jobs: 2,
      file_size: '256k',
      nr_files: null, // not a column of this CSV
      io_type: 'randrw',
      direct: 0,
      gcsfuse_version: '3.4.0',
      gcsfuse_build_commit: '0123456789ab',
      kernel: '6.1.0-31-cloud-amd64',
      machine_type: 'n2-standard-16',
      cpu_count: 16,
      job_sha256: 'a'.repeat(64),
    });
  });

  it('names a go-install build by its module version, and leaves context null without metadata', () => {
    const goInstall: EntryMetadata = {
      ...metadata,
      gcsfuse: { ...metadata.gcsfuse!, version: 'unknown', moduleVersion: 'v3.4.1-0.20250101000000-0123456789ab' },
    };
    expect(entryRows(input(mixedEntry, grouped, goInstall))[0]!.gcsfuse_version).toBe('v3.4.1-0.20250101000000-0123456789ab');
    const local: EntryMetadata = { ...metadata, gcsfuse: null };
    expect(entryRows(input(mixedEntry, grouped, local))[0]).toMatchObject({
      gcsfuse_version: null,
      gcsfuse_build_commit: null,
      machine_type: 'n2-standard-16',
    });
    const none = entryRows(input(mixedEntry, grouped, null))[0]!;
    expect(none).toMatchObject({ gcsfuse_version: null, kernel: null, machine_type: null, cpu_count: null, job_sha256: null });
    // What fio itself says is kept even without metadata.
    expect(none.fio_version).toBe(raw(grouped[0]!)['fio version']);
  });

  it('orders rows of many entries by matrix id, then iteration', () => {
    const rows = exportRows([input(readEntry, [plain]), input(mixedEntry, [grouped[0]!])]);
    expect(rows.map((r) => `${r.matrix_id}/${r.iteration}/${r.direction}`)).toEqual(['1/1/read', '1/1/write', '2/1/read']);
  });
});

describe('resource metrics, the metadata prefetch and integer parameters', () => {
  it('are columns of our rows, with the types the original uses for the integers', () => {
    const types = new Map<string, string>(EXPORT_COLUMNS.map((c) => [c.name, c.type]));
    for (const c of ['io_depth', 'num_jobs', 'nr_files', 'direct', 'metadata_prefetch_files']) expect(types.get(c), c).toBe('INT64');
    for (const c of [
      'gcsfuse_cpu_percent_avg',
      'gcsfuse_cpu_percent_peak',
      'gcsfuse_rss_bytes_avg',
      'page_cache_bytes_peak',
      'net_rx_bytes_per_sec_avg',
      'net_tx_bytes_per_sec_peak',
      'system_cpu_percent_avg',
      'metadata_prefetch_ms',
    ]) {
      expect(types.get(c), c).toBe('FLOAT64');
    }
  });

  it("carry each iteration's own resource summary and prefetch, null where none was stored", () => {
    const metric = (avg: number, peak: number) => ({ avg, peak, samples: 3 });
    const summary = (k: number) =>
      ({
        systemCpuPercent: metric(10 * k, 20 * k),
        systemIowaitPercent: metric(0, 0),
        gcsfuseCpuPercent: metric(k, 2 * k),
        gcsfuseRssBytes: metric(1e6 * k, 2e6 * k),
        gcsfuseVszBytes: metric(0, 0),
        fioCpuPercent: metric(0, 0),
        fioRssBytes: metric(0, 0),
        fioProcesses: metric(1, 1),
        pageCacheBytes: metric(3e9 * k, 4e9 * k),
        memAvailableBytes: metric(0, 0),
        netRxBytesPerSec: metric(5e6 * k, 6e6 * k),
        netTxBytesPerSec: { avg: null, peak: null, samples: 0 },
        loopbackRxBytesPerSec: metric(0, 0),
        loopbackTxBytesPerSec: metric(0, 0),
      }) as NonNullable<ExportIteration['resources']>;
    const iterations = iterationsOf(grouped.slice(0, 2));
    iterations[0]!.resources = summary(1);
    iterations[0]!.prefetch = { dir: '/mnt/x', elapsedMs: 12.5, files: 7, dirs: 2 };
    iterations[1]!.resources = summary(2);
    const rows = entryRows({ ...input(mixedEntry, grouped), iterations });
    expect(rowOf(rows, 1, 'read')).toMatchObject({
      gcsfuse_cpu_percent_avg: 1,
      gcsfuse_cpu_percent_peak: 2,
      gcsfuse_rss_bytes_avg: 1e6,
      system_cpu_percent_peak: 20,
      page_cache_bytes_avg: 3e9,
      net_rx_bytes_per_sec_peak: 6e6,
      net_tx_bytes_per_sec_avg: null,
      metadata_prefetch_ms: 12.5,
      metadata_prefetch_files: 7,
    });
    expect(rowOf(rows, 2, 'write')).toMatchObject({
      gcsfuse_cpu_percent_avg: 2,
      page_cache_bytes_peak: 8e9,
      metadata_prefetch_ms: null,
      metadata_prefetch_files: null,
    });
  });
});

describe('schema and rows agree', () => {
  const TYPE_CHECK: Record<string, (v: unknown) => boolean> = {
    STRING: (v) => typeof v === 'string',
    INT64: (v) => typeof v === 'number' && Number.isSafeInteger(v),
    FLOAT64: (v) => typeof v === 'number' && Number.isFinite(v),
    TIMESTAMP: (v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(v) && !Number.isNaN(Date.parse(v)),
  };

  it('every row has exactly the schema columns, each value of its type, null only where NULLABLE', () => {
    const rows = [
      ...entryRows(input(mixedEntry, [multi, ...grouped])),
      ...entryRows(input(readEntry, [plain], null)),
      ...entryRows(input(mixedEntry, [grouped[0]!, plain])),
    ];
    const schema = bigQuerySchema();
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(schema.map((f) => f.name).sort());
      for (const f of schema) {
        const v = row[f.name as keyof ExportRow];
        if (v === null) expect(f.mode, `${f.name} is null`).toBe('NULLABLE');
        else expect(TYPE_CHECK[f.type]!(v), `${f.name} = ${JSON.stringify(v)} is not ${f.type}`).toBe(true);
      }
    }
    // Some NULLABLE column was null and some was set, so both paths were checked.
    expect(rows.some((r) => r.lat_p50_ns === null) && rows.some((r) => r.lat_p50_ns !== null)).toBe(true);
  });

  it('NDJSON has one row per line, keys in schema order, and reads back to the rows', () => {
    const rows = entryRows(input(mixedEntry, grouped));
    const text = toNdjson(rows);
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(rows.length);
    for (const [i, line] of lines.entries()) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(parsed)).toEqual(EXPORT_COLUMNS.map((c) => c.name));
      expect(parsed).toEqual(rows[i]);
    }
    expect(toNdjson([])).toBe('');
  });

  it('the schema file is the column list: names with units, types, modes and descriptions', () => {
    const file = JSON.parse(bigQuerySchemaJson()) as unknown;
    expect(file).toEqual(bigQuerySchema());
    expect(bigQuerySchema().map((f) => f.name)).toEqual(EXPORT_COLUMNS.map((c) => c.name));
    for (const f of bigQuerySchema()) {
      expect(Object.keys(f)).toEqual(['name', 'type', 'mode', 'description']);
      expect(f.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(f.description.length).toBeGreaterThan(10);
    }
    // Units in names: every latency is _ns, bandwidth per second, sizes in bytes, runtime in ms.
    const names = bigQuerySchema().map((f) => f.name);
    expect(names.filter((n) => n.startsWith('lat_')).every((n) => n.endsWith('_ns'))).toBe(true);
    expect(names).toEqual(expect.arrayContaining(['bw_bytes_per_sec', 'io_bytes', 'runtime_ms']));
    // One percentile column per percentile the report reads.
    expect(names.filter((n) => /^lat_p\d+_ns$/.test(n))).toEqual(PERCENTILES.map((p) => `lat_p${String(p).replace('.', '')}_ns`));
    // What identifies a row can never be null.
    for (const key of ['benchmark_id', 'matrix_id', 'iteration', 'direction'])
      expect(bigQuerySchema().find((f) => f.name === key)?.mode).toBe('REQUIRED');
  });
});

describe('parseBigQueryTable', () => {
  it('reads project.dataset.table and bq-style project:dataset.table', () => {
    expect(parseBigQueryTable('my-project.bench_results.iterations')).toEqual({
      project: 'my-project',
      dataset: 'bench_results',
      table: 'iterations',
    });
    expect(parseBigQueryTable('my-project:bench_results.iterations-v2')).toEqual({
      project: 'my-project',
      dataset: 'bench_results',
      table: 'iterations-v2',
    });
    expect(parseBigQueryTable('example.com:my-project.ds.t')).toEqual({ project: 'example.com:my-project', dataset: 'ds', table: 't' });
  });

  it('refuses anything else with an InputError naming the flag', () => {
    for (const bad of [
      'dataset.table',
      'my-project.ds',
      'My-Project.ds.t',
      'my-project.ds.t.x',
      'my-project.d-s.t',
      'my-project.ds.t;DROP',
      '',
      'my-project.ds.`t`',
    ]) {
      expectInputError(() => parseBigQueryTable(bad), { flag: '--bigquery' }, '--bigquery: ', 'project.dataset.table');
    }
  });
});

describe('entryRows: mixed, fio groups and errors (real fio outputs of test/fixtures/fio)', () => {
  const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, '../fixtures/fio', name), 'utf8');
  const fromTexts = (texts: string[]): ExportEntryInput => ({
    benchmarkId: 'bench-1',
    entry: mixedEntry,
    vm: 'vm-1',
    iterations: texts.map((t, i) => parseExportIteration(i + 1, t)),
    metadata,
  });

  it("exports a unified_rw_reporting=1 run (only a mixed section) as mixed rows, with the report's values", () => {
    const text = fixture('unified-rw.json');
    const rows = entryRows(fromTexts([text, text]));
    expect(rows.map((r) => `${r.iteration}/${r.direction}`)).toEqual(['1/mixed', '2/mixed']);
    const report = entryReport(mixedEntry, 'vm-1', 'passed', [parseIteration(text), parseIteration(text)]);
    expect(rows.map((r) => r.bw_bytes_per_sec)).toEqual(report.mixed!.bwBytesPerSec.values);
    expect(rows[0]!.lat_p999_ns).toBe(report.mixed!.clatPercentilesNs['p99.9']);
    expect(rows[0]!.fio_group).toBeNull();
  });

  it('gives each fio group its own rows, named by fio_group, with the figures of that group alone', () => {
    const text = fixture('two-groups.json');
    const rows = entryRows(fromTexts([text]));
    expect(rows.map((r) => `${r.fio_group}/${r.direction}`)).toEqual(['0/write', '1/write']);
    const groups = JSON.parse(text).jobs as { groupid: number; write: { io_bytes: number } }[];
    for (const g of [0, 1]) {
      const bytes = groups.filter((j) => j.groupid === g).reduce((s, j) => s + j.write.io_bytes, 0);
      expect(rows.find((r) => r.fio_group === g)!.io_bytes).toBe(bytes);
    }
    // 1 MiB writes and 4 KiB writes are not mixed: the groups' p50 differ.
    expect(rows[0]!.lat_p50_ns).not.toBe(rows[1]!.lat_p50_ns);
  });

  it('names the file of an output that is cut off', () => {
    const text = fixture('two-groups.json');
    expect(() => parseExportIteration(1, text.slice(0, text.length / 2), 'gs://b/x/iteration-1.fio.json')).toThrow(
      /^gs:\/\/b\/x\/iteration-1\.fio\.json: /,
    );
  });

  it('has one latency percentile column per percentile of metrics.ts', () => {
    expect(EXPORT_COLUMNS.map((c) => c.name).filter((n) => /^lat_p\d+_ns$/.test(n))).toEqual(
      PERCENTILES.map((p) => `lat_${percentileKey(p).replace('.', '')}_ns`),
    );
  });
});
