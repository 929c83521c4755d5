import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIRECTIONS,
  REPORTED_DIRECTIONS,
  unusableOutputReason,
  FioOutputError,
  binCount,
  binEntries,
  binsFromEntries,
  emptyBins,
  emptyLatency,
  extractFioJson,
  extractFioJsonFromBytes,
  fioResultOf,
  mergeLatency,
  parseFioOutput,
  percentileFromBins,
  type Direction,
  type FioJson,
  type LatencyBins,
  type LatencySummary,
} from '../../src/core/fio';
import { parseSizeBytes } from '../../src/core/params';
import { FIO_BIN, runFio, type FioRun } from './helpers/fio';

// Outputs of real fio runs, made once for this file. Jobs are tiny (a few MiB on a temp dir).
interface RawLat {
  N: number;
  min: number;
  max: number;
  mean: number;
  bins?: Record<string, number>;
  percentile?: Record<string, number>;
}
interface RawDir {
  io_bytes: number;
  bw_bytes: number;
  iops: number;
  runtime: number;
  total_ios: number;
  clat_ns: RawLat;
}
interface RawJob {
  jobname: string;
  error: number;
  read: RawDir;
  write: RawDir;
  trim: RawDir;
  mixed?: RawDir;
  groupid?: number;
}
interface RawOutput {
  'fio version': string;
  jobs: RawJob[];
}

const SIZES: [string, string][] = [
  ['1k', '8'],
  ['1KiB', '8'],
  ['2kb', '8'],
  ['3KB', '8'],
  ['1MiB', '1000'],
  ['1m', '4k'],
  ['24', '8'],
  ['16b', '8'],
];

let dir: string;
let fioVersion: string;
let nogroup: FioRun; // 3 jobs, per-job results, --output-format=normal,json+ (text before and after the JSON)
let group: FioRun; // the same jobs with --group_reporting
let mixed: FioRun; // 3 jobs with unified_rw_reporting=both: fio's own read+write merge per job
let interval: FioRun; // --status-interval: several JSON objects, the last is the final result
let failed: FioRun; // one good job and one failing job
let sized: FioRun; // one job per entry of SIZES, each writing its size once

const randrw = (sub: string, size: string) => [
  '--name=t',
  `--directory=${path.join(dir, sub)}`,
  `--size=${size}`,
  '--bs=4k',
  '--rw=randrw',
  '--ioengine=psync',
  '--numjobs=3',
  '--randrepeat=1',
];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-fio-'));
  for (const sub of ['nogroup', 'group', 'mixed', 'interval', 'failed', 'sized']) await mkdir(path.join(dir, sub));
  fioVersion = (await promisify(execFile)(FIO_BIN, ['--version'])).stdout.trim();
  // fio takes a few hundred ms to start, so runs go in parallel and related jobs share a run.
  [nogroup, group, mixed, interval, failed, sized] = await Promise.all([
    runFio(dir, 'nogroup.out', [...randrw('nogroup', '4m'), '--output-format=normal,json+']),
    runFio(dir, 'group.out', [...randrw('group', '4m'), '--group_reporting', '--output-format=json+']),
    runFio(dir, 'mixed.out', [...randrw('mixed', '2m'), '--unified_rw_reporting=both', '--output-format=json+']),
    runFio(dir, 'interval.out', [
      '--name=t',
      `--directory=${path.join(dir, 'interval')}`,
      '--size=1m',
      '--bs=4k',
      '--rw=randread',
      '--ioengine=psync',
      '--numjobs=2',
      '--time_based',
      '--runtime=500ms',
      '--status-interval=150ms',
      '--output-format=json+',
    ]),
    runFio(
      dir,
      'failed.out',
      [
        '--ioengine=psync',
        '--bs=4k',
        '--size=8k',
        '--rw=write',
        '--name=good',
        `--directory=${path.join(dir, 'failed')}`,
        '--name=bad',
        '--filename=/dev/full',
        '--output-format=json',
      ],
      true,
    ),
    runFio(dir, 'sized.out', [
      '--rw=write',
      '--ioengine=psync',
      `--directory=${path.join(dir, 'sized')}`,
      '--output-format=json',
      ...SIZES.flatMap(([size, bs], i) => [`--name=s${i}`, `--size=${size}`, `--bs=${bs}`]),
    ]),
  ]);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The JSON of an output that holds exactly one object, possibly with text around it. */
