/**
 * Resource monitor of the agent: samples /proc about once a second while fio runs.
 *
 * What it reads, per sample (all small, synchronous reads of /proc, which never touch a disk):
 * - /proc/stat (machine CPU), /proc/meminfo (page cache), /proc/net/dev (network), /proc/uptime;
 * - /proc/<pid>/stat of gcsfuse and of fio's processes (CPU ticks, RSS, VSZ);
 * - the /proc directory listing, to notice fio's job processes and a gcsfuse found by mount point.
 *
 * Keeping it cheap: reading /proc/<pid>/stat of every process each second costs ~25 us a process
 * (2-3 ms a second with 100 processes, 0.25% of a core). So a process's stat is read once when it
 * first shows up, at every reading while we track it (fio, gcsfuse), again while it is young
 * (started in the last 2 s) and our child (it may still exec into fio, as setpriv does), and
 * otherwise only in a full rescan every 30 s (which also notices a reused pid).
 * bench/monitor-overhead.ts measures the cost; each ResourceSamples also records what its own
 * sampling cost (`monitorCost`: process CPU and wall time of the readings, /proc/<pid>/stat reads).
 *
 * We never read /proc/<pid>/cmdline of fio (it takes the process's mmap lock, which a process stuck
 * on a FUSE page fault may hold); only of processes named gcsfuse, once each, to match the mount point.
 *
 * Limits: a process that exits between two readings loses its CPU of that last partial interval;
 * CPU times have the kernel's tick resolution (1/100 s), so a 1 s sample is +-1% of a core.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import {
  parseMeminfo,
  parseNetDev,
  parseProcPidStat,
  parseProcStatCpu,
  processCpuPercent,
  ratePerSec,
  RESOURCE_SAMPLES_SCHEMA,
  summariseSamples,
  systemCpuPercents,
  type CpuTimes,
  type GcsfuseSource,
  type NetCounters,
  type ProcStat,
  type ResourceSample,
  type ResourceSamples,
} from '../../src/core/resources';

export interface MonitorOptions {
  /**
   * The gcsfuse process to watch (the mount handle's pid). Asked at every reading, so it may
   * appear or change while the monitor runs. Any process works (tests give a busy loop's pid).
   */
  pid?: () => number | undefined;
  /**
   * When `pid` gives nothing: watch processes named `gcsfuse` whose last argument (gcsfuse's mount
   * point) is this path or its real path. A local folder has no gcsfuse: its metrics are null.
   */
  mountPoint?: string;
  /** Time between readings; 1000 ms by default. */
  intervalMs?: number;
  /**
   * Which fio processes count: 'descendants' (default) of this process, so agents sharing a
   * machine (the demo) each see only their own fio; 'all' processes named fio; 'none'.
   */
  fio?: 'descendants' | 'all' | 'none';
  /** Called with each sample as it is taken (e.g. for a heartbeat); errors are ignored. */
  onSample?: (sample: ResourceSample) => void;
}

export interface ResourceMonitor {
  /** Samples taken so far (a copy). */
  samples(): ResourceSample[];
  /** Stops sampling (taking a last reading when at least half an interval passed) and returns everything. */
  stop(): Promise<ResourceSamples>;
}

const YOUNG_MS = 2_000;
const FULL_RESCAN_MS = 30_000;
const MIN_INTERVAL_MS = 50;

// ---------------------------------------------------------------------------------------------
// Host constants, read once per process
// ---------------------------------------------------------------------------------------------

let hostConstants: { clockTicksPerSec: number; pageSizeBytes: number; cpuCount: number } | undefined;

function getconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

/** USER_HZ and the page size (getconf; 100 and 4096, Linux's usual values, when it is missing), CPU count. */
export function hostConstantsOnce(): { clockTicksPerSec: number; pageSizeBytes: number; cpuCount: number } {
  hostConstants ??= {
    clockTicksPerSec: getconf('CLK_TCK', 100),
    pageSizeBytes: getconf('PAGESIZE', 4096),
    cpuCount: os.cpus().length || 1,
  };
  return hostConstants;
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return null;
  }
}

/**
 * CPU time of this process, ms (getrusage, which brings the calling thread's time up to date).
 * Around a reading it measures the reading's cost; as an upper bound, because other threads of
 * the agent (Temporal's core, GC) that ran meanwhile count too. /proc/thread-self/schedstat would
 * be per thread but lags for the running thread (it is updated at scheduler ticks), so it
 * under-counts short spans.
 */
function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

let pidStatReads = 0;

