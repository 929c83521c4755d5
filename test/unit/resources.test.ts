import { describe, expect, it } from 'vitest';
import {
  parseMeminfo,
  parseNetDev,
  parseProcPidStat,
  parseProcStatCpu,
  processCpuPercent,
  ratePerSec,
  RESOURCE_METRICS,
  summariseSamples,
  systemCpuPercents,
  type ResourceSample,
} from '../../src/core/resources';

/** A sample with every metric null; tests fill in what they look at. */
function sample(over: Partial<ResourceSample> = {}): ResourceSample {
  return {
    t: 0,
    intervalMs: 1000,
    systemCpuPercent: null,
    systemIowaitPercent: null,
    gcsfuseCpuPercent: null,
    gcsfuseRssBytes: null,
    gcsfuseVszBytes: null,
    fioCpuPercent: null,
    fioRssBytes: null,
    fioProcesses: 0,
    pageCacheBytes: null,
    memAvailableBytes: null,
    netRxBytesPerSec: null,
    netTxBytesPerSec: null,
    loopbackRxBytesPerSec: null,
    loopbackTxBytesPerSec: null,
    ...over,
  };
}

describe('summariseSamples', () => {
  it('gives every metric an avg and a peak', () => {
    const summary = summariseSamples([
      sample({ systemCpuPercent: 10, gcsfuseRssBytes: 100, netRxBytesPerSec: 1000 }),
      sample({ systemCpuPercent: 30, gcsfuseRssBytes: 300, netRxBytesPerSec: 3000 }),
    ]);
    expect(Object.keys(summary).sort()).toEqual([...RESOURCE_METRICS].sort());
    expect(summary.systemCpuPercent).toEqual({ avg: 20, peak: 30, samples: 2 });
    expect(summary.gcsfuseRssBytes).toEqual({ avg: 200, peak: 300, samples: 2 });
    expect(summary.netRxBytesPerSec).toEqual({ avg: 2000, peak: 3000, samples: 2 });
  });

  it('weighs each sample by the time it covers, so a short last sample counts for its share', () => {
    const summary = summariseSamples([
      sample({ intervalMs: 1000, fioCpuPercent: 100 }),
      sample({ intervalMs: 1000, fioCpuPercent: 100 }),
      sample({ intervalMs: 500, fioCpuPercent: 0 }),
    ]);
    // (100*1000 + 100*1000 + 0*500) / 2500
    expect(summary.fioCpuPercent.avg).toBeCloseTo(80, 10);
    expect(summary.fioCpuPercent.peak).toBe(100);
  });

  it('leaves out samples without a value instead of counting them as zero', () => {
    const summary = summariseSamples([
      sample({ gcsfuseCpuPercent: null }),
      sample({ gcsfuseCpuPercent: 50 }),
      sample({ gcsfuseCpuPercent: 70 }),
    ]);
    expect(summary.gcsfuseCpuPercent).toEqual({ avg: 60, peak: 70, samples: 2 });
  });

  it('gives null avg and peak for a metric no sample has (a local folder: no gcsfuse), and for no samples', () => {
    const summary = summariseSamples([sample({ systemCpuPercent: 5 })]);
    expect(summary.gcsfuseCpuPercent).toEqual({ avg: null, peak: null, samples: 0 });
    expect(summary.gcsfuseVszBytes).toEqual({ avg: null, peak: null, samples: 0 });
    const empty = summariseSamples([]);
    for (const metric of RESOURCE_METRICS) expect(empty[metric]).toEqual({ avg: null, peak: null, samples: 0 });
  });

  it('falls back to the plain mean when no sample has a usable interval', () => {
    const summary = summariseSamples([sample({ intervalMs: 0, pageCacheBytes: 10 }), sample({ intervalMs: 0, pageCacheBytes: 30 })]);
    expect(summary.pageCacheBytes).toEqual({ avg: 20, peak: 30, samples: 2 });
  });

  it('counts zero as a value (fio idle is 0, not missing)', () => {
    const summary = summariseSamples([sample({ fioProcesses: 0 }), sample({ fioProcesses: 4 })]);
    expect(summary.fioProcesses).toEqual({ avg: 2, peak: 4, samples: 2 });
  });
});

