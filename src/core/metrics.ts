/**
 * One definition per metric: its name, unit, which way is better, and how to read it from a
 * report entry (one direction's statistics), from one iteration's fio result, and per
 * iteration. The report's CSV and summary.json, the HTML report, the console tables, the
 * comparison and the export derive from these, so a metric means the same everywhere.
 */
import type { DirectionResult } from './fio';
import { percentileFromBins } from './fio';
import type { DirectionStats } from './report';

/** Completion-latency percentiles reported, read from fio's json+ histograms as fio reads them. */
export const PERCENTILES = [50, 90, 99, 99.9] as const;
export type Percentile = (typeof PERCENTILES)[number];
/** Key of a percentile in `clatPercentilesNs` and in summary.json: p50, p90, p99, p99.9. */
export const percentileKey = (p: number): string => `p${p}`;

export const MIB = 2 ** 20;
export const NS_PER_MS = 1e6;

/** Units as the reports write them. */
export const UNITS = {
  bandwidth: 'MiB/s',
  iops: 'IOPS',
  latency: 'ms',
} as const;

/** What each unit means, for summary.json and the HTML report. */
export const UNIT_DESCRIPTIONS: Record<string, string> = {
  bandwidth: 'MiB/s (2^20 bytes per second)',
  latency: 'ms (completion latency, clat)',
  iops: 'I/O operations per second',
};

export type Better = 'higher' | 'lower';

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const scaled = (values: readonly number[] | undefined, scale: number): number[] => (values ?? []).filter(num).map((v) => v / scale);

/** A metric of any direction, e.g. bw or p99_lat; `read_bw` is `bw` of the read direction. */
export interface MetricKind {
  /** Name in --metrics, --max-regression and comparisons (prefixed read_/write_/trim_/mixed_). */
  kind: string;
  /** Words for people: "bandwidth", "p99 latency". */
  label: string;
  unit: string;
  better: Better;
  /** fio's own unit of the raw values (bytes/s, I/O per second, ns) and the divisor to `unit`. */
  rawUnit: 'bytes/s' | 'IO/s' | 'ns';
  scale: number;
  /** The entry's figure, in `unit`: the mean over iterations, or the percentile of all samples pooled. */
  value(d: DirectionStats): number | null;
  /** One value per iteration, in `unit` (what significance tests use). */
  samples(d: DirectionStats): number[];
  /** One iteration's value in `rawUnit`, from its fio result (null without samples). */
  fromIteration(r: DirectionResult): number | null;
  /** The percentile, for latency percentiles. */
  percentile?: number;
}

function percentileKind(p: number): MetricKind {
  const key = percentileKey(p);
  return {
    kind: `${key}_lat`,
    label: `${key} latency`,
    unit: UNITS.latency,
    better: 'lower',
    rawUnit: 'ns',
    scale: NS_PER_MS,
    // The percentile of all samples of all iterations; tests use each iteration's own percentile.
    value: (d) => (num(d.clatPercentilesNs[key]) ? d.clatPercentilesNs[key]! / NS_PER_MS : null),
    samples: (d) => scaled(d.clatPerIteration?.percentilesNs[key]?.values, NS_PER_MS),
    fromIteration: (r) => percentileFromBins(r.clat.bins, p) ?? null,
    percentile: p,
  };
}

export const METRIC_KINDS: readonly MetricKind[] = [
  {
    kind: 'bw',
    label: 'bandwidth',
    unit: UNITS.bandwidth,
    better: 'higher',
    rawUnit: 'bytes/s',
    scale: MIB,
    value: (d) => (num(d.bwBytesPerSec.mean) ? d.bwBytesPerSec.mean / MIB : null),
    samples: (d) => scaled(d.bwBytesPerSec.values, MIB),
    fromIteration: (r) => r.bwBytesPerSec,
  },
  {
    kind: 'iops',
    label: 'IOPS',
    unit: UNITS.iops,
    better: 'higher',
    rawUnit: 'IO/s',
    scale: 1,
    value: (d) => (num(d.iops.mean) ? d.iops.mean : null),
    samples: (d) => scaled(d.iops.values, 1),
    fromIteration: (r) => r.iops,
  },
  {
    kind: 'mean_lat',
    label: 'mean latency',
    unit: UNITS.latency,
    better: 'lower',
    rawUnit: 'ns',
    scale: NS_PER_MS,
    value: (d) => (num(d.clatMeanNs) ? d.clatMeanNs / NS_PER_MS : null),
    samples: (d) => scaled(d.clatPerIteration?.meanNs.values, NS_PER_MS),
    fromIteration: (r) => (r.clat.count > 0 ? r.clat.meanNs : null),
  },
  ...PERCENTILES.map(percentileKind),
];

export const METRIC_KIND_NAMES: readonly string[] = METRIC_KINDS.map((k) => k.kind);
/** The latency percentile metrics, in PERCENTILES order. */
export const PERCENTILE_METRICS: readonly MetricKind[] = METRIC_KINDS.filter((k) => k.percentile !== undefined);
export const metricKind = (kind: string): MetricKind | undefined => METRIC_KINDS.find((k) => k.kind === kind);

/** `value` of a metric in the unit of the reports, from a raw value (bytes/s, IOPS, ns). */
export const inUnit = (k: MetricKind, raw: number | null | undefined): number | null => (num(raw) ? raw / k.scale : null);
