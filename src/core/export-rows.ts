/**
 * Per-iteration rows for dashboards (PerfKitBenchmarker style): one uniform record per
 * (matrix entry, iteration, direction with I/O), each carrying what is needed to reproduce it
 * (config, commit, mount args, VM, machine, kernel, tool versions, the hash of the fio job).
 *
 * One column list, EXPORT_COLUMNS, gives the row type (at compile time), the order of the keys in
 * the NDJSON, and the BigQuery table schema, so the three can never drift apart.
 *
 * Pure: no I/O. Units are in the column names: bytes, bytes per second, ns, ms.
 */
import { InputError } from './errors';
import {
  extractFioJson,
  fioResultOf,
  REPORTED_DIRECTIONS,
  type DirectionResult,
  type FioGroupResult,
  type FioIterationResult,
  type ReportedDirection,
} from './fio';
import type { MatrixEntry } from './matrix';
import { metricKind, PERCENTILE_METRICS, type Percentile } from './metrics';
import type { EntryMetadata, MetadataPrefetch } from './metadata';
import type { ResourceMetric, ResourceSummary } from './resources';

export type BigQueryType = 'STRING' | 'INT64' | 'FLOAT64' | 'TIMESTAMP';
export type BigQueryMode = 'REQUIRED' | 'NULLABLE';

/** One column of the export: its name (units in it), BigQuery type and mode, and what it holds. */
export interface ExportColumn {
  readonly name: string;
  readonly type: BigQueryType;
  readonly mode: BigQueryMode;
  readonly description: string;
}

const req = <N extends string, T extends BigQueryType>(name: N, type: T, description: string) =>
  ({ name, type, mode: 'REQUIRED', description }) as const;
const opt = <N extends string, T extends BigQueryType>(name: N, type: T, description: string) =>
  ({ name, type, mode: 'NULLABLE', description }) as const;

const CLAT = 'completion latency (fio clat) of the iteration, all jobs pooled';

type NoDot<S extends string> = S extends `${infer A}.${infer B}` ? `${A}${B}` : S;
/** lat_p50_ns ... lat_p999_ns: one column per percentile of metrics.ts (the '.' of 99.9 dropped). */
type PercentileColumnName = `lat_p${NoDot<`${Percentile}`>}_ns`;
const percentileColumn = (p: number) => `lat_p${String(p).replace('.', '')}_ns` as PercentileColumnName;
const PERCENTILE_COLUMNS = PERCENTILE_METRICS.map((k, i) =>
  opt(
    percentileColumn(k.percentile!),
    'INT64',
    i === 0
      ? `${k.percentile}th percentile ${CLAT}, ns, from fio's json+ histogram as fio reads it; null without histogram`
      : `${k.percentile}th percentile ${CLAT}, ns; null without histogram`,
  ),
);

/** Resource metrics of an iteration (the monitor's summary of iteration-<n>.resources.json): column, metric, what it is. */
const RESOURCE_EXPORTS = [
  ['gcsfuse_cpu_percent', 'gcsfuseCpuPercent', "gcsfuse's CPU, % of one core"],
  ['gcsfuse_rss_bytes', 'gcsfuseRssBytes', "gcsfuse's resident memory, bytes"],
  ['system_cpu_percent', 'systemCpuPercent', "the VM's busy CPU, % of all cores"],
  ['page_cache_bytes', 'pageCacheBytes', 'page cache (Cached of /proc/meminfo), bytes'],
  ['net_rx_bytes_per_sec', 'netRxBytesPerSec', 'network received on all interfaces but loopback, bytes/s'],
  ['net_tx_bytes_per_sec', 'netTxBytesPerSec', 'network transmitted on all interfaces but loopback, bytes/s'],
] as const satisfies readonly (readonly [string, ResourceMetric, string])[];

type ResourceColumnName = `${(typeof RESOURCE_EXPORTS)[number][0]}_${'avg' | 'peak'}`;
const RESOURCE_EXPORT_COLUMNS = RESOURCE_EXPORTS.flatMap(([name, , what]) => [
  opt(`${name}_avg` as ResourceColumnName, 'FLOAT64', `time-weighted mean while fio ran: ${what}; null when not sampled`),
  opt(`${name}_peak` as ResourceColumnName, 'FLOAT64', `highest sample while fio ran: ${what}; null when not sampled`),
]);

