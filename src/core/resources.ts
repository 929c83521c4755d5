/**
 * Resource samples taken on an agent while fio runs (vm-agent/src/monitor.ts), and their
 * summary. Pure: no I/O, no Node built-ins, so workflows and the report may import it.
 *
 * Units are in the names. CPU percentages follow two conventions, as `top` does:
 * - a process's CPU (`gcsfuseCpuPercent`, `fioCpuPercent`): 100 = one core fully busy, so a
 *   multi-threaded process can exceed 100 (up to 100 x cpuCount);
 * - the machine's CPU (`systemCpuPercent`, `systemIowaitPercent`): 100 = every core busy.
 * Rates (`*BytesPerSec`) are averages over the sample's interval, from cumulative counters.
 */

export const RESOURCE_SAMPLES_SCHEMA = 'gcsfuse-bench/resources@1' as const;

/** One reading. Deltas (CPU, network) cover the `intervalMs` that ended at `t`. */
export interface ResourceSample {
  /** When the reading was taken, ms since the epoch. */
  t: number;
  /** Wall time since the previous reading (the first one: since the monitor started), ms. */
  intervalMs: number;
  /** Machine CPU busy (all but idle and iowait), 100 = all cores. */
  systemCpuPercent: number | null;
  /** Machine CPU idle waiting for I/O, 100 = all cores. */
  systemIowaitPercent: number | null;
  /** gcsfuse's CPU (user + system, all its threads), 100 = one core; null when there is no gcsfuse. */
  gcsfuseCpuPercent: number | null;
  /** gcsfuse's resident set size; null when there is no gcsfuse. */
  gcsfuseRssBytes: number | null;
  /** gcsfuse's virtual size; null when there is no gcsfuse. */
  gcsfuseVszBytes: number | null;
  /** CPU of all fio processes together (the main process and its job processes), 100 = one core; null when none ran. */
  fioCpuPercent: number | null;
  /** Resident set size of all fio processes together; null when none ran. */
  fioRssBytes: number | null;
  /** How many fio processes were alive at the reading. */
  fioProcesses: number;
  /** Page cache: `Cached` of /proc/meminfo. */
  pageCacheBytes: number | null;
  /** `MemAvailable` of /proc/meminfo. */
  memAvailableBytes: number | null;
  /** Received on every interface but loopback, summed. */
  netRxBytesPerSec: number | null;
  /** Transmitted on every interface but loopback, summed. */
  netTxBytesPerSec: number | null;
  /** Received on loopback (`lo`); kept apart: it is local traffic, e.g. to a storage emulator. */
  loopbackRxBytesPerSec: number | null;
  /** Transmitted on loopback (`lo`). */
  loopbackTxBytesPerSec: number | null;
}

/** The metrics of a sample that are summarised: every numeric field but the time stamps. */
export const RESOURCE_METRICS = [
  'systemCpuPercent',
  'systemIowaitPercent',
  'gcsfuseCpuPercent',
  'gcsfuseRssBytes',
  'gcsfuseVszBytes',
  'fioCpuPercent',
  'fioRssBytes',
  'fioProcesses',
  'pageCacheBytes',
  'memAvailableBytes',
  'netRxBytesPerSec',
  'netTxBytesPerSec',
  'loopbackRxBytesPerSec',
  'loopbackTxBytesPerSec',
] as const satisfies readonly (keyof ResourceSample)[];

export type ResourceMetric = (typeof RESOURCE_METRICS)[number];

export interface MetricSummary {
  /** Time-weighted mean (each sample weighs its intervalMs) over the samples that have a value; null when none has. */
  avg: number | null;
  /** Highest value; null when no sample has a value. */
  peak: number | null;
  /** How many samples had a value. */
  samples: number;
}

export type ResourceSummary = Record<ResourceMetric, MetricSummary>;

/** Where the monitor found gcsfuse. */
export type GcsfuseSource =
  /** The pid the agent gave (from its mount handle). */
  | 'pid'
  /** A process named gcsfuse whose command line names the mount point. */
  | 'mount-point'
  /** No gcsfuse (a local folder stands in for the mount, or it was not found). */
  | 'none';