describe('CPU and rate arithmetic', () => {
  it('process CPU: ticks per second of wall time, 100 = one core', () => {
    expect(processCpuPercent(100, 100, 1000)).toBe(100);
    expect(processCpuPercent(50, 100, 1000)).toBe(50);
    expect(processCpuPercent(300, 100, 1500)).toBe(200); // two cores for 1.5 s
    expect(processCpuPercent(10, 100, 0)).toBeNull();
    expect(processCpuPercent(-1, 100, 1000)).toBeNull();
  });

  it('system CPU: busy is all but idle and iowait, over all cores', () => {
    const prev = { user: 100, nice: 0, system: 50, idle: 800, iowait: 50, irq: 0, softirq: 0, steal: 0 };
    const cur = { user: 160, nice: 0, system: 70, idle: 900, iowait: 70, irq: 0, softirq: 0, steal: 0 };
    // total delta 200: user 60 + system 20 busy, idle 100, iowait 20
    expect(systemCpuPercents(prev, cur)).toEqual({ busyPercent: 40, iowaitPercent: 10 });
    expect(systemCpuPercents(cur, cur)).toBeNull();
    expect(systemCpuPercents(cur, prev)).toBeNull();
  });

  it('rates: bytes per second from two counter readings; a counter that went back gives null', () => {
    expect(ratePerSec(1000, 3000, 500)).toBe(4000);
    expect(ratePerSec(3000, 1000, 1000)).toBeNull();
    expect(ratePerSec(0, 10, 0)).toBeNull();
  });
});

describe('/proc parsers (text as read on a Linux 6.x machine)', () => {
  it('/proc/<pid>/stat: fields counted from the last parenthesis, so a command name with ") (" parses', () => {
    // A copy of sleep named "we ird) (name".
    const text =
      '21231 (we ird) (name) S 21230 21227 3673 0 -1 4194304 140 0 0 0 7 3 0 0 20 0 1 0 237055 2990080 425 18446744073709551615 ' +
      '94478925557760 94478925575689 140735263051248 0 0 0 0 6 0 1 0 0 17 0 0 0 0 0 0 94478925589776 94478925591040 94479720497152 ' +
      '140735263054518 140735263054537 140735263054537 140735263055848 0\n';
    expect(parseProcPidStat(text)).toEqual({
      pid: 21231,
      comm: 'we ird) (name',
      state: 'S',
      ppid: 21230,
      cpuTicks: 10,
      startTicks: 237055,
      vszBytes: 2990080,
      rssPages: 425,
    });
    expect(parseProcPidStat('garbage')).toBeNull();
    expect(parseProcPidStat('12 (x) S')).toBeNull();
  });

  it('/proc/stat: the aggregate cpu line', () => {
    const text = 'cpu  227875 0 70807 159943 8316 0 4310 222 0 0\ncpu0 113000 0 35000 80000 4000 0 2000 100 0 0\nintr 1 2 3\n';
    expect(parseProcStatCpu(text)).toEqual({
      user: 227875,
      nice: 0,
      system: 70807,
      idle: 159943,
      iowait: 8316,
      irq: 0,
      softirq: 4310,
      steal: 222,
    });
    expect(parseProcStatCpu('intr 1 2 3\n')).toBeNull();
  });

  it('/proc/meminfo: Cached (not SwapCached) and MemAvailable, kB to bytes', () => {
    const text = [
      'MemTotal:       24684084 kB',
      'MemFree:        20577112 kB',
      'MemAvailable:   23143480 kB',
      'Buffers:          125932 kB',
      'Cached:          2608968 kB',
      'SwapCached:            7 kB',
    ].join('\n');
    expect(parseMeminfo(text)).toEqual({
      cachedBytes: 2608968 * 1024,
      memAvailableBytes: 23143480 * 1024,
      memTotalBytes: 24684084 * 1024,
    });
    expect(parseMeminfo('')).toEqual({ cachedBytes: null, memAvailableBytes: null, memTotalBytes: null });
  });

  it('/proc/net/dev: non-loopback interfaces summed, loopback apart', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo: 2046456941  131811    0    0    0     0          0         0 2046456941  131811    0    0    0     0       0          0',
      '  ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0',
      '  eth0: 1144678847   42223    0    0    0     0          0         0  3888128   31057    0    0    0     0       0          0',
      '  ens4:1000 5 0 0 0 0 0 0 2000 6 0 0 0 0 0 0',
    ].join('\n');
    expect(parseNetDev(text)).toEqual({
      rxBytes: 1144678847 + 1000,
      txBytes: 3888128 + 2000,
      loopbackRxBytes: 2046456941,
      loopbackTxBytes: 2046456941,
      interfaces: ['ifb0', 'eth0', 'ens4'],
    });
  });
});
