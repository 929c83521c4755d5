import { stringify } from 'csv-stringify/sync';
import { mergeLatency, percentileFromBins, type Direction, type FioIterationResult } from './fio';
import type { MatrixEntry } from './matrix';
import { COLUMNS } from './params';
import { sampleStats, type SampleStats } from './stats';

export const PERCENTILES = [50, 90, 99] as const;

export interface DirectionStats {
  bwBytesPerSec: SampleStats;
  iops: SampleStats;
  /** Completion latency pooled over all jobs and iterations (histograms summed, never averaged). */
  clatMeanNs: number;
  clatMinNs: number;
  clatMaxNs: number;
  clatPercentilesNs: Record<string, number | null>;
  latencySamples: number;
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
}

function directionStats(results: readonly FioIterationResult[], dir: Direction): DirectionStats | null {
  const parts = results.map((r) => r[dir]);
  if (parts.every((p) => p.totalIos === 0)) return null;
  const lat = mergeLatency(parts.map((p) => p.clat));
  return {
    bwBytesPerSec: sampleStats(parts.map((p) => p.bwBytesPerSec)),
    iops: sampleStats(parts.map((p) => p.iops)),
    clatMeanNs: lat.meanNs,
    clatMinNs: lat.minNs,
    clatMaxNs: lat.maxNs,
    clatPercentilesNs: Object.fromEntries(PERCENTILES.map((p) => [`p${p}`, percentileFromBins(lat.bins, p) ?? null])),
    latencySamples: lat.count,
  };
}

export function entryReport(
  entry: MatrixEntry,
  vm: string | null,
  status: EntryReport['status'],
  results: readonly FioIterationResult[],
): EntryReport {
  return {
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
    read: results.length ? directionStats(results, 'read') : null,
    write: results.length ? directionStats(results, 'write') : null,
  };
}

const MIB = 2 ** 20;
const fixed = (v: number | null | undefined, digits: number): string =>
  v === null || v === undefined || Number.isNaN(v) ? '' : v.toFixed(digits);
const nsToMs = (ns: number | null | undefined): number | null | undefined => (ns === null || ns === undefined ? ns : ns / 1e6);

function directionColumns(prefix: string, d: DirectionStats | null): Record<string, string> {
  return {
    [`${prefix}_bw_MiBps_mean`]: fixed(d && d.bwBytesPerSec.mean / MIB, 2),
    [`${prefix}_bw_MiBps_stddev`]: fixed(d && d.bwBytesPerSec.stddev / MIB, 2),
    [`${prefix}_iops_mean`]: fixed(d?.iops.mean, 1),
    [`${prefix}_lat_mean_ms`]: fixed(nsToMs(d?.clatMeanNs), 3),
    ...Object.fromEntries(PERCENTILES.map((p) => [`${prefix}_lat_p${p}_ms`, fixed(nsToMs(d?.clatPercentilesNs[`p${p}`]), 3)])),
  };
}

/** Rows of combined_report.csv; bandwidth in MiB/s (2^20 bytes/s), latency in ms. */
export function reportRows(reports: readonly EntryReport[]): Record<string, string>[] {
  const paramColumns = COLUMNS.map((c) => c.column).filter((c) => c !== 'test_id' && reports.some((r) => c in r.params));
  return reports.map((r) => ({
    matrix_id: String(r.matrixId),
    test_id: r.testId,
    config: r.configLabel,
    commit: r.commit,
    mount_args: r.mountArgs,
    ...Object.fromEntries(paramColumns.map((c) => [c, r.params[c] ?? ''])),
    vm: r.vm ?? '',
    status: r.status,
    iterations: String(r.iterations),
    ...directionColumns('read', r.read),
    ...directionColumns('write', r.write),
  }));
}

export function reportCsv(reports: readonly EntryReport[]): string {
  const rows = reportRows(reports);
  return stringify(rows, { header: true, columns: Object.keys(rows[0] ?? { matrix_id: '' }) });
}