function raw(run: FioRun): RawOutput {
  const start = run.output.search(/^\{/m);
  const end = run.output.search(/^\}/m);
  return JSON.parse(run.output.slice(start, end + 1)) as RawOutput;
}

/** Parses one job of a real output on its own, as if fio had run only that job. */
function parseJob(r: RawOutput, job: RawJob) {
  return parseFioOutput(JSON.stringify({ 'fio version': r['fio version'], jobs: [job] }));
}

function binsOf(l: RawLat): LatencyBins {
  return binsFromEntries(Object.entries(l.bins ?? {}).map(([k, n]) => [Number(k), n]));
}

const total = (b: LatencyBins) => b.counts.reduce((s, n) => s + n, 0);

/** fio's own percentile list of a latency, as [p, ns] pairs. */
function fioPercentiles(l: RawLat): [number, number][] {
  expect(l.percentile, 'fio printed percentiles').toBeDefined();
  return Object.entries(l.percentile!).map(([p, v]) => [Number(p), v]);
}

const RW: Direction[] = ['read', 'write'];

describe('parseFioOutput on real fio output', () => {
  it('reads a group_reporting result as fio printed it', () => {
    const r = raw(group);
    expect(r.jobs).toHaveLength(1);
    const job = r.jobs[0]!;
    const parsed = parseFioOutput(group.output);
    expect(parsed.fioVersion).toBe(fioVersion);
    expect(parsed.jobCount).toBe(1);
    expect(parsed.errorCount).toBe(0);
    for (const d of RW) {
      const p = parsed[d];
      expect(p.ioBytes).toBe(job[d].io_bytes);
      expect(p.bwBytesPerSec).toBe(job[d].bw_bytes);
      expect(p.iops).toBeCloseTo(job[d].iops, 5);
      expect(p.runtimeMs).toBe(job[d].runtime);
      expect(p.totalIos).toBe(job[d].total_ios);
      expect(p.clat.count).toBe(job[d].clat_ns.N);
      expect(p.clat.minNs).toBe(job[d].clat_ns.min);
      expect(p.clat.maxNs).toBe(job[d].clat_ns.max);
      // Pooling multiplies by the count and divides again, so allow for float rounding.
      expect(Math.abs(p.clat.meanNs - job[d].clat_ns.mean) / job[d].clat_ns.mean).toBeLessThan(1e-12);
      expect(p.clat.bins).toEqual(binsOf(job[d].clat_ns));
      expect(total(p.clat.bins)).toBe(job[d].clat_ns.N);
    }
    expect(parsed.trim).toEqual({ ioBytes: 0, bwBytesPerSec: 0, iops: 0, runtimeMs: 0, totalIos: 0, clat: emptyLatency() });
  });

  it('sums per-job results over the jobs of a run', () => {
    const r = raw(nogroup);
    expect(r.jobs).toHaveLength(3);
    const parsed = parseFioOutput(nogroup.output);
    expect(parsed.jobCount).toBe(3);
    for (const d of RW) {
      const jobs = r.jobs.map((j) => j[d]);
      const p = parsed[d];
      expect(p.ioBytes).toBe(jobs.reduce((s, j) => s + j.io_bytes, 0));
      expect(p.totalIos).toBe(jobs.reduce((s, j) => s + j.total_ios, 0));
      expect(p.runtimeMs).toBe(Math.max(...jobs.map((j) => j.runtime)));
      expect(p.clat.count).toBe(jobs.reduce((s, j) => s + j.clat_ns.N, 0));
      expect(p.clat.minNs).toBe(Math.min(...jobs.map((j) => j.clat_ns.min)));
      expect(p.clat.maxNs).toBe(Math.max(...jobs.map((j) => j.clat_ns.max)));
      const expectedBins = new Map<number, number>();
      for (const j of jobs) for (const [k, n] of binEntries(binsOf(j.clat_ns))) expectedBins.set(k, (expectedBins.get(k) ?? 0) + n);
      expect(p.clat.bins).toEqual(binsFromEntries(expectedBins));
    }
    // Each job moved exactly its 4 MiB, split between reads and writes.
    expect(parsed.read.ioBytes + parsed.write.ioBytes).toBe(3 * 4 * 2 ** 20);
  });

  it("totals bandwidth as fio's own group totals of the same run (Run status group 0)", () => {
    const parsed = parseFioOutput(nogroup.output);
    const factor: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
    const lastDigit = (num: string) => 10 ** -(num.split('.')[1]?.length ?? 0);
    for (const d of RW) {
      const line = new RegExp(
        `^\\s*${d.toUpperCase()}: bw=([0-9.]+)(Ki|Mi|Gi|Ti)?B/s \\(.*?\\), .*?, io=([0-9.]+)(Ki|Mi|Gi|Ti)?B \\(.*?\\), run=(\\d+)-(\\d+)msec$`,
        'm',
      ).exec(nogroup.output);
      expect(line, `fio's ${d.toUpperCase()} group line`).not.toBeNull();
      const [, bw, bwUnit, io, ioUnit, , runMax] = line!;
      // fio prints 3-4 significant digits: ours must agree to the last printed digit.
      const bwFactor = factor[bwUnit ?? '']!;
      expect(Math.abs(parsed[d].bwBytesPerSec - Number(bw) * bwFactor)).toBeLessThanOrEqual(lastDigit(bw!) * bwFactor);
      const ioFactor = factor[ioUnit ?? '']!;
      expect(Math.abs(parsed[d].ioBytes - Number(io) * ioFactor)).toBeLessThanOrEqual(lastDigit(io!) * ioFactor);
      expect(parsed[d].runtimeMs).toBe(Number(runMax));
    }
  });

  it('computes bandwidth and IOPS as group_reporting does: all bytes over the longest job', () => {
    const r = raw(nogroup);
    const parsed = parseFioOutput(nogroup.output);
    for (const d of RW) {
      const p = parsed[d];
      expect(p.bwBytesPerSec).toBe(Math.floor((p.ioBytes * 1000) / p.runtimeMs));
      expect(p.iops).toBeCloseTo((p.totalIos * 1000) / p.runtimeMs, 9);
      // Never more than the sum of the per-job rates (equal only if all jobs ran equally long).
      expect(p.bwBytesPerSec).toBeLessThanOrEqual(r.jobs.reduce((s, j) => s + j[d].bw_bytes, 0));
    }
  });

  it('counts the same bytes and I/Os with and without group_reporting', () => {
    // --randrepeat=1 makes the read/write mix the same in both runs.
    const [a, b] = [parseFioOutput(nogroup.output), parseFioOutput(group.output)];
    for (const d of RW) {
      expect(a[d].ioBytes).toBe(b[d].ioBytes);
      expect(a[d].totalIos).toBe(b[d].totalIos);
      expect(a[d].clat.count).toBe(b[d].clat.count);
      expect(total(a[d].clat.bins)).toBe(raw(group).jobs[0]![d].clat_ns.N);
    }
  });

  it('counts jobs that reported an error', () => {
    expect(failed.exitCode).not.toBe(0);
    const r = raw(failed);
    expect(r.jobs.map((j) => [j.jobname, j.error !== 0])).toEqual([
      ['good', false],
      ['bad', true],
    ]);
    const parsed = parseFioOutput(failed.output);
    expect(parsed.jobCount).toBe(2);
    expect(parsed.errorCount).toBe(1);
  });
});

