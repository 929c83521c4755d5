/** gcsfuse's and fio's resources for the monitor: CPU from /proc/<pid>/stat ticks, RSS and VSZ. */
import { processCpuPercent, type GcsfuseSource, type ProcStat, type ResourceSample } from '../../src/core/resources';
import { readPidStat } from './proc-files';
import { ProcessTable, type FioScope } from './process-table';
import { round2 } from './system-sampler';

export interface ProcessReading {
  /** Cumulative CPU ticks of every process read this time, by pid, with its start time (to notice reuse). */
  procTicks: Map<number, { cpuTicks: number; startTicks: number }>;
  stats: Map<number, ProcStat>;
  gcsfuse: number[];
  fio: number[];
}

export type ProcessSample = Pick<
  ResourceSample,
  'gcsfuseCpuPercent' | 'gcsfuseRssBytes' | 'gcsfuseVszBytes' | 'fioCpuPercent' | 'fioRssBytes' | 'fioProcesses'
>;

export interface ProcessSamplerOptions {
  /** gcsfuse's pid, asked at every reading; when it gives nothing, gcsfuse is found by mount point. */
  pid?: () => number | undefined;
  mountPaths: ReadonlySet<string>;
  fioScope: FioScope;
  clockTicksPerSec: number;
  pageSizeBytes: number;
}

/** Finds gcsfuse and fio at each reading and measures them; remembers every pid it counted. */
export class ProcessSampler {
  private readonly table: ProcessTable;
  gcsfuseSource: GcsfuseSource = 'none';
  readonly gcsfusePids = new Set<number>();
  readonly fioPids = new Set<number>();

  constructor(private readonly opts: ProcessSamplerOptions) {
    this.table = new ProcessTable({
      fioScope: opts.fioScope,
      mountPaths: opts.mountPaths,
      pidGiven: opts.pid !== undefined,
      clockTicksPerSec: opts.clockTicksPerSec,
    });
  }

  read(at: number, uptimeTicks: number | null): ProcessReading {
    const stats = new Map<number, ProcStat>();
    this.table.scan(at, uptimeTicks, stats);
    const statOf = (pid: number): ProcStat | null => {
      let st = stats.get(pid);
      if (st === undefined) {
        st = readPidStat(pid) ?? undefined;
        if (st) stats.set(pid, st);
      }
      return st ?? null;
    };
    const alive = (pid: number) => statOf(pid)?.state !== 'Z';

    // gcsfuse: the pid given, else processes named gcsfuse serving our mount point.
    let gcsfuse: number[] = [];
    const given = this.opts.pid?.();
    if (given !== undefined && Number.isInteger(given) && given > 0) {
      const st = statOf(given);
      if (st && st.state !== 'Z') {
        gcsfuse = [given];
        this.gcsfuseSource = 'pid';
      }
    } else {
      gcsfuse = this.table.gcsfusePidsForMount().filter(alive);
      if (gcsfuse.length > 0 && this.gcsfuseSource === 'none') this.gcsfuseSource = 'mount-point';
    }
    const fio = this.table.fioPids().filter(alive);
    for (const pid of gcsfuse) this.gcsfusePids.add(pid);
    for (const pid of fio) this.fioPids.add(pid);

    // Every process read this time, not only those counted: a young child read now as setpriv
    // and next time as fio then has a previous reading to take its CPU delta from.
    const procTicks = new Map<number, { cpuTicks: number; startTicks: number }>();
    for (const [pid, st] of stats) procTicks.set(pid, { cpuTicks: st.cpuTicks, startTicks: st.startTicks });
    return { procTicks, stats, gcsfuse, fio };
  }

  /** gcsfuse's and fio's figures over the interval since `previous` (uptime in ticks at each reading). */
  sample(previous: { proc: ProcessReading; uptimeTicks: number | null }, cur: ProcessReading, intervalMs: number): ProcessSample {
    const { clockTicksPerSec, pageSizeBytes } = this.opts;
    /** CPU ticks of `pids` since the previous reading; null when none of them can be measured. */
    const ticksSince = (pids: number[]): number | null => {
      let sum: number | null = null;
      for (const pid of pids) {
        const now = cur.procTicks.get(pid);
        if (!now) continue;
        const prev = previous.proc.procTicks.get(pid);
        let d: number | null = null;
        if (prev && prev.startTicks === now.startTicks) d = now.cpuTicks - prev.cpuTicks;
        // Born since the previous reading: all its CPU time is in this interval.
        else if (previous.uptimeTicks !== null && now.startTicks >= previous.uptimeTicks - 1) d = now.cpuTicks;
        if (d !== null && d >= 0) sum = (sum ?? 0) + d;
      }
      return sum;
    };
    const cpuPercentOf = (pids: number[]): number | null => {
      const d = ticksSince(pids);
      const percent = d === null ? null : processCpuPercent(d, clockTicksPerSec, intervalMs);
      return percent === null ? null : round2(percent);
    };
    const sumOf = (pids: number[], f: (st: ProcStat) => number): number | null => {
      let sum: number | null = null;
      for (const pid of pids) {
        const st = cur.stats.get(pid);
        if (st) sum = (sum ?? 0) + f(st);
      }
      return sum;
    };
    const { gcsfuse, fio } = cur;
    return {
      gcsfuseCpuPercent: gcsfuse.length ? cpuPercentOf(gcsfuse) : null,
      gcsfuseRssBytes: gcsfuse.length ? sumOf(gcsfuse, (st) => st.rssPages * pageSizeBytes) : null,
      gcsfuseVszBytes: gcsfuse.length ? sumOf(gcsfuse, (st) => st.vszBytes) : null,
      fioCpuPercent: fio.length ? cpuPercentOf(fio) : null,
      fioRssBytes: fio.length ? sumOf(fio, (st) => st.rssPages * pageSizeBytes) : null,
      fioProcesses: fio.length,
    };
  }
}
