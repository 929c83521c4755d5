/**
 * Reading fio's JSON output (--output-format=json or json+). Units are fio's own:
 * bw_bytes in bytes/s, runtime in ms, every *_ns latency in nanoseconds. We never use
 * `bw` (KiB/s) so no unit conversion can go wrong.
 */

export type Direction = 'read' | 'write' | 'trim';
export const DIRECTIONS: readonly Direction[] = ['read', 'write', 'trim'];

/** A latency histogram: bucket value in ns -> sample count, as fio's json+ `bins`. */
export type LatencyBins = Map<number, number>;

export interface LatencySummary {
  count: number;
  minNs: number;
  maxNs: number;
  meanNs: number;
  bins: LatencyBins;
}

export interface DirectionResult {
  ioBytes: number;
  bwBytesPerSec: number;
  iops: number;
  runtimeMs: number;
  totalIos: number;
  /** Completion latency; merged over jobs. */
  clat: LatencySummary;
}

export interface FioIterationResult {
  fioVersion: string;
  jobCount: number;
  /** Number of jobs that reported an error (fio's per-job `error`, an errno); non-zero means a job failed. */
  errorCount: number;
  read: DirectionResult;
  write: DirectionResult;
  trim: DirectionResult;
}

interface FioLat {
  min?: number;
  max?: number;
  mean?: number;
  N?: number;
  bins?: Record<string, number>;
}
interface FioDir {
  io_bytes?: number;
  bw_bytes?: number;
  iops?: number;
  runtime?: number;
  total_ios?: number;
  clat_ns?: FioLat;
}
interface FioJob {
  error?: number;
  read?: FioDir;
  write?: FioDir;
  trim?: FioDir;
}
interface FioJson {
  'fio version'?: string;
  jobs?: FioJob[];
}

export class FioOutputError extends Error {
  override readonly name = 'FioOutputError';
}

/**
 * Finds fio's JSON in an output file. fio may print warnings before it (and text after
 * it), and with --status-interval it writes one object per interval: the last complete
 * one is the final.
 */
export function extractFioJson(text: string): FioJson {
  const starts = [...text.matchAll(/^\{/gm)].map((m) => m.index!);
  let found: FioJson | undefined;
  for (let i = 0; i < starts.length; i++) {
    const parsed = parseObjectAt(text.slice(starts[i], starts[i + 1] ?? text.length));
    if (parsed) found = parsed;
  }
  if (!found) throw new FioOutputError('no complete fio JSON result found in the output');
  return found;
}

/**
 * The fio result at the start of a chunk, or undefined for a partial object (fio killed
 * mid-write) or a non-JSON line starting with '{'. Text may follow the object (fio's
 * normal report with --output-format=normal,json+, or a message printed at exit), so
 * after the whole chunk each cut after a '}' in column 0 is tried.
 */
function parseObjectAt(chunk: string): FioJson | undefined {
  const candidates = [chunk, ...[...chunk.matchAll(/^\}/gm)].map((m) => chunk.slice(0, m.index! + 1))];
  for (const candidate of candidates) {
    try {
      const parsed = JSON.parse(candidate) as FioJson;
      if (Array.isArray(parsed.jobs)) return parsed;
    } catch {
      // not this cut
    }
  }
  return undefined;
}

export function emptyLatency(): LatencySummary {
  return { count: 0, minNs: 0, maxNs: 0, meanNs: 0, bins: new Map() };
}

/** Pools latency summaries as if their samples had been recorded together. */
export function mergeLatency(parts: readonly LatencySummary[]): LatencySummary {
  const out = emptyLatency();
  let weighted = 0;
  for (const p of parts) {
    if (p.count === 0) continue;
    out.minNs = out.count === 0 ? p.minNs : Math.min(out.minNs, p.minNs);
    out.maxNs = Math.max(out.maxNs, p.maxNs);
    out.count += p.count;
    weighted += p.meanNs * p.count;
    for (const [v, n] of p.bins) out.bins.set(v, (out.bins.get(v) ?? 0) + n);
  }
  out.meanNs = out.count ? weighted / out.count : 0;
  return out;
}

