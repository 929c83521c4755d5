import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregate } from '../../src/activities/aggregate';
import { writeReport } from '../../src/activities/report';
import { LocalArtifactStore } from '../../src/artifacts/local';
import { toJson } from '../../src/artifacts/store';
import { COMPARE_EXIT, compareCommand, runCompare } from '../../src/client/compare';
import type { Comparison } from '../../src/core/compare';
import { InputError } from '../../src/core/errors';
import type { MountConfig } from '../../src/core/configs';
import { layout } from '../../src/core/layout';
import { buildMatrix } from '../../src/core/matrix';
import type { EntryReport, ReportSummaryJson } from '../../src/core/report';
import type { JobSpec } from '../../src/core/spec';
import { parseTestCasesCsv } from '../../src/core/testcases';
import { runFio } from '../unit/helpers/fio';
import { launchChromium, newPage, screenshot } from '../support/chromium';

// Two benchmarks laid out in a local artifact store as agents leave them (job specs, fio json+
// outputs of real fio runs), aggregated and reported by the activities, then compared by the
// `compare` command. run-x: config fast = unlimited reads, slow = reads limited to 4 MiB/s.
// run-y: the other way round.

const ITERATIONS = 6;
const VM = 'vm-1';
const fast: MountConfig = { label: 'fast', commit: 'v1', mountArgs: '', mountArgv: [] };
const slow: MountConfig = { label: 'slow', commit: 'v2', mountArgs: '--limit', mountArgv: [] };
const matrix = buildMatrix([fast, slow], parseTestCasesCsv('test_id,io_type,block_size\nrr,randread,4k\n', 'tests.csv'));

let root: string;
const ROOT = '<root>';
let otherRoot: string;
let store: LocalArtifactStore;

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCompare(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Writes a benchmark's job spec and runs fio for each entry and iteration into the store's layout. */
async function layoutBenchmark(id: string, limited: Record<string, boolean>): Promise<void> {
  const spec: JobSpec = {
    benchmarkId: id,
    vm: VM,
    iterations: ITERATIONS,
    mount: { kind: 'local-dir' },
    fioIterationMs: 60_000,
    jobTemplatePath: `${id}/jobfile.fio`,
    entries: matrix.map((e) => ({ ...e, estimatedIterationMs: 300 })),
  };
  await store.putOnce(layout.jobSpec(id, VM), toJson(spec));
  const data = path.join(root, 'data');
  const job = (extra: string[]) => [
    '--name=rr',
    `--directory=${data}`,
    '--size=4m',
    '--bs=4k',
    '--rw=randread',
    '--ioengine=psync',
    '--invalidate=0',
    '--time_based',
    '--output-format=json+',
    ...extra,
  ];
  for (const e of matrix) {
    await mkdir(store.urlOf(layout.testDir(id, VM, e.matrixId)), { recursive: true });
    const output = (i: number) => path.relative(root, store.urlOf(layout.fioOutput(id, VM, e.matrixId, i)));
    const iterations = Array.from({ length: ITERATIONS }, (_, i) => i + 1);
    if (limited[e.config.label]) {
      // Limited runs mostly sleep: run together, for long enough to even out scheduling delays.
      await Promise.all(iterations.map((i) => runFio(root, output(i), job(['--runtime=1s', '--rate=4m']))));
    } else {
      for (const i of iterations) await runFio(root, output(i), job(['--runtime=250ms']));
    }
  }
  await aggregate(store, { benchmarkId: id, owners: matrix.map((e) => ({ matrixId: e.matrixId, vm: VM, status: 'passed' as const })) });
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-compare-cli-'));
  otherRoot = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-compare-cli-other-'));
  store = new LocalArtifactStore(root);
  await mkdir(path.join(root, 'data'));
  // A first run lays out the file, so that every measured run reads it from the page cache.
  await runFio(root, 'layout.json', [
    '--name=rr',
    `--directory=${path.join(root, 'data')}`,
    '--size=4m',
    '--bs=4k',
    '--rw=randread',
    '--ioengine=psync',
    '--invalidate=0',
    '--time_based',
    '--runtime=100ms',
    '--output-format=json',
  ]);
  await layoutBenchmark('run-x', { fast: false, slow: true });
  await layoutBenchmark('run-y', { fast: true, slow: false });
  // run-y also on its own in another store, for --candidate-artifacts.
  await cp(path.join(root, 'run-y', 'report'), path.join(otherRoot, 'run-y', 'report'), { recursive: true });
});