/** iteration-<n>.resources.json: everything the monitor saw during one fio iteration. */
export interface ResourceSamples {
  schema: typeof RESOURCE_SAMPLES_SCHEMA;
  /** Sampling interval asked for, ms. */
  intervalMs: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  host: {
    cpuCount: number;
    /** Kernel clock ticks per second (USER_HZ): the resolution of process CPU times. */
    clockTicksPerSec: number;
    pageSizeBytes: number;
  };
  gcsfuse: { source: GcsfuseSource; pids: number[] };
  fio: { pids: number[] };
  /** Non-loopback interfaces whose counters were summed into net*BytesPerSec. */
  netInterfaces: string[];
  /**
   * What sampling cost the agent, over all readings (the baseline too): the process's CPU time
   * during the readings (getrusage; an upper bound, as other threads running meanwhile count too)
   * and their wall time; how many /proc/<pid>/stat files were read (the part that grows with the
   * number of new processes on the machine).
   */
  monitorCost: { readings: number; cpuMs: number; wallMs: number; cpuMsPerReading: number; pidStatReads: number };
  samples: ResourceSample[];
  summary: ResourceSummary;
}

/**
 * Average and peak of each metric. The average is weighted by each sample's interval, so a short
 * last sample (taken when the monitor stops) counts for the time it covers. Samples without a value
 * for a metric (no gcsfuse, no fio yet) are left out of that metric, not counted as zero.
 */
export function summariseSamples(samples: readonly ResourceSample[]): ResourceSummary {
  const summary = {} as ResourceSummary;
  for (const metric of RESOURCE_METRICS) {
    let weighted = 0;
    let weight = 0;
    let plain = 0;
    let count = 0;
    let peak: number | null = null;
    for (const s of samples) {
      const v = s[metric];
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      count++;
      plain += v;
      const w = Number.isFinite(s.intervalMs) && s.intervalMs > 0 ? s.intervalMs : 0;
      weighted += v * w;
      weight += w;
      if (peak === null || v > peak) peak = v;
    }
    // Without usable intervals, fall back to the plain mean rather than dividing by zero.
    const avg = count === 0 ? null : weight > 0 ? weighted / weight : plain / count;
    summary[metric] = { avg, peak, samples: count };
  }
  return summary;
}

/** CPU percent of one process (100 = one core) from its CPU ticks over a wall-clock interval. */
export function processCpuPercent(deltaTicks: number, clockTicksPerSec: number, intervalMs: number): number | null {
  if (!(intervalMs > 0) || !(clockTicksPerSec > 0) || deltaTicks < 0) return null;
  return (deltaTicks / clockTicksPerSec / (intervalMs / 1000)) * 100;
}

/** Counters of the `cpu` line of /proc/stat, in ticks. */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

/**
 * Machine CPU between two readings of /proc/stat: busy is everything but idle and iowait (guest
 * time is already inside user and nice, so it is not added again). Null when the counters did
 * not move (no time passed) or went backwards.
 */
export function systemCpuPercents(prev: CpuTimes, cur: CpuTimes): { busyPercent: number; iowaitPercent: number } | null {
  const total = (c: CpuTimes) => c.user + c.nice + c.system + c.idle + c.iowait + c.irq + c.softirq + c.steal;
  const dTotal = total(cur) - total(prev);
  if (!(dTotal > 0)) return null;
  const dIdle = cur.idle - prev.idle;
  const dIowait = cur.iowait - prev.iowait;
  if (dIdle < 0 || dIowait < 0) return null;
  return {
    busyPercent: clampPercent(((dTotal - dIdle - dIowait) / dTotal) * 100),
    iowaitPercent: clampPercent((dIowait / dTotal) * 100),
  };
}

function clampPercent(v: number): number {
  return Math.min(100, Math.max(0, v));
}

/** A rate from two readings of a cumulative counter; null when the counter went backwards (wrapped or reset). */
export function ratePerSec(prev: number, cur: number, intervalMs: number): number | null {
  if (!(intervalMs > 0)) return null;
  const d = cur - prev;
  if (d < 0) return null;
  return d / (intervalMs / 1000);
}

// ---------------------------------------------------------------------------------------------
// Parsers of /proc text (pure: the monitor reads the files, these read the text)
// ---------------------------------------------------------------------------------------------