function readPidStat(pid: number): ProcStat | null {
  pidStatReads++;
  const text = readText(`/proc/${pid}/stat`);
  return text === null ? null : parseProcPidStat(text);
}

// ---------------------------------------------------------------------------------------------
// The monitor
// ---------------------------------------------------------------------------------------------

interface Known {
  comm: string;
  ppid: number;
  startTicks: number;
}

/**
 * What we know of the machine's processes, shared by every monitor of this agent: a monitor
 * started for the next iteration only reads the processes that appeared since, not all of them.
 */
const known = new Map<number, Known>();
let lastFullRescan = -Infinity;

interface Reading {
  /** performance.now() at the reading. */
  at: number;
  uptimeTicks: number | null;
  cpu: CpuTimes | null;
  net: NetCounters | null;
  /** Cumulative CPU ticks of the processes we track, by pid, with their start time (to notice reuse). */
  procTicks: Map<number, { cpuTicks: number; startTicks: number }>;
}

/** Starts sampling now; the first reading is a baseline, the first sample comes one interval later. */
export function startMonitor(opts: MonitorOptions = {}): ResourceMonitor {
  const intervalMs = Math.max(MIN_INTERVAL_MS, Math.round(opts.intervalMs ?? 1_000));
  const fioScope = opts.fio ?? 'descendants';
  const { clockTicksPerSec, pageSizeBytes, cpuCount } = hostConstantsOnce();
  const mountPaths = new Set<string>();
  if (opts.mountPoint) {
    mountPaths.add(opts.mountPoint);
    try {
      mountPaths.add(realpathSync(opts.mountPoint));
    } catch {
      // Not there (yet): the path as given.
    }
  }

  const startedAt = Date.now();
  const startedPerf = performance.now();
  const samples: ResourceSample[] = [];
  const gcsfusePids = new Set<number>();
  const fioPids = new Set<number>();
  const netInterfaces = new Set<string>();
  let gcsfuseSource: GcsfuseSource = 'none';
  let wallMs = 0;
  let cpuMs = 0;
  let costCount = 0;
  let statReads = 0;

  const isFio = (pid: number): boolean => {
    const k = known.get(pid);
    if (!k || k.comm !== 'fio' || fioScope === 'none') return false;
    if (fioScope === 'all') return true;
    // fio's main process is our child (setpriv execs into fio); its job processes are its children.
    let cur: Known | undefined = k;
    for (let depth = 0; cur && depth < 16; depth++) {
      if (cur.ppid === process.pid) return true;
      cur = known.get(cur.ppid);
      if (cur && cur.comm !== 'fio') return false;
    }
    return false;
  };

  /** For processes named gcsfuse: whether their last argument is our mount point (read once per process). */
  const mountMatches = new Map<number, { startTicks: number; match: boolean }>();
  const matchesMount = (pid: number, k: Known): boolean => {
    let m = mountMatches.get(pid);
    if (!m || m.startTicks !== k.startTicks) {
      const argv = (readText(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean);
      const last = argv[argv.length - 1];
      m = { startTicks: k.startTicks, match: last !== undefined && mountPaths.has(last) };
      mountMatches.set(pid, m);
    }
    return m.match;
  };

  /** Lists /proc and refreshes what we know of new, young and (every 30 s) all processes. */
  const scanProcesses = (now: number, uptimeTicks: number | null, stats: Map<number, ProcStat>): void => {
    let names: string[];
    try {
      names = readdirSync('/proc');
    } catch {
      return;
    }
    const full = now - lastFullRescan >= FULL_RESCAN_MS;
    if (full) lastFullRescan = now;
    const watchAllYoung = fioScope === 'all' || (mountPaths.size > 0 && !opts.pid);
    const youngSince = uptimeTicks === null ? Infinity : uptimeTicks - (YOUNG_MS / 1000) * clockTicksPerSec;
    const present = new Set<number>();
    for (const name of names) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue; // not a pid
      const pid = Number(name);
      present.add(pid);
      const k = known.get(pid);
      // Processes we may count are read every time: their CPU is what we measure.
      const tracked =
        k !== undefined &&
        ((k.comm === 'fio' && fioScope !== 'none') || (k.comm === 'gcsfuse' && mountPaths.size > 0 && mountMatches.get(pid)?.match !== false));
      if (k && !full && !tracked) {
        if (k.startTicks < youngSince) continue;
        // A young process is read again in case it execs into fio or gcsfuse; when only our own
        // fio counts, only our young children can (fio's job processes are named fio from birth).
        if (!watchAllYoung && k.ppid !== process.pid) continue;
      }
      const st = readPidStat(pid);
      if (!st) continue;
      stats.set(pid, st);
      if (!k || k.startTicks !== st.startTicks || k.comm !== st.comm) {
        known.set(pid, { comm: st.comm, ppid: st.ppid, startTicks: st.startTicks });
      } else {
        k.ppid = st.ppid;
      }
    }
    for (const pid of known.keys()) if (!present.has(pid)) known.delete(pid);
  };

  const read = (previous: Reading | undefined): { reading: Reading; sample: ResourceSample | null } => {
    const at = performance.now();
    const t = Date.now();
    const uptimeText = readText('/proc/uptime');
    const uptimeSec = uptimeText === null ? NaN : Number(uptimeText.split(' ', 1)[0]);
    const uptimeTicks = Number.isFinite(uptimeSec) ? uptimeSec * clockTicksPerSec : null;
    const statText = readText('/proc/stat');
    const cpu = statText === null ? null : parseProcStatCpu(statText);
    const meminfoText = readText('/proc/meminfo');
    const mem = meminfoText === null ? null : parseMeminfo(meminfoText);
    const netText = readText('/proc/net/dev');
    const net = netText === null ? null : parseNetDev(netText);
    if (net) for (const name of net.interfaces) netInterfaces.add(name);

    const stats = new Map<number, ProcStat>();
    scanProcesses(at, uptimeTicks, stats);
    const statOf = (pid: number): ProcStat | null => {
      let st = stats.get(pid);
      if (st === undefined) {
        st = readPidStat(pid) ?? undefined;
        if (st) stats.set(pid, st);
      }
      return st ?? null;
    };

    // gcsfuse: the pid given, else processes named gcsfuse serving our mount point.
    let gcsfuse: number[] = [];
    const given = opts.pid?.();
    if (given !== undefined && Number.isInteger(given) && given > 0) {
      const st = statOf(given);
      if (st && st.state !== 'Z') {
        gcsfuse = [given];
        gcsfuseSource = 'pid';
      }
    } else if (mountPaths.size > 0) {
      for (const [pid, k] of known) {
        if (k.comm === 'gcsfuse' && pid !== process.pid && matchesMount(pid, k) && statOf(pid)?.state !== 'Z') gcsfuse.push(pid);
      }
      if (gcsfuse.length > 0 && gcsfuseSource === 'none') gcsfuseSource = 'mount-point';
    }
    const fio: number[] = [];
    for (const [pid, k] of known) if (k.comm === 'fio' && isFio(pid) && statOf(pid)?.state !== 'Z') fio.push(pid);
    for (const pid of gcsfuse) gcsfusePids.add(pid);
    for (const pid of fio) fioPids.add(pid);

    // Every process read this time, not only those counted: a young child read now as setpriv
    // and next time as fio then has a previous reading to take its CPU delta from.
    const procTicks = new Map<number, { cpuTicks: number; startTicks: number }>();
    for (const [pid, st] of stats) procTicks.set(pid, { cpuTicks: st.cpuTicks, startTicks: st.startTicks });
    const reading: Reading = { at, uptimeTicks, cpu, net, procTicks };
    if (!previous) return { reading, sample: null };

    const interval = at - previous.at;
    /** CPU ticks of `pids` since the previous reading; null when none of them can be measured. */
    const ticksSince = (pids: number[]): number | null => {
      let sum: number | null = null;
      for (const pid of pids) {
        const cur = procTicks.get(pid);
        if (!cur) continue;
        const prev = previous.procTicks.get(pid);
        let d: number | null = null;
        if (prev && prev.startTicks === cur.startTicks) d = cur.cpuTicks - prev.cpuTicks;
        // Born since the previous reading: all its CPU time is in this interval.
        else if (previous.uptimeTicks !== null && cur.startTicks >= previous.uptimeTicks - 1) d = cur.cpuTicks;
        if (d !== null && d >= 0) sum = (sum ?? 0) + d;
      }
      return sum;
    };
    const cpuPercentOf = (pids: number[]): number | null => {
      const d = ticksSince(pids);
      return d === null ? null : round2(processCpuPercent(d, clockTicksPerSec, interval));
    };
    const sumOf = (pids: number[], f: (st: ProcStat) => number): number | null => {
      let sum: number | null = null;
      for (const pid of pids) {
        const st = stats.get(pid);
        if (st) sum = (sum ?? 0) + f(st);
      }
      return sum;
    };
    const sys = previous.cpu && cpu ? systemCpuPercents(previous.cpu, cpu) : null;
    const rate = (f: (n: NetCounters) => number): number | null => {
      if (!previous.net || !net) return null;
      const r = ratePerSec(f(previous.net), f(net), interval);
      return r === null ? null : Math.round(r);
    };
    const sample: ResourceSample = {
      t,
      intervalMs: Math.round(interval),
      systemCpuPercent: sys ? round2(sys.busyPercent) : null,
      systemIowaitPercent: sys ? round2(sys.iowaitPercent) : null,
      gcsfuseCpuPercent: gcsfuse.length ? cpuPercentOf(gcsfuse) : null,
      gcsfuseRssBytes: gcsfuse.length ? sumOf(gcsfuse, (st) => st.rssPages * pageSizeBytes) : null,
      gcsfuseVszBytes: gcsfuse.length ? sumOf(gcsfuse, (st) => st.vszBytes) : null,
      fioCpuPercent: fio.length ? cpuPercentOf(fio) : null,
      fioRssBytes: fio.length ? sumOf(fio, (st) => st.rssPages * pageSizeBytes) : null,
      fioProcesses: fio.length,
      pageCacheBytes: mem?.cachedBytes ?? null,
      memAvailableBytes: mem?.memAvailableBytes ?? null,
      netRxBytesPerSec: rate((n) => n.rxBytes),
      netTxBytesPerSec: rate((n) => n.txBytes),
      loopbackRxBytesPerSec: rate((n) => n.loopbackRxBytes),
      loopbackTxBytesPerSec: rate((n) => n.loopbackTxBytes),
    };
    return { reading, sample };
  };

  let last: Reading | undefined;
  const tick = (): void => {
    const t0 = performance.now();
    const c0 = processCpuMs();
    const r0 = pidStatReads;
    try {
      const { reading, sample } = read(last);
      last = reading;
      if (sample) {
        samples.push(sample);
        try {
          opts.onSample?.(sample);
        } catch {
          // A listener's error is not the monitor's.
        }
      }
    } catch {
      // Never let sampling break the agent; a missed reading shows as a longer interval.
    }
    wallMs += performance.now() - t0;
    cpuMs += processCpuMs() - c0;
    statReads += pidStatReads - r0;
    costCount++;
  };

  // Readings on a fixed schedule (start + k * interval), so a slow event loop does not drift it.
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let n = 0;
  const schedule = (): void => {
    if (stopped) return;
    const elapsed = performance.now() - startedPerf;
    n = Math.max(n + 1, Math.ceil(elapsed / intervalMs));
    timer = setTimeout(() => {
      tick();
      schedule();
    }, Math.max(0, n * intervalMs - elapsed));
    timer.unref();
  };
  tick(); // baseline
  schedule();

  let result: Promise<ResourceSamples> | undefined;
  return {
    samples: () => samples.slice(),
    stop(): Promise<ResourceSamples> {
      if (result) return result;
      result = (async () => {
        stopped = true;
        clearTimeout(timer);
        // A last reading for the tail, unless it would be too short to measure CPU meaningfully.
        if (last && performance.now() - last.at >= intervalMs / 2) tick();
        const finishedAt = Date.now();
        return {
          schema: RESOURCE_SAMPLES_SCHEMA,
          intervalMs,
          startedAt: new Date(startedAt).toISOString(),
          finishedAt: new Date(finishedAt).toISOString(),
          durationMs: finishedAt - startedAt,
          host: { cpuCount, clockTicksPerSec, pageSizeBytes },
          gcsfuse: { source: gcsfuseSource, pids: [...gcsfusePids] },
          fio: { pids: [...fioPids] },
          netInterfaces: [...netInterfaces].sort(),
          monitorCost: {
            readings: costCount,
            cpuMs: round3(cpuMs),
            wallMs: round3(wallMs),
            cpuMsPerReading: costCount ? round3(cpuMs / costCount) : 0,
            pidStatReads: statReads,
          },
          samples: samples.slice(),
          summary: summariseSamples(samples),
        };
      })();
      return result;
    },
  };
}

function round2(v: number): number;
function round2(v: number | null): number | null;
function round2(v: number | null): number | null {
  return v === null ? null : Math.round(v * 100) / 100;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/**
 * Runs `fn` with a monitor around it: the shape runEntry uses (start before fio, stop after,
 * whatever fio did). Returns fn's result and the samples.
 */
export async function monitored<T>(opts: MonitorOptions, fn: () => Promise<T>): Promise<{ result: T; resources: ResourceSamples }> {
  const monitor = startMonitor(opts);
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await monitor.stop();
    throw err;
  }
  return { result, resources: await monitor.stop() };
}
