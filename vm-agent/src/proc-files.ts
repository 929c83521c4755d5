/**
 * Reading /proc for the resource monitor: small synchronous reads that never touch a disk, the
 * host's constants (read once per process), and a count of /proc/<pid>/stat reads (the monitor's
 * main cost, recorded with its samples).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseProcPidStat, type ProcStat } from '../../src/core/resources';

export interface HostConstants {
  clockTicksPerSec: number;
  pageSizeBytes: number;
  cpuCount: number;
}

let hostConstants: HostConstants | undefined;

function getconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

/** USER_HZ and the page size (getconf; 100 and 4096, Linux's usual values, when it is missing), CPU count. */
export function hostConstantsOnce(): HostConstants {
  hostConstants ??= {
    clockTicksPerSec: getconf('CLK_TCK', 100),
    pageSizeBytes: getconf('PAGESIZE', 4096),
    cpuCount: os.cpus().length || 1,
  };
  return hostConstants;
}

/** A /proc file's text, or null when it is gone (the process exited) or unreadable. */
export function readText(file: string): string | null {
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
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

let pidStatReads = 0;

/** How many /proc/<pid>/stat files this process has read so far. */
export function pidStatReadCount(): number {
  return pidStatReads;
}

export function readPidStat(pid: number): ProcStat | null {
  pidStatReads++;
  const text = readText(`/proc/${pid}/stat`);
  return text === null ? null : parseProcPidStat(text);
}
