/** Machine-wide resources for the monitor: CPU (/proc/stat), memory (/proc/meminfo) and network (/proc/net/dev). */
import {
  parseMeminfo,
  parseNetDev,
  parseProcStatCpu,
  ratePerSec,
  systemCpuPercents,
  type CpuTimes,
  type NetCounters,
  type ResourceSample,
} from '../../src/core/resources';
import { readText } from './proc-files';

export interface SystemReading {
  /** The machine's uptime in clock ticks (what process start times are measured in). */
  uptimeTicks: number | null;
  cpu: CpuTimes | null;
  mem: ReturnType<typeof parseMeminfo> | null;
  net: NetCounters | null;
}

export type SystemSample = Pick<
  ResourceSample,
  | 'systemCpuPercent'
  | 'systemIowaitPercent'
  | 'pageCacheBytes'
  | 'memAvailableBytes'
  | 'netRxBytesPerSec'
  | 'netTxBytesPerSec'
  | 'loopbackRxBytesPerSec'
  | 'loopbackTxBytesPerSec'
>;

export function readSystem(clockTicksPerSec: number): SystemReading {
  const uptimeText = readText('/proc/uptime');
  const uptimeSec = uptimeText === null ? NaN : Number(uptimeText.split(' ', 1)[0]);
  const statText = readText('/proc/stat');
  const meminfoText = readText('/proc/meminfo');
  const netText = readText('/proc/net/dev');
  return {
    uptimeTicks: Number.isFinite(uptimeSec) ? uptimeSec * clockTicksPerSec : null,
    cpu: statText === null ? null : parseProcStatCpu(statText),
    mem: meminfoText === null ? null : parseMeminfo(meminfoText),
    net: netText === null ? null : parseNetDev(netText),
  };
}

/** The machine's figures over an interval: CPU and network as rates since `previous`, memory as it is now. */
export function systemSample(previous: SystemReading, cur: SystemReading, intervalMs: number): SystemSample {
  const sys = previous.cpu && cur.cpu ? systemCpuPercents(previous.cpu, cur.cpu) : null;
  const rate = (f: (n: NetCounters) => number): number | null => {
    if (!previous.net || !cur.net) return null;
    const r = ratePerSec(f(previous.net), f(cur.net), intervalMs);
    return r === null ? null : Math.round(r);
  };
  return {
    systemCpuPercent: sys ? round2(sys.busyPercent) : null,
    systemIowaitPercent: sys ? round2(sys.iowaitPercent) : null,
    pageCacheBytes: cur.mem?.cachedBytes ?? null,
    memAvailableBytes: cur.mem?.memAvailableBytes ?? null,
    netRxBytesPerSec: rate((n) => n.rxBytes),
    netTxBytesPerSec: rate((n) => n.txBytes),
    loopbackRxBytesPerSec: rate((n) => n.loopbackRxBytes),
    loopbackTxBytesPerSec: rate((n) => n.loopbackTxBytes),
  };
}

export function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
