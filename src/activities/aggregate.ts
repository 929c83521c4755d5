import path from 'node:path';
import { getJson, type ArtifactStore } from '../artifacts/store';
import { layout } from '../core/layout';
import { iterationMetadataKey, type EntryMetadata, type IterationMetadata } from '../core/metadata';
import { mapAhead } from '../core/read-ahead';
import {
  entryEnvironment,
  entryReports,
  parseIteration,
  prefetchSeries,
  type EntryEnvironment,
  type EntryReport,
  type IterationResult,
} from '../core/report';
import { chartedTests, entryTimeSeries, type IterationSeriesInput, type IterationTimeSeries } from '../core/timeseries';
import { reportResources, summariseSamples, type ResourceSamples } from '../core/resources';
import type { BenchmarkConfig, JobSpec, Manifest } from '../core/spec';
import { readJobSpecs } from '../shared/job-specs';
import { rememberReports, sha256Hex } from './results-cache';

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

/**
 * Entries whose files are being read while earlier ones are turned into reports. Each entry is
 * a few files (its iterations' fio outputs and resource samples, its metadata), so 8 entries keep
 * ~30-70 reads in flight: enough to hide a local disk's or GCS's latency behind parsing, while at
 * most 8 entries' parsed outputs are held at a time (raw texts are dropped once parsed).
 */
export const READ_AHEAD_ENTRIES = 8;

/** One entry's inputs to its reports, read and parsed (no raw text kept). */
interface LoadedEntry {
  owner: EntryOwner;
  entry: JobSpec['entries'][number];
  results: IterationResult[];
  samples: ResourceSamples['samples'];
  stability?: { stable: boolean; bw_cv_pct: number };
  machineType: string | null;
  environment?: EntryEnvironment;
  prefetch: (IterationMetadata['metadataPrefetch'] | undefined)[];
  series: IterationSeriesInput[];
}

/**
 * Reads every fio output of every passed entry from the VM the workflow says ran it,
 * so an entry that ran twice (a retry elsewhere) counts once. Each file is read once and parsed
 * once, reads run ahead of the parsing (READ_AHEAD_ENTRIES), and optional files (resource
 * samples, metadata) are looked up in one listing per VM rather than asked for one by one.
 * The reports are kept for the report activity that follows (results-cache.ts), so
 * results.json is not parsed back in the same process.
 */
