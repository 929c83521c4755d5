import { stringify } from 'csv-stringify/sync';
import {
  extractFioJson,
  extractFioJsonFromBytes,
  fioResultOf,
  jobsByGroup,
  mergeLatency,
  percentilesFromBins,
  REPORTED_DIRECTIONS,
  type FioIterationResult,
  type FioJson,
  type LatencyBins,
  type ReportedDirection,
} from './fio';
import type { MatrixEntry } from './matrix';
import type { EntryMetadata, MetadataPrefetch } from './metadata';
import { STEADY_STATE_RULE, type EntryTimeSeries } from './timeseries';
import { MIB, NS_PER_MS, PERCENTILES, percentileKey, UNIT_DESCRIPTIONS } from './metrics';
import { COLUMNS } from './params';
import {
  intervalMethod,
  MIN_INTERVAL_ITERATIONS,
  OUTLIER_RULE,
  pooledMoments,
  sampleStats,
  type IntervalOptions,
  type Moments,
  type SampleStats,
} from './stats';

// The percentile list and units are defined once, in metrics.ts; re-exported for existing importers.
export { MIB, PERCENTILES, percentileKey, type Percentile } from './metrics';

/**
 * How a job file with several fio groups (stonewall, new_group) is reported: `separate` (the
 * default) makes each group a result of its own (an entry report per group, with fioGroup set);
 * `merged` pools the groups into one as if they had run one after another (all bytes over the
 * sum of the groups' runtimes, latency histograms summed).
 */
export type GroupMode = 'separate' | 'merged';
export const GROUP_MODES: readonly GroupMode[] = ['separate', 'merged'];

export const GROUPS_METHOD =
  'a job file with several fio groups (stonewall/new_group) gives one result per group (fio_group in the CSV, fioGroup in JSON), ' +
  "each group's jobs summed as fio's group reporting does; groups are never merged unless asked (merged: all bytes over the sum of the groups' runtimes)";

/** Per-iteration values that are not metrics of their own; one element per iteration, in order. */
export interface IterationTotals {
  ioBytes: number[];
  runtimeMs: number[];
  totalIos: number[];
  /** Completion-latency samples of the iteration. */
  clatSamples: number[];
}

export interface DirectionStats {
  /** Per-iteration bandwidth (bytes/s, fio's bytes over the longest job runtime) and its summary. */
  bwBytesPerSec: SampleStats;
  iops: SampleStats;
  /** Completion latency pooled over all jobs and iterations (histograms summed, never averaged). */
  clatMeanNs: number;
  clatMinNs: number;
  clatMaxNs: number;
  /**
   * Pooled sample standard deviation of all completion latencies, exactly, from fio's per-job
   * N, mean and stddev (parallel-axis formula, as fio pools); null if fio did not report stddev.
   */
  clatStddevNs: number | null;
  clatPercentilesNs: Record<string, number | null>;
  latencySamples: number;
  /** The pooled histogram as [bucket ns, samples], ascending: any percentile can be recomputed from it. */
  clatHistogramNs: [number, number][];
  /** Completion latency of each iteration on its own (for significance tests between runs). */
  clatPerIteration: {
    meanNs: SampleStats;
    percentilesNs: Record<string, SampleStats>;
  };
  iterationTotals: IterationTotals;
}

export interface EntryReport {
  matrixId: number;
  testId: string;
  configLabel: string;
  commit: string;
  mountArgs: string;
  params: Record<string, string>;
  vm: string | null;
  status: 'passed' | 'failed' | 'missing';
  iterations: number;
  fioVersion: string | null;
  read: DirectionStats | null;
  write: DirectionStats | null;
  /** Only present (non-null) for workloads that trim. */
  trim?: DirectionStats | null;
  /** fio's pooled `mixed` section (unified_rw_reporting=1 or both); only present when fio wrote one. */
  mixed?: DirectionStats | null;
  /** fio's groupid this report is of, when the job file has several groups (see GroupMode). */
  fioGroup?: number;
  /** Compute Engine machine type (or `local`) of the VM that ran it, when known. */
  machineType?: string | null;
  /**
   * Resource usage of the entry (cpu, memory...), added by the resource monitor. Any object: its
   * numeric leaves become report columns named by their path (see resourceColumns).
   */
  resources?: object | null;
  /** Set when a stability gate ran: did bandwidth settle, and its coefficient of variation in %. */
  stability?: { stable: boolean; bw_cv_pct: number };
  /** Where it ran, from the agent's metadata.json (the report's header). */
  environment?: EntryEnvironment;
  /** The metadata prefetch before each iteration (the original's ls -R), in iteration order. */
  metadataPrefetch?: { elapsedMs: number[]; files: number[] };
  /** fio's bandwidth/IOPS/latency logs over time, with gcsfuse CPU/memory and the steady-state rule (core/timeseries.ts). */
  timeSeries?: EntryTimeSeries;
  /** Leave clatHistogramNs empty until fillHistograms (for a caller that serialises each report at once). */
  deferHistograms?: boolean;
}

