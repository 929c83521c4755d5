import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFioOutput } from '../../src/core/fio';
import {
  entryTimeSeries,
  fioLogArgs,
  parseFioLog,
  resourceSeries,
  seriesFromFioLogs,
  steadyState,
  TIMESERIES_SCHEMA,
} from '../../src/core/timeseries';
import type { ResourceSample } from '../../src/core/resources';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'fio-logs');
/** A case of test/fixtures/fio-logs (real fio 3.33 runs, see generate.sh): its log files by name and its json+. */
function fixture(name: string) {
  const dir = path.join(FIXTURES, name);
  const files = Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
  );
  return { files, output: readFileSync(path.join(dir, 'output.json'), 'utf8') };
}

describe('fio logs as the agent asks for them', () => {
  it('sets 1 s averages, Unix-epoch times and the three logs into the given folder', () => {
    expect(fioLogArgs('/scratch/it-1.logs/')).toEqual([
      '--write_bw_log=/scratch/it-1.logs/fio',
      '--write_iops_log=/scratch/it-1.logs/fio',
      '--write_lat_log=/scratch/it-1.logs/fio',
      '--log_avg_msec=1000',
      '--log_unix_epoch=1',
    ]);
  });

  it("refuses a line that is not fio's, naming the file and line", () => {
    expect(() => parseFioLog('1000, 5, 0, 0, 0\nhello\n', 'fio_bw.1.log')).toThrow(/fio_bw\.1\.log line 2: not an fio log line/);
  });
});

describe('series summed over jobs (real fio outputs with logs)', () => {
  it('sums the bandwidth of two jobs that started 5 s apart, and agrees with the json+ total', () => {
    const { files, output } = fixture('warmup');
    const s = seriesFromFioLogs(files);
    expect(s.jobs).toBe(2);
    const read = s.directions.read!;
    expect(s.directions.write).toBeUndefined();
    // Each job is rate-limited to 8 MiB/s: one job alone first, both after 5 s.
    expect(read.bwBytesPerSec[1]! / 2 ** 20).toBeCloseTo(8, 0);
    expect(read.bwBytesPerSec[10]! / 2 ** 20).toBeCloseTo(16, 0);
    // The series' bytes add up to fio's own io_bytes, less at most one window per job (fio does
    // not log a job's last partial second): 2 jobs x 8 MiB.
    const bytes = read.bwBytesPerSec.reduce((a, v) => a + v, 0);
    const missing = parseFioOutput(output).read.ioBytes - bytes;
    expect(missing).toBeGreaterThanOrEqual(-(2 ** 20));
    expect(missing).toBeLessThanOrEqual(2 * 8 * 2 ** 20 + 2 ** 20);
    expect(read.clatMeanNs.every((v) => v !== null && v > 0)).toBe(true);
  });

  it('leaves ramp_time out, as fio does for its figures: the logged time is the runtime, not runtime + ramp', () => {
    const { files, output } = fixture('ramp');
    const s = seriesFromFioLogs(files);
    const json = JSON.parse(output) as { timestamp_ms: number; jobs: { elapsed: number }[] };
    const runtimeMs = parseFioOutput(output).read.runtimeMs;
    expect(runtimeMs).toBeGreaterThanOrEqual(4000);
    expect(runtimeMs).toBeLessThan(4100);
    // fio ran 7 s (2 s ramp + 4 s + start/stop), the logs cover the 4 s after the ramp only.
    expect(json.jobs[0]!.elapsed).toBeGreaterThanOrEqual(6);
    const last = Math.max(...s.directions.read!.tMs);
    expect(last).toBeLessThanOrEqual(4000);
    expect(json.timestamp_ms - s.startedAtMs!).toBeLessThan(runtimeMs + 1000);
    expect(Object.keys(s.directions).sort()).toEqual(['read', 'write']);
  });
});