afterAll(async () => {
  for (const d of [root, otherRoot]) if (d) await rm(d, { recursive: true, force: true });
});

describe('report activity on an artifact store', () => {
  it('writes the combined CSV, results, summary, HTML and, when asked, one CSV per config', async () => {
    const r = await writeReport(store, { benchmarkId: 'run-x', separateConfigs: true });
    expect(r.keys).toEqual(
      ['combined_report.csv', 'results.json', 'summary.json', 'report.html', 'fast.csv', 'slow.csv'].map((n) => `run-x/report/${n}`),
    );
    expect(r.urls).toEqual(r.keys.map((k) => path.join(root, k)));
    const rows = parse(await readFile(path.join(root, 'run-x/report/combined_report.csv'), 'utf8'), { columns: true }) as Record<
      string,
      string
    >[];
    expect(rows.map((x) => [x.matrix_id, x.config, x.vm, x.status, x.iterations])).toEqual([
      ['1', 'fast', VM, 'passed', '6'],
      ['2', 'slow', VM, 'passed', '6'],
    ]);
    // The columns the end-to-end test and users of the original tool read.
    for (const c of [
      'matrix_id',
      'test_id',
      'config',
      'commit',
      'io_type',
      'block_size',
      'vm',
      'status',
      'read_bw_MiBps_mean',
      'write_bw_MiBps_mean',
      'read_lat_p99_ms',
      'write_lat_p99_ms',
    ]) {
      expect(Object.keys(rows[0]!), c).toContain(c);
    }
    expect(Number(rows[1]!.read_bw_MiBps_mean)).toBeLessThan(4.5);
    expect(Number(rows[0]!.read_bw_MiBps_mean)).toBeGreaterThan(5 * Number(rows[1]!.read_bw_MiBps_mean));
    const slowRows = parse(await readFile(path.join(root, 'run-x/report/slow.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(slowRows).toEqual([rows[1]]);
    const summary = JSON.parse(await readFile(path.join(root, 'run-x/report/summary.json'), 'utf8')) as ReportSummaryJson;
    expect(summary.entries.map((e) => e.read!.bwMiBps.values.length)).toEqual([6, 6]);
    expect(summary.entries[1]!.read!.bwMiBps.mean!.toFixed(2)).toBe(rows[1]!.read_bw_MiBps_mean);
    const html = await readFile(path.join(root, 'run-x/report/report.html'), 'utf8');
    // One test, two configs: the overview, and the test's bandwidth bars and latency CDF (each config a series).
    expect([...html.matchAll(/data-chart="([a-z-]+)"/g)].map((m) => m[1]).sort()).toEqual(['bandwidth', 'latency-cdf', 'overview']);
    // results.json keeps every iteration, with each job's stddev pooled.
    const results = JSON.parse(await readFile(path.join(root, 'run-x/report/results.json'), 'utf8')) as EntryReport[];
    expect(results[0]!.read!.bwBytesPerSec.values).toHaveLength(6);
    expect(results[0]!.read!.clatStddevNs).toBeGreaterThan(0);
  });

  it('still takes a bare benchmark id, and writes no per-config CSV unless asked', async () => {
    const r = await writeReport(store, 'run-y');
    expect(r.keys).toEqual(['combined_report.csv', 'results.json', 'summary.json', 'report.html'].map((n) => `run-y/report/${n}`));
    await expect(writeReport(store, 'nothing-here')).rejects.toThrow('report/results.json is missing: aggregate first');
  });
});

describe('gcsfuse-bench compare', () => {
  it('exits 4 on a regression between two runs, matching entries by test and config', async () => {
    const r = await run(['run-x', 'run-y', '--artifacts', root, '--max-regression', 'read_bw=5%']);
    expect(r.code, r.err).toBe(COMPARE_EXIT.regression);
    expect(r.out).toContain('baseline run-x vs candidate run-y; matched by test id and config');
    const lines = r.out.split('\n');
    expect(lines.find((l) => l.includes('fast') && l.includes('read_bw'))).toMatch(/REGRESSION/);
    expect(lines.find((l) => l.includes('slow') && l.includes('read_bw'))).toMatch(/better/);
    expect(r.out).toContain('1 regression(s) beyond the thresholds');
  });

  it('writes the comparison as one offline HTML page with --html, which Chromium renders without errors', async () => {
    const file = path.join(root, 'compare.html');
    const r = await run(['run-x', 'run-y', '--artifacts', root, '--max-regression', 'read_bw=5%', '--html', file]);
    expect(r.code, r.err).toBe(COMPARE_EXIT.regression);
    const html = await readFile(file, 'utf8');
    expect(html).not.toContain('<script');
    // Both matched entries (test rr, configs fast and slow), each with its verdict in words.
    expect(html).toMatch(/<tr class="row" data-test="rr"><td>rr @ fast<\/td><td>read_bw<\/td>.*?class="verdict v-regression">regression/);
    expect(html).toMatch(/<tr class="row" data-test="rr"><td>rr @ slow<\/td><td>read_bw<\/td>.*?class="verdict v-better">improvement/);
    expect(html).toContain('Gate: read_bw 5%');
    const browser = await launchChromium();
    try {
      const { page, consoleErrors, offsite } = await newPage(browser);
      await page.goto(`file://${file}`);
      expect(await page.locator('figure[data-chart="change"] svg').count()).toBeGreaterThan(0);
      expect(await page.locator('figure[data-chart="change"] .threshold line').count()).toBe(1);
      expect(await page.locator('table.comparison tbody tr').count()).toBe(
        (JSON.parse((await run(['run-x', 'run-y', '--artifacts', root, '--json'])).out) as Comparison).rows.length,
      );
      await screenshot(page, 'compare-html');
      expect(consoleErrors).toEqual([]);
      expect(offsite).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('exits 2 naming --html when the page cannot be written, and leaves nothing behind', async () => {
    const dir = path.join(root, 'no-such-dir');
    const r = await run(['run-x', 'run-y', '--artifacts', root, '--html', path.join(dir, 'c.html')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--html');
    await expect(readFile(path.join(dir, 'c.html'))).rejects.toThrow();
  });

  it('exits 4 comparing two configs of one run, and prints JSON with --json', async () => {
    const r = await run([
      'run-x',
      '--baseline-config',
      'fast',
      '--candidate-config',
      'slow',
      '--artifacts',
      root,
      '--max-regression',
      'bw=5%',
      '--json',
    ]);
    expect(r.code, r.err).toBe(COMPARE_EXIT.regression);
    const c = JSON.parse(r.out) as Comparison;
    expect(c).toMatchObject({
      matchedBy: 'test_id',
      baseline: { benchmarkId: 'run-x', config: 'fast' },
      candidate: { benchmarkId: 'run-x', config: 'slow' },
      regressions: 1,
      alpha: 0.05,
    });
    const bw = c.rows.find((x) => x.metric === 'read_bw')!;
    expect(bw).toMatchObject({ verdict: 'regression', baselineN: 6, candidateN: 6, thresholdPct: 5 });
    expect(bw.p!).toBeLessThan(0.05);
    expect(bw.deltaPct!).toBeLessThan(-50);
  });

  it('exits 0 between similar runs, for an improvement, and without thresholds', async () => {
    const similar = await run([
      'run-x',
      'run-y',
      '--baseline-config',
      'slow',
      '--candidate-config',
      'fast',
      '--artifacts',
      root,
      '--max-regression',
      'read_bw=5%,read_iops=5%',
    ]);
    expect(similar.code, similar.out).toBe(COMPARE_EXIT.ok);
    expect(similar.out).toContain('no regression beyond the thresholds');
    const better = await run([
      'run-x',
      '--baseline-config',
      'slow',
      '--candidate-config',
      'fast',
      '--artifacts',
      root,
      '--max-regression',
      'bw=5%',
    ]);
    expect(better.code).toBe(COMPARE_EXIT.ok);
    expect(better.out).toMatch(/read_bw.*better/);
    const ungated = await run(['run-x', 'run-y', '--artifacts', root]);
    expect(ungated.code).toBe(COMPARE_EXIT.ok);
    expect(ungated.out).toMatch(/fast.*read_bw.*worse/);
    expect(ungated.out).not.toContain('REGRESSION');
  });

  it('exits 6 when the gate cannot judge: a renamed config matched nothing, or only part matched', async () => {
    // run-renamed: run-y's results with its configs renamed, as after a rename in the configs CSV.
    const results = JSON.parse(await readFile(store.urlOf(layout.report('run-y', 'results.json')), 'utf8')) as EntryReport[];
    await store.put(
      layout.report('run-renamed', 'results.json'),
      JSON.stringify(results.map((r) => ({ ...r, configLabel: `${r.configLabel}-v2` }))),
    );
    const none = await run(['run-x', 'run-renamed', '--artifacts', root, '--max-regression', 'read_bw=5%']);
    expect(none.code, none.out).toBe(COMPARE_EXIT.gateIncomplete);
    expect(none.out).toContain('no regression beyond the thresholds');
    expect(none.out).toContain(
      'the gate cannot vouch for the candidate: no gated metric was compared: nothing matched between the two runs',
    );
    // Half renamed: the fast entry matches, the slow one does not.
    await store.put(
      layout.report('run-half', 'results.json'),
      JSON.stringify(results.map((r) => (r.configLabel === 'slow' ? { ...r, configLabel: 'slow-v2' } : r))),
    );
    const part = await run(['run-y', 'run-half', '--artifacts', root, '--max-regression', 'read_bw=50%', '--json']);
    expect(part.code, part.out).toBe(COMPARE_EXIT.gateIncomplete);
    const c = JSON.parse(part.out) as Comparison;
    expect(c.gateIncomplete).toEqual(expect.arrayContaining(['only in the baseline: rr @ slow', 'only in the candidate: rr @ slow-v2']));
    expect(part.err).toContain('warning: the gate cannot vouch for the candidate');
    // Without a gate, nothing to judge: exit 0.
    expect((await run(['run-x', 'run-renamed', '--artifacts', root])).code).toBe(COMPARE_EXIT.ok);
  });

  it('reads the candidate from another store, and the store from GCSFUSE_BENCH_ARTIFACTS', async () => {
    const r = await run([
      'run-x',
      'run-y',
      '--artifacts',
      root,
      '--candidate-artifacts',
      otherRoot,
      '--max-regression',
      'read_bw=5%',
      '--json',
    ]);
    expect(r.code, r.err).toBe(COMPARE_EXIT.regression);
    const saved = process.env.GCSFUSE_BENCH_ARTIFACTS;
    process.env.GCSFUSE_BENCH_ARTIFACTS = root;
    try {
      expect((await run(['run-x', 'run-y', '--max-regression', 'read_bw=5%'])).code).toBe(COMPARE_EXIT.regression);
    } finally {
      if (saved === undefined) delete process.env.GCSFUSE_BENCH_ARTIFACTS;
      else process.env.GCSFUSE_BENCH_ARTIFACTS = saved;
    }
  });

  it.each([
    ['an unknown metric', ['--max-regression', 'speed=5%'], '--max-regression: unknown metric "speed"'],
    ['a threshold that is no percentage', ['--max-regression', 'read_bw=five'], '--max-regression: "read_bw=five" is not metric=N%'],
    ['an alpha of 0', ['--alpha', '0'], '--alpha: must be a number between 0 and 1'],
    ['an alpha that is no number', ['--alpha', 'abc'], '--alpha: must be a number between 0 and 1'],
    ['an unknown --metrics name', ['--metrics', 'bw,latency'], '--metrics: unknown metric "latency"'],
  ])('exits 2 for %s', async (_what, flags, message) => {
    const r = await run(['run-x', 'run-y', '--artifacts', root, ...flags]);
    expect(r.code).toBe(COMPARE_EXIT.badInput);
    expect(r.err).toContain(`error: ${message}`);
    expect(r.out).toBe('');
  });

  it.each([
    ['a benchmark without results', ['run-x', 'run-z', '--artifacts', ROOT], '--artifacts: no report for benchmark "run-z"'],
    ['an unsafe benchmark id', ['run-x', '../etc', '--artifacts', ROOT], '<candidate-id>: benchmark id "../etc" is not allowed'],
    ['one run and no configs', ['run-x', '--artifacts', ROOT], '<candidate-id>: give a second benchmark id'],
    ['one config flag only', ['run-x', '--baseline-config', 'fast', '--artifacts', ROOT], '--candidate-config: give both'],
    [
      'a config the run does not have',
      ['run-x', '--baseline-config', 'fast', '--candidate-config', 'tuned', '--artifacts', ROOT],
      '--candidate-config: benchmark "run-x" has no config "tuned" (its configs: fast, slow)',
    ],
    ['no artifact store', ['run-x', 'run-y'], '--artifacts: the artifact store is required'],
  ])('exits 2 for %s', async (_what, args, message) => {
    const saved = process.env.GCSFUSE_BENCH_ARTIFACTS;
    delete process.env.GCSFUSE_BENCH_ARTIFACTS;
    try {
      // The table is built before the store exists: ROOT stands for it.
      const r = await run(args.map((a) => (a === ROOT ? root : a)));
      expect(r.code).toBe(COMPARE_EXIT.badInput);
      expect(r.err).toContain(`error: ${message}`);
    } finally {
      if (saved !== undefined) process.env.GCSFUSE_BENCH_ARTIFACTS = saved;
    }
  });

  it('works registered under a program with a global --json, as the CLI registers it', async () => {
    const out: string[] = [];
    const err: string[] = [];
    let code: number;
    const program = () => {
      const p = new Command('gcsfuse-bench').option('--json', 'machine-readable output').exitOverride();
      p.addCommand(compareCommand({ out: (t) => out.push(t), err: (t) => err.push(t), setExitCode: (c) => (code = c) }));
      return p;
    };
    for (const argv of [
      ['compare', 'run-x', 'run-y', '--artifacts', root, '--max-regression', 'read_bw=5%', '--json'],
      ['--json', 'compare', 'run-x', 'run-y', '--artifacts', root, '--max-regression', 'read_bw=5%'],
    ]) {
      out.length = 0;
      code = -1;
      await program().parseAsync(argv, { from: 'user' });
      expect(code).toBe(COMPARE_EXIT.regression);
      expect((JSON.parse(out.join('\n')) as Comparison).regressions).toBe(1);
    }
    // Errors throw, for the CLI's runCli to turn into exit 2.
    await expect(program().parseAsync(['compare', 'run-x', '--bogus'], { from: 'user' })).rejects.toMatchObject({
      code: 'commander.unknownOption',
    });
    await expect(program().parseAsync(['compare', 'run-x', '--artifacts', root], { from: 'user' })).rejects.toBeInstanceOf(InputError);
    expect(err.join('\n')).toContain("unknown option '--bogus'");
  });

  it("exits 2 on commander's own errors, 0 for --help", async () => {
    const bogus = await run(['run-x', 'run-y', '--artifacts', root, '--bogus']);
    expect(bogus.code).toBe(COMPARE_EXIT.badInput);
    expect(bogus.err).toContain("unknown option '--bogus'");
    expect((await run([])).code).toBe(COMPARE_EXIT.badInput);
    const help = await run(['--help']);
    expect(help.code).toBe(COMPARE_EXIT.ok);
    expect(help.out).toContain('--max-regression <list>');
  });
});
