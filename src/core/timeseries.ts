/**
 * Over time, not only totals: fio's bandwidth/IOPS/latency logs of each iteration, summed over
 * jobs into one series per direction, the gcsfuse resource samples on the same clock, and a
 * documented rule that says when the first seconds (warm-up) or the last ones (throttling)
 * differ from the steady state.
 *
 * The agent (not the job template: write_*_log stays refused by the job policy) adds
 * `--write_bw_log --write_iops_log --write_lat_log --log_avg_msec=FIO_LOG_AVG_MSEC` to fio's
 * command line, into its own output folder (vm-agent/src/fio-runner.ts). fio 3.33 checked:
 * - a log line is `time, value, direction (0 read, 1 write, 2 trim), block size, offset`; with
 *   log_avg_msec, `value` is the window's average: bw in KiB/s, IOPS in I/O per second, clat in ns;
 * - `time` counts from each job's own start (a job with startdelay, or of a later stonewall group,
 *   starts its own clock), so the agent asks for Unix-epoch times (log_unix_epoch=1): all jobs and
 *   the resource samples (same machine clock) then line up;
 * - `ramp_time` is excluded from the logs as from the json+ figures: the first line comes one
 *   window after the ramp ends.
 * Pure: no I/O.
 */
import type { Direction } from './fio';
import type { ResourceSample } from './resources';

/**
 * Averaging window of fio's logs. One second: fine enough to see a warm-up of a few seconds and
 * a throttle, coarse enough that a one-hour iteration is 3,600 lines per job and direction (not
 * one line per I/O, which for 4k random reads is millions), and it matches the resource monitor's
 * default 1 s sampling so both series line up.
 */
export const FIO_LOG_AVG_MSEC = 1000;
/** The prefix of the log files fio writes (`<prefix>_bw.<job>.log`, `_iops`, `_clat`, `_lat`, `_slat`). */
export const FIO_LOG_PREFIX = 'fio';
/** Bound of the raw logs kept per iteration: above it only the summed series is stored. */
export const FIO_RAW_LOGS_MAX_BYTES = 8 * 2 ** 20;
/** Bound of a stored series: longer iterations are coarsened (consecutive windows averaged) to at most this many points. */
export const MAX_SERIES_POINTS = 3600;

export const TIMESERIES_SCHEMA = 'gcsfuse-bench/timeseries@1' as const;
export const FIO_LOGS_SCHEMA = 'gcsfuse-bench/fio-logs@1' as const;

const LOG_DIRECTIONS: readonly Direction[] = ['read', 'write', 'trim'];
const KIB = 1024;

/** One direction's series, summed over jobs: column arrays of equal length. */
export interface DirectionSeries {
  /** End of each window, ms since the logged period began (startedAtMs: after ramp_time). */
  tMs: number[];
  bwBytesPerSec: number[];
  iops: number[];
  /** Mean completion latency of the window, the jobs weighted by their IOPS; null without a clat sample. */
  clatMeanNs: (number | null)[];
}

/** iteration-<n>.timeseries.json: what the report reads of the logs. */
export interface IterationTimeSeries {
  schema: typeof TIMESERIES_SCHEMA;
  iteration: number;
  /** Window of each point (log_avg_msec, times the coarsening factor). */
  intervalMs: number;
  /** Jobs whose logs were read. */
  jobs: number;
  /** Start of the logged period (the first window's start), ms since the epoch on the agent's clock; null without lines. */
  startedAtMs: number | null;
  directions: Partial<Record<Direction, DirectionSeries>>;
  /** Why the raw logs are not stored beside it, when they are not. */
  rawLogsOmitted?: string;
}

/** iteration-<n>.fio-logs.json: fio's own log files of an iteration, verbatim, by file name. */
export interface FioRawLogs {
  schema: typeof FIO_LOGS_SCHEMA;
  iteration: number;
  logAvgMsec: number;
  files: Record<string, string>;
}

/** fio's command-line options that write the logs into `dir` (the agent's own output folder). */
export function fioLogArgs(dir: string): string[] {
  const prefix = `${dir.replace(/\/+$/, '')}/${FIO_LOG_PREFIX}`;
  return [
    `--write_bw_log=${prefix}`,
    `--write_iops_log=${prefix}`,
    `--write_lat_log=${prefix}`,
    `--log_avg_msec=${FIO_LOG_AVG_MSEC}`,
    '--log_unix_epoch=1',
  ];
}

type LogKind = 'bw' | 'iops' | 'clat';
const LOG_FILE = /^(?:.*\/)?[^/]*_(bw|iops|clat)\.(\d+)\.log$/;