describe('warm-up and throttling (the documented rule)', () => {
  it('finds the warm-up of the job that joins late', () => {
    const s = seriesFromFioLogs(fixture('warmup').files);
    const st = steadyState(s.directions.read!, s.intervalMs)!;
    expect(st.findings).toEqual(['warm-up']);
    expect(st.startRatio).toBeLessThan(0.8);
    expect(st.steadyBwBytesPerSec / 2 ** 20).toBeGreaterThan(14);
  });

  it('finds throttling when a job stops early', () => {
    const s = seriesFromFioLogs(fixture('throttle').files);
    const st = steadyState(s.directions.write!, s.intervalMs)!;
    expect(st.findings).toEqual(['throttling']);
    expect(st.endRatio).toBeLessThan(0.8);
  });

  it('finds nothing in a steady run, and does not judge a run too short to have a steady state', () => {
    const steady = seriesFromFioLogs(fixture('steady').files);
    expect(steadyState(steady.directions.read!, steady.intervalMs)!.findings).toEqual([]);
    const short = seriesFromFioLogs(fixture('ramp').files);
    expect(steadyState(short.directions.read!, short.intervalMs)).toBeNull();
  });

  it("summarises an entry: which iterations showed what, steady-state bandwidth, resources on the logs' clock", () => {
    const warm = seriesFromFioLogs(fixture('warmup').files);
    const steady = seriesFromFioLogs(fixture('steady').files);
    const iteration = (n: number, s: typeof warm) => ({
      schema: TIMESERIES_SCHEMA,
      iteration: n,
      jobs: s.jobs,
      intervalMs: s.intervalMs,
      startedAtMs: s.startedAtMs,
      directions: s.directions,
    });
    const sample = { t: warm.startedAtMs! + 2000, intervalMs: 1000, gcsfuseCpuPercent: 40, gcsfuseRssBytes: 2 ** 27 } as ResourceSample;
    const e = entryTimeSeries([{ series: iteration(2, steady) }, { series: iteration(1, warm), samples: [sample] }])!;
    expect(e.iterations.map((i) => i.iteration)).toEqual([1, 2]);
    expect(e.summary.read!.findings).toEqual([{ finding: 'warm-up', iterations: [1] }]);
    expect(e.summary.read!.judged).toBe(2);
    expect(e.iterations[0]!.resources).toEqual({ tMs: [2000], gcsfuseCpuPercent: [40], gcsfuseRssBytes: [2 ** 27] });
    expect(e.iterations[1]!.resources).toBeUndefined();
    expect(resourceSeries([sample], warm.startedAtMs! + 500).tMs).toEqual([1500]);
  });
});

describe('bounds', () => {
  it('coarsens a long series to at most 3600 points, averaging windows', () => {
    const lines = Array.from({ length: 7201 }, (_, i) => `${1_000_000 + (i + 1) * 1000}, ${i % 2 ? 2048 : 1024}, 0, 0, 0`).join('\n');
    const s = seriesFromFioLogs({ 'fio_bw.1.log': lines, 'fio_iops.1.log': lines.replace(/, (\d+), 0/g, ', 10, 0') });
    const read = s.directions.read!;
    expect(read.tMs.length).toBeLessThanOrEqual(3600);
    expect(s.intervalMs).toBe(3000);
    expect(read.bwBytesPerSec[0]).toBe(Math.round(((1024 + 2048 + 1024) / 3) * 1024));
  });
});

describe('series kept for the charted tests only', () => {
  it('keeps the first MAX_CHARTED_TESTS tests in matrix order, and only the summary for the others', async () => {
    const { chartedTests, MAX_CHARTED_TESTS } = await import('../../src/core/timeseries');
    const entries = Array.from({ length: (MAX_CHARTED_TESTS + 3) * 2 }, (_, i) => ({
      matrixId: 1000 - i,
      testId: `t${(MAX_CHARTED_TESTS + 2 - (i >> 1)).toString().padStart(3, '0')}`,
    }));
    const charted = chartedTests(entries);
    expect(charted.size).toBe(MAX_CHARTED_TESTS);
    // Matrix order: the highest matrix ids come last, so t000... are first.
    expect(charted.has('t000')).toBe(true);
    expect(charted.has(`t0${MAX_CHARTED_TESTS + 2}`)).toBe(false);
    const warm = seriesFromFioLogs(fixture('warmup').files);
    const input = {
      series: {
        schema: TIMESERIES_SCHEMA,
        iteration: 1,
        jobs: 2,
        intervalMs: warm.intervalMs,
        startedAtMs: warm.startedAtMs,
        directions: warm.directions,
      },
    };
    const full = entryTimeSeries([input])!;
    const summaryOnly = entryTimeSeries([input], false)!;
    expect(summaryOnly.summary).toEqual(full.summary);
    expect(summaryOnly.iterations[0]!.directions).toEqual({});
    expect(summaryOnly.iterations[0]!.steady).toEqual(full.iterations[0]!.steady);
  });
});