/** The versions and machine of an entry's run, as the agent recorded them. */
export interface EntryEnvironment {
  /** When the agent collected it: the entry's first iteration (ISO 8601). */
  collectedAt: string | null;
  hostname: string | null;
  machineType: string | null;
  kernel: string | null;
  fioVersion: string | null;
  gcsfuseVersion: string | null;
  gcsfuseCommit: string | null;
}

/** An entry's environment from its metadata.json; a `go install` build's version is its module version. */
export function entryEnvironment(m: EntryMetadata): EntryEnvironment {
  const g = m.gcsfuse;
  return {
    collectedAt: m.collectedAt ?? null,
    hostname: m.host?.hostname ?? null,
    machineType: m.host?.machineType ?? null,
    kernel: m.host?.kernelRelease ?? null,
    fioVersion: m.host?.fioVersion ?? null,
    gcsfuseVersion: g ? (g.version && g.version !== 'unknown' ? g.version : (g.moduleVersion ?? g.version ?? null)) : null,
    gcsfuseCommit: g?.commit ?? null,
  };
}

/** The prefetches of an entry's iterations, in iteration order (undefined: none recorded). */
export function prefetchSeries(prefetches: readonly (MetadataPrefetch | null | undefined)[]): EntryReport['metadataPrefetch'] {
  const known = prefetches.filter((p): p is MetadataPrefetch => !!p);
  return known.length ? { elapsedMs: known.map((p) => p.elapsedMs), files: known.map((p) => p.files) } : undefined;
}

// ---------------------------------------------------------------- reading an iteration

type DirectionMoments = Partial<Record<ReportedDirection, Moments[]>>;

/** One fio output as the report needs it: fio's summed result plus each job's latency moments. */
export interface IterationResult extends FioIterationResult {
  /** Each job's completion-latency N, mean and stddev, per direction (jobs without I/O left out). */
  clatMoments?: DirectionMoments;
  /** The same, of each fio group's jobs, by groupid. */
  groupMoments?: Record<number, DirectionMoments>;
}

interface RawLat {
  N?: number;
  mean?: number;
  stddev?: number;
}
type RawJob = Partial<Record<ReportedDirection, { clat_ns?: RawLat }>> & { groupid?: number };

function momentsOf(jobs: readonly RawJob[]): DirectionMoments {
  const out: DirectionMoments = {};
  for (const dir of REPORTED_DIRECTIONS) {
    const parts = jobs.map((j) => j[dir]?.clat_ns).filter((l): l is RawLat => !!l && (l.N ?? 0) > 0);
    // Without fio's stddev for every part the pooled one cannot be computed: leave it unknown.
    if (parts.every((l) => typeof l.stddev === 'number'))
      out[dir] = parts.map((l) => ({ count: l.N!, mean: l.mean ?? 0, stddev: l.stddev! }));
  }
  return out;
}

/**
 * Parses an fio output file (json or json+) for the report: parseFioOutput plus per-job latency
 * moments. `source` (the file) names the output in errors.
 */
export function parseIteration(text: string, source?: string): IterationResult {
  return iterationOf(extractFioJson(text, source), source);
}

/** parseIteration of a file's bytes, which it may change (extractFioJsonFromBytes): for callers done with them. */
export function parseIterationBytes(buf: Buffer, source?: string): IterationResult {
  return iterationOf(extractFioJsonFromBytes(buf, source), source);
}