/** Which log a file is (`fio_bw.2.log` is job 2's bandwidth), or undefined for logs the report does not read (lat, slat). */
export function logFileKind(name: string): { kind: LogKind; job: number } | undefined {
  const m = LOG_FILE.exec(name);
  return m ? { kind: m[1] as LogKind, job: Number(m[2]) } : undefined;
}

/** Lines of one log: [time ms, value, direction]. Lines that are not fio's are an error naming the file and line. */
export function parseFioLog(text: string, source: string): [number, number, Direction][] {
  const out: [number, number, Direction][] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const f = line.split(',').map((x) => Number(x.trim()));
    const dir = LOG_DIRECTIONS[f[2]!];
    if (f.length < 3 || !Number.isFinite(f[0]) || !Number.isFinite(f[1]) || !dir) {
      throw new Error(`${source} line ${i + 1}: not an fio log line (time, value, direction, ...): ${JSON.stringify(line.slice(0, 80))}`);
    }
    out.push([f[0]!, f[1]!, dir]);
  });
  return out;
}

/**
 * The iteration's series from fio's log files (name -> text, Unix-epoch times): time 0 is the
 * start of the earliest window; each job's lines go to the window they end in
 * (round(t / interval)), so jobs that started at other moments line up within half a window; two
 * lines of one job in one window are averaged (fio's last flush); then bandwidth and IOPS are
 * summed over jobs and latency averaged weighted by IOPS.
 */
export function seriesFromFioLogs(
  files: Readonly<Record<string, string>>,
  intervalMs = FIO_LOG_AVG_MSEC,
): { directions: Partial<Record<Direction, DirectionSeries>>; jobs: number; intervalMs: number; startedAtMs: number | null } {
  // kind -> direction -> job -> window -> [sum, count]
  const acc = new Map<string, Map<number, [number, number]>>();
  const jobs = new Set<number>();
  const at = (kind: LogKind, dir: Direction, job: number) => {
    const key = `${kind}/${dir}/${job}`;
    let m = acc.get(key);
    if (!m) acc.set(key, (m = new Map()));
    return m;
  };
  const parsed = Object.entries(files).flatMap(([name, text]) => {
    const which = logFileKind(name);
    return which ? [{ ...which, lines: parseFioLog(text, name) }] : [];
  });
  let first = Infinity;
  for (const f of parsed) for (const [t] of f.lines) first = Math.min(first, t);
  const zero = Number.isFinite(first) ? first - intervalMs : null;
  for (const which of parsed) {
    jobs.add(which.job);
    for (const [t, v, dir] of which.lines) {
      const w = Math.max(1, Math.round((t - zero!) / intervalMs));
      const m = at(which.kind, dir, which.job);
      const cur = m.get(w) ?? [0, 0];
      m.set(w, [cur[0] + v, cur[1] + 1]);
    }
  }
  const mean = (kind: LogKind, dir: Direction, job: number, w: number): number | undefined => {
    const v = acc.get(`${kind}/${dir}/${job}`)?.get(w);
    return v ? v[0] / v[1] : undefined;
  };
  const directions: Partial<Record<Direction, DirectionSeries>> = {};
  for (const dir of LOG_DIRECTIONS) {
    const windows = new Set<number>();
    for (const kind of ['bw', 'iops'] as const)
      for (const job of jobs) for (const w of acc.get(`${kind}/${dir}/${job}`)?.keys() ?? []) windows.add(w);
    if (windows.size === 0) continue;
    const s: DirectionSeries = { tMs: [], bwBytesPerSec: [], iops: [], clatMeanNs: [] };
    for (const w of [...windows].sort((a, b) => a - b)) {
      let bw = 0;
      let iops = 0;
      let latWeighted = 0;
      let latWeight = 0;
      for (const job of jobs) {
        bw += (mean('bw', dir, job, w) ?? 0) * KIB;
        const jobIops = mean('iops', dir, job, w) ?? 0;
        iops += jobIops;
        const lat = mean('clat', dir, job, w);
        // A job whose IOPS line is missing still counts, with weight 1.
        if (lat !== undefined) {
          const weight = jobIops > 0 ? jobIops : 1;
          latWeighted += lat * weight;
          latWeight += weight;
        }
      }
      s.tMs.push(w * intervalMs);
      s.bwBytesPerSec.push(Math.round(bw));
      s.iops.push(iops);
      s.clatMeanNs.push(latWeight > 0 ? latWeighted / latWeight : null);
    }
    directions[dir] = s;
  }
  return coarsen({ directions, jobs: jobs.size, intervalMs, startedAtMs: zero });
}