function latencyOf(l: FioLat | undefined): LatencySummary {
  const count = l?.N ?? 0;
  if (!l || count === 0) return emptyLatency();
  const bins: LatencyBins = new Map();
  for (const [k, n] of Object.entries(l.bins ?? {})) bins.set(Number(k), n);
  return { count, minNs: l.min ?? 0, maxNs: l.max ?? 0, meanNs: l.mean ?? 0, bins };
}

function sumDirection(jobs: readonly FioJob[], dir: Direction): DirectionResult {
  const parts = jobs.map((j) => j[dir] ?? {});
  const ioBytes = parts.reduce((s, p) => s + (p.io_bytes ?? 0), 0);
  const totalIos = parts.reduce((s, p) => s + (p.total_ios ?? 0), 0);
  const runtimeMs = parts.reduce((m, p) => Math.max(m, p.runtime ?? 0), 0);
  return {
    ioBytes,
    // Jobs of one group run concurrently; group_reporting sums their bytes and I/Os and
    // divides by the longest runtime (fio's sum_thread_stats). Summing per-job bw_bytes
    // instead overstates the total whenever jobs finish at different times.
    bwBytesPerSec: runtimeMs ? Math.floor((ioBytes * 1000) / runtimeMs) : 0,
    iops: runtimeMs ? (totalIos * 1000) / runtimeMs : 0,
    runtimeMs,
    totalIos,
    clat: mergeLatency(parts.map((p) => latencyOf(p.clat_ns))),
  };
}

export function parseFioOutput(text: string): FioIterationResult {
  const json = extractFioJson(text);
  const jobs = json.jobs ?? [];
  if (jobs.length === 0) throw new FioOutputError('fio output has no jobs');
  return {
    fioVersion: json['fio version'] ?? 'unknown',
    jobCount: jobs.length,
    errorCount: jobs.reduce((s, j) => s + (j.error ? 1 : 0), 0),
    read: sumDirection(jobs, 'read'),
    write: sumDirection(jobs, 'write'),
    trim: sumDirection(jobs, 'trim'),
  };
}

/**
 * Percentile of a histogram the way fio computes it: the first bucket (in ascending
 * order) at which the running count reaches p% of all samples.
 */
export function percentileFromBins(bins: LatencyBins, p: number): number | undefined {
  let total = 0;
  for (const n of bins.values()) total += n;
  if (total === 0) return undefined;
  let seen = 0;
  const keys = [...bins.keys()].sort((a, b) => a - b);
  for (const k of keys) {
    seen += bins.get(k)!;
    // seen/total >= p/100 without the rounding of p/100 (0.07 * 100 is 7.000000000000001).
    if (seen * 100 >= p * total) return k;
  }
  return keys[keys.length - 1];
}

/** The directions an fio rw mode moves data in (`randrw:8` counts as randrw; fio's default is read). */
export function directionsOfRw(rw: string | undefined): Direction[] {
  const mode = (rw ?? 'read').split(':')[0]!.trim();
  switch (mode) {
    case 'write':
    case 'randwrite':
      return ['write'];
    case 'trim':
    case 'randtrim':
      return ['trim'];
    case 'rw':
    case 'readwrite':
    case 'randrw':
      return ['read', 'write'];
    case 'trimwrite':
    case 'randtrimwrite':
      return ['trim', 'write'];
    default:
      return ['read'];
  }
}

/**
 * Why an iteration's output is no result: a job reported an error, or a direction its rw mode
 * asks for moved no bytes (e.g. bs=1M on a 128k file). An empty answer means it is usable.
 */
export function unusableOutputReason(r: FioIterationResult, rw: string | undefined): string | undefined {
  if (r.errorCount > 0) return `${r.errorCount} of ${r.jobCount} fio jobs reported an error`;
  const idle = directionsOfRw(rw).filter((d) => r[d].ioBytes === 0);
  if (idle.length > 0) return `fio moved no bytes in the ${idle.join(' and ')} direction${idle.length > 1 ? 's' : ''} that rw=${rw ?? 'read'} asks for`;
  return undefined;
}