/** The export's columns, in order. Rows, NDJSON and the BigQuery schema all come from this list. */
export const EXPORT_COLUMNS = [
  req('benchmark_id', 'STRING', 'benchmark id (the run); a re-export of a run replaces all rows of this id'),
  req('matrix_id', 'INT64', 'matrix entry of the run (config x test case), 1-based'),
  req('test_id', 'STRING', 'test case id from the test-cases CSV'),
  req('config_label', 'STRING', 'mount config label from the configs CSV'),
  req('commit', 'STRING', 'gcsfuse commit, tag or branch the config asked for'),
  req('mount_args', 'STRING', 'gcsfuse mount flags of the config, as written'),
  req('vm', 'STRING', 'VM (agent) whose fio run produced the row'),
  req('iteration', 'INT64', 'iteration of the entry, 1-based'),
  req('direction', 'STRING', "I/O direction: read, write or trim, or mixed (fio's pooled section with unified_rw_reporting)"),
  req('bw_bytes_per_sec', 'INT64', 'bandwidth in bytes per second: io_bytes over the longest job runtime (fio group_reporting)'),
  req('iops', 'FLOAT64', 'I/O operations per second: completed I/Os over the longest job runtime'),
  opt('lat_mean_ns', 'FLOAT64', `mean ${CLAT}, ns; null without latency samples`),
  ...PERCENTILE_COLUMNS,
  opt('lat_max_ns', 'INT64', `maximum ${CLAT}, ns; null without latency samples`),
  req('runtime_ms', 'INT64', 'runtime of the longest job of the iteration in this direction, ms'),
  req('io_bytes', 'INT64', 'bytes moved in this direction by all jobs of the iteration'),
  opt('block_size', 'STRING', 'test parameter block_size (fio bs), as given'),
  opt('io_depth', 'INT64', 'test parameter io_depth (fio iodepth)'),
  opt('num_jobs', 'INT64', 'test parameter num_jobs (fio numjobs)'),
  opt('file_size', 'STRING', 'test parameter file_size (fio size), as given'),
  opt('nr_files', 'INT64', 'test parameter nr_files (fio nrfiles)'),
  opt('io_type', 'STRING', 'test parameter io_type (fio rw), as given'),
  opt('direct', 'INT64', 'test parameter direct (0 or 1)'),
  opt('fio_version', 'STRING', 'fio version that wrote the iteration output, e.g. fio-3.33'),
  opt('gcsfuse_version', 'STRING', 'gcsfuse version (its --version, else the Go module version of the binary); null without gcsfuse'),
  opt('gcsfuse_build_commit', 'STRING', 'source commit of the gcsfuse binary that ran (Go build info); null when unknown'),
  opt('kernel', 'STRING', 'kernel release of the VM (uname -r)'),
  opt('machine_type', 'STRING', 'Compute Engine machine type of the VM, or local'),
  opt('cpu_count', 'INT64', 'CPUs of the VM'),
  opt('job_sha256', 'STRING', 'SHA-256 (hex) of the rendered fio job that ran'),
  opt('recorded_at', 'TIMESTAMP', "when fio wrote the iteration's result (fio's timestamp_ms), UTC"),
  ...RESOURCE_EXPORT_COLUMNS,
  opt(
    'metadata_prefetch_ms',
    'FLOAT64',
    'wall time of the recursive listing of the test folder before fio (the original ls -R), ms; null when not recorded',
  ),
  opt('metadata_prefetch_files', 'INT64', 'files the metadata prefetch listed, in all subfolders; null when not recorded'),
  // Last, so a table made before it only needs the column added.
  opt(
    'fio_group',
    'INT64',
    "fio's groupid of the row when the job file has several groups (stonewall/new_group), each group its own rows; null with one group",
  ),
] as const satisfies readonly ExportColumn[];

type Columns = typeof EXPORT_COLUMNS;
type TsType<T extends BigQueryType> = T extends 'STRING' | 'TIMESTAMP' ? string : number;

/** One exported row: a key per column, null allowed exactly where the column is NULLABLE. */
export type ExportRow = {
  [C in Columns[number] as C['name']]: C['mode'] extends 'REQUIRED' ? TsType<C['type']> : TsType<C['type']> | null;
};

/** A BigQuery TableFieldSchema, as in a table resource and in `bq mk --schema FILE`. */
export interface BigQueryField {
  name: string;
  type: BigQueryType;
  mode: BigQueryMode;
  description: string;
}

