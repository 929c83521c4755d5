/**
 * The machine's processes as the monitor knows them: which are fio (ours) and which gcsfuse serves
 * our mount point, kept cheap by reading a process's /proc/<pid>/stat only when it matters (see
 * monitor.ts for the policy and its cost).
 */
import { readdirSync } from 'node:fs';
import type { ProcStat } from '../../src/core/resources';
import { readPidStat, readText } from './proc-files';

const YOUNG_MS = 2_000;
const FULL_RESCAN_MS = 30_000;
/** How far up fio's process tree we look for our own pid (fio's job processes are fio's children). */
const MAX_FIO_DEPTH = 16;

/** Which fio processes count: our descendants, all processes named fio, or none. */
export type FioScope = 'descendants' | 'all' | 'none';

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

export interface ProcessTableOptions {
  fioScope: FioScope;
  /** Our mount point and its real path: a gcsfuse whose last argument is one of them serves it. */
  mountPaths: ReadonlySet<string>;
  /** gcsfuse's pid is given to the monitor, so gcsfuse need not be found by its mount point. */
  pidGiven: boolean;
  clockTicksPerSec: number;
}

/** One monitor's view of the shared process table. */
export class ProcessTable {
  /** For processes named gcsfuse: whether their last argument is our mount point (read once per process). */
  private readonly mountMatches = new Map<number, { startTicks: number; match: boolean }>();

  constructor(private readonly opts: ProcessTableOptions) {}

  /** Lists /proc and refreshes what we know of new, young and (every 30 s) all processes; the stats read go into `stats`. */
  scan(now: number, uptimeTicks: number | null, stats: Map<number, ProcStat>): void {
    const { fioScope, mountPaths } = this.opts;
    let names: string[];
    try {
      names = readdirSync('/proc');
    } catch {
      return;
    }
    const full = now - lastFullRescan >= FULL_RESCAN_MS;
    if (full) lastFullRescan = now;
    const watchAllYoung = fioScope === 'all' || (mountPaths.size > 0 && !this.opts.pidGiven);
    const youngSince = uptimeTicks === null ? Infinity : uptimeTicks - (YOUNG_MS / 1000) * this.opts.clockTicksPerSec;
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
        ((k.comm === 'fio' && fioScope !== 'none') ||
          (k.comm === 'gcsfuse' && mountPaths.size > 0 && this.mountMatches.get(pid)?.match !== false));
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
  }

  /** Known processes named fio that count (by the fio scope). */
  fioPids(): number[] {
    const pids: number[] = [];
    for (const pid of known.keys()) if (this.isFio(pid)) pids.push(pid);
    return pids;
  }

  /** Known processes named gcsfuse (not this one) serving our mount point. */
  gcsfusePidsForMount(): number[] {
    if (this.opts.mountPaths.size === 0) return [];
    const pids: number[] = [];
    for (const [pid, k] of known) if (k.comm === 'gcsfuse' && pid !== process.pid && this.matchesMount(pid, k)) pids.push(pid);
    return pids;
  }

  private isFio(pid: number): boolean {
    const k = known.get(pid);
    if (!k || k.comm !== 'fio' || this.opts.fioScope === 'none') return false;
    if (this.opts.fioScope === 'all') return true;
    // fio's main process is our child (setpriv execs into fio); its job processes are its children.
    let cur: Known | undefined = k;
    for (let depth = 0; cur && depth < MAX_FIO_DEPTH; depth++) {
      if (cur.ppid === process.pid) return true;
      cur = known.get(cur.ppid);
      if (cur && cur.comm !== 'fio') return false;
    }
    return false;
  }

  private matchesMount(pid: number, k: Known): boolean {
    let m = this.mountMatches.get(pid);
    if (!m || m.startTicks !== k.startTicks) {
      const argv = (readText(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean);
      const last = argv[argv.length - 1];
      m = { startTicks: k.startTicks, match: last !== undefined && this.opts.mountPaths.has(last) };
      this.mountMatches.set(pid, m);
    }
    return m.match;
  }
}
