import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MountConfig } from '../../src/core/configs';
import { buildMatrix } from '../../src/core/matrix';
import { entryReport, parseIteration, reportRows, type IterationResult } from '../../src/core/report';
import { confidenceInterval, outlierScores, pooledMoments } from '../../src/core/stats';
import { parseTestCasesCsv } from '../../src/core/testcases';
import { FIO_BIN, runFio, type FioRun } from './helpers/fio';

// Statistics on outputs of real fio runs, checked against fio's own pooling where fio does it.

interface RawLat {
  N: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
}
interface RawDir {
  clat_ns: RawLat;
}
interface RawJob {
  jobname: string;
  port?: number;
  read: RawDir;
  write: RawDir;
  mixed?: RawDir;
}
interface RawOutput {
  'fio version': string;
  jobs?: RawJob[];
  client_stats?: RawJob[];
}

const config: MountConfig = { label: 'baseline', commit: 'v2.4.0', mountArgs: '', mountArgv: [] };
const entry = buildMatrix([config], parseTestCasesCsv('test_id,block_size\nrr,4k\n', 'tests.csv'))[0]!;
const RW = ['read', 'write'] as const;
const MIB = 2 ** 20;

let dir: string;
let mixed: FioRun; // 3 jobs, unified_rw_reporting=both: fio pools each job's read and write into "mixed"
let clients: FioRun; // the same job on two fio servers: fio pools all jobs of both into "All clients"
let normal: FioRun[]; // unlimited random reads from the page cache
let slowed: FioRun; // the same job limited to 1 MiB/s
let steady: FioRun[]; // the same job limited to 8 MiB/s, four times
const servers: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`fio server on port ${port} did not start`);
}

async function startFioServer(): Promise<number> {
  const port = await freePort();
  const child = spawn(FIO_BIN, [`--server=ip:127.0.0.1,${port}`], { stdio: 'ignore' });
  servers.push(child);
  await waitForPort(port);
  return port;
}

const randread = (sub: string, extra: string[] = []) => [
  '--name=rr',
  `--directory=${path.join(dir, sub)}`,
  '--size=4m',
  '--bs=4k',
  '--rw=randread',
  '--ioengine=psync',
  // Page-cache reads: fio's default invalidate=1 would make every run read the disk.
  '--invalidate=0',
  '--time_based',
  '--output-format=json+',
  ...extra,
];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-stats-'));
  for (const sub of ['mixed', 'clients', 'rr']) await mkdir(path.join(dir, sub));
  const [p1, p2] = await Promise.all([startFioServer(), startFioServer()]);
  const job = path.join(dir, 'clients.fio');
  await writeFile(job, `[t]\ndirectory=${path.join(dir, 'clients')}\nsize=1m\nbs=4k\nrw=randrw\nioengine=psync\nnumjobs=2\n`);
  [mixed, clients] = await Promise.all([
    runFio(dir, 'mixed.json', [
      '--name=t',
      `--directory=${path.join(dir, 'mixed')}`,
      '--size=2m',
      '--bs=4k',
      '--rw=randrw',
      '--ioengine=psync',
      '--numjobs=3',
      '--unified_rw_reporting=both',
      '--output-format=json+',
    ]),
    runFio(dir, 'clients.json', [`--client=ip:127.0.0.1,${p1}`, job, `--client=ip:127.0.0.1,${p2}`, job, '--output-format=json+']),
  ]);
  // Unlimited runs one at a time, so they do not slow each other down.
  // A first run lays out the file, so that every measured run reads it from the page cache.
  await runFio(dir, 'layout.json', randread('rr', ['--runtime=100ms']));
  normal = [];
  for (let i = 1; i <= 4; i++) normal.push(await runFio(dir, `normal-${i}.json`, randread('rr', ['--runtime=300ms'])));
  [slowed, ...steady] = await Promise.all([
    runFio(dir, 'slowed.json', randread('rr', ['--runtime=300ms', '--rate=1m'])),
    // Rate-limited runs sleep most of the time; a second evens out a busy machine's scheduling delays.
    ...[1, 2, 3, 4].map((i) => runFio(dir, `steady-${i}.json`, randread('rr', ['--runtime=1s', '--rate=8m']))),
  ]);
});