function iterationOf(json: FioJson, source?: string): IterationResult {
  // One JSON.parse per file: the summed result and the per-job moments come from the same object.
  const base = fioResultOf(json, source);
  const jobs = (json.jobs ?? []) as RawJob[];
  const groupMoments = Object.fromEntries([...jobsByGroup(jobs)].map(([id, js]) => [id, momentsOf(js)]));
  return { ...base, clatMoments: momentsOf(jobs), groupMoments };
}

/** The iteration's result restricted to one fio group, or undefined if it has no such group. */
export function iterationOfGroup(r: IterationResult, groupId: number): IterationResult | undefined {
  const g = r.groups?.find((x) => x.groupId === groupId);
  if (!g) return undefined;
  const { groupId: _, ...figures } = g;
  return {
    ...r,
    ...figures,
    groups: [g],
    clatMoments: r.groupMoments?.[groupId],
    groupMoments: r.groupMoments ? { [groupId]: r.groupMoments[groupId] ?? {} } : undefined,
  };
}

// ---------------------------------------------------------------- per-entry statistics

/** The buckets with samples, ascending (LatencyBins are kept ascending). */
function histogram(bins: LatencyBins): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < bins.ns.length; i++) if (bins.counts[i]! > 0) out.push([bins.ns[i]!, bins.counts[i]!]);
  return out;
}

function pooledStddev(results: readonly IterationResult[], dir: ReportedDirection): number | null {
  const parts: Moments[] = [];
  for (const r of results) {
    if (r[dir].totalIos === 0 && r[dir].clat.count === 0) continue;
    const m = r.clatMoments?.[dir];
    if (!m) return null;
    parts.push(...m);
  }
  const pooled = pooledMoments(parts);
  return pooled.count > 0 ? pooled.stddev : null;
}

/**
 * Pooled histograms of reports made with EntryExtras.deferHistograms, by their direction's
 * statistics, until fillHistograms writes them in.
 */
const deferredHistograms = new WeakMap<DirectionStats, LatencyBins>();

/**
 * Writes the deferred pooled histograms (EntryExtras.deferHistograms) into the report as
 * clatHistogramNs. Made just before the report is serialised, the hundreds of [ns, count] pairs
 * per direction die young; made with the rest of the report, enough of them were caught alive by
 * V8's scavenges that their allocation site went to the old generation: ~60 MB of garbage there
 * per 10,000 outputs, which grew the worker's heap.
 */
export function fillHistograms(report: EntryReport): void {
  for (const d of REPORTED_DIRECTIONS) {
    const s = report[d];
    const bins = s ? deferredHistograms.get(s) : undefined;
    if (!s || !bins) continue;
    s.clatHistogramNs = histogram(bins);
    deferredHistograms.delete(s);
  }
}

function directionStats(
  results: readonly IterationResult[],
  dir: ReportedDirection,
  interval: IntervalOptions,
  deferHistogram = false,
): DirectionStats | null {
  // Outputs stored before mixed was read have no such field.
  const parts = results.map((r) => r[dir]).filter((p) => p !== undefined);
  if (parts.every((p) => p.totalIos === 0)) return null;
  const lat = mergeLatency(parts.map((p) => p.clat));
  const withSamples = parts.filter((p) => p.clat.count > 0);
  const pooled = percentilesFromBins(lat.bins, PERCENTILES);
  // Each iteration's percentiles, [iteration][percentile].
  const perIteration = withSamples.map((p) => percentilesFromBins(p.clat.bins, PERCENTILES));
  const stats: DirectionStats = {
    bwBytesPerSec: sampleStats(
      parts.map((p) => p.bwBytesPerSec),
      {},
      interval,
    ),
    iops: sampleStats(
      parts.map((p) => p.iops),
      {},
      interval,
    ),
    clatMeanNs: lat.meanNs,
    clatMinNs: lat.minNs,
    clatMaxNs: lat.maxNs,
    clatStddevNs: pooledStddev(results, dir),
    clatPercentilesNs: Object.fromEntries(PERCENTILES.map((p, k) => [percentileKey(p), pooled[k] ?? null])),
    latencySamples: lat.count,
    // In place (key order) when deferred: fillHistograms fills it.
    clatHistogramNs: deferHistogram ? [] : histogram(lat.bins),
    clatPerIteration: {
      // Iterations without latency samples have no latency to compare: left out.
      meanNs: sampleStats(
        withSamples.map((p) => p.clat.meanNs),
        {},
        interval,
      ),
      percentilesNs: Object.fromEntries(
        PERCENTILES.map((p, k) => [
          percentileKey(p),
          sampleStats(
            perIteration.map((x) => x[k]!),
            {},
            interval,
          ),
        ]),
      ),
    },
    iterationTotals: {
      ioBytes: parts.map((p) => p.ioBytes),
      runtimeMs: parts.map((p) => p.runtimeMs),
      totalIos: parts.map((p) => p.totalIos),
      clatSamples: parts.map((p) => p.clat.count),
    },
  };
  if (deferHistogram) deferredHistograms.set(stats, lat.bins);
  return stats;
}

