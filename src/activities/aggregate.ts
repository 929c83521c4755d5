import { createHash } from 'node:crypto';
import path from 'node:path';
import { getJson, type ArtifactStore } from '../artifacts/store';
import { layout } from '../core/layout';
import { iterationMetadataKey, type EntryMetadata, type IterationMetadata } from '../core/metadata';
import { REPORTED_DIRECTIONS } from '../core/fio';
import { mapAhead } from '../core/read-ahead';
import {
  entryEnvironment,
  entryReports,
  fillHistograms,
  parseIterationBytes,
  prefetchSeries,
  type EntryEnvironment,
  type EntryReport,
  type IterationResult,
} from '../core/report';
import { chartedTests, entryTimeSeries, type IterationSeriesInput, type IterationTimeSeries } from '../core/timeseries';
import { reportResources, summariseSamples, type ResourceSamples } from '../core/resources';
import type { BenchmarkConfig, JobSpec, Manifest } from '../core/spec';
import { decodeOwners, type EntryOwner, type OwnerTable } from '../core/owners';
import { readJobSpecs } from '../shared/job-specs';
import { rememberReports } from './results-cache';

export type { EntryOwner };

export interface AggregateInput {
  benchmarkId: string;
  /** Which VM holds each entry's results: a list, or (the workflow, any size) the compact table of core/owners.ts. */
  owners: EntryOwner[] | OwnerTable;
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
 * most 8 entries' bytes are held at a time.
 */
export const READ_AHEAD_ENTRIES = 8;

/** One entry's files as read: bytes, parsed only when the entry's turn comes (see aggregate). */
interface FetchedEntry {
  owner: EntryOwner;
  entry: JobSpec['entries'][number];
  stability?: { stable: boolean; bw_cv_pct: number };
  iterations: { fio: Buffer; source: string; resources?: Buffer; series?: Buffer; meta?: Buffer }[];
  meta?: Buffer;
}

/** One entry's inputs to its reports, parsed. */
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

const parsed = <T>(buf: Buffer | undefined): T | undefined => (buf === undefined ? undefined : (JSON.parse(buf.toString('utf8')) as T));

/** An entry's files parsed: fio's results plus each job's latency moments, resource samples, series, metadata. */
function parseEntry(f: FetchedEntry): LoadedEntry {
  const loaded: LoadedEntry = { owner: f.owner, entry: f.entry, results: [], samples: [], machineType: null, prefetch: [], series: [] };
  if (f.stability) loaded.stability = f.stability;
  for (const it of f.iterations) {
    const resources = parsed<ResourceSamples>(it.resources);
    const series = parsed<IterationTimeSeries>(it.series);
    if (resources) loaded.samples.push(...resources.samples);
    // The bytes are not needed after: parsed in place.
    loaded.results.push(parseIterationBytes(it.fio, it.source));
    loaded.prefetch.push(parsed<IterationMetadata>(it.meta)?.metadataPrefetch);
    if (series) loaded.series.push({ series, samples: resources?.samples });
  }
  // The machine type lets comparisons say when two sides ran on different hardware.
  const meta = parsed<EntryMetadata>(f.meta);
  loaded.machineType = meta?.host?.machineType ?? null;
  if (meta) loaded.environment = entryEnvironment(meta);
  return loaded;
}

/**
 * Reads every fio output of every passed entry from the VM the workflow says ran it,
 * so an entry that ran twice (a retry elsewhere) counts once. Each file is read once and parsed
 * once, and optional files (resource samples, metadata) are looked up in one listing per VM
 * rather than asked for one by one. Reads run READ_AHEAD_ENTRIES entries ahead, as bytes
 * (outside V8's heap); an entry is parsed and reported in one synchronous step when its turn
 * comes, so parsed objects die young instead of waiting for reads in the old generation, which
 * would grow the worker's heap by hundreds of MB. Each report goes into results.json as it is
 * made (ResultsWriter), and the reports are kept for the report activity that follows
 * (results-cache.ts), so results.json is not parsed back in the same process.
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
  const optional = async (vm: string, key: string): Promise<Buffer | undefined> =>
    (await filesOf(vm)).has(key) ? store.get(key) : undefined;

  const fetch = async (owner: EntryOwner): Promise<FetchedEntry> => {
    const found = entries.get(owner.matrixId);
    if (!found) throw new Error(`matrix entry ${owner.matrixId} is in no job spec of ${id}`);
    const fetched: FetchedEntry = { owner, entry: found.entry, iterations: [] };
    const vm = owner.vm;
    if (owner.status === 'passed' && vm) {
      const recorded = (await manifestOf(vm))?.entries[String(owner.matrixId)];
      const iterations = Math.max(found.iterations, recorded?.iterationsDone ?? 0);
      if (recorded?.stable !== undefined) fetched.stability = { stable: recorded.stable, bw_cv_pct: recorded.bwCvPercent ?? 0 };
      fetched.iterations = await Promise.all(
        Array.from({ length: iterations }, async (_, n) => {
          const i = n + 1;
          const resources = optional(vm, layout.resources(id, vm, owner.matrixId, i));
          // fio's logs over time and the metadata prefetch, when the agent stored them.
          const series = optional(vm, layout.timeSeries(id, vm, owner.matrixId, i));
          const meta = optional(vm, iterationMetadataKey(id, vm, owner.matrixId, i));
          const key = layout.fioOutput(id, vm, owner.matrixId, i);
          const fio = await store.get(key);
          if (!fio) throw new Error(`${store.urlOf(key)} is missing although entry ${owner.matrixId} passed`);
          return { fio, source: store.urlOf(key), resources: await resources, series: await series, meta: await meta };
        }),
      );
    }
    if (vm) fetched.meta = await optional(vm, layout.entryMetadata(id, vm, owner.matrixId));
    return fetched;
  };

  // report.html charts only the first tests: the other entries keep their series' summary, not the series.
  const charted = chartedTests([...entries.values()].map((e) => e.entry));
  const out = new ResultsWriter();
  const specVmOf = new Map(specs.flatMap((s) => s.entries.map((e) => [e.matrixId, s.vm] as const)));
  const listed = Array.isArray(input.owners) ? input.owners : decodeOwners(input.owners, (matrixId) => specVmOf.get(matrixId));
  const owners = [...listed].sort((a, b) => a.matrixId - b.matrixId);
  for await (const fetched of mapAhead(owners, READ_AHEAD_ENTRIES, fetch)) {
    const e = parseEntry(fetched);
    // Pooled over all iterations, each sample weighted by its interval.
    const resources = e.samples.length ? reportResources(summariseSamples(e.samples)) : null;
    // One report per fio group when the job file has several (core/report.ts GroupMode).
    const isCharted = charted.has(e.entry.testId);
    const extras = {
      resources,
      stability: e.stability,
      machineType: e.machineType,
      environment: e.environment,
      metadataPrefetch: prefetchSeries(e.prefetch),
      timeSeries: entryTimeSeries(e.series, isCharted),
      deferHistograms: true,
      ...(interval ? { interval } : {}),
    };
    for (const r of entryReports(e.entry, e.owner.vm, e.owner.status, e.results, extras, groups)) out.add(r, isCharted);
  }
  const resultsKey = layout.report(id, 'results.json');
  // Derived data: replaced when a later run of the same benchmark aggregates again.
  // Compact: with per-iteration values and pooled histograms it is tens of MiB for large runs.
  await store.put(resultsKey, out.bytes());
  rememberReports(store, resultsKey, out.sha256(), out.kept);
  return { resultsKey, entries: out.kept.length, passed: out.passed, failed: out.kept.length - out.passed };
}

/**
 * results.json written as the reports come: each one serialised once, when it is made, into the
 * text JSON.stringify(allReports) would give ('[' + reports joined by ',' + ']'), hashed on the
 * way. What stays in memory is that text and, for the report activity, each report without what
 * only its JSON needs: the pooled latency histogram of an entry report.html draws no chart for
 * (hundreds of [ns, count] pairs per direction: most of a report's memory).
 */
export class ResultsWriter {
  private readonly parts: string[] = [];
  private readonly hash = createHash('sha256');
  private length = 2;
  readonly kept: EntryReport[] = [];
  passed = 0;

  add(report: EntryReport, charted: boolean): void {
    fillHistograms(report);
    const text = JSON.stringify(report);
    this.parts.push(text);
    this.length += Buffer.byteLength(text) + (this.parts.length > 1 ? 1 : 0);
    if (!charted) for (const d of REPORTED_DIRECTIONS) if (report[d]) report[d].clatHistogramNs = [];
    this.kept.push(asStored(report));
    if (report.status === 'passed') this.passed++;
  }

  /** The whole results.json, in one buffer of its exact size (the parts are released). */
  bytes(): Buffer {
    const buf = Buffer.allocUnsafe(this.length);
    let at = buf.write('[', 0);
    for (let i = 0; i < this.parts.length; i++) {
      if (i > 0) at += buf.write(',', at);
      at += buf.write(this.parts[i]!, at);
      this.parts[i] = '';
    }
    buf.write(']', at);
    this.hash.update(buf);
    return buf;
  }

  /** sha256 of bytes(), once it was called. */
  sha256(): string {
    return this.hash.digest('hex');
  }
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
