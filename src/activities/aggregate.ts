import { getJson, type ArtifactStore } from '../artifacts/store';
import { layout } from '../core/layout';
import { reportResources, summariseSamples, type ResourceSamples } from '../core/resources';
import type { EntryMetadata } from '../core/metadata';
import { entryReports, parseIteration, type EntryReport, type IterationResult } from '../core/report';
import type { JobSpec, Manifest } from '../core/spec';

/** Which VM holds the results of each entry, as the workflow recorded it. */
export interface EntryOwner {
  matrixId: number;
  vm: string | null;
  status: 'passed' | 'failed' | 'missing';
}

export interface AggregateInput {
  benchmarkId: string;
  owners: EntryOwner[];
}

export interface AggregateSummary {
  resultsKey: string;
  entries: number;
  passed: number;
  failed: number;
}

export async function readJobSpecs(store: ArtifactStore, benchmarkId: string): Promise<JobSpec[]> {
  const keys = (await store.list(layout.jobsPrefix(benchmarkId))).filter((k) => k.endsWith('.json'));
  const specs = await Promise.all(keys.map((k) => getJson<JobSpec>(store, k)));
  return specs.filter((s): s is JobSpec => s !== undefined);
}

/**
 * Reads every fio output of every passed entry from the VM the workflow says ran it,
 * so an entry that ran twice (a retry elsewhere) counts once.
 */
export async function aggregate(store: ArtifactStore, input: AggregateInput): Promise<AggregateSummary> {
  const id = input.benchmarkId;
  const specs = await readJobSpecs(store, id);
  const entries = new Map(specs.flatMap((s) => s.entries.map((e) => [e.matrixId, { entry: e, iterations: s.iterations }] as const)));
  const reports: EntryReport[] = [];
  // How many iterations each entry ran (a stability gate may have added some) is in its VM's manifest.
  const manifests = new Map<string, Promise<Manifest | undefined>>();
  const manifestOf = (vm: string) => {
    if (!manifests.has(vm)) manifests.set(vm, getJson<Manifest>(store, layout.manifest(id, vm)));
    return manifests.get(vm)!;
  };
  for (const owner of [...input.owners].sort((a, b) => a.matrixId - b.matrixId)) {
    const found = entries.get(owner.matrixId);
    if (!found) throw new Error(`matrix entry ${owner.matrixId} is in no job spec of ${id}`);
    const results: IterationResult[] = [];
    const samples: ResourceSamples['samples'] = [];
    let stability: { stable: boolean; bw_cv_pct: number } | undefined;
    if (owner.status === 'passed' && owner.vm) {
      const recorded = (await manifestOf(owner.vm))?.entries[String(owner.matrixId)];
      const iterations = Math.max(found.iterations, recorded?.iterationsDone ?? 0);
      if (recorded?.stable !== undefined) stability = { stable: recorded.stable, bw_cv_pct: recorded.bwCvPercent ?? 0 };
      for (let i = 1; i <= iterations; i++) {
        const resources = await getJson<ResourceSamples>(store, layout.resources(id, owner.vm, owner.matrixId, i));
        if (resources) samples.push(...resources.samples);
        const key = layout.fioOutput(id, owner.vm, owner.matrixId, i);
        const buf = await store.get(key);
        if (!buf) throw new Error(`${store.urlOf(key)} is missing although entry ${owner.matrixId} passed`);
        // fio's result plus each job's latency N, mean and stddev, so the report can pool stddev exactly.
        results.push(parseIteration(buf.toString('utf8'), store.urlOf(key)));
      }
    }
    // Pooled over all iterations, each sample weighted by its interval.
    const resources = samples.length ? reportResources(summariseSamples(samples)) : null;
    // The machine type lets comparisons say when two sides ran on different hardware.
    const machineType = owner.vm ? ((await getJson<EntryMetadata>(store, layout.entryMetadata(id, owner.vm, owner.matrixId)))?.host?.machineType ?? null) : null;
    // One report per fio group when the job file has several (core/report.ts GroupMode).
    reports.push(...entryReports(found.entry, owner.vm, owner.status, results, { resources, stability, machineType }));
  }
  const resultsKey = layout.report(id, 'results.json');
  // Derived data: replaced when a later run of the same benchmark aggregates again.
  // Compact: with per-iteration values and pooled histograms it is tens of MiB for large runs.
  await store.put(resultsKey, JSON.stringify(reports));
  return {
    resultsKey,
    entries: reports.length,
    passed: reports.filter((r) => r.status === 'passed').length,
    failed: reports.filter((r) => r.status !== 'passed').length,
  };
}