export interface EntryExtras {
  resources?: object | null;
  /** With a stability gate: whether bandwidth settled within the allowed variation. */
  stability?: { stable: boolean; bw_cv_pct: number };
  /** Machine type of the VM (its metadata), so comparisons can say when two sides differ. */
  machineType?: string | null;
  /** Intervals with fewer iterations than the default (see IntervalOptions). */
  interval?: IntervalOptions;
  environment?: EntryEnvironment;
  metadataPrefetch?: EntryReport['metadataPrefetch'];
  timeSeries?: EntryTimeSeries;
  /** Leave clatHistogramNs empty until fillHistograms (for a caller that serialises each report at once). */
  deferHistograms?: boolean;
}

/**
 * The reports of one matrix entry: one, or one per fio group when the job file has several
 * groups and `groups` is `separate` (the default; see GroupMode).
 */
export function entryReports(
  entry: MatrixEntry,
  vm: string | null,
  status: EntryReport['status'],
  results: readonly IterationResult[],
  extras: EntryExtras = {},
  groups: GroupMode = 'separate',
): EntryReport[] {
  const ids = [...new Set(results.flatMap((r) => (r.groups ?? []).map((g) => g.groupId)))].sort((a, b) => a - b);
  if (ids.length <= 1 || groups === 'merged') return [entryReport(entry, vm, status, results, extras)];
  return ids.map((id) => {
    const ofGroup = results.map((r) => iterationOfGroup(r, id)).filter((r): r is IterationResult => r !== undefined);
    return { ...entryReport(entry, vm, status, ofGroup, extras), fioGroup: id };
  });
}

/** The report of one matrix entry, all fio groups pooled (see GroupMode `merged`). */
export function entryReport(
  entry: MatrixEntry,
  vm: string | null,
  status: EntryReport['status'],
  results: readonly IterationResult[],
  extras: EntryExtras = {},
): EntryReport {
  const interval = extras.interval ?? {};
  const report: EntryReport = {
    matrixId: entry.matrixId,
    testId: entry.testId,
    configLabel: entry.config.label,
    commit: entry.config.commit,
    mountArgs: entry.config.mountArgs,
    params: entry.params,
    vm,
    status,
    iterations: results.length,
    fioVersion: results[0]?.fioVersion ?? null,
    read: results.length ? directionStats(results, 'read', interval, extras.deferHistograms) : null,
    write: results.length ? directionStats(results, 'write', interval, extras.deferHistograms) : null,
  };
  const trim = results.length ? directionStats(results, 'trim', interval, extras.deferHistograms) : null;
  if (trim) report.trim = trim;
  const mixed = results.length ? directionStats(results, 'mixed', interval, extras.deferHistograms) : null;
  if (mixed) report.mixed = mixed;
  if (extras.machineType !== undefined) report.machineType = extras.machineType;
  if (extras.resources) report.resources = extras.resources;
  if (extras.stability) report.stability = extras.stability;
  if (extras.environment) report.environment = extras.environment;
  if (extras.metadataPrefetch) report.metadataPrefetch = extras.metadataPrefetch;
  if (extras.timeSeries) report.timeSeries = extras.timeSeries;
  return report;
}

// ---------------------------------------------------------------- CSV columns

