/**
 * The original tool's combined_report.csv (compat.md): its header names, in its order, with the
 * right values in the unit each header names. Pure: built from the aggregated EntryReports.
 *
 * Units. The original mixes them: its "MB/s" bandwidth is fio's KiB/s divided by 1000 and averaged
 * over jobs, its "ms" latencies are fio's clat_ns divided by 1000 (microseconds), and its monitor
 * divides memory and network by 1024 (MiB, "GB" = GiB). Here every header means what it says, in
 * SI units, so the numbers in one row can be compared with each other:
 *   MB   = 10^6 bytes  (Read/Write BW (MB/s), Avg/Peak Mem (MB), Avg/Peak Net RX/TX (MB/s))
 *   GB   = 10^9 bytes  (Avg/Peak PgCache (GB))
 *   ms   = 10^-3 s     (latencies, from fio's ns)
 *   CPU % = gcsfuse's CPU time over wall time, 100 = one core busy (may exceed 100); Sys CPU % =
 *          the whole machine's busy share, 0-100.
 * Bandwidth is the mean over iterations of each iteration's bandwidth with jobs summed (fio's
 * group_reporting: bytes over the longest job's runtime); latencies are pooled over all jobs and
 * iterations (percentiles from the merged histogram, never averaged).
 */
import { stringify } from 'csv-stringify/sync';
import { isSafeId } from './ids';
import { metricKind, MIB, NS_PER_MS, type Percentile } from './metrics';
import type { EntryReport } from './report';

/** The original's header, exactly as compat.md lists it. */
export const ORIGINAL_REPORT_COLUMNS = [
  'Matrix ID',
  'Test ID',
  'Config',
  'Commit',
  'IOType|Jobs|FSize|BS|IOD|NrFiles|Direct',
  'Read BW (MB/s)',
  'Write BW (MB/s)',
  'Read Min (ms)',
  'Read Max (ms)',
  'Read Avg (ms)',
  'Read StdDev (ms)',
  'Read P50 (ms)',
  'Read P90 (ms)',
  'Read P99 (ms)',
  'Write Min (ms)',
  'Write Max (ms)',
  'Write Avg (ms)',
  'Write StdDev (ms)',
  'Write P50 (ms)',
  'Write P90 (ms)',
  'Write P99 (ms)',
  'Avg CPU (%)',
  'Peak CPU (%)',
  'Avg Mem (MB)',
  'Peak Mem (MB)',
  'Avg PgCache (GB)',
  'Peak PgCache (GB)',
  'Avg Sys CPU (%)',
  'Peak Sys CPU (%)',
  'Avg Net RX (MB/s)',
  'Peak Net RX (MB/s)',
  'Avg Net TX (MB/s)',
  'Peak Net TX (MB/s)',
  'Iter',
] as const;

export type OriginalReportColumn = (typeof ORIGINAL_REPORT_COLUMNS)[number];

/** The test parameters the joined cell holds, in its order (IOType|Jobs|FSize|BS|IOD|NrFiles|Direct). */
export const ORIGINAL_PARAMS_CELL_COLUMNS = ['io_type', 'num_jobs', 'file_size', 'block_size', 'io_depth', 'nr_files', 'direct'] as const;

export const BYTES_PER_MB = 1e6;
export const BYTES_PER_GB = 1e9;
export { NS_PER_MS };
/** Our resource summary is in MiB (see reportResources in resources.ts). */
const BYTES_PER_MIB = MIB;
/** The percentiles the original reports (P50, P90, P99): must be percentiles metrics.ts defines. */
export const ORIGINAL_PERCENTILES = [50, 90, 99] as const satisfies readonly Percentile[];
const BW = metricKind('bw')!;
const MEAN_LAT = metricKind('mean_lat')!;
const [P50, P90, P99] = ORIGINAL_PERCENTILES.map((p) => metricKind(`p${p}_lat`)!);

/** What the original prints for a number it does not have; its uploader loads it as NULL. */
export const NO_VALUE = '-';

/** A number for the CSV: at most 4 decimals, no exponent, no trailing zeros. */
export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return NO_VALUE;
  return String(Number(v.toFixed(4)));
}

/** The seven parameters joined with '|', '-' for one the test-cases CSV does not have. */
export function paramsCell(params: Readonly<Record<string, string>>): string {
  return ORIGINAL_PARAMS_CELL_COLUMNS.map((c) => params[c] ?? NO_VALUE).join('|');
}

