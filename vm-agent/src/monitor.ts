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
 *
 * Files: proc-files.ts (reading /proc, host constants), system-sampler.ts (machine CPU, memory,
 * network), process-table.ts (which processes are our fio and gcsfuse), process-sampler.ts (their
 * CPU and memory); this file is the loop that takes the readings and turns them into samples.
 */
import { realpathSync } from 'node:fs';
import { RESOURCE_SAMPLES_SCHEMA, summariseSamples, type ResourceSample, type ResourceSamples } from '../../src/core/resources';
import { hostConstantsOnce, pidStatReadCount, processCpuMs } from './proc-files';
import { ProcessSampler, type ProcessReading } from './process-sampler';
import type { FioScope } from './process-table';
import { readSystem, systemSample, type SystemReading } from './system-sampler';

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
  fio?: FioScope;
  /** Called with each sample as it is taken (e.g. for a heartbeat); errors are ignored. */
  onSample?: (sample: ResourceSample) => void;
}

export interface ResourceMonitor {
  /** Samples taken so far (a copy). */
  samples(): ResourceSample[];
  /** Stops sampling (taking a last reading when at least half an interval passed) and returns everything. */
  stop(): Promise<ResourceSamples>;
}

const DEFAULT_INTERVAL_MS = 1_000;
const MIN_INTERVAL_MS = 50;

interface Reading {
  /** performance.now() at the reading. */
  at: number;
  system: SystemReading;
  proc: ProcessReading;
}

/** What sampling has cost so far: the monitor records it with its samples. */
class SamplingCost {
  readings = 0;
  cpuMs = 0;
  wallMs = 0;
  pidStatReads = 0;

  /** Runs one reading and adds what it cost. */
  measure(fn: () => void): void {
    const t0 = performance.now();
    const c0 = processCpuMs();
    const r0 = pidStatReadCount();
    fn();
    this.wallMs += performance.now() - t0;
    this.cpuMs += processCpuMs() - c0;
    this.pidStatReads += pidStatReadCount() - r0;
    this.readings++;
  }

  summary(): ResourceSamples['monitorCost'] {
    return {
      readings: this.readings,
      cpuMs: round3(this.cpuMs),
      wallMs: round3(this.wallMs),
      cpuMsPerReading: this.readings ? round3(this.cpuMs / this.readings) : 0,
      pidStatReads: this.pidStatReads,
    };
  }
}

/** Starts sampling now; the first reading is a baseline, the first sample comes one interval later. */
export function startMonitor(opts: MonitorOptions = {}): ResourceMonitor {
  return new SamplingLoop(opts);
}

/** Readings on a fixed schedule (start + k * interval), so a slow event loop does not drift it. */
class SamplingLoop implements ResourceMonitor {
  private readonly intervalMs: number;
  private readonly host = hostConstantsOnce();
  private readonly processes: ProcessSampler;
  private readonly startedAt = Date.now();
  private readonly startedPerf = performance.now();
  private readonly taken: ResourceSample[] = [];
  private readonly netInterfaces = new Set<string>();
  private readonly cost = new SamplingCost();
  private last: Reading | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The number of the next scheduled reading. */
  private n = 0;
  private result: Promise<ResourceSamples> | undefined;

  constructor(private readonly opts: MonitorOptions) {
    this.intervalMs = Math.max(MIN_INTERVAL_MS, Math.round(opts.intervalMs ?? DEFAULT_INTERVAL_MS));
    this.processes = new ProcessSampler({
      pid: opts.pid,
      mountPaths: mountPathsOf(opts.mountPoint),
      fioScope: opts.fio ?? 'descendants',
      clockTicksPerSec: this.host.clockTicksPerSec,
      pageSizeBytes: this.host.pageSizeBytes,
    });
    this.tick(); // baseline
    this.schedule();
  }

  samples(): ResourceSample[] {
    return this.taken.slice();
  }

