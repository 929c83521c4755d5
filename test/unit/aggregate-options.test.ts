import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aggregate } from '../../src/activities/aggregate';
import { writeReport } from '../../src/activities/report';
import { LocalArtifactStore } from '../../src/artifacts/local';
import { getJson } from '../../src/artifacts/store';
import { defaultMountConfig } from '../../src/core/configs';
import { layout } from '../../src/core/layout';
import type { EntryReport, ReportSummaryJson } from '../../src/core/report';
import type { BenchmarkConfig, JobSpec } from '../../src/core/spec';

// --ci-min-iterations and --fio-groups reach the aggregate activity through config.json: a real
// fio output of a job file with two groups (stonewall), two iterations of it.
const TWO_GROUPS = readFileSync(path.join(import.meta.dirname, '../fixtures/fio/two-groups.json'), 'utf8');
const VM = 'vm-a';
const ITERATIONS = 2;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function aggregated(id: string, analysis: Pick<BenchmarkConfig, 'ciMinIterations' | 'fioGroups'> | undefined) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gcsfuse-bench-agg-options-'));
  dirs.push(dir);
  const store = new LocalArtifactStore(dir);
  const spec: JobSpec = {
    benchmarkId: id,
    vm: VM,
    iterations: ITERATIONS,
    mount: { kind: 'local-dir' },
    fioIterationMs: 1000,
    jobTemplatePath: 'jobfile.fio',
    entries: [
      {
        matrixId: 1,
        testId: 'seq',
        testRow: 1,
        config: defaultMountConfig('master', ''),
        params: { test_id: 'seq' },
        estimatedIterationMs: 1000,
      },
    ],
  };
  await store.put(layout.jobSpec(id, VM), JSON.stringify(spec));
  for (let i = 1; i <= ITERATIONS; i++) await store.put(layout.fioOutput(id, VM, 1, i), TWO_GROUPS);
  // Only the fields the activities read from config.json matter here.
  if (analysis) await store.put(layout.config(id), JSON.stringify({ benchmarkId: id, ...analysis }));
  await aggregate(store, { benchmarkId: id, owners: [{ matrixId: 1, vm: VM, status: 'passed' }] });
  await writeReport(store, id);
  return {
    reports: (await getJson<EntryReport[]>(store, layout.report(id, 'results.json')))!,
    summary: (await getJson<ReportSummaryJson>(store, layout.report(id, 'summary.json')))!,
    html: (await store.get(layout.report(id, 'report.html')))!.toString('utf8'),
  };
}

describe('aggregate honours --ci-min-iterations and --fio-groups from config.json', () => {
  it('by default: one result per fio group, no interval from 2 iterations', async () => {
    for (const analysis of [undefined, {}]) {
      const { reports, summary } = await aggregated('defaults', analysis);
      expect(reports.map((r) => r.fioGroup)).toEqual([0, 1]);
      for (const r of reports) {
        const d = r.read ?? r.write!;
        expect(d.bwBytesPerSec.ci95Low).toBeNull();
        expect(d.bwBytesPerSec.ciUnavailable).toMatch(/2 iterations: an interval needs 3 or more/);
      }
      expect(summary.method.ciMinIterations).toBe('3 (default)');
      expect(summary.method.fioGroups).toMatch(/^separate \(default\)/);
    }
  });

  it('as asked: the groups merged into one result, an interval from 2 iterations, both stated', async () => {
    const { reports, summary, html } = await aggregated('asked', { ciMinIterations: 2, fioGroups: 'merged' });
    expect(reports).toHaveLength(1);
    expect(reports[0]!.fioGroup).toBeUndefined();
    const d = reports[0]!.read ?? reports[0]!.write!;
    expect(d.bwBytesPerSec.ci95Low).toEqual(expect.any(Number));
    expect(d.bwBytesPerSec.ci95High!).toBeGreaterThanOrEqual(d.bwBytesPerSec.ci95Low!);
    expect(summary.method.ciMinIterations).toBe('2 (--ci-min-iterations)');
    expect(summary.method.confidenceInterval).toMatch(/not computed below 2 iterations/);
    expect(summary.method.fioGroups).toMatch(/^merged \(--fio-groups merged\)/);
    expect(html).toContain('not computed below 2 iterations');
  });
});