interface AvgPeak {
  avg: number | null;
  peak: number | null;
}

function avgPeak(resources: object | null | undefined, key: string): AvgPeak | null {
  const v = (resources as Record<string, unknown> | null | undefined)?.[key] as Partial<AvgPeak> | undefined;
  if (!v || typeof v !== 'object') return null;
  return { avg: typeof v.avg === 'number' ? v.avg : null, peak: typeof v.peak === 'number' ? v.peak : null };
}

const scale = (v: number | null | undefined, factor: number) => (v === null || v === undefined ? null : v * factor);

/** The values of one report row, by column, as numbers (null: no value) or text. */
export function originalRowValues(r: EntryReport): Record<OriginalReportColumn, string | number | null> {
  const lat = (dir: 'read' | 'write') => {
    const d = r[dir];
    const has = !!d && d.latencySamples > 0;
    const ms = (ns: number | null | undefined) => (has ? scale(ns, 1 / NS_PER_MS) : null);
    // The metrics' own definitions (metrics.ts), already in ms.
    const metric = (k: typeof MEAN_LAT) => (has ? k.value(d!) : null);
    return {
      min: ms(d?.clatMinNs),
      max: ms(d?.clatMaxNs),
      avg: metric(MEAN_LAT),
      stddev: ms(d?.clatStddevNs),
      p50: metric(P50!),
      p90: metric(P90!),
      p99: metric(P99!),
    };
  };
  const read = lat('read');
  const write = lat('write');
  const res = r.resources;
  const mib = (key: string, factor: number) => {
    const v = avgPeak(res, key);
    return { avg: scale(v?.avg, BYTES_PER_MIB / factor), peak: scale(v?.peak, BYTES_PER_MIB / factor) };
  };
  const cpu = avgPeak(res, 'gcsfuse_cpu_percent');
  const sysCpu = avgPeak(res, 'system_cpu_percent');
  const mem = mib('gcsfuse_rss_MiB', BYTES_PER_MB);
  const pageCache = mib('page_cache_MiB', BYTES_PER_GB);
  const rx = mib('net_rx_MiBps', BYTES_PER_MB);
  const tx = mib('net_tx_MiBps', BYTES_PER_MB);
  return {
    'Matrix ID': r.matrixId,
    'Test ID': r.testId,
    Config: r.configLabel,
    Commit: r.commit,
    'IOType|Jobs|FSize|BS|IOD|NrFiles|Direct': paramsCell(r.params),
    // metrics.ts's bandwidth (MiB/s) in the header's MB/s (10^6 bytes).
    'Read BW (MB/s)': r.read ? scale(BW.value(r.read), BW.scale / BYTES_PER_MB) : null,
    'Write BW (MB/s)': r.write ? scale(BW.value(r.write), BW.scale / BYTES_PER_MB) : null,
    'Read Min (ms)': read.min,
    'Read Max (ms)': read.max,
    'Read Avg (ms)': read.avg,
    'Read StdDev (ms)': read.stddev,
    'Read P50 (ms)': read.p50,
    'Read P90 (ms)': read.p90,
    'Read P99 (ms)': read.p99,
    'Write Min (ms)': write.min,
    'Write Max (ms)': write.max,
    'Write Avg (ms)': write.avg,
    'Write StdDev (ms)': write.stddev,
    'Write P50 (ms)': write.p50,
    'Write P90 (ms)': write.p90,
    'Write P99 (ms)': write.p99,
    'Avg CPU (%)': cpu?.avg ?? null,
    'Peak CPU (%)': cpu?.peak ?? null,
    'Avg Mem (MB)': mem.avg,
    'Peak Mem (MB)': mem.peak,
    'Avg PgCache (GB)': pageCache.avg,
    'Peak PgCache (GB)': pageCache.peak,
    'Avg Sys CPU (%)': sysCpu?.avg ?? null,
    'Peak Sys CPU (%)': sysCpu?.peak ?? null,
    'Avg Net RX (MB/s)': rx.avg,
    'Peak Net RX (MB/s)': rx.peak,
    'Avg Net TX (MB/s)': tx.avg,
    'Peak Net TX (MB/s)': tx.peak,
    Iter: r.iterations,
  };
}

/**
 * The original's combined report. Like the original, only entries that passed have a row (their
 * numbers are what the report is for; our own report lists the failed ones too).
 */