/** The BigQuery table schema of the export (report/bigquery-schema.json): generated from EXPORT_COLUMNS. */
export function bigQuerySchema(): BigQueryField[] {
  return EXPORT_COLUMNS.map((c) => ({ name: c.name, type: c.type, mode: c.mode, description: c.description }));
}

/** The schema file's text: a JSON array of {name, type, mode, description}, usable with `bq mk --schema`. */
export function bigQuerySchemaJson(): string {
  return JSON.stringify(bigQuerySchema(), null, 2) + '\n';
}

/** Rows as newline-delimited JSON, keys in column order, one row per line (empty text for no rows). */
export function toNdjson(rows: readonly ExportRow[]): string {
  return rows.map((r) => JSON.stringify(Object.fromEntries(EXPORT_COLUMNS.map((c) => [c.name, r[c.name]]))) + '\n').join('');
}

// ---------------------------------------------------------------- reading iterations

/** One fio output as the export needs it: fio's summed result and when fio wrote it. */
export interface ExportIteration {
  iteration: number;
  result: FioIterationResult;
  /** ISO 8601 UTC time of fio's result (its timestamp_ms), or null if the output has none. */
  recordedAt: string | null;
  /** The resource monitor's summary of the iteration (iteration-<n>.resources.json), when stored. */
  resources?: ResourceSummary | null;
  /** The metadata prefetch before fio (iteration-<n>.metadata.json), when stored. */
  prefetch?: MetadataPrefetch | null;
}

/** Parses an fio output (json or json+) of one iteration for the export; `source` (the file) names it in errors. */
export function parseExportIteration(iteration: number, text: string, source?: string): ExportIteration {
  const parsed = extractFioJson(text, source);
  const json = parsed as { timestamp_ms?: unknown; timestamp?: unknown };
  const ms = typeof json.timestamp_ms === 'number' ? json.timestamp_ms : typeof json.timestamp === 'number' ? json.timestamp * 1000 : null;
  return {
    iteration,
    result: fioResultOf(parsed, source),
    recordedAt: ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString(),
  };
}

// ---------------------------------------------------------------- building rows

/** What the rows of one matrix entry are built from. */
export interface ExportEntryInput {
  benchmarkId: string;
  entry: MatrixEntry;
  /** VM that ran the entry (the workflow's owner of its results). */
  vm: string;
  /** The entry's iterations, in any order; rows come out by iteration. */
  iterations: readonly ExportIteration[];
  /** results/<vm>/test-<id>/metadata.json, or null when the agent stored none. */
  metadata: EntryMetadata | null;
}

const param = (entry: MatrixEntry, name: string): string | null => entry.params[name] ?? null;
// Whole-number parameters were checked (checkParamValue) and are loaded as INT64.
const intParam = (entry: MatrixEntry, name: string): number | null => {
  const v = entry.params[name];
  return v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : null;
};

function resourceValues(summary: ResourceSummary | null | undefined): Record<ResourceColumnName, number | null> {
  return Object.fromEntries(
    RESOURCE_EXPORTS.flatMap(([name, metric]) => [
      [`${name}_avg`, summary?.[metric]?.avg ?? null],
      [`${name}_peak`, summary?.[metric]?.peak ?? null],
    ]),
  ) as Record<ResourceColumnName, number | null>;
}
const BW = metricKind('bw')!;
const IOPS = metricKind('iops')!;
const MEAN_LAT = metricKind('mean_lat')!;

/** The gcsfuse version as its binary tells it; a `go install` build says `unknown`, its module version does not. */
function gcsfuseVersion(meta: EntryMetadata | null): string | null {
  const g = meta?.gcsfuse;
  if (!g) return null;
  return g.version && g.version !== 'unknown' ? g.version : (g.moduleVersion ?? g.version ?? null);
}

/** One iteration's figures of one fio group (or all of it, with one group). */
type Figures = Pick<FioGroupResult, ReportedDirection>;

/**
 * Rows of one entry: per fio group (each its own rows when the job file has several, as in the
 * report), per iteration, one per direction in which the group moved data in any iteration (the
 * rule of the report, so an iteration that moved nothing in such a direction is a row of zeros,
 * not a gap); `mixed` when fio wrote it (unified_rw_reporting). Values are read as metrics.ts
 * defines them (fromIteration), the per-iteration values the report keeps in results.json.
 */
