import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openArtifactStore } from '../../src/artifacts';
import { startBenchmark } from '../../src/client/benchmarks';
import {
  buildSuiteSpec,
  createSuiteSchedule,
  describeSuite,
  listSuiteSchedules,
  registerScheduleCommands,
  scheduleIdOf,
  storeSuiteSpec,
} from '../../src/client/schedule';
import type { SuiteRunRecord, VerdictRecord } from '../../src/core/suite';
import { suiteLayout } from '../../src/core/suite';
import { InputError } from '../../src/core/errors';
import type { SuiteRunResult } from '../../src/workflows/suite';
import { Harness, readJson, until } from '../support/harness';
import { startLocalTemporal } from '../support/temporal';

/**
 * Continuous benchmarking on a real dev server with real fio: schedules, the gcsfuse ref resolved
 * in a local git repository at each run, verdicts against the baseline, the webhook, the trend page.
 */
const CHROMIUM = '/usr/bin/chromium';
const VM = 'suite-vm';
let env: TestWorkflowEnvironment;
let h: Harness;
let repo: string;
let receiver: http.Server;
const received: { body: string; status: number }[] = [];

function git(...args: string[]): string {
  return execFileSync('git', args, {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
  }).trim();
}

/** A new commit tagged `tag` (annotated, as gcsfuse's releases are). */
function release(tag: string): string {
  writeFileSync(path.join(repo, 'VERSION'), tag);
  git('add', 'VERSION');
  git('commit', '-q', '-m', tag);
  git('tag', '-a', tag, '-m', tag);
  return git('rev-parse', 'HEAD');
}

/** A suite's options file: one read test, fio rate-limited to `rateMiB` so bandwidth is steady and its change certain. */
function suiteConfig(name: string, rateMiB: number, iterations: number, runtime = '1s'): string {
  const dir = path.join(h.home, 'suites', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'test-cases.csv'), 'test_id,io_type,block_size,file_size,num_jobs\nseq-read,read,64k,4m,1\n');
  writeFileSync(
    path.join(dir, 'jobfile.fio'),
    `[global]\nioengine=psync\ntime_based=1\nruntime=${runtime}\ndirectory=\${TEST_DATA_DIR}\nrate=${rateMiB}m\n\n[job]\nrw=\${IO_TYPE}\nbs=\${BLOCK_SIZE}\nsize=\${FILE_SIZE}\nnumjobs=\${NUM_JOBS}\n`,
  );
  const file = path.join(dir, 'suite.yaml');
  writeFileSync(file, `test-csv: test-cases.csv\nfio-job-file: jobfile.fio\nvms: [${VM}]\niterations: ${iterations}\n`);
  return file;
}