afterAll(async () => {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.exitCode !== null || s.signalCode !== null) return resolve();
          const timer = setTimeout(() => s.kill('SIGKILL'), 5_000);
          s.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          s.kill('SIGTERM');
        }),
    ),
  );
  if (dir) await rm(dir, { recursive: true, force: true });
});

const raw = (run: FioRun) => JSON.parse(run.output) as RawOutput;
const relErr = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

/** The per-client results of a client/server run, each as the output of one iteration. */
function clientIterations(): { iterations: IterationResult[]; all: RawJob } {
  const r = raw(clients);
  const stats = r.client_stats!;
  const all = stats.find((j) => j.jobname === 'All clients')!;
  const ports = [...new Set(stats.filter((j) => j !== all).map((j) => j.port))];
  expect(ports).toHaveLength(2);
  const iterations = ports.map((port) =>
    parseIteration(JSON.stringify({ 'fio version': r['fio version'], jobs: stats.filter((j) => j !== all && j.port === port) })),
  );
  return { iterations, all };
}

describe('pooled latency stddev (parallel-axis formula) against fio', () => {
  it("equals fio's own pooling of each job's read and write latencies (unified_rw_reporting=both)", () => {
    const r = raw(mixed);
    expect(r.jobs).toHaveLength(3);
    for (const job of r.jobs!) {
      const parsed = parseIteration(JSON.stringify({ 'fio version': r['fio version'], jobs: [job] }));
      const parts = RW.flatMap((d) => parsed.clatMoments![d]!);
      expect(parts).toHaveLength(2);
      const pooled = pooledMoments(parts);
      const fio = job.mixed!.clat_ns;
      expect(pooled.count).toBe(fio.N);
      expect(relErr(pooled.mean, fio.mean)).toBeLessThan(1e-6);
      // fio prints 6 decimals of ns: agreement to float precision.
      expect(relErr(pooled.stddev, fio.stddev)).toBeLessThan(1e-6);
    }
  });

  it("equals fio's pooling over all jobs of two clients, taking each client as an iteration", () => {
    const { iterations, all } = clientIterations();
    expect(iterations.map((it) => it.jobCount)).toEqual([2, 2]);
    const report = entryReport(entry, 'vm-1', 'passed', iterations);
    expect(report.iterations).toBe(2);
    for (const d of RW) {
      const s = report[d]!;
      const fio = all[d].clat_ns;
      expect(s.latencySamples).toBe(fio.N);
      expect(s.clatMinNs).toBe(fio.min);
      expect(s.clatMaxNs).toBe(fio.max);
      expect(relErr(s.clatMeanNs, fio.mean)).toBeLessThan(1e-6);
      expect(relErr(s.clatStddevNs!, fio.stddev)).toBeLessThan(1e-6);
    }
  });

  it('agrees with the stddev of the merged json+ histogram (bins are 1/64 of a power of two wide)', () => {
    const { iterations } = clientIterations();
    const runs = [
      entryReport(entry, null, 'passed', iterations),
      entryReport(
        entry,
        null,
        'passed',
        normal.map((n) => parseIteration(n.output)),
      ),
      entryReport(entry, null, 'passed', [parseIteration(mixed.output)]),
    ];
    let checked = 0;
    for (const report of runs) {
      for (const d of RW) {
        const s = report[d];
        if (!s) continue;
        const n = s.clatHistogramNs.reduce((a, [, c]) => a + c, 0);
        expect(n).toBe(s.latencySamples);
        const m = s.clatHistogramNs.reduce((a, [v, c]) => a + v * c, 0) / n;
        const sd = Math.sqrt(s.clatHistogramNs.reduce((a, [v, c]) => a + c * (v - m) ** 2, 0) / (n - 1));
        expect(relErr(m, s.clatMeanNs), `${d} mean`).toBeLessThan(0.01);
        expect(relErr(sd, s.clatStddevNs!), `${d} stddev`).toBeLessThan(0.03);
        checked++;
      }
    }
    expect(checked).toBe(5);
  });

  it('is unknown (null), not guessed, when fio did not report a stddev', () => {
    const r = raw(normal[0]!);
    const job = structuredClone(r.jobs![0]!) as unknown as { read: { clat_ns: Partial<RawLat> } };
    delete job.read.clat_ns.stddev;
    const report = entryReport(entry, null, 'passed', [parseIteration(JSON.stringify({ ...r, jobs: [job] }))]);
    expect(report.read!.clatStddevNs).toBeNull();
    expect(report.read!.clatMeanNs).toBeCloseTo(r.jobs![0]!.read.clat_ns.mean, 6);
  });
});

