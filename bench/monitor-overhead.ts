/**
 * What the resource monitor costs the agent. Prints one JSON object.
 *
 *   npx tsx bench/monitor-overhead.ts [--seconds 20] [--interval-ms 1000]
 *
 * Three phases of the same length in this otherwise idle process: a control (no monitor: Node's own
 * idle cost), one with the monitor running, and the control again (averaged with the first).
 * Reported:
 * - samplingCpuMs: CPU of the thread while it sampled (/proc/thread-self/schedstat around each
 *   reading, the monitor's own `monitorCost`): the direct cost;
 * - processCpuMs: the whole process's CPU (process.cpuUsage) in each phase, and the difference:
 *   the direct cost plus timers, allocation and GC it causes;
 * - both as percent of one core over the phase.
 * The cost grows with processes that are new or young (their /proc/<pid>/stat is read), so the
 * machine's process count is reported too. Not run by the tests: timings depend on the machine.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { startMonitor } from '../vm-agent/src/monitor';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    'interval-ms': { type: 'string', default: '1000' },
  },
});
const seconds = Number(values.seconds);
const intervalMs = Number(values['interval-ms']);
if (!(seconds > 0) || !(intervalMs > 0)) {
  console.error('usage: tsx bench/monitor-overhead.ts [--seconds N] [--interval-ms N]');
  process.exit(2);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const pct = (ms: number, overMs: number) => Math.round((ms / overMs) * 100 * 1e4) / 1e4;
const r3 = (v: number) => Math.round(v * 1000) / 1000;

// Warm up once (getconf, JIT of the parsers) so neither phase pays it.
const warmup = startMonitor({ intervalMs: 50 });
await sleep(300);
await warmup.stop();

/** The same wait without a monitor; run before and after the monitored phase, and averaged. */
async function control(): Promise<{ cpuMs: number; wallMs: number }> {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await sleep(seconds * 1000);
  return { cpuMs: cpuMs(process.cpuUsage(c0)), wallMs: performance.now() - w0 };
}
const before = await control();

// With the monitor.
const m0 = process.cpuUsage();
const mw0 = performance.now();
const monitor = startMonitor({ intervalMs });
await sleep(seconds * 1000);
const result = await monitor.stop();
const monitorProcessCpuMs = cpuMs(process.cpuUsage(m0));
const monitorWallMs = performance.now() - mw0;
const after = await control();
const controlCpuMs = (before.cpuMs + after.cpuMs) / 2;
const controlWallMs = (before.wallMs + after.wallMs) / 2;

const processes = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
const extraMs = monitorProcessCpuMs - controlCpuMs;
console.log(
  JSON.stringify(
    {
      bench: 'monitor-overhead',
      seconds,
      intervalMs,
      host: { cpuCount: os.cpus().length, cpuModel: os.cpus()[0]?.model, kernel: os.release(), processes },
      readings: result.monitorCost.readings,
      samples: result.samples.length,
      samplingCpuMs: result.monitorCost.cpuMs,
      samplingCpuMsPerReading: result.monitorCost.cpuMsPerReading,
      pidStatReads: result.monitorCost.pidStatReads,
      samplingWallMs: result.monitorCost.wallMs,
      samplingPercentOfCore: pct(result.monitorCost.cpuMs, monitorWallMs),
      processCpuMs: {
        controlBefore: r3(before.cpuMs),
        controlAfter: r3(after.cpuMs),
        control: r3(controlCpuMs),
        withMonitor: r3(monitorProcessCpuMs),
        difference: r3(extraMs),
      },
      processPercentOfCore: {
        control: pct(controlCpuMs, controlWallMs),
        withMonitor: pct(monitorProcessCpuMs, monitorWallMs),
        difference: pct(extraMs, monitorWallMs),
      },
    },
    null,
    2,
  ),
);