/** The aggregate `cpu` line of /proc/stat. */
export function parseProcStatCpu(text: string): CpuTimes | null {
  const line = text.split('\n', 1)[0] ?? '';
  const m = /^cpu\s+(.*)$/.exec(line);
  if (!m) return null;
  const f = m[1]!.trim().split(/\s+/).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return null;
  const at = (i: number) => f[i] ?? 0;
  return { user: at(0), nice: at(1), system: at(2), idle: at(3), iowait: at(4), irq: at(5), softirq: at(6), steal: at(7) };
}

/** Fields of /proc/meminfo that we use, in bytes (the file says kB, meaning KiB). */
export function parseMeminfo(text: string): { cachedBytes: number | null; memAvailableBytes: number | null; memTotalBytes: number | null } {
  const field = (name: string): number | null => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : null;
  };
  return { cachedBytes: field('Cached'), memAvailableBytes: field('MemAvailable'), memTotalBytes: field('MemTotal') };
}

export interface NetCounters {
  /** Non-loopback interfaces, summed. */
  rxBytes: number;
  txBytes: number;
  loopbackRxBytes: number;
  loopbackTxBytes: number;
  interfaces: string[];
}

/** /proc/net/dev: receive bytes is the first counter after the name, transmit bytes the ninth. */
export function parseNetDev(text: string): NetCounters {
  const out: NetCounters = { rxBytes: 0, txBytes: 0, loopbackRxBytes: 0, loopbackTxBytes: 0, interfaces: [] };
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    // The two header lines have a '|' and no counters.
    if (!name || name.includes('|')) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    const rx = f[0];
    const tx = f[8];
    if (rx === undefined || tx === undefined || !Number.isFinite(rx) || !Number.isFinite(tx)) continue;
    if (name === 'lo') {
      out.loopbackRxBytes += rx;
      out.loopbackTxBytes += tx;
    } else {
      out.rxBytes += rx;
      out.txBytes += tx;
      out.interfaces.push(name);
    }
  }
  return out;
}

/** What we read from /proc/<pid>/stat. */
export interface ProcStat {
  pid: number;
  /** The command name (at most 15 characters, as the kernel keeps it). */
  comm: string;
  state: string;
  /** The parent's pid. */
  ppid: number;
  /** User + system CPU of all the process's threads, in clock ticks. */
  cpuTicks: number;
  /** When the process started, in clock ticks after boot. */
  startTicks: number;
  vszBytes: number;
  rssPages: number;
}

/**
 * /proc/<pid>/stat. The command name is in parentheses and may itself hold spaces or ')', so the
 * fields are counted from the last ')'. Field numbers as in proc(5): 14 utime, 15 stime,
 * 22 starttime, 23 vsize (bytes), 24 rss (pages).
 */
export function parseProcPidStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const num = (field: number) => Number(rest[field - 3]);
  const ppid = num(4);
  const utime = num(14);
  const stime = num(15);
  const start = num(22);
  const vsize = num(23);
  const rss = num(24);
  if (![pid, ppid, utime, stime, start, vsize, rss].every(Number.isFinite)) return null;
  return { pid, comm, state: rest[0] ?? '?', ppid, cpuTicks: utime + stime, startTicks: start, vszBytes: vsize, rssPages: rss };
}

const MIB = 2 ** 20;
const scaled = (m: MetricSummary, divisor: number) => ({
  avg: m.avg === null ? null : m.avg / divisor,
  peak: m.peak === null ? null : m.peak / divisor,
});

/**
 * The resource figures a report shows, units in the names: gcsfuse's CPU and memory,
 * the system's CPU, the page cache and the network, each as average and peak over fio's runs.
 */
export function reportResources(s: ResourceSummary) {
  return {
    gcsfuse_cpu_percent: scaled(s.gcsfuseCpuPercent, 1),
    gcsfuse_rss_MiB: scaled(s.gcsfuseRssBytes, MIB),
    gcsfuse_vsz_MiB: scaled(s.gcsfuseVszBytes, MIB),
    system_cpu_percent: scaled(s.systemCpuPercent, 1),
    fio_cpu_percent: scaled(s.fioCpuPercent, 1),
    page_cache_MiB: scaled(s.pageCacheBytes, MIB),
    net_rx_MiBps: scaled(s.netRxBytesPerSec, MIB),
    net_tx_MiBps: scaled(s.netTxBytesPerSec, MIB),
  };
}
