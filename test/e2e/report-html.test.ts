/**
 * report.html from a benchmark as agents leave it, on real components: fio runs through the
 * agent's own runner (vm-agent/src/fio-runner.ts, which adds the log options) with the resource
 * monitor sampling, the logs are stored by the agent's storeFioLogs, metadata.json holds the real
 * host and the installed gcsfuse binary's versions, the metadata prefetch is the agent's; then
 * the orchestrator's aggregate and report activities write report.html, opened in headless
 * Chromium. No gcsfuse mount here (local folders): the monitor watches a busy child process as
 * the stand-in for gcsfuse's CPU and memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { aggregate, type EntryOwner } from '../../src/activities/aggregate';
import { writeReport } from '../../src/activities/report';
import { LocalArtifactStore } from '../../src/artifacts/local';
import { getJson, toJson } from '../../src/artifacts/store';
import type { MountConfig } from '../../src/core/configs';
import { layout } from '../../src/core/layout';
import { ENTRY_METADATA_SCHEMA, iterationMetadataKey, type EntryMetadata } from '../../src/core/metadata';
import type { ReportSummaryJson } from '../../src/core/report';
import type { JobSpec, Manifest } from '../../src/core/spec';
import { runFio, storeFioLogs } from '../../vm-agent/src/fio-runner';
import { createMetadataCollector, iterationMetadata, prefetchMetadata } from '../../vm-agent/src/metadata';
import { startMonitor } from '../../vm-agent/src/monitor';
import { launchChromium, newPage, screenshot, SCREENSHOTS } from '../support/chromium';
import { REPO, tempDir } from '../support/harness';

const ID = 'html-report';
const VM = 'vm-1';
const ITERATIONS = 2;
const GCSFUSE = path.join(REPO, '.gcsfuse-bench', 'bin', 'gcsfuse');
const configs: MountConfig[] = [
  { label: 'baseline', commit: 'master', mountArgs: '--implicit-dirs', mountArgv: ['--implicit-dirs'] },
  {
    label: 'tuned<&>',
    commit: 'v3.4.0',
    mountArgs: '--implicit-dirs --max-conns-per-host=100',
    mountArgv: ['--implicit-dirs', '--max-conns-per-host=100'],
  },
];
/** Two tests: a warm-up (a second job joins after 5 s, rate-limited) long enough to be judged, and a short random mix. */
const tests = [
  {
    testId: 'warmup-read',
    params: { test_id: 'warmup-read', io_type: 'read', block_size: '64k', num_jobs: '2' },
    job: '[global]\nioengine=psync\nbs=64k\nsize=8m\nrw=read\nrate=4m\ntime_based=1\nruntime=17\n[a]\nfilename=a\n[b]\nfilename=b\nstartdelay=5\nruntime=12\n',
  },
  {
    testId: 'randrw-4k',
    params: { test_id: 'randrw-4k', io_type: 'randrw', block_size: '4k', num_jobs: '1' },
    job: '[global]\nioengine=psync\nbs=4k\nsize=4m\nrw=randrw\ntime_based=1\nruntime=2\n[r]\nfilename=r\n',
  },
];