/** Averages consecutive windows until every series has at most MAX_SERIES_POINTS points. */
function coarsen<T extends { directions: Partial<Record<Direction, DirectionSeries>>; intervalMs: number }>(
  x: T,
  max = MAX_SERIES_POINTS,
): T {
  const longest = Math.max(0, ...Object.values(x.directions).map((s) => s.tMs.length));
  const k = Math.ceil(longest / max);
  if (k <= 1) return x;
  const avg = (a: readonly number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const directions: Partial<Record<Direction, DirectionSeries>> = {};
  for (const [dir, s] of Object.entries(x.directions) as [Direction, DirectionSeries][]) {
    const out: DirectionSeries = { tMs: [], bwBytesPerSec: [], iops: [], clatMeanNs: [] };
    for (let i = 0; i < s.tMs.length; i += k) {
      const lats = s.clatMeanNs.slice(i, i + k).filter((v): v is number => v !== null);
      out.tMs.push(s.tMs[Math.min(i + k, s.tMs.length) - 1]!);
      out.bwBytesPerSec.push(Math.round(avg(s.bwBytesPerSec.slice(i, i + k))));
      out.iops.push(avg(s.iops.slice(i, i + k)));
      out.clatMeanNs.push(lats.length ? avg(lats) : null);
    }
    directions[dir] = out;
  }
  return { ...x, directions, intervalMs: x.intervalMs * k };
}

// ---------------------------------------------------------------- warm-up and throttling

/** The first this many seconds are the warm-up window; the steady state is what follows. */
export const WARMUP_WINDOW_MS = 5_000;
/** Fewer windows after the warm-up than this, and nothing is judged (too short to have a steady state). */
export const MIN_STEADY_WINDOWS = 10;
/** A start (or end) this much below or above the steady state is reported. */
export const DEVIATION_THRESHOLD = 0.2;

export const STEADY_STATE_RULE =
  `from fio's 1 s bandwidth log (ramp_time already excluded by fio): steady state = the windows after the first ${WARMUP_WINDOW_MS / 1000} s; ` +
  `warm-up when the first ${WARMUP_WINDOW_MS / 1000} s average more than ${DEVIATION_THRESHOLD * 100}% below the median of the first third of the steady state, fast start when more than ${DEVIATION_THRESHOLD * 100}% above; ` +
  `throttling when the median of the last third of the steady state is more than ${DEVIATION_THRESHOLD * 100}% below that of its first third; ` +
  `not judged with fewer than ${MIN_STEADY_WINDOWS} windows after the first ${WARMUP_WINDOW_MS / 1000} s`;

export type Finding = 'warm-up' | 'fast start' | 'throttling';

export interface SteadyState {
  /** Mean bandwidth of the first WARMUP_WINDOW_MS, bytes/s. */
  startBwBytesPerSec: number;
  /** Mean bandwidth after the first WARMUP_WINDOW_MS: the steady-state figure, bytes/s. */
  steadyBwBytesPerSec: number;
  /** Median of the steady-state windows, bytes/s. */
  steadyMedianBwBytesPerSec: number;
  /** Start mean / median of the first third of the steady state (the time right after the start: a later throttle does not count). */
  startRatio: number;
  /** Median of the last third / median of the first third of the steady state. */
  endRatio: number;
  findings: Finding[];
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The rule of STEADY_STATE_RULE on one direction's series; null when it is too short to judge. */
export function steadyState(s: DirectionSeries, intervalMs: number): SteadyState | null {
  const warm = s.tMs.filter((t) => t <= WARMUP_WINDOW_MS).length;
  const start = s.bwBytesPerSec.slice(0, warm);
  const steady = s.bwBytesPerSec.slice(warm);
  if (start.length === 0 || steady.length < MIN_STEADY_WINDOWS || intervalMs > WARMUP_WINDOW_MS) return null;
  const steadyMedian = median(steady);
  const startMean = start.reduce((a, v) => a + v, 0) / start.length;
  const third = Math.floor(steady.length / 3);
  const first = median(steady.slice(0, third));
  const last = median(steady.slice(steady.length - third));
  const startRatio = first > 0 ? startMean / first : 1;
  const endRatio = first > 0 ? last / first : 1;
  const findings: Finding[] = [];
  if (startRatio < 1 - DEVIATION_THRESHOLD) findings.push('warm-up');
  if (startRatio > 1 + DEVIATION_THRESHOLD) findings.push('fast start');
  if (endRatio < 1 - DEVIATION_THRESHOLD) findings.push('throttling');
  return {
    startBwBytesPerSec: startMean,
    steadyBwBytesPerSec: steady.reduce((a, v) => a + v, 0) / steady.length,
    steadyMedianBwBytesPerSec: steadyMedian,
    startRatio,
    endRatio,
    findings,
  };
}

// ---------------------------------------------------------------- an entry's series, for the report

/** gcsfuse's CPU and memory over the same time as fio's logs. */
export interface ResourceSeries {
  /** ms since the logged period began; negative before it (the ramp, fio's start). */
  tMs: number[];
  gcsfuseCpuPercent: (number | null)[];
  gcsfuseRssBytes: (number | null)[];
}

export interface IterationSeriesReport {
  iteration: number;
  intervalMs: number;
  directions: Partial<Record<Direction, DirectionSeries>>;
  resources?: ResourceSeries;
  steady: Partial<Record<Direction, SteadyState | null>>;
}

/** What an entry report keeps of its iterations' series. */
export interface EntryTimeSeries {
  iterations: IterationSeriesReport[];
  /** Per direction: the steady-state bandwidth averaged over the judged iterations, and which iterations showed what. */
  summary: Partial<
    Record<Direction, { steadyBwBytesPerSec: number | null; judged: number; findings: { finding: Finding; iterations: number[] }[] }>
  >;
}

/** Resource samples on the logs' clock (both are the agent machine's clock). */
export function resourceSeries(samples: readonly ResourceSample[], startedAtMs: number): ResourceSeries {
  const zero = startedAtMs;
  return {
    tMs: samples.map((s) => s.t - zero),
    gcsfuseCpuPercent: samples.map((s) => s.gcsfuseCpuPercent),
    gcsfuseRssBytes: samples.map((s) => s.gcsfuseRssBytes),
  };
}

export interface IterationSeriesInput {
  series: IterationTimeSeries;
  /** The iteration's resource samples, when stored. */
  samples?: readonly ResourceSample[];
}

/**
 * report.html draws charts for the first this many tests (in matrix order) only; the entries of
 * the others keep the steady-state summary of their series, not the series (results.json and the
 * worker's memory stay small for large runs).
 */
export const MAX_CHARTED_TESTS = 40;

/** The tests (in matrix order) whose entries keep their series for report.html. */
export function chartedTests(entries: readonly { matrixId: number; testId: string }[]): Set<string> {
  const ids = [...entries].sort((a, b) => a.matrixId - b.matrixId).map((e) => e.testId);
  return new Set([...new Set(ids)].slice(0, MAX_CHARTED_TESTS));
}

/** An entry's series and their summary; with `keepSeries` false only the summary and each iteration's verdict. */
export function entryTimeSeries(inputs: readonly IterationSeriesInput[], keepSeries = true): EntryTimeSeries | undefined {
  if (inputs.length === 0) return undefined;
  const iterations = [...inputs]
    .sort((a, b) => a.series.iteration - b.series.iteration)
    .map(({ series, samples }): IterationSeriesReport => {
      const steady = Object.fromEntries(Object.entries(series.directions).map(([d, s]) => [d, steadyState(s, series.intervalMs)]));
      const withResources = samples?.length && series.startedAtMs !== null;
      return {
        iteration: series.iteration,
        intervalMs: series.intervalMs,
        directions: series.directions,
        ...(withResources ? { resources: resourceSeries(samples, series.startedAtMs!) } : {}),
        steady,
      };
    });
  const summary: EntryTimeSeries['summary'] = {};
  const kept = keepSeries
    ? iterations
    : iterations.map(({ iteration, intervalMs, steady }) => ({ iteration, intervalMs, directions: {}, steady }));
  for (const dir of LOG_DIRECTIONS) {
    const judged = iterations
      .map((it) => [it.iteration, it.steady[dir]] as const)
      .filter((x): x is readonly [number, SteadyState] => !!x[1]);
    if (!iterations.some((it) => it.directions[dir])) continue;
    const findings = (['warm-up', 'fast start', 'throttling'] as const)
      .map((finding) => ({ finding, iterations: judged.filter(([, s]) => s.findings.includes(finding)).map(([i]) => i) }))
      .filter((f) => f.iterations.length > 0);
    summary[dir] = {
      steadyBwBytesPerSec: judged.length ? judged.reduce((a, [, s]) => a + s.steadyBwBytesPerSec, 0) / judged.length : null,
      judged: judged.length,
      findings,
    };
  }
  return { iterations: kept, summary };
}