const isNum = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
const fixed = (v: number | null | undefined, digits: number): string => (isNum(v) ? v.toFixed(digits) : '');
const nsToMs = (ns: number | null | undefined): number | null => (isNum(ns) ? ns / NS_PER_MS : null);
const toMiB = (b: number | null | undefined): number | null => (isNum(b) ? b / MIB : null);

/** A CSV column: its header and how to fill it from an entry. */
export interface Column {
  name: string;
  value(r: EntryReport): string;
}

/**
 * A group of columns generated from all entries: a group with no columns is left out, so
 * optional data (trim, resources) adds its columns only when some entry has it.
 */
export type ColumnGroup = (reports: readonly EntryReport[]) => Column[];

const col = (name: string, value: (r: EntryReport) => string): Column => ({ name, value });

const identityColumns: ColumnGroup = (reports) => {
  const paramColumns = COLUMNS.map((c) => c.column).filter((c) => c !== 'test_id' && reports.some((r) => c in r.params));
  return [
    col('matrix_id', (r) => String(r.matrixId)),
    col('test_id', (r) => r.testId),
    // Only when some job file has several fio groups: which group the row is.
    ...(reports.some((r) => r.fioGroup !== undefined)
      ? [col('fio_group', (r) => (r.fioGroup === undefined ? '' : String(r.fioGroup)))]
      : []),
    col('config', (r) => r.configLabel),
    col('commit', (r) => r.commit),
    col('mount_args', (r) => r.mountArgs),
    ...paramColumns.map((c) => col(c, (r) => r.params[c] ?? '')),
    col('vm', (r) => r.vm ?? ''),
    col('status', (r) => r.status),
    col('iterations', (r) => String(r.iterations)),
  ];
};

/** Columns of one direction: bandwidth MiB/s (2^20 B/s) statistics over iterations, IOPS, pooled latency in ms. */
export function directionColumns(dir: ReportedDirection): Column[] {
  const d = (r: EntryReport): DirectionStats | null | undefined => r[dir];
  const bw = (f: (s: SampleStats) => number | null | undefined) => (r: EntryReport) =>
    fixed(toMiB(d(r) ? f(d(r)!.bwBytesPerSec) : null), 2);
  return [
    col(
      `${dir}_bw_MiBps_mean`,
      bw((s) => s.mean),
    ),
    col(
      `${dir}_bw_MiBps_median`,
      bw((s) => s.median),
    ),
    col(
      `${dir}_bw_MiBps_stddev`,
      bw((s) => s.stddev),
    ),
    col(`${dir}_bw_cv_pct`, (r) => fixed(d(r) && isNum(d(r)!.bwBytesPerSec.cv) ? d(r)!.bwBytesPerSec.cv * 100 : null, 2)),
    col(
      `${dir}_bw_MiBps_ci95_low`,
      bw((s) => s.ci95Low),
    ),
    col(
      `${dir}_bw_MiBps_ci95_high`,
      bw((s) => s.ci95High),
    ),
    col(
      `${dir}_bw_MiBps_min`,
      bw((s) => s.min),
    ),
    col(
      `${dir}_bw_MiBps_max`,
      bw((s) => s.max),
    ),
    col(`${dir}_bw_outlier_iterations`, (r) => (d(r)?.bwBytesPerSec.outlierIterations ?? []).join(';')),
    col(`${dir}_iops_mean`, (r) => fixed(d(r)?.iops.mean, 1)),
    col(`${dir}_iops_stddev`, (r) => fixed(d(r)?.iops.stddev, 1)),
    col(`${dir}_lat_min_ms`, (r) => fixed(nsToMs(d(r)?.clatMinNs), 3)),
    col(`${dir}_lat_max_ms`, (r) => fixed(nsToMs(d(r)?.clatMaxNs), 3)),
    col(`${dir}_lat_mean_ms`, (r) => fixed(nsToMs(d(r)?.clatMeanNs), 3)),
    col(`${dir}_lat_stddev_ms`, (r) => fixed(nsToMs(d(r)?.clatStddevNs), 3)),
    ...PERCENTILES.map((p) => col(`${dir}_lat_${percentileKey(p)}_ms`, (r) => fixed(nsToMs(d(r)?.clatPercentilesNs[percentileKey(p)]), 3))),
  ];
}