describe('report.html on real fio outputs with logs, in headless Chromium', () => {
  let root: string;
  let store: LocalArtifactStore;
  let busy: ChildProcess;
  let browser: Browser | undefined;

  beforeAll(async () => {
    root = tempDir('report-html-');
    store = new LocalArtifactStore(path.join(root, 'store'));
    // The stand-in for gcsfuse: a real process that uses some CPU and memory.
    busy = spawn(
      process.execPath,
      ['-e', 'const a=[];setInterval(()=>{for(let i=0;i<2e5;i++)a.push(i%7);if(a.length>4e6)a.length=0},50)'],
      { stdio: 'ignore' },
    );
    const collector = createMetadataCollector();
    const host = await collector.host();
    const gcsfuse = existsSync(GCSFUSE) ? await collector.gcsfuse(GCSFUSE) : null;
    const spec: JobSpec = {
      benchmarkId: ID,
      vm: VM,
      iterations: ITERATIONS,
      mount: { kind: 'local-dir' },
      fioIterationMs: 60_000,
      jobTemplatePath: 'jobfile.fio',
      entries: [],
    };
    const manifest: Manifest = { benchmarkId: ID, vm: VM, updatedAt: new Date().toISOString(), entries: {} };
    const runs: Promise<void>[] = [];
    let matrixId = 0;
    for (const t of tests) {
      for (const config of configs) {
        const m = ++matrixId;
        spec.entries.push({ matrixId: m, testId: t.testId, testRow: 1, config, params: t.params, estimatedIterationMs: 1000 });
        manifest.entries[String(m)] = { matrixId: m, specVm: VM, status: 'passed', iterations: ITERATIONS, iterationsDone: ITERATIONS };
        const meta: EntryMetadata = {
          schema: ENTRY_METADATA_SCHEMA,
          benchmarkId: ID,
          vm: VM,
          matrixId: m,
          testId: t.testId,
          collectedAt: new Date().toISOString(),
          host,
          gcsfuse,
          mount: {
            kind: 'local-dir',
            configLabel: config.label,
            configCommit: config.commit,
            mountArgs: config.mountArgs,
            mountArgv: config.mountArgv,
            mountPoint: root,
          },
          job: { sha256: '0'.repeat(64), bytes: t.job.length },
        };
        await store.put(layout.entryMetadata(ID, VM, m), toJson(meta));
        for (let i = 1; i <= ITERATIONS; i++) {
          const dir = path.join(root, `data-${m}-${i}`);
          mkdirSync(dir, { recursive: true });
          writeFileSync(path.join(dir, 'job.fio'), t.job);
          runs.push(
            (async () => {
              await store.put(iterationMetadataKey(ID, VM, m, i), toJson(iterationMetadata(i, await prefetchMetadata(dir))));
              const monitor = startMonitor({ pid: () => busy.pid, intervalMs: 1000 });
              const outputFile = path.join(dir, 'out.json');
              const result = await runFio({
                jobFile: path.join(dir, 'job.fio'),
                outputFile,
                timeoutMs: 60_000,
                cwd: dir,
                logDir: path.join(dir, 'logs'),
              });
              await store.put(layout.resources(ID, VM, m, i), toJson(await monitor.stop()));
              expect(result.exitCode, result.stderr).toBe(0);
              await storeFioLogs(store, { benchmarkId: ID, vm: VM, matrixId: m, iteration: i }, result);
              const { readFile } = await import('node:fs/promises');
              await store.put(layout.fioOutput(ID, VM, m, i), await readFile(outputFile, 'utf8'));
            })(),
          );
        }
      }
    }
    await Promise.all(runs);
    await store.put(layout.jobSpec(ID, VM), JSON.stringify(spec));
    await store.put(layout.manifest(ID, VM), JSON.stringify(manifest));
    const owners: EntryOwner[] = spec.entries.map((e) => ({ matrixId: e.matrixId, vm: VM, status: 'passed' }));
    await aggregate(store, { benchmarkId: ID, owners });
    await writeReport(store, ID);
  }, 180_000);

  afterAll(async () => {
    busy?.kill('SIGKILL');
    await browser?.close();
  });

  it('stores the logs beside each json+, bounded and summed over jobs', async () => {
    const series = await getJson<{ jobs: number; intervalMs: number; directions: { read?: { tMs: number[] } } }>(
      store,
      layout.timeSeries(ID, VM, 1, 1),
    );
    expect(series!.jobs).toBe(2);
    expect(series!.intervalMs).toBe(1000);
    expect(series!.directions.read!.tMs.length).toBeGreaterThanOrEqual(15);
    const raw = await getJson<{ files: Record<string, string> }>(store, layout.fioLogs(ID, VM, 1, 1));
    expect(Object.keys(raw!.files).sort()).toEqual([
      'fio_bw.1.log',
      'fio_bw.2.log',
      'fio_clat.1.log',
      'fio_clat.2.log',
      'fio_iops.1.log',
      'fio_iops.2.log',
    ]);
  });

  it('summary.json and the CSV carry the prefetch, the steady state and what the rule found', async () => {
    const summary = await getJson<ReportSummaryJson>(store, layout.report(ID, 'summary.json'));
    const warm = summary!.entries.find((e) => e.matrixId === 1)!;
    expect(warm.timeSeries!.read!.findings).toEqual([{ finding: 'warm-up', iterations: [1, 2] }]);
    expect(warm.timeSeries!.read!.steadyBwMiBps).toBeGreaterThan(6);
    expect(warm.metadataPrefetch!.elapsedMs).toHaveLength(ITERATIONS);
    expect(warm.environment!.kernel).toBe(os.release());
    const csv = (await store.get(layout.report(ID, 'combined_report.csv')))!.toString('utf8');
    const header = csv.split('\n')[0]!.split(',');
    for (const c of ['metadata_prefetch_ms_avg', 'metadata_prefetch_files', 'read_steady_bw_MiBps', 'read_timeseries_findings'])
      expect(header).toContain(c);
    expect(csv).toContain('warm-up (iter 1,2)');
  });

  it('renders in Chromium without console errors; every test has its charts; the header and overview are there', async () => {
    browser = await launchChromium();
    const { page, consoleErrors } = await newPage(browser);
    const file = path.join(store.root, layout.report(ID, 'report.html'));
    await page.goto(`file://${file}`);
    const text = (await page.locator('body').innerText()).replace(/\s+/g, ' ');
    expect(text).toContain(`fio ${(await createMetadataCollector().host()).fioVersion}`.replace('fio ', ''));
    expect(text).toContain(os.release());
    expect(text).toContain(VM);
    expect(text).toContain('tuned<&>');
    expect(await page.locator('figure[data-chart="overview"]').count()).toBe(1);
    const sections = page.locator('section.test');
    expect(await sections.count()).toBe(tests.length);
    for (let s = 0; s < tests.length; s++) {
      const section = sections.nth(s);
      for (const kind of ['bandwidth', 'latency-cdf'])
        expect(await section.locator(`figure[data-chart="${kind}"]`).count(), `${tests[s]!.testId} ${kind}`).toBe(1);
      // One time-series chart and one gcsfuse CPU and memory chart per config.
      for (const kind of ['timeseries', 'gcsfuse-cpu', 'gcsfuse-memory'])
        expect(await section.locator(`figure[data-chart="${kind}"]`).count(), `${tests[s]!.testId} ${kind}`).toBe(configs.length);
      // Every chart rendered: its widest SVG (the plot, beside legend swatches) has a drawn size and marks.
      const charts = await section.locator('figure[data-chart]').evaluateAll((figs) =>
        figs.map((f) => ({
          width: Math.max(...[...f.querySelectorAll('svg')].map((e) => e.getBoundingClientRect().width)),
          marks: f.querySelectorAll('svg rect, svg path, svg circle').length,
        })),
      );
      for (const c of charts) {
        expect(c.width).toBeGreaterThan(300);
        expect(c.marks).toBeGreaterThan(3);
      }
    }
    // Numbers on the bars: the bandwidth chart's labels are the table's means.
    const labels = await sections.nth(0).locator('[data-chart="bandwidth"] g[aria-label="text"] text').allTextContents();
    expect(labels.length).toBe(configs.length);
    expect(await sections.nth(0).locator('.finding').first().innerText()).toBe('warm-up');
    // Sortable overview, without script: the bandwidth link shows the table sorted by bandwidth, best first.
    await page.locator('#overview-by-test th a', { hasText: 'MiB/s' }).click();
    const bw = await page.locator('#overview-by-bw tbody tr td:nth-child(3)').allTextContents();
    expect(await page.locator('#overview-by-bw').isVisible()).toBe(true);
    expect(await page.locator('#overview-by-test').isVisible()).toBe(false);
    expect(bw.map(Number)).toEqual([...bw.map(Number)].sort((a, b) => b - a));
    await page.goto(`file://${file}`);
    await screenshot(page, 'report-html');
    // Closer views for a reader: the header and overview, and the first test's charts.
    await page.screenshot({ path: path.join(SCREENSHOTS, 'report-html-top.png') });
    await sections.nth(0).screenshot({ path: path.join(SCREENSHOTS, 'report-html-first-test.png') });
    expect(consoleErrors).toEqual([]);
  }, 60_000);
});