beforeAll(async () => {
  env = await startLocalTemporal();
  h = new Harness(env);
  repo = path.join(h.home, 'gcsfuse.git');
  mkdirSync(repo);
  git('init', '-q', '-b', 'master');
  release('v2.9.0');
  release('v3.0.0');
  release('v3.1.0');
  // The alert receiver: refuses the first call, so the alert only arrives through Temporal's retry.
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const status = received.length === 0 ? 503 : 200;
      received.push({ body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  // The worker holds the URL; the schedule and workflows only name it.
  process.env.GCSFUSE_BENCH_WEBHOOK_PERF = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook?token=s3cret`;
  await h.startOrchestrator();
  await h.startAgent(VM);
}, 120_000);

afterAll(async () => {
  delete process.env.GCSFUSE_BENCH_WEBHOOK_PERF;
  receiver?.close();
  await h?.stop();
  await env?.teardown();
});

/** Triggers the suite's schedule and waits for the run it started. */
async function triggerAndWait(suite: string): Promise<{ workflowId: string; result: SuiteRunResult }> {
  const handle = env.client.schedule.getHandle(scheduleIdOf(suite));
  const before = (await handle.describe()).info.recentActions.length;
  await handle.trigger();
  let workflowId = '';
  await until(
    async () => {
      const actions = (await handle.describe()).info.recentActions;
      workflowId = actions[actions.length - 1]?.action.workflow.workflowId ?? '';
      return actions.length > before;
    },
    'the triggered run to start',
    30_000,
  );
  return { workflowId, result: await env.client.workflow.getHandle(workflowId).result() };
}

async function listIds(query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of env.client.workflow.list({ query })) ids.push(w.workflowId);
  return ids.sort();
}

describe('suite runs against a baseline', () => {
  it('makes the first run the baseline, passes a run within noise, flags a slower one and alerts the webhook', async () => {
    const store = openArtifactStore(h.artifacts);
    const gate = { gcsfuseRef: 'tag:v3.*', gcsfuseRepo: repo, maxRegression: 'bw=25%', webhook: 'perf' };
    const fast = await buildSuiteSpec({ suite: 'gate', configFile: suiteConfig('fast', 16, 3), ...gate });
    const fastSha = await storeSuiteSpec(store, fast);
    // Stored once: the same inputs hash to the same key.
    expect(await storeSuiteSpec(store, fast)).toBe(fastSha);
    await createSuiteSchedule(env.client, {
      suite: 'gate',
      specSha256: fastSha,
      timing: { everyMs: 3_600_000, catchupWindowMs: 60_000 },
      paused: true,
    });

    const first = await triggerAndWait('gate');
    expect(first.result).toMatchObject({
      verdict: 'no-baseline',
      ref: 'v3.1.0',
      commit: git('rev-parse', 'v3.1.0^{commit}'),
      alert: 'none',
    });
    expect(readJson<{ benchmarkId: string }>(store.urlOf(suiteLayout.baseline('gate'))).benchmarkId).toBe(first.result.benchmarkId);

    const second = await triggerAndWait('gate');
    expect(second.result).toMatchObject({ verdict: 'pass', baselineId: first.result.benchmarkId, alert: 'none' });
    expect(received).toHaveLength(0);

    // A new release appears, and the suite is changed to a slower fio: the next run resolves and judges it.
    const v320 = release('v3.2.0');
    const slow = await buildSuiteSpec({ suite: 'gate', configFile: suiteConfig('slow', 2, 3), ...gate });
    const slowSha = await storeSuiteSpec(store, slow);
    expect(slowSha).not.toBe(fastSha);
    expect(
      (
        await createSuiteSchedule(env.client, {
          suite: 'gate',
          specSha256: slowSha,
          timing: { everyMs: 3_600_000, catchupWindowMs: 60_000 },
          paused: true,
          replace: true,
        })
      ).replaced,
    ).toBe(true);

    const third = await triggerAndWait('gate');
    expect(third.result).toMatchObject({
      verdict: 'regression',
      ref: 'v3.2.0',
      commit: v320,
      baselineId: second.result.benchmarkId,
      alert: 'sent',
    });

    // The verdict is stored with the run and names the metric.
    const verdict = readJson<VerdictRecord>(store.urlOf(suiteLayout.verdict(third.result.benchmarkId)));
    expect(verdict.regressions.map((r) => r.metric)).toEqual(['read_bw']);
    expect(verdict.regressions[0]!.deltaPct!).toBeLessThan(-25);
    // A regression does not move the baseline.
    expect(readJson<{ benchmarkId: string }>(store.urlOf(suiteLayout.baseline('gate'))).benchmarkId).toBe(second.result.benchmarkId);

    // The webhook got the alert on Temporal's second try; the URL is nowhere in the histories.
    expect(received.map((r) => r.status)).toEqual([503, 200]);
    expect(JSON.parse(received[1]!.body)).toMatchObject({
      event: 'regression',
      suite: 'gate',
      benchmarkId: third.result.benchmarkId,
      ref: 'v3.2.0',
      regressions: [{ metric: 'read_bw' }],
    });
    for (const id of [third.workflowId, third.result.benchmarkId]) {
      const history = JSON.stringify((await env.client.workflow.getHandle(id).fetchHistory()).events);
      expect(history).not.toContain('s3cret');
      expect(history).not.toContain('127.0.0.1:');
    }

    // Searchable: the regression by its verdict, every benchmark of the suite by its name.
    await until(async () => (await listIds('BenchmarkVerdict = "regression"')).length === 1, 'visibility of the verdict', 20_000);
    expect(await listIds('BenchmarkVerdict = "regression"')).toEqual([third.workflowId]);
    await until(
      async () => (await listIds('BenchmarkSuite = "gate" AND WorkflowType = "benchmarkWorkflow"')).length === 3,
      'visibility of the benchmarks',
      20_000,
    );
    expect(await listIds('BenchmarkSuite = "gate" AND WorkflowType = "benchmarkWorkflow"')).toEqual(
      [first, second, third].map((r) => r.result.benchmarkId).sort(),
    );
    // The Web UI's summary of the run shows the verdict.
    // (the Web UI reads current details with the built-in metadata query, as here)
    const metadata = await env.client.workflow
      .getHandle(third.workflowId)
      .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(/\*\*regression\*\*[\s\S]*read_bw[\s\S]*webhook `perf` notified/);

    const d = await describeSuite(env.client, 'gate', store);
    expect(d).toMatchObject({ paused: true, overlap: 'SKIP', baseline: { benchmarkId: second.result.benchmarkId, pinned: false } });
    expect(d.history!.map((r: SuiteRunRecord) => r.verdict)).toEqual(['no-baseline', 'pass', 'regression']);
  }, 240_000);

  it('renders the trend page offline in headless Chromium, with the refs and the regression marked', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run npm run setup`);
    // A run made by hand before the suite existed: it counts too, with the commit it was given.
    const store = openArtifactStore(h.artifacts);
    const before = await buildSuiteSpec({ suite: 'gate', configFile: suiteConfig('before', 16, 3), gcsfuseRef: 'branch:master' });
    await (
      await startBenchmark(env.client, { ...before.request, benchmarkId: 'before-suite', gcsfuseCommit: 'v2.9.0' }, h.artifacts)
    ).result();
    expect(await store.get(suiteLayout.run('gate', 'before-suite'))).toBeUndefined();

    const out = path.join(h.home, 'trend');
    const program = new Command().option('--temporal-address <a>').option('--namespace <ns>').option('--json').exitOverride();
    registerScheduleCommands(program);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await program.parseAsync(['trend', 'gate', '--artifacts', h.artifacts, '--out', out, '--benchmark-ids', 'before-suite', '--json'], {
        from: 'user',
      });
      expect(JSON.parse(String(log.mock.calls[0]![0]))).toMatchObject({ runs: 4, series: 2 });
    } finally {
      log.mockRestore();
    }
    const trend = readJson<{ runs: { ref: string; verdict: string | null }[] }>(path.join(out, 'trend.json'));
    expect(trend.runs.map((r) => [r.ref, r.verdict])).toEqual([
      ['v2.9.0', null],
      ['v3.1.0', 'no-baseline'],
      ['v3.1.0', 'pass'],
      ['v3.2.0', 'regression'],
    ]);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${path.join(out, 'trend.html')}`);
      // Nothing but the page itself is loaded.
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      const charts = page.locator('svg.chart');
      expect(await charts.count()).toBe(2);
      const bw = page.locator('svg.chart[data-series="read_bw"]');
      expect(await bw.locator('circle.point').count()).toBe(4);
      expect(await bw.locator('circle.point.regression').count()).toBe(1);
      expect(await bw.locator('circle.point.regression').getAttribute('data-run')).toMatch(/^gate-/);
      expect(await page.locator('svg.chart[data-series="read_p99_lat"] circle.point.regression').count()).toBe(0);
      // Drawn, not just present: the chart has a size on the page and the axis shows the refs.
      const box = await bw.boundingBox();
      expect(box!.width).toBeGreaterThan(100);
      expect(await bw.locator('text.ref').allTextContents()).toEqual(['v2.9.0', 'v3.1.0', 'v3.1.0', 'v3.2.0']);
      expect(await page.locator('td.verdict-regression').count()).toBe(1);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

describe('a schedule on a short interval', () => {
  it('runs again and again but never two at once: runs that would overlap are skipped', async () => {
    const program = new Command().option('--temporal-address <a>').option('--namespace <ns>').option('--json').exitOverride();
    registerScheduleCommands(program);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      // Every second, while each run takes longer than that (fio alone runs 2 s).
      await program.parseAsync(
        [
          '--temporal-address',
          env.address,
          'schedule',
          'create',
          'tick',
          '--config',
          suiteConfig('tick', 32, 1, '2s'),
          '--every',
          '1s',
          '--gcsfuse-ref',
          'branch:master',
          '--gcsfuse-repo',
          repo,
          '--artifacts',
          h.artifacts,
          '--no-fio-check',
        ],
        { from: 'user' },
      );
      const handle = env.client.schedule.getHandle(scheduleIdOf('tick'));
      await until(
        async () => {
          const d = await handle.describe();
          return d.info.recentActions.length >= 2 && d.info.numActionsSkippedOverlap >= 1;
        },
        'two runs and a skipped one',
        90_000,
      );
      await program.parseAsync(['--temporal-address', env.address, 'schedule', 'pause', 'tick', '--note', 'test over'], { from: 'user' });
      const d = await handle.describe();
      expect(d.state).toMatchObject({ paused: true, note: 'test over' });
      expect(d.policies.overlap).toBe('SKIP');
      expect(d.info.numActionsSkippedOverlap).toBeGreaterThanOrEqual(1);

      // The runs' lifetimes never overlap.
      const runs = d.info.recentActions.map((a) => a.action.workflow.workflowId);
      const spans = await Promise.all(
        runs.map(async (id) => {
          const h2 = env.client.workflow.getHandle(id);
          await h2.result().catch(() => {});
          const w = await h2.describe();
          return [w.startTime.getTime(), w.closeTime!.getTime()] as const;
        }),
      );
      spans.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
      expect((await env.client.workflow.getHandle(runs[0]!).result()).ref).toBe('master');

      await program.parseAsync(
        [
          '--temporal-address',
          env.address,
          'schedule',
          'create',
          'nightly',
          '--config',
          suiteConfig('nightly', 32, 1),
          '--cron',
          '0 3 * * *',
          '--paused',
          '--gcsfuse-repo',
          repo,
          '--artifacts',
          h.artifacts,
          '--no-fio-check',
        ],
        { from: 'user' },
      );
      const nightly = await describeSuite(env.client, 'nightly');
      expect(nightly).toMatchObject({ paused: true, overlap: 'SKIP', catchupWindowSeconds: 3600, recentRuns: [] });
      expect(nightly.cron).toContain('0 3 * * *');
      expect(new Date(nightly.nextRuns[0]!).getUTCHours()).toBe(3);

      const listed = await listSuiteSchedules(env.client);
      expect(listed.map((s) => [s.suite, s.paused, s.every ?? s.cron])).toEqual([
        ['gate', true, '1h'],
        ['nightly', true, nightly.cron],
        ['tick', true, '1s'],
      ]);
      await program.parseAsync(['--temporal-address', env.address, 'schedule', 'delete', 'tick'], { from: 'user' });
      expect((await listSuiteSchedules(env.client)).map((s) => s.suite)).toEqual(['gate', 'nightly']);
    } finally {
      log.mockRestore();
    }
  }, 180_000);

  it('refuses bad schedule input before anything is created, naming the flag', async () => {
    const program = new Command().option('--temporal-address <a>').exitOverride();
    registerScheduleCommands(program);
    const config = suiteConfig('bad', 16, 2);
    const attempt = (...args: string[]) =>
      program.parseAsync(['--temporal-address', env.address, 'schedule', 'create', ...args, '--artifacts', h.artifacts, '--no-fio-check'], {
        from: 'user',
      });
    await expect(attempt('x', '--config', config, '--every', '1h', '--cron', '0 3 * * *')).rejects.toThrow(/exactly one of --every/);
    await expect(attempt('x', '--config', config, '--cron', '0 3 * *')).rejects.toThrow(/--cron: "0 3 \* \*" is not a cron expression/);
    await expect(attempt('x', '--config', config, '--every', '1h', '--gcsfuse-ref', 'commit:abc')).rejects.toThrow(/--gcsfuse-ref/);
    await expect(attempt('x', '--config', config, '--every', '1h', '--webhook', 'https://hooks.example/t')).rejects.toThrow(
      /--webhook: webhook name/,
    );
    await expect(attempt('x', '--config', config, '--every', '1h', '--max-regression', 'bogus=5%')).rejects.toThrow(
      /--max-regression: unknown metric "bogus"/,
    );
    await expect(attempt('../x', '--config', config, '--every', '1h')).rejects.toThrow(InputError);
    writeFileSync(
      path.join(path.dirname(config), 'with-id.yaml'),
      'benchmark-id: fixed\ntest-csv: test-cases.csv\nfio-job-file: jobfile.fio\nvms: [v]\n',
    );
    await expect(attempt('x', '--config', path.join(path.dirname(config), 'with-id.yaml'), '--every', '1h')).rejects.toThrow(
      /with-id\.yaml: a suite's config file cannot set benchmark-id/,
    );
    expect((await listSuiteSchedules(env.client)).map((s) => s.suite)).not.toContain('x');
    expect(existsSync(path.join(h.artifacts, '_suites', 'x'))).toBe(false);
  });
});