  stop(): Promise<ResourceSamples> {
    this.result ??= this.finish();
    return this.result;
  }

  private schedule(): void {
    if (this.stopped) return;
    const elapsed = performance.now() - this.startedPerf;
    this.n = Math.max(this.n + 1, Math.ceil(elapsed / this.intervalMs));
    this.timer = setTimeout(
      () => {
        this.tick();
        this.schedule();
      },
      Math.max(0, this.n * this.intervalMs - elapsed),
    );
    this.timer.unref();
  }

  private tick(): void {
    this.cost.measure(() => {
      try {
        const { reading, sample } = this.read(this.last);
        this.last = reading;
        if (!sample) return;
        this.taken.push(sample);
        try {
          this.opts.onSample?.(sample);
        } catch {
          // A listener's error is not the monitor's.
        }
      } catch {
        // Never let sampling break the agent; a missed reading shows as a longer interval.
      }
    });
  }

  /** Takes a reading; with a previous one, also the sample of the interval between them. */
  private read(previous: Reading | undefined): { reading: Reading; sample: ResourceSample | null } {
    const at = performance.now();
    const t = Date.now();
    const system = readSystem(this.host.clockTicksPerSec);
    for (const name of system.net?.interfaces ?? []) this.netInterfaces.add(name);
    const proc = this.processes.read(at, system.uptimeTicks);
    const reading: Reading = { at, system, proc };
    if (!previous) return { reading, sample: null };
    const interval = at - previous.at;
    const ofSystem = systemSample(previous.system, system, interval);
    const ofProcesses = this.processes.sample({ proc: previous.proc, uptimeTicks: previous.system.uptimeTicks }, proc, interval);
    // Field by field, in the order the samples have always been written.
    const sample: ResourceSample = {
      t,
      intervalMs: Math.round(interval),
      systemCpuPercent: ofSystem.systemCpuPercent,
      systemIowaitPercent: ofSystem.systemIowaitPercent,
      ...ofProcesses,
      pageCacheBytes: ofSystem.pageCacheBytes,
      memAvailableBytes: ofSystem.memAvailableBytes,
      netRxBytesPerSec: ofSystem.netRxBytesPerSec,
      netTxBytesPerSec: ofSystem.netTxBytesPerSec,
      loopbackRxBytesPerSec: ofSystem.loopbackRxBytesPerSec,
      loopbackTxBytesPerSec: ofSystem.loopbackTxBytesPerSec,
    };
    return { reading, sample };
  }

  private async finish(): Promise<ResourceSamples> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A last reading for the tail, unless it would be too short to measure CPU meaningfully.
    if (this.last && performance.now() - this.last.at >= this.intervalMs / 2) this.tick();
    const finishedAt = Date.now();
    const { cpuCount, clockTicksPerSec, pageSizeBytes } = this.host;
    return {
      schema: RESOURCE_SAMPLES_SCHEMA,
      intervalMs: this.intervalMs,
      startedAt: new Date(this.startedAt).toISOString(),
      finishedAt: new Date(finishedAt).toISOString(),
      durationMs: finishedAt - this.startedAt,
      host: { cpuCount, clockTicksPerSec, pageSizeBytes },
      gcsfuse: { source: this.processes.gcsfuseSource, pids: [...this.processes.gcsfusePids] },
      fio: { pids: [...this.processes.fioPids] },
      netInterfaces: [...this.netInterfaces].sort(),
      monitorCost: this.cost.summary(),
      samples: this.taken.slice(),
      summary: summariseSamples(this.taken),
    };
  }
}

/** The mount point as given and its real path (gcsfuse's last argument may be either). */
function mountPathsOf(mountPoint: string | undefined): Set<string> {
  const paths = new Set<string>();
  if (!mountPoint) return paths;
  paths.add(mountPoint);
  try {
    paths.add(realpathSync(mountPoint));
  } catch {
    // Not there (yet): the path as given.
  }
  return paths;
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
