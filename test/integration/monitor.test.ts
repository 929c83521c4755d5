/**
 * The resource monitor on a real /proc with real processes: a busy loop, a process that
 * allocates, real fio (through the agent's fio runner), loopback traffic, and a stand-in named
 * gcsfuse. Assertions are functional (what was measured, against what the processes did); the
 * machine may be shared and loaded, so no CPU figure is expected to be near 100%, and the
 * monitor's own cost is measured by bench/monitor-overhead.ts, not asserted here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseFioOutput } from '../../src/core/fio';
import { RESOURCE_METRICS, RESOURCE_SAMPLES_SCHEMA, type ResourceSample, type ResourceSamples } from '../../src/core/resources';
import { runFio } from '../../vm-agent/src/fio-runner';
import { monitored, startMonitor } from '../../vm-agent/src/monitor';
import { processesMentioning } from '../support/procs';

const INTERVAL_MS = 250;
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), `monitor-test-${randomBytes(3).toString('hex')}-`));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** A Node child running `code`; its stdout lines are delivered to waitForLine. */
function node(code: string): ChildProcess & { lines: string[] } {
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] }) as ChildProcess & { lines: string[] };
  child.lines = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    child.lines.push(...parts);
  });
  children.push(child);
  return child;
}

async function waitFor<T>(what: string, f: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Live processes named fio whose command line mentions `needle`. */
function fioProcessesMentioning(needle: string): number[] {
  return processesMentioning(needle)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim() === 'fio';
      } catch {
        return false; // exited meanwhile
      }
    })
    .map((p) => p.pid);
}

/** Time integral of a per-second metric over the samples: CPU percent -> CPU ms x 100, bytes/s -> bytes x 1000. */
const integral = (samples: ResourceSample[], f: (s: ResourceSample) => number | null) =>
  samples.reduce((sum, s) => sum + (f(s) ?? 0) * s.intervalMs, 0);

function expectWellFormed(r: ResourceSamples): void {
  expect(r.schema).toBe(RESOURCE_SAMPLES_SCHEMA);
  expect(r.host.clockTicksPerSec).toBeGreaterThan(0);
  expect(r.host.cpuCount).toBe(os.cpus().length);
  expect(Object.keys(r.summary).sort()).toEqual([...RESOURCE_METRICS].sort());
  for (const s of r.samples) {
    expect(s.systemCpuPercent).not.toBeNull();
    expect(s.systemCpuPercent!).toBeGreaterThanOrEqual(0);
    expect(s.systemCpuPercent!).toBeLessThanOrEqual(100);
    expect(s.pageCacheBytes!).toBeGreaterThan(0);
    expect(s.memAvailableBytes!).toBeGreaterThan(0);
    expect(s.netRxBytesPerSec).not.toBeNull();
    expect(s.loopbackRxBytesPerSec).not.toBeNull();
  }
  expect(r.netInterfaces).not.toContain('lo');
  expect(r.monitorCost.readings).toBe(r.samples.length + 1); // the baseline has no sample
}