describe('confidence interval of the mean over iterations', () => {
  it('shrinks with more iterations of the same data, around the same mean', () => {
    const results = normal.slice(0, 3).map((n) => parseIteration(n.output));
    const widths: number[] = [];
    let firstMean: number | undefined;
    for (const copies of [1, 2, 4]) {
      const report = entryReport(entry, null, 'passed', Array.from({ length: copies }, () => results).flat());
      const bw = report.read!.bwBytesPerSec;
      expect(bw.n).toBe(3 * copies);
      firstMean ??= bw.mean;
      expect(bw.mean).toBeCloseTo(firstMean, 6);
      // On the log scale: around the geometric mean, symmetric in ratio.
      expect(bw.ci95Low!).toBeLessThan(bw.geoMean!);
      expect(bw.ci95High!).toBeGreaterThan(bw.geoMean!);
      expect(bw.ci95High! / bw.geoMean!).toBeCloseTo(bw.geoMean! / bw.ci95Low!, 9);
      widths.push(bw.ci95High! - bw.ci95Low!);
    }
    expect(widths[1]).toBeLessThan(widths[0]!);
    expect(widths[2]).toBeLessThan(widths[1]!);
    // The CSV carries the same interval, in MiB/s.
    const [row] = reportRows([entryReport(entry, null, 'passed', results)]);
    const ci = confidenceInterval(results.map((r) => Math.log(r.read.bwBytesPerSec)))!;
    expect(row!.read_bw_MiBps_ci95_low).toBe((Math.exp(ci.low) / MIB).toFixed(2));
    expect(row!.read_bw_MiBps_ci95_high).toBe((Math.exp(ci.high) / MIB).toFixed(2));
  });
});

describe('outlier iterations', () => {
  it('flags a rate-limited fio run among unlimited ones', () => {
    const results = [normal[0]!, normal[1]!, slowed, normal[2]!, normal[3]!].map((n) => parseIteration(n.output));
    const bw = results.map((r) => r.read.bwBytesPerSec);
    // The limited run really was limited, far below the others.
    expect(bw[2]! / MIB).toBeLessThan(1.5);
    expect(Math.min(...bw.filter((_, i) => i !== 2))).toBeGreaterThan(10 * bw[2]!);
    const report = entryReport(entry, 'vm-1', 'passed', results);
    expect(report.read!.bwBytesPerSec.outlierIterations).toContain(3);
    // It is the farthest from the others.
    const z = outlierScores(bw).map(Math.abs);
    expect(z.indexOf(Math.max(...z))).toBe(2);
    expect(reportRows([report])[0]!.read_bw_outlier_iterations!.split(';')).toContain('3');
  });

  it('flags none among steady runs', () => {
    const report = entryReport(
      entry,
      'vm-1',
      'passed',
      steady.map((n) => parseIteration(n.output)),
    );
    const bw = report.read!.bwBytesPerSec;
    expect(bw.n).toBe(4);
    expect(bw.cv).toBeLessThan(0.05);
    expect(bw.outlierIterations).toEqual([]);
  });
});