/** Numeric (or string) leaves of an object, by path; arrays become a ';'-joined cell. */
function leaves(value: unknown, path: string[] = [], out: [string[], string][] = []): [string[], string][] {
  if (value === null || value === undefined) return out;
  if (Array.isArray(value)) out.push([path, value.map(String).join(';')]);
  else if (typeof value === 'object') for (const [k, v] of Object.entries(value)) leaves(v, [...path, k], out);
  else if (typeof value === 'number')
    out.push([path, Number.isNaN(value) ? '' : Number.isInteger(value) ? String(value) : value.toFixed(3)]);
  else out.push([path, String(value)]);
  return out;
}

// Keys already in snake_case keep their unit spelling (page_cache_MiB); camelCase keys are converted.
const snakeCase = (key: string): string => (key.includes('_') ? key : key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase());

/**
 * Resource columns, when some entry has `resources`: each leaf becomes a column named by its
 * path in snake_case joined with '_' (`{ gcsfuseCpuPercent: { avg: 1, peak: 2 } }` gives
 * gcsfuse_cpu_percent_avg, gcsfuse_cpu_percent_peak), in first-seen order, values as given (units
 * are the keys'), prefixed `resources_` only where a name would clash with another column.
 */
export const resourceColumns: ColumnGroup = (reports) => {
  const names: string[] = [];
  const values = new Map<EntryReport, Map<string, string>>();
  for (const r of reports) {
    const m = new Map<string, string>();
    for (const [path, v] of leaves(r.resources)) {
      const name = path.map(snakeCase).join('_');
      if (!names.includes(name)) names.push(name);
      m.set(name, v);
    }
    values.set(r, m);
  }
  return names.map((name) => col(name, (r) => values.get(r)?.get(name) ?? ''));
};

const mean = (v: readonly number[] | undefined): number | null => (v?.length ? v.reduce((a, x) => a + x, 0) / v.length : null);

/** Steady-state bandwidth and warm-up/throttling findings (core/timeseries.ts), per direction with logs. */
const timeSeriesColumns: ColumnGroup = (reports) =>
  REPORTED_DIRECTIONS.filter((d) => d !== 'mixed' && reports.some((r) => r.timeSeries?.summary[d])).flatMap((d) => [
    col(`${d}_steady_bw_MiBps`, (r) =>
      fixed(toMiB(r.timeSeries?.summary[d as Exclude<ReportedDirection, 'mixed'>]?.steadyBwBytesPerSec), 2),
    ),
    col(`${d}_timeseries_findings`, (r) =>
      (r.timeSeries?.summary[d as Exclude<ReportedDirection, 'mixed'>]?.findings ?? [])
        .map((f) => `${f.finding} (iter ${f.iterations.join(',')})`)
        .join('; '),
    ),
  ]);

/** The column groups of combined_report.csv, in order. Read and write are always there (the original layout). */
export const REPORT_COLUMN_GROUPS: readonly ColumnGroup[] = [
  identityColumns,
  () => directionColumns('read'),
  () => directionColumns('write'),
  (reports) => (reports.some((r) => r.trim) ? directionColumns('trim') : []),
  (reports) => (reports.some((r) => r.mixed) ? directionColumns('mixed') : []),
  (reports) =>
    reports.some((r) => r.stability)
      ? [
          col('stable', (r) => (r.stability ? (r.stability.stable ? 'yes' : 'no') : '')),
          col('stability_bw_cv_pct', (r) => (r.stability ? r.stability.bw_cv_pct.toFixed(2) : '')),
        ]
      : [],
  resourceColumns,
  (reports) =>
    reports.some((r) => r.metadataPrefetch)
      ? [
          col('metadata_prefetch_ms_avg', (r) => fixed(mean(r.metadataPrefetch?.elapsedMs), 1)),
          col('metadata_prefetch_files', (r) => (r.metadataPrefetch ? String(Math.max(...r.metadataPrefetch.files)) : '')),
        ]
      : [],
  timeSeriesColumns,
];

export function reportColumns(reports: readonly EntryReport[], groups: readonly ColumnGroup[] = REPORT_COLUMN_GROUPS): Column[] {
  const out: Column[] = [];
  const taken = new Set<string>();
  for (const group of groups) {
    for (const c of group(reports)) {
      const name = taken.has(c.name) ? `resources_${c.name}` : c.name;
      taken.add(name);
      out.push({ name, value: c.value });
    }
  }
  return out;
}