describe('percentiles from histograms', () => {
  it("give exactly fio's group_reporting p50, p90 and p99", () => {
    const job = raw(group).jobs[0]!;
    const parsed = parseFioOutput(group.output);
    for (const d of RW) {
      for (const p of [50, 90, 99]) {
        expect(percentileFromBins(parsed[d].clat.bins, p), `${d} p${p}`).toBe(job[d].clat_ns.percentile![p.toFixed(6)]);
      }
    }
  });

  it('give every percentile fio printed, for every job of every run', () => {
    let checked = 0;
    for (const run of [nogroup, group, mixed]) {
      const r = raw(run);
      for (const job of r.jobs) {
        const parsed = parseJob(r, job);
        for (const d of RW) {
          for (const [p, ns] of fioPercentiles(job[d].clat_ns)) {
            expect(percentileFromBins(parsed[d].clat.bins, p), `${job.jobname} ${d} p${p}`).toBe(ns);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it("merged per-job histograms give exactly fio's own merged percentiles (read+write of each job)", () => {
    // unified_rw_reporting=both makes fio merge a job's read and write histograms into
    // "mixed" and print its percentiles: the same samples, merged by fio and by us.
    const r = raw(mixed);
    expect(r.jobs).toHaveLength(3);
    for (const job of r.jobs) {
      expect(job.mixed, 'fio printed a mixed result').toBeDefined();
      const mixedLat = job.mixed!.clat_ns;
      const parsed = parseJob(r, job);
      expect(parsed.read.clat.count).toBeGreaterThan(0);
      expect(parsed.write.clat.count).toBeGreaterThan(0);
      const merged = mergeLatency([parsed.read.clat, parsed.write.clat]);
      expect(merged.bins).toEqual(binsOf(mixedLat));
      expect(merged.count).toBe(mixedLat.N);
      expect(merged.minNs).toBe(mixedLat.min);
      expect(merged.maxNs).toBe(mixedLat.max);
      expect(Math.abs(merged.meanNs - mixedLat.mean) / mixedLat.mean).toBeLessThan(1e-6);
      for (const [p, ns] of fioPercentiles(mixedLat)) {
        expect(percentileFromBins(merged.bins, p), `${job.jobname} mixed p${p}`).toBe(ns);
      }
    }
  });

  it('are not the average of per-job percentiles (pooled over all samples of all jobs)', () => {
    const r = raw(mixed);
    const parsed = parseFioOutput(mixed.output);
    const pooled = mergeLatency([parsed.read.clat, parsed.write.clat]);
    // The pooled p50 is a real bucket value holding samples of the pooled histogram.
    const p50 = percentileFromBins(pooled.bins, 50)!;
    expect(binCount(pooled.bins, p50)).toBeGreaterThan(0);
    // and at least half of all samples are at or below it, as in fio's definition.
    const atOrBelow = binEntries(pooled.bins)
      .filter(([k]) => k <= p50)
      .reduce((s, [, n]) => s + n, 0);
    expect(atOrBelow * 2).toBeGreaterThanOrEqual(pooled.count);
    const below = binEntries(pooled.bins)
      .filter(([k]) => k < p50)
      .reduce((s, [, n]) => s + n, 0);
    expect(below * 2).toBeLessThan(pooled.count);
    expect(pooled.count).toBe(r.jobs.reduce((s, j) => s + j.mixed!.clat_ns.N, 0));
  });
});

describe('finding the JSON in an output file', () => {
  it('takes the last, final object of a --status-interval run', () => {
    const starts = [...interval.output.matchAll(/^\{/gm)].map((m) => m.index!);
    expect(starts.length).toBeGreaterThanOrEqual(2);
    const chunks = starts.map((s, i) => interval.output.slice(s, starts[i + 1]));
    const parsedChunks = chunks.map((c) => parseFioOutput(c));
    const final = parsedChunks[parsedChunks.length - 1]!;
    expect(parseFioOutput(interval.output)).toEqual(final);
    expect(final.read.runtimeMs).toBeGreaterThan(parsedChunks[0]!.read.runtimeMs);
    expect(final.read.ioBytes).toBeGreaterThan(parsedChunks[0]!.read.ioBytes);
  });

  it('refuses an output whose final object was cut off, naming the file, instead of using an interim snapshot', async () => {
    // The committed --status-interval output (test/fixtures/fio), cut inside its last object.
    const text = await readFile(path.join(__dirname, '../fixtures/fio/status-interval.json'), 'utf8');
    const starts = [...text.matchAll(/^\{/gm)].map((m) => m.index!);
    expect(starts.length).toBeGreaterThanOrEqual(3);
    const lastStart = starts[starts.length - 1]!;
    expect(parseFioOutput(text).read.ioBytes).toBeGreaterThan(parseFioOutput(text.slice(0, lastStart)).read.ioBytes);
    for (const cutAt of [lastStart + 40, lastStart + Math.floor((text.length - lastStart) / 2), text.length - 3]) {
      const cut = text.slice(0, cutAt);
      expect(() => parseFioOutput(cut, 'results/vm-1/test-3/fio-output-2.json')).toThrow(FioOutputError);
      expect(() => parseFioOutput(cut, 'results/vm-1/test-3/fio-output-2.json')).toThrow(
        /^results\/vm-1\/test-3\/fio-output-2\.json: fio's final JSON result is cut off/,
      );
    }
    // The same for a fresh run.
    const freshStarts = [...interval.output.matchAll(/^\{/gm)].map((m) => m.index!);
    const freshLast = freshStarts[freshStarts.length - 1]!;
    expect(() => parseFioOutput(interval.output.slice(0, freshLast + 100), 'x.json')).toThrow("x.json: fio's final JSON result is cut off");
  });

  it('names the file when there is no result at all', () => {
    expect(() => parseFioOutput('', 'results/vm-1/test-3/fio-output-1.json')).toThrow(
      'results/vm-1/test-3/fio-output-1.json: no complete fio JSON result found',
    );
  });

  it("tolerates fio's text before and after the JSON", () => {
    // --output-format=normal,json+ prints job descriptions before and the normal report after.
    expect(nogroup.output.search(/^\{/m)).toBeGreaterThan(0);
    expect(nogroup.output).toMatch(/^\}\n[\s\S]*Run status group 0/m);
    expect(parseFioOutput(nogroup.output).jobCount).toBe(3);

    const expected = parseFioOutput(group.output);
    const warnings =
      'fio: this platform does not support process shared mutexes, forcing use of threads\n{not json\nnote: both iodepth >= 1 and synchronous I/O engine are selected\n';
    expect(parseFioOutput(warnings + group.output)).toEqual(expected);
    expect(parseFioOutput(group.output + '\nfio: file hash not empty on exit\n')).toEqual(expected);
    expect(parseFioOutput(warnings + group.output + '}\nmore text\n')).toEqual(expected);
  });

  it('returns the raw object for callers that want more fields', () => {
    const json = extractFioJson(group.output);
    expect(json['fio version']).toBe(fioVersion);
    expect(json.jobs).toHaveLength(1);
  });

  it.each([
    ['an empty file', ''],
    ['only text', 'fio: failed to open file\n'],
    ['JSON without jobs', '{\n  "fio version" : "fio-3.33"\n}\n'],
    ['a cut-off object', '{\n  "fio version" : "fio-3.33",\n  "jobs" : [\n    {\n'],
  ])('refuses %s', (_what, text) => {
    expect(() => parseFioOutput(text)).toThrow(FioOutputError);
    expect(() => parseFioOutput(text)).toThrow('no complete fio JSON result found');
  });

  it('refuses a real output cut in half, and one with no jobs', () => {
    expect(() => parseFioOutput(group.output.slice(0, group.output.length / 2))).toThrow(FioOutputError);
    expect(() => parseFioOutput('{\n"jobs": []\n}\n')).toThrow('fio output has no jobs');
    const err = (() => {
      try {
        parseFioOutput('');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.name).toBe('FioOutputError');
  });
});

describe('json+ histograms read as flat arrays', () => {
  it("give what fio's bins objects give, for every real output", () => {
    for (const f of readdirSync(path.join(import.meta.dirname, '../fixtures/fio')).filter((n) => n.endsWith('.json'))) {
      const text = readFileSync(path.join(import.meta.dirname, '../fixtures/fio', f), 'utf8');
      let viaObjects;
      try {
        // The objects as JSON.parse gives them (a file that is one fio object; others take the general path anyway).
        viaObjects = fioResultOf(JSON.parse(text) as FioJson);
      } catch {
        continue;
      }
      expect(parseFioOutput(text), f).toEqual(viaObjects);
    }
  });

  it('read from bytes (rewritten in place) give what the text gives, and failing bytes are put back', () => {
    const dir = path.join(import.meta.dirname, '../fixtures/fio');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      let fromText: unknown;
      try {
        fromText = fioResultOf(extractFioJson(text));
      } catch (err) {
        expect(() => extractFioJsonFromBytes(Buffer.from(text)), f).toThrow((err as Error).message);
        continue;
      }
      expect(fioResultOf(extractFioJsonFromBytes(Buffer.from(text))), f).toEqual(fromText);
    }
    // The usual file takes the in-place path: its histograms come back as flat arrays.
    const plain = extractFioJsonFromBytes(readFileSync(path.join(dir, 'number-ios-1000.json'))) as {
      jobs: { write: { clat_ns: { bins: unknown } } }[];
    };
    expect(Array.isArray(plain.jobs[0]!.write.clat_ns.bins)).toBe(true);
    // One object cut off after its histograms: nothing parses, and the bytes are as they were.
    const whole = readFileSync(path.join(dir, 'number-ios-1000.json'), 'utf8');
    const cut = Buffer.from(whole.slice(0, whole.lastIndexOf('"bins"') + 2000));
    const copy = Buffer.from(cut);
    expect(() => extractFioJsonFromBytes(cut)).toThrow(FioOutputError);
    expect(cut.equals(copy)).toBe(true);
  });

  it("leave a histogram fio would not write (a key with a leading zero, a repeated key) to JSON.parse's reading", () => {
    const out = (bins: string) =>
      `{"fio version": "fio-3.33", "jobs": [{"read": {"io_bytes": 4096, "runtime": 1, "total_ios": 3, "clat_ns": {"N": 3, "bins": ${bins}}}}]}`;
    expect(binEntries(parseFioOutput(out('{"010": 1, "20": 2}')).read.clat.bins)).toEqual([
      [10, 1],
      [20, 2],
    ]);
    // JSON.parse keeps a repeated key's last value; the flat reading keeps the last count too.
    expect(binEntries(parseFioOutput(out('{"10": 1, "20": 2, "10": 5}')).read.clat.bins)).toEqual([
      [10, 5],
      [20, 2],
    ]);
    expect(binEntries(parseFioOutput(out('{"30": 1, "20": 2}')).read.clat.bins)).toEqual([
      [20, 2],
      [30, 1],
    ]);
  });
});

describe('mergeLatency', () => {
  const lat = (count: number, minNs: number, maxNs: number, meanNs: number, bins: [number, number][]): LatencySummary => ({
    count,
    minNs,
    maxNs,
    meanNs,
    bins: binsFromEntries(bins),
  });

  it('of nothing is empty', () => {
    expect(mergeLatency([])).toEqual(emptyLatency());
    expect(mergeLatency([emptyLatency(), emptyLatency()])).toEqual(emptyLatency());
  });

  it('pools counts, extremes, a count-weighted mean and summed bins', () => {
    const a = lat(1, 10, 10, 10, [[10, 1]]);
    const b = lat(3, 20, 40, 30, [
      [20, 1],
      [30, 1],
      [40, 1],
    ]);
    const c = lat(2, 5, 30, 17.5, [
      [5, 1],
      [30, 1],
    ]);
    expect(mergeLatency([a, b, c])).toEqual(
      lat(6, 5, 40, (10 + 90 + 35) / 6, [
        [10, 1],
        [20, 1],
        [30, 2],
        [40, 1],
        [5, 1],
      ]),
    );
  });

  it('ignores empty parts, whose zero minimum is not a sample', () => {
    expect(
      mergeLatency([
        emptyLatency(),
        lat(2, 7, 9, 8, [
          [7, 1],
          [9, 1],
        ]),
      ]).minNs,
    ).toBe(7);
  });

  it('does not change its inputs', () => {
    const a = lat(2, 1, 2, 1.5, [
      [1, 1],
      [2, 1],
    ]);
    const copy = structuredClone(a);
    mergeLatency([a, a]);
    expect(a).toEqual(copy);
  });
});

describe('percentileFromBins', () => {
  const bins = (entries: [number, number][]): LatencyBins => binsFromEntries(entries);

  it('is undefined without samples', () => {
    expect(percentileFromBins(new Map(), 50)).toBeUndefined();
    expect(percentileFromBins(emptyBins(), 50)).toBeUndefined();
    expect(percentileFromBins(bins([[100, 0]]), 50)).toBeUndefined();
  });

  it('is the only bucket of a single-bucket histogram, for any p', () => {
    for (const p of [0.1, 1, 50, 99.99, 100]) expect(percentileFromBins(bins([[1234, 7]]), p)).toBe(1234);
  });

  it('at p=100 is the highest bucket that has samples', () => {
    expect(
      percentileFromBins(
        bins([
          [10, 5],
          [20, 5],
          [30, 1],
        ]),
        100,
      ),
    ).toBe(30);
    expect(
      percentileFromBins(
        bins([
          [10, 5],
          [20, 5],
          [30, 0],
        ]),
        100,
      ),
    ).toBe(20);
  });

  it('is the first bucket at which the running count reaches p% (as fio does)', () => {
    const b = bins([
      [10, 50],
      [20, 40],
      [30, 9],
      [40, 1],
    ]);
    expect(percentileFromBins(b, 50)).toBe(10);
    expect(percentileFromBins(b, 50.01)).toBe(20);
    expect(percentileFromBins(b, 90)).toBe(20);
    expect(percentileFromBins(b, 99)).toBe(30);
    expect(percentileFromBins(b, 99.5)).toBe(40);
  });

  it('does not depend on the order of the bins', () => {
    expect(
      percentileFromBins(
        bins([
          [40, 1],
          [10, 50],
          [30, 9],
          [20, 40],
        ]),
        90,
      ),
    ).toBe(20);
  });

  it('compares exactly at a boundary (p/100 is not exact in floating point)', () => {
    // 0.07 * 100 = 7.000000000000001: 7 samples of 100 are exactly 7%.
    expect(
      percentileFromBins(
        bins([
          [1, 7],
          [2, 93],
        ]),
        7,
      ),
    ).toBe(1);
    expect(
      percentileFromBins(
        bins([
          [1, 27],
          [2, 3],
        ]),
        90,
      ),
    ).toBe(1);
    expect(
      percentileFromBins(
        bins([
          [1, 55],
          [2, 45],
        ]),
        55,
      ),
    ).toBe(1);
  });
});

describe('parseSizeBytes agrees with fio', () => {
  it.each(SIZES.map(([size], i) => [size, i] as const))('%s', (size, i) => {
    const job = raw(sized).jobs.find((j) => j.jobname === `s${i}`)!;
    expect(parseSizeBytes(size)).toBe(job.write.io_bytes);
  });
});

it('uses every direction fio reports, and its mixed section', () => {
  expect(DIRECTIONS).toEqual(['read', 'write', 'trim']);
  expect(REPORTED_DIRECTIONS).toEqual(['read', 'write', 'trim', 'mixed']);
});

const fixture = async (name: string) => readFile(path.join(__dirname, '../fixtures/fio', name), 'utf8');

describe('unified_rw_reporting=1 (real output: fio writes only a mixed section)', () => {
  it('reads the figures into the mixed direction, none lost', async () => {
    const text = await fixture('unified-rw.json');
    const out = JSON.parse(text) as RawOutput;
    expect(out.jobs.every((j) => j.mixed && !('read' in j) && !('write' in j))).toBe(true);
    const r = parseFioOutput(text);
    expect(r.read.totalIos + r.write.totalIos + r.trim.totalIos).toBe(0);
    expect(r.mixed.ioBytes).toBe(out.jobs.reduce((s, j) => s + j.mixed!.io_bytes, 0));
    expect(r.mixed.totalIos).toBe(out.jobs.reduce((s, j) => s + j.mixed!.total_ios, 0));
    expect(r.mixed.runtimeMs).toBe(Math.max(...out.jobs.map((j) => j.mixed!.runtime)));
    expect(r.mixed.clat.count).toBe(out.jobs.reduce((s, j) => s + j.mixed!.clat_ns.N, 0));
    expect(r.mixed.bwBytesPerSec).toBeGreaterThan(0);
    // It is a usable result for the randrw it ran, not "moved no bytes".
    expect(unusableOutputReason(r, 'randrw')).toBeUndefined();
  });
});

describe('several groups (real output: 1 MiB writes, then stonewall, 4 KiB writes)', () => {
  it('keeps each groupid a result of its own, with its own bandwidth and latency', async () => {
    const text = await fixture('two-groups.json');
    const out = JSON.parse(text) as { jobs: (RawJob & { groupid: number })[] };
    const r = parseFioOutput(text);
    expect(r.groups.map((g) => g.groupId)).toEqual([0, 1]);
    for (const g of r.groups) {
      const jobs = out.jobs.filter((j) => j.groupid === g.groupId);
      expect(g.jobCount).toBe(jobs.length);
      const runtime = Math.max(...jobs.map((j) => j.write.runtime));
      const bytes = jobs.reduce((s, j) => s + j.write.io_bytes, 0);
      expect(g.write.ioBytes).toBe(bytes);
      expect(g.write.runtimeMs).toBe(runtime);
      expect(g.write.bwBytesPerSec).toBe(Math.floor((bytes * 1000) / runtime));
      expect(g.write.clat.count).toBe(jobs.reduce((s, j) => s + j.write.clat_ns.N, 0));
    }
    // 1 MiB and 4 KiB latencies are not mixed: group 0 has 1 MiB requests only.
    expect(r.groups[0]!.write.ioBytes / r.groups[0]!.write.totalIos).toBe(2 ** 20);
    expect(r.groups[1]!.write.ioBytes / r.groups[1]!.write.totalIos).toBe(4096);
    // The pooled top level is all bytes over the groups' runtimes one after another.
    const [a, b] = r.groups;
    expect(r.write.ioBytes).toBe(a!.write.ioBytes + b!.write.ioBytes);
    expect(r.write.runtimeMs).toBe(a!.write.runtimeMs + b!.write.runtimeMs);
  });
});