export function originalReportCsv(reports: readonly EntryReport[]): string {
  const rows = reports
    .filter((r) => r.status === 'passed')
    .map((r) => {
      const v = originalRowValues(r);
      return ORIGINAL_REPORT_COLUMNS.map((c) => {
        const x = v[c];
        return typeof x === 'number' ? formatNumber(x) : (x ?? NO_VALUE);
      });
    });
  return stringify(rows, { header: true, columns: [...ORIGINAL_REPORT_COLUMNS] });
}

// ---------------------------------------------------------------- file names

export const DEFAULT_REPORT_NAME = 'combined_report.csv';
/** Where our own combined report goes when the original's takes the report name. */
export const OWN_REPORT_ALTERNATE_NAME = 'report.csv';
export type ReportFormat = 'default' | 'original';

export interface ReportFileNames {
  /** Our combined report (always written). */
  own: string;
  /** The original-format combined report, when asked for. */
  original?: string;
}

/** A report name is a plain file name: a safe id (letters, digits, `_ - .`), so it stays in report/. */
export function isValidReportName(name: string): boolean {
  return isSafeId(name);
}

/**
 * Which file gets which report: the report name (default combined_report.csv) goes to the format
 * asked for; with `original`, our report moves to report.csv (or to combined_report.csv, should
 * the report name be report.csv).
 */
export function reportFileNames(format: ReportFormat = 'default', reportName: string = DEFAULT_REPORT_NAME): ReportFileNames {
  if (format !== 'original') return { own: reportName };
  return { own: reportName === OWN_REPORT_ALTERNATE_NAME ? DEFAULT_REPORT_NAME : OWN_REPORT_ALTERNATE_NAME, original: reportName };
}

/**
 * The original's per-config file name: `<report name without extension>_<label>.csv`, beside the
 * combined report (e.g. combined_report_baseline.csv). A label that is no safe id is encoded.
 */
export function originalConfigReportName(reportName: string, label: string): string {
  const base = reportName.replace(/\.[^.]*$/, '');
  const safe = isSafeId(label) ? label : encodeURIComponent(label).replace(/%/g, '_');
  return `${base}_${safe}.csv`;
}

// ---------------------------------------------------------------- BigQuery table

/** compat.md's BigQuery types (legacy SQL names, as the original's table has them). */
export type OriginalBigQueryType = 'TIMESTAMP' | 'STRING' | 'INTEGER' | 'FLOAT';

export interface OriginalBigQueryColumn {
  readonly name: string;
  readonly type: OriginalBigQueryType;
  /** The report column whose value the field takes, when it is one. */
  readonly from?: OriginalReportColumn;
}

const f = (name: string, type: OriginalBigQueryType, from?: OriginalReportColumn): OriginalBigQueryColumn => ({
  name,
  type,
  ...(from ? { from } : {}),
});

/**
 * The original's table, one row per report row: field names, types and order as compat.md lists
 * them. Every field is NULLABLE, as in the original's table ("-" numbers are loaded as NULL).
 */