/** Rows of combined_report.csv; bandwidth in MiB/s (2^20 bytes/s), latency in ms. */
export function reportRows(reports: readonly EntryReport[]): Record<string, string>[] {
  const columns = reportColumns(reports);
  return reports.map((r) => Object.fromEntries(columns.map((c) => [c.name, c.value(r)])));
}

export function reportCsv(reports: readonly EntryReport[]): string {
  const columns = reportColumns(reports);
  const rows = reports.map((r) => Object.fromEntries(columns.map((c) => [c.name, c.value(r)])));
  return stringify(rows, { header: true, columns: columns.map((c) => c.name) });
}

/** Entries grouped by config label, in first-seen (matrix) order: one CSV each with --separate-configs. */
export function reportsByConfig(reports: readonly EntryReport[]): Map<string, EntryReport[]> {
  const out = new Map<string, EntryReport[]>();
  for (const r of reports) {
    const list = out.get(r.configLabel) ?? [];
    list.push(r);
    out.set(r.configLabel, list);
  }
  return out;
}

// ---------------------------------------------------------------- summary.json

export interface SummaryMetric {
  mean: number | null;
  median: number | null;
  stddev: number | null;
  cvPct: number | null;
  ci95Low: number | null;
  ci95High: number | null;
  /** Why there is no interval, when there is none. */
  ci95Unavailable: string | null;
  geoMean: number | null;
  min: number | null;
  max: number | null;
  outlierIterations: number[];
  /** Per-iteration values, in the same unit. */
  values: number[];
}

export interface DirectionSummary {
  bwMiBps: SummaryMetric;
  iops: SummaryMetric;
  latencyMs: Record<string, number | null>;
}

export interface ReportSummaryJson {
  benchmarkId: string;
  /** False for the partial report of a benchmark that was cancelled or failed, or that lacks entries. */
  complete: boolean;
  /** Why it is partial, e.g. "cancelled". */
  incompleteReason?: string;
  units: Record<string, string>;
  method: Record<string, string>;
  counts: { entries: number; passed: number; failed: number; missing: number };
  configs: string[];
  tests: string[];
  entries: {
    matrixId: number;
    testId: string;
    config: string;
    commit: string;
    mountArgs: string;
    params: Record<string, string>;
    vm: string | null;
    status: EntryReport['status'];
    iterations: number;
    fioGroup?: number;
    machineType?: string | null;
    read: DirectionSummary | null;
    write: DirectionSummary | null;
    trim?: DirectionSummary | null;
    mixed?: DirectionSummary | null;
    resources?: object | null;
    environment?: EntryEnvironment;
    /** Wall time of the metadata prefetch before each iteration, ms, and their mean; files listed (the most of any iteration). */
    metadataPrefetch?: { elapsedMsAvg: number | null; elapsedMs: number[]; files: number };
    /** Per direction with fio logs: steady-state bandwidth (MiB/s) and what the steady-state rule found, by iteration. */
    timeSeries?: Record<
      string,
      { steadyBwMiBps: number | null; judgedIterations: number; findings: { finding: string; iterations: number[] }[] }
    >;
  }[];
}

function metricSummary(s: SampleStats, scale: number): SummaryMetric {
  const sc = (v: number | null | undefined) => (isNum(v) ? v / scale : null);
  return {
    mean: sc(s.mean),
    median: sc(s.median),
    stddev: sc(s.stddev),
    cvPct: isNum(s.cv) ? s.cv * 100 : null,
    ci95Low: sc(s.ci95Low),
    ci95High: sc(s.ci95High),
    ci95Unavailable: s.ciUnavailable ?? null,
    geoMean: sc(s.geoMean),
    min: sc(s.min),
    max: sc(s.max),
    outlierIterations: s.outlierIterations ?? [],
    values: (s.values ?? []).map((v) => v / scale),
  };
}