export function entryRows(input: ExportEntryInput): ExportRow[] {
  const { entry, metadata: meta } = input;
  const iterations = [...input.iterations].sort((a, b) => a.iteration - b.iteration);
  const groupIds = [...new Set(iterations.flatMap((it) => (it.result.groups ?? []).map((g) => g.groupId)))].sort((a, b) => a - b);
  const parts: { group: number | null; of: (it: ExportIteration) => Figures | undefined }[] =
    groupIds.length > 1
      ? groupIds.map((g) => ({ group: g, of: (it) => it.result.groups.find((x) => x.groupId === g) }))
      : [{ group: null, of: (it) => it.result }];
  const rows: ExportRow[] = [];
  for (const part of parts) {
    const directions = REPORTED_DIRECTIONS.filter((d) => iterations.some((it) => (part.of(it)?.[d]?.totalIos ?? 0) > 0));
    for (const it of iterations) {
      const figures = part.of(it);
      if (!figures) continue;
      for (const dir of directions) {
        const d: DirectionResult = figures[dir];
        const withLatency = d.clat.count > 0;
        const percentiles = Object.fromEntries(
          PERCENTILE_METRICS.map((k) => [percentileColumn(k.percentile!), k.fromIteration(d)]),
        ) as Record<PercentileColumnName, number | null>;
        rows.push({
          benchmark_id: input.benchmarkId,
          matrix_id: entry.matrixId,
          test_id: entry.testId,
          config_label: entry.config.label,
          commit: entry.config.commit,
          mount_args: entry.config.mountArgs,
          vm: input.vm,
          iteration: it.iteration,
          direction: dir,
          bw_bytes_per_sec: BW.fromIteration(d) ?? 0,
          iops: IOPS.fromIteration(d) ?? 0,
          lat_mean_ns: MEAN_LAT.fromIteration(d),
          ...percentiles,
          lat_max_ns: withLatency ? d.clat.maxNs : null,
          runtime_ms: d.runtimeMs,
          io_bytes: d.ioBytes,
          block_size: param(entry, 'block_size'),
          io_depth: intParam(entry, 'io_depth'),
          num_jobs: intParam(entry, 'num_jobs'),
          file_size: param(entry, 'file_size'),
          nr_files: intParam(entry, 'nr_files'),
          io_type: param(entry, 'io_type'),
          direct: intParam(entry, 'direct'),
          fio_version: it.result.fioVersion === 'unknown' ? (meta?.host.fioVersion ?? null) : it.result.fioVersion,
          gcsfuse_version: gcsfuseVersion(meta),
          gcsfuse_build_commit: meta?.gcsfuse?.commit ?? null,
          kernel: meta?.host.kernelRelease ?? null,
          machine_type: meta?.host.machineType ?? null,
          cpu_count: meta?.host.cpuCount ?? null,
          job_sha256: meta?.job.sha256 ?? null,
          recorded_at: it.recordedAt,
          ...resourceValues(it.resources),
          metadata_prefetch_ms: it.prefetch?.elapsedMs ?? null,
          metadata_prefetch_files: it.prefetch?.files ?? null,
          fio_group: part.group,
        });
      }
    }
  }
  return rows;
}

/** Rows of many entries, entry by entry in matrix order. */
export function exportRows(entries: readonly ExportEntryInput[]): ExportRow[] {
  return [...entries].sort((a, b) => a.entry.matrixId - b.entry.matrixId).flatMap(entryRows);
}

// ---------------------------------------------------------------- BigQuery table names

export interface BigQueryTableRef {
  project: string;
  dataset: string;
  table: string;
}

// Project ids: 6-30 lower-case letters, digits and hyphens, starting with a letter (an optional
// `domain:` prefix for domain-scoped projects); datasets: letters, digits, underscores; tables
// also hyphens (BigQuery allows more, which we do not need).
const TABLE_REF = /^((?:[a-z0-9][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9])[.:]([A-Za-z0-9_]{1,1024})\.([A-Za-z0-9_-]{1,1024})$/;

/** Parses `project.dataset.table` (or bq's `project:dataset.table`); a bad name is an InputError. */
export function parseBigQueryTable(text: string, flag = '--bigquery'): BigQueryTableRef {
  const m = TABLE_REF.exec(text.trim());
  if (!m) {
    throw new InputError(
      `${JSON.stringify(text)} is not a BigQuery table: give project.dataset.table (project id: 6-30 of a-z 0-9 -, starting with a letter; dataset: letters, digits, _; table: letters, digits, _ -)`,
      { flag },
    );
  }
  return { project: m[1]!, dataset: m[2]!, table: m[3]! };
}