export const ORIGINAL_BIGQUERY_COLUMNS: readonly OriginalBigQueryColumn[] = [
  f('run_timestamp', 'TIMESTAMP'),
  f('benchmark_id', 'STRING'),
  f('matrix_id', 'INTEGER', 'Matrix ID'),
  f('test_id', 'STRING', 'Test ID'),
  f('config', 'STRING', 'Config'),
  f('commit', 'STRING', 'Commit'),
  f('mount_args', 'STRING'),
  f('iter', 'INTEGER', 'Iter'),
  f('io_type', 'STRING'),
  f('num_jobs', 'INTEGER'),
  f('file_size', 'STRING'),
  f('block_size', 'STRING'),
  f('io_depth', 'INTEGER'),
  f('num_files', 'INTEGER'),
  f('direct', 'INTEGER'),
  f('read_bw_mbs', 'FLOAT', 'Read BW (MB/s)'),
  f('write_bw_mbs', 'FLOAT', 'Write BW (MB/s)'),
  f('read_min_ms', 'FLOAT', 'Read Min (ms)'),
  f('read_max_ms', 'FLOAT', 'Read Max (ms)'),
  f('read_avg_ms', 'FLOAT', 'Read Avg (ms)'),
  f('read_stddev_ms', 'FLOAT', 'Read StdDev (ms)'),
  f('read_p50_ms', 'FLOAT', 'Read P50 (ms)'),
  f('read_p90_ms', 'FLOAT', 'Read P90 (ms)'),
  f('read_p99_ms', 'FLOAT', 'Read P99 (ms)'),
  f('write_min_ms', 'FLOAT', 'Write Min (ms)'),
  f('write_max_ms', 'FLOAT', 'Write Max (ms)'),
  f('write_avg_ms', 'FLOAT', 'Write Avg (ms)'),
  f('write_stddev_ms', 'FLOAT', 'Write StdDev (ms)'),
  f('write_p50_ms', 'FLOAT', 'Write P50 (ms)'),
  f('write_p90_ms', 'FLOAT', 'Write P90 (ms)'),
  f('write_p99_ms', 'FLOAT', 'Write P99 (ms)'),
  f('avg_cpu_percent', 'FLOAT', 'Avg CPU (%)'),
  f('peak_cpu_percent', 'FLOAT', 'Peak CPU (%)'),
  f('avg_mem_mb', 'FLOAT', 'Avg Mem (MB)'),
  f('peak_mem_mb', 'FLOAT', 'Peak Mem (MB)'),
  f('avg_pgcache_gb', 'FLOAT', 'Avg PgCache (GB)'),
  f('peak_pgcache_gb', 'FLOAT', 'Peak PgCache (GB)'),
  f('avg_sys_cpu_percent', 'FLOAT', 'Avg Sys CPU (%)'),
  f('peak_sys_cpu_percent', 'FLOAT', 'Peak Sys CPU (%)'),
  f('avg_net_rx_mbs', 'FLOAT', 'Avg Net RX (MB/s)'),
  f('peak_net_rx_mbs', 'FLOAT', 'Peak Net RX (MB/s)'),
  f('avg_net_tx_mbs', 'FLOAT', 'Avg Net TX (MB/s)'),
  f('peak_net_tx_mbs', 'FLOAT', 'Peak Net TX (MB/s)'),
];

export type OriginalBigQueryRow = Record<string, string | number | null>;

const intOrNull = (v: string | undefined): number | null => (v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : null);

/**
 * The original table's rows of a benchmark: one per passed entry, the report row's values (same
 * units), with `run_timestamp` the time its first iteration's result was written (fio's own time
 * stamp, so a re-export writes the same row) and integers as integers.
 */
export function originalBigQueryRows(
  benchmarkId: string,
  reports: readonly EntryReport[],
  runTimestamps: ReadonlyMap<number, string | null>,
): OriginalBigQueryRow[] {
  return reports
    .filter((r) => r.status === 'passed')
    .map((r) => {
      const v = originalRowValues(r);
      const own: Record<string, string | number | null> = {
        run_timestamp: runTimestamps.get(r.matrixId) ?? null,
        benchmark_id: benchmarkId,
        mount_args: r.mountArgs,
        io_type: r.params.io_type ?? null,
        num_jobs: intOrNull(r.params.num_jobs),
        file_size: r.params.file_size ?? null,
        block_size: r.params.block_size ?? null,
        io_depth: intOrNull(r.params.io_depth),
        num_files: intOrNull(r.params.nr_files),
        direct: intOrNull(r.params.direct),
      };
      return Object.fromEntries(
        ORIGINAL_BIGQUERY_COLUMNS.map((c) => {
          if (!c.from) return [c.name, own[c.name] ?? null];
          const x = v[c.from];
          return [c.name, typeof x === 'number' && !Number.isFinite(x) ? null : x];
        }),
      );
    });
}

/** Rows as NDJSON, keys in the table's order. */
export function originalBigQueryNdjson(rows: readonly OriginalBigQueryRow[]): string {
  return rows
    .map((r) => JSON.stringify(Object.fromEntries(ORIGINAL_BIGQUERY_COLUMNS.map((c) => [c.name, r[c.name] ?? null]))) + '\n')
    .join('');
}

/** The table's schema for tables.insert and `bq mk --schema`. */
export function originalBigQuerySchema(): { name: string; type: OriginalBigQueryType; mode: 'NULLABLE' }[] {
  return ORIGINAL_BIGQUERY_COLUMNS.map((c) => ({ name: c.name, type: c.type, mode: 'NULLABLE' }));
}

/** The original-schema table beside ours: `<table>_original` in the same dataset. */
export const ORIGINAL_TABLE_SUFFIX = '_original';
export const originalTableName = (table: string): string => `${table}${ORIGINAL_TABLE_SUFFIX}`;