function directionSummary(d: DirectionStats | null | undefined): DirectionSummary | null {
  if (!d) return null;
  return {
    bwMiBps: metricSummary(d.bwBytesPerSec, MIB),
    iops: metricSummary(d.iops, 1),
    latencyMs: {
      min: nsToMs(d.clatMinNs),
      mean: nsToMs(d.clatMeanNs),
      stddev: nsToMs(d.clatStddevNs),
      ...Object.fromEntries(PERCENTILES.map((p) => [percentileKey(p), nsToMs(d.clatPercentilesNs[percentileKey(p)])])),
      max: nsToMs(d.clatMaxNs),
    },
  };
}

/** report/summary.json: every entry's statistics in the units of the CSV, with how they were computed. */
/** The user's choices of analysis (config.json's ciMinIterations and fioGroups), as the summary states them. */
export interface AnalysisOptions {
  ciMinIterations?: number;
  fioGroups?: GroupMode;
}

export function reportSummary(
  benchmarkId: string,
  reports: readonly EntryReport[],
  incompleteReason?: string,
  analysis: AnalysisOptions = {},
): ReportSummaryJson {
  const ciMin = Math.max(2, analysis.ciMinIterations ?? MIN_INTERVAL_ITERATIONS);
  const groups = analysis.fioGroups ?? 'separate';
  const missing = reports.filter((r) => r.status === 'missing').length;
  return {
    benchmarkId,
    complete: !incompleteReason && missing === 0,
    ...(incompleteReason ? { incompleteReason } : missing ? { incompleteReason: `${missing} entries have no result` } : {}),
    units: { ...UNIT_DESCRIPTIONS },
    method: {
      iterations:
        'bandwidth and IOPS: one value per iteration (fio bytes over the longest job runtime); mean, median, sample stddev, cv = stddev/mean over iterations',
      confidenceInterval: intervalMethod(ciMin),
      ciMinIterations: `${ciMin}${ciMin === MIN_INTERVAL_ITERATIONS ? ' (default)' : ' (--ci-min-iterations)'}`,
      latency:
        "pooled over all jobs and iterations: percentiles from fio's json+ histograms summed (never averaged), stddev pooled exactly from each job's N, mean and stddev",
      outliers: OUTLIER_RULE,
      groups: GROUPS_METHOD,
      fioGroups:
        groups === 'merged'
          ? 'merged (--fio-groups merged): every fio group of a job file pooled into one result'
          : 'separate (default): one result per fio group',
      mixed:
        "mixed: fio's own pooling of all directions of each job (unified_rw_reporting=1 or both), summed over jobs like the directions",
      timeSeries: STEADY_STATE_RULE,
    },
    counts: {
      entries: reports.length,
      passed: reports.filter((r) => r.status === 'passed').length,
      failed: reports.filter((r) => r.status === 'failed').length,
      missing,
    },
    configs: [...new Set(reports.map((r) => r.configLabel))],
    tests: [...new Set(reports.map((r) => r.testId))],
    entries: reports.map((r) => ({
      matrixId: r.matrixId,
      testId: r.testId,
      config: r.configLabel,
      commit: r.commit,
      mountArgs: r.mountArgs,
      params: r.params,
      vm: r.vm,
      status: r.status,
      iterations: r.iterations,
      ...(r.fioGroup !== undefined ? { fioGroup: r.fioGroup } : {}),
      ...(r.machineType !== undefined ? { machineType: r.machineType } : {}),
      read: directionSummary(r.read),
      write: directionSummary(r.write),
      ...(r.trim ? { trim: directionSummary(r.trim) } : {}),
      ...(r.mixed ? { mixed: directionSummary(r.mixed) } : {}),
      ...(r.resources ? { resources: r.resources } : {}),
      ...(r.environment ? { environment: r.environment } : {}),
      ...(r.metadataPrefetch
        ? {
            metadataPrefetch: {
              elapsedMsAvg: mean(r.metadataPrefetch.elapsedMs),
              elapsedMs: r.metadataPrefetch.elapsedMs,
              files: Math.max(...r.metadataPrefetch.files),
            },
          }
        : {}),
      ...(r.timeSeries
        ? {
            timeSeries: Object.fromEntries(
              Object.entries(r.timeSeries.summary).map(([d, v]) => [
                d,
                { steadyBwMiBps: toMiB(v.steadyBwBytesPerSec), judgedIterations: v.judged, findings: v.findings },
              ]),
            ),
          }
        : {}),
    })),
  };
}