export async function aggregate(store: ArtifactStore, input: AggregateInput): Promise<AggregateSummary> {
  const id = input.benchmarkId;
  const specs = await readJobSpecs(store, id);
  // The user's choices of analysis (--ci-min-iterations, --fio-groups), as the request stored them.
  const config = await getJson<BenchmarkConfig>(store, layout.config(id));
  const interval = config?.ciMinIterations !== undefined ? { minValues: config.ciMinIterations } : undefined;
  const groups = config?.fioGroups ?? 'separate';
  const entries = new Map(specs.flatMap((s) => s.entries.map((e) => [e.matrixId, { entry: e, iterations: s.iterations }] as const)));
  // How many iterations each entry ran (a stability gate may have added some) is in its VM's manifest.
  const manifests = new Map<string, Promise<Manifest | undefined>>();
  const manifestOf = (vm: string) => {
    if (!manifests.has(vm)) manifests.set(vm, getJson<Manifest>(store, layout.manifest(id, vm)));
    return manifests.get(vm)!;
  };
  // Which files a VM's results folder holds: most entries have no resource samples or metadata,
  // and asking for each missing file costs a failed read (a request, on GCS).
  const listings = new Map<string, Promise<Set<string>>>();
  const filesOf = (vm: string) => {
    if (!listings.has(vm))
      listings.set(
        vm,
        store.list(`${path.posix.dirname(layout.testDir(id, vm, 0))}/`).then((keys) => new Set(keys)),
      );
    return listings.get(vm)!;
  };
  const optionalJson = async <T>(vm: string, key: string): Promise<T | undefined> =>
    (await filesOf(vm)).has(key) ? getJson<T>(store, key) : undefined;

  const load = async (owner: EntryOwner): Promise<LoadedEntry> => {
    const found = entries.get(owner.matrixId);
    if (!found) throw new Error(`matrix entry ${owner.matrixId} is in no job spec of ${id}`);
    const loaded: LoadedEntry = { owner, entry: found.entry, results: [], samples: [], machineType: null, prefetch: [], series: [] };
    const vm = owner.vm;
    if (owner.status === 'passed' && vm) {
      const recorded = (await manifestOf(vm))?.entries[String(owner.matrixId)];
      const iterations = Math.max(found.iterations, recorded?.iterationsDone ?? 0);
      if (recorded?.stable !== undefined) loaded.stability = { stable: recorded.stable, bw_cv_pct: recorded.bwCvPercent ?? 0 };
      const perIteration = await Promise.all(
        Array.from({ length: iterations }, async (_, n) => {
          const i = n + 1;
          const resources = optionalJson<ResourceSamples>(vm, layout.resources(id, vm, owner.matrixId, i));
          // fio's logs over time and the metadata prefetch, when the agent stored them.
          const series = optionalJson<IterationTimeSeries>(vm, layout.timeSeries(id, vm, owner.matrixId, i));
          const meta = optionalJson<IterationMetadata>(vm, iterationMetadataKey(id, vm, owner.matrixId, i));
          const key = layout.fioOutput(id, vm, owner.matrixId, i);
          const buf = await store.get(key);
          if (!buf) throw new Error(`${store.urlOf(key)} is missing although entry ${owner.matrixId} passed`);
          // fio's result plus each job's latency N, mean and stddev, so the report can pool stddev exactly.
          return {
            result: parseIteration(buf.toString('utf8'), store.urlOf(key)),
            resources: await resources,
            series: await series,
            meta: await meta,
          };
        }),
      );
      for (const it of perIteration) {
        if (it.resources) loaded.samples.push(...it.resources.samples);
        loaded.results.push(it.result);
        loaded.prefetch.push(it.meta?.metadataPrefetch);
        if (it.series) loaded.series.push({ series: it.series, samples: it.resources?.samples });
      }
    }
    // The machine type lets comparisons say when two sides ran on different hardware.
    const meta = vm ? await optionalJson<EntryMetadata>(vm, layout.entryMetadata(id, vm, owner.matrixId)) : undefined;
    loaded.machineType = meta?.host?.machineType ?? null;
    if (meta) loaded.environment = entryEnvironment(meta);
    return loaded;
  };

  // report.html charts only the first tests: the other entries keep their series' summary, not the series.
  const charted = chartedTests([...entries.values()].map((e) => e.entry));
  const reports: EntryReport[] = [];
  const owners = [...input.owners].sort((a, b) => a.matrixId - b.matrixId);
  for await (const e of mapAhead(owners, READ_AHEAD_ENTRIES, load)) {
    // Pooled over all iterations, each sample weighted by its interval.
    const resources = e.samples.length ? reportResources(summariseSamples(e.samples)) : null;
    // One report per fio group when the job file has several (core/report.ts GroupMode).
    const extras = {
      resources,
      stability: e.stability,
      machineType: e.machineType,
      environment: e.environment,
      metadataPrefetch: prefetchSeries(e.prefetch),
      timeSeries: entryTimeSeries(e.series, charted.has(e.entry.testId)),
      ...(interval ? { interval } : {}),
    };
    for (const r of entryReports(e.entry, e.owner.vm, e.owner.status, e.results, extras, groups)) {
      reports.push(asStored(r));
    }
  }
  const resultsKey = layout.report(id, 'results.json');
  // Derived data: replaced when a later run of the same benchmark aggregates again.
  // Compact: with per-iteration values and pooled histograms it is tens of MiB for large runs.
  const text = JSON.stringify(reports);
  await store.put(resultsKey, text);
  rememberReports(store, resultsKey, sha256Hex(text), reports);
  return {
    resultsKey,
    entries: reports.length,
    passed: reports.filter((r) => r.status === 'passed').length,
    failed: reports.filter((r) => r.status !== 'passed').length,
  };
}

/**
 * Makes a value exactly what JSON.parse(JSON.stringify(value)) gives for plain data, in place:
 * NaN and ±Infinity become null, undefined properties go (undefined in arrays becomes null), -0
 * becomes 0. The report is then rendered from the same values whether it comes from memory or
 * from results.json, without serialising and parsing it again.
 */
export function asStored<T>(value: T): T {
  return normalise(value) as T;
}

function normalise(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? (Object.is(v, -0) ? 0 : v) : null;
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      v[i] = x === undefined || typeof x === 'function' || typeof x === 'symbol' ? null : normalise(x);
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') delete o[k];
    else o[k] = normalise(x);
  }
  return o;
}