describe('resource monitor', () => {
  it('samples about once per interval, each sample covering the time since the previous one', async () => {
    const seen: ResourceSample[] = [];
    const monitor = startMonitor({ intervalMs: INTERVAL_MS, onSample: (s) => seen.push(s) });
    await sleep(INTERVAL_MS * 6 + 100);
    const r = await monitor.stop();
    expectWellFormed(r);
    expect(r.intervalMs).toBe(INTERVAL_MS);
    // 6 on schedule, perhaps one more at stop; timers on a loaded machine may slip by one.
    expect(r.samples.length).toBeGreaterThanOrEqual(5);
    expect(r.samples.length).toBeLessThanOrEqual(8);
    expect(seen).toEqual(r.samples);
    for (let i = 1; i < r.samples.length; i++) expect(r.samples[i]!.t).toBeGreaterThan(r.samples[i - 1]!.t);
    const scheduled = r.samples
      .slice(0, -1)
      .map((s) => s.intervalMs)
      .sort((a, b) => a - b);
    const median = scheduled[Math.floor(scheduled.length / 2)]!;
    expect(median).toBeGreaterThanOrEqual(INTERVAL_MS * 0.8);
    expect(median).toBeLessThan(INTERVAL_MS * 2);
    // The intervals add up to the time monitored (the first starts at the baseline).
    const covered = r.samples.reduce((a, s) => a + s.intervalMs, 0);
    expect(Math.abs(covered - r.durationMs)).toBeLessThan(INTERVAL_MS);
    // stop() is idempotent and no sample comes after it.
    expect(await monitor.stop()).toBe(r);
    await sleep(INTERVAL_MS * 2);
    expect(monitor.samples()).toHaveLength(r.samples.length);
  });

  it("a busy process's CPU: what the monitor integrates matches the CPU time the process reports itself", async () => {
    const idle = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(idle);
    const idleMonitor = startMonitor({ pid: () => idle.pid, intervalMs: INTERVAL_MS, fio: 'none' });
    const busyPid: { value?: number } = {}; // known once the busy loop starts, after the monitor's baseline
    const monitor = startMonitor({ pid: () => busyPid.value, intervalMs: INTERVAL_MS, fio: 'none' });
    // Started after the monitor's baseline, so all of its CPU (startup included) is inside the samples.
    const busy = node(`
      const end = Date.now() + 2500; while (Date.now() < end) {}
      const u = process.cpuUsage(); console.log(JSON.stringify({ cpuMs: (u.user + u.system) / 1000 }));
      setTimeout(() => {}, 60000);`);
    busyPid.value = busy.pid;
    const reported = JSON.parse(await waitFor('the busy loop to finish', () => busy.lines[0])) as { cpuMs: number };
    await sleep(INTERVAL_MS * 2); // idle now; let a reading cover the end of the loop
    const r = await monitor.stop();
    const idleR = await idleMonitor.stop();
    expectWellFormed(r);

    expect(r.gcsfuse).toEqual({ source: 'pid', pids: [busy.pid] });
    const measuredCpuMs = integral(r.samples, (s) => s.gcsfuseCpuPercent) / 100;
    // Clock-tick resolution (10 ms per reading) and the last printf's CPU bound the difference.
    expect(Math.abs(measuredCpuMs - reported.cpuMs)).toBeLessThan(Math.max(150, reported.cpuMs * 0.15));
    // A spinning process is clearly busy, a sleeping one is not (on a shared machine the spinner
    // may get well under a full core, so no "near 100%" here).
    expect(r.summary.gcsfuseCpuPercent.peak!).toBeGreaterThan(10);
    expect(r.summary.gcsfuseCpuPercent.peak!).toBeLessThanOrEqual(105 * os.cpus().length);
    expect(idleR.gcsfuse.source).toBe('pid');
    expect(idleR.summary.gcsfuseCpuPercent.peak!).toBeLessThan(5);
    expect(idleR.summary.gcsfuseRssBytes.peak!).toBeGreaterThan(0);
    // The busy loop's own CPU shows in the machine's CPU.
    expect(r.summary.systemCpuPercent.peak!).toBeGreaterThan(0);
  });

  it('a process that allocates: its RSS grows by what it touched, VSZ stays above RSS', async () => {
    const child = node(`
      console.log('ready');
      process.stdin.once('data', () => { globalThis.keep = Buffer.alloc(${256 * MiB}, 1); console.log('allocated'); });
      setTimeout(() => {}, 60000);`);
    await waitFor('the child to start', () => child.lines.includes('ready'));
    const monitor = startMonitor({ pid: () => child.pid, intervalMs: INTERVAL_MS });
    await waitFor('a first sample', () => monitor.samples().length >= 1);
    child.stdin!.write('go\n');
    await waitFor('the allocation', () => child.lines.includes('allocated'));
    await sleep(INTERVAL_MS * 2);
    const r = await monitor.stop();
    expectWellFormed(r);
    const first = r.samples[0]!.gcsfuseRssBytes!;
    const peak = r.summary.gcsfuseRssBytes.peak!;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(200 * MiB);
    expect(peak - first).toBeGreaterThan(200 * MiB);
    expect(peak - first).toBeLessThan(320 * MiB);
    // Cross-check against the kernel's VmRSS of the process now (kB).
    const vmRss = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;
    expect(Math.abs(vmRss - r.samples.at(-1)!.gcsfuseRssBytes!)).toBeLessThan(32 * MiB);
    for (const s of r.samples) expect(s.gcsfuseVszBytes!).toBeGreaterThanOrEqual(s.gcsfuseRssBytes!);
  });

  it("fio's CPU: our fio (main and job processes) is counted; a fio this agent did not start is not, unless asked", async () => {
    const job = (name: string, runtime: string) =>
      `[global]\nioengine=null\nrw=randread\nbs=4k\nsize=1g\ntime_based=1\nruntime=${runtime}\n[${name}]\nnumjobs=2\n`;
    await fs.writeFile(path.join(dir, 'mine.fio'), job('mine', '2s'));
    // Runs longer than ours, so it is alive the whole time ours runs.
    await fs.writeFile(path.join(dir, 'foreign.fio'), job('foreign', '4s'));
    const mine = startMonitor({ intervalMs: INTERVAL_MS });
    const all = startMonitor({ intervalMs: INTERVAL_MS, fio: 'all' });
    // A fio whose parent is a shell, not this process: like another agent's fio on the same machine.
    const foreign = spawn('sh', ['-c', `fio --output=${path.join(dir, 'foreign.json')} ${path.join(dir, 'foreign.fio')}; exit 0`], {
      stdio: 'ignore',
    });
    children.push(foreign);
    const foreignClosed = new Promise((resolve) => foreign.once('close', resolve));
    const foreignFio = await waitFor('the foreign fio to start', () => {
      const pids = fioProcessesMentioning(path.join(dir, 'foreign.fio'));
      return pids.length > 0 && pids;
    });
    const result = await runFio({ jobFile: path.join(dir, 'mine.fio'), outputFile: path.join(dir, 'mine.json'), timeoutMs: 60_000 });
    const [r, rAll] = await Promise.all([mine.stop(), all.stop()]);
    await foreignClosed;
    expect(result.exitCode, result.stderr).toBe(0);
    expect(parseFioOutput(await fs.readFile(path.join(dir, 'mine.json'), 'utf8')).errorCount).toBe(0);
    expectWellFormed(r);

    // The main process and its two job processes.
    expect(r.fio.pids.length).toBeGreaterThanOrEqual(3);
    expect(r.summary.fioProcesses.peak!).toBeGreaterThanOrEqual(3);
    // The null engine spins: clearly busy (fio's CPU, not an I/O wait).
    expect(r.summary.fioCpuPercent.peak!).toBeGreaterThan(10);
    expect(r.summary.fioRssBytes.peak!).toBeGreaterThan(0);
    expect(r.gcsfuse).toEqual({ source: 'none', pids: [] });
    expect(r.summary.gcsfuseCpuPercent).toEqual({ avg: null, peak: null, samples: 0 });

    expect(foreignFio.length).toBeGreaterThan(0);
    for (const pid of foreignFio) expect(r.fio.pids).not.toContain(pid);
    expect(rAll.fio.pids).toEqual(expect.arrayContaining(r.fio.pids));
    expect(rAll.fio.pids.some((pid) => foreignFio.includes(pid))).toBe(true);
  });

  it('loopback traffic is counted apart from the network interfaces', async () => {
    const bytes = 64 * MiB;
    let received = 0;
    const server = net.createServer((sock) => sock.on('data', (d: Buffer) => (received += d.length)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const monitor = startMonitor({ intervalMs: INTERVAL_MS });
    await sleep(INTERVAL_MS);
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect(port, '127.0.0.1');
    const chunk = Buffer.alloc(MiB, 7);
    for (let i = 0; i < bytes / MiB; i++) if (!client.write(chunk)) await new Promise((r) => client.once('drain', r));
    client.end();
    await waitFor('the server to receive everything', () => received >= bytes);
    await sleep(INTERVAL_MS * 2);
    const r = await monitor.stop();
    server.close();
    expectWellFormed(r);
    // Rates x intervals: at least what we sent went through lo (other processes may add more).
    const loopbackRx = integral(r.samples, (s) => s.loopbackRxBytesPerSec) / 1000;
    const loopbackTx = integral(r.samples, (s) => s.loopbackTxBytesPerSec) / 1000;
    expect(loopbackRx).toBeGreaterThan(bytes * 0.99);
    expect(loopbackTx).toBeGreaterThan(bytes * 0.99);
    expect(r.summary.loopbackRxBytesPerSec.peak!).toBeGreaterThan(0);
  });

  it('page cache: writing a file through the cache raises Cached', async () => {
    const monitor = startMonitor({ intervalMs: INTERVAL_MS });
    await waitFor('a first sample', () => monitor.samples().length >= 1);
    const file = path.join(dir, 'cached.bin');
    const chunk = randomBytes(MiB);
    const fh = await fs.open(file, 'w');
    for (let i = 0; i < 128; i++) await fh.write(chunk);
    await fh.close();
    await sleep(INTERVAL_MS * 2);
    const r = await monitor.stop();
    await fs.rm(file);
    expectWellFormed(r);
    expect(r.summary.pageCacheBytes.peak! - r.samples[0]!.pageCacheBytes!).toBeGreaterThan(64 * MiB);
  });

  it('finds gcsfuse by name and mount point; a local folder (no gcsfuse) gives nulls', async () => {
    const mnt = path.join(dir, 'mnt');
    const other = path.join(dir, 'other-mnt');
    await fs.mkdir(mnt);
    // A stand-in: a script named gcsfuse (its command name), invoked as gcsfuse is: `gcsfuse [flags] bucket mountpoint`.
    const fake = path.join(dir, 'gcsfuse');
    await fs.writeFile(fake, '#!/bin/sh\nsleep 60\n', { mode: 0o755 });

    const local = startMonitor({ mountPoint: mnt, intervalMs: INTERVAL_MS });
    await sleep(INTERVAL_MS * 2 + 50);
    const localR = await local.stop();
    expect(localR.gcsfuse).toEqual({ source: 'none', pids: [] });
    for (const s of localR.samples) {
      expect(s.gcsfuseCpuPercent).toBeNull();
      expect(s.gcsfuseRssBytes).toBeNull();
      expect(s.gcsfuseVszBytes).toBeNull();
    }
    expect(localR.summary.gcsfuseRssBytes).toEqual({ avg: null, peak: null, samples: 0 });

    const ours = spawn(fake, ['--implicit-dirs', 'bucket', mnt], { stdio: 'ignore' });
    const theirs = spawn(fake, ['bucket', other], { stdio: 'ignore' });
    children.push(ours, theirs);
    const monitor = startMonitor({ mountPoint: mnt, intervalMs: INTERVAL_MS });
    await sleep(INTERVAL_MS * 3 + 50);
    const r = await monitor.stop();
    expectWellFormed(r);
    expect(r.gcsfuse).toEqual({ source: 'mount-point', pids: [ours.pid] });
    expect(r.summary.gcsfuseRssBytes.peak!).toBeGreaterThan(0);
    expect(r.summary.gcsfuseCpuPercent.samples).toBeGreaterThan(0);
  });

  it('monitored(): samples around an async step, and the monitor stops when the step fails', async () => {
    const { result, resources } = await monitored({ intervalMs: INTERVAL_MS }, async () => {
      await sleep(INTERVAL_MS * 2 + 50);
      return 42;
    });
    expect(result).toBe(42);
    expect(resources.samples.length).toBeGreaterThanOrEqual(2);
    await expect(monitored({ intervalMs: INTERVAL_MS }, async () => Promise.reject(new Error('fio failed')))).rejects.toThrow('fio failed');
  });
});
