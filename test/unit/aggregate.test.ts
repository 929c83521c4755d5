import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregate, asStored, READ_AHEAD_ENTRIES, type EntryOwner } from '../../src/activities/aggregate';
import { writeReport } from '../../src/activities/report';
import { rememberReports, sha256Hex, takeReports } from '../../src/activities/results-cache';
import { LocalArtifactStore } from '../../src/artifacts/local';
import { getJson, type ArtifactStore } from '../../src/artifacts/store';
import { defaultMountConfig } from '../../src/core/configs';
import { extractFioJson, jobsByGroup, parseFioOutput } from '../../src/core/fio';
import { layout } from '../../src/core/layout';
import type { EntryMetadata } from '../../src/core/metadata';
import { encodeOwners } from '../../src/core/owners';
import { mapAhead } from '../../src/core/read-ahead';
import { MAX_CHARTED_TESTS } from '../../src/core/timeseries';
import { entryEnvironment, entryReports, type EntryReport, type IterationResult } from '../../src/core/report';
import {
  reportResources,
  RESOURCE_SAMPLES_SCHEMA,
  summariseSamples,
  type ResourceSample,
  type ResourceSamples,
} from '../../src/core/resources';
import type { JobSpec, Manifest } from '../../src/core/spec';

const FIXTURES = path.join(import.meta.dirname, '../fixtures/fio');
/** Real fio outputs: one group, --status-interval snapshots, two groups, unified_rw_reporting. */
const OUTPUTS = ['number-ios-1000.json', 'status-interval.json', 'two-groups.json', 'unified-rw.json'].map((f) =>
  readFileSync(path.join(FIXTURES, f), 'utf8'),
);
const ID = 'agg-fixture';
const VMS = ['vm-a', 'vm-b', 'vm-c'];
const ITERATIONS = 3;
/** More tests than report.html charts (MAX_CHARTED_TESTS), so the reports kept in memory lack some histograms. */
const ENTRIES = 45;

function sample(t: number, cpu: number | null): ResourceSample {
  return {
    t,
    intervalMs: 500,
    systemCpuPercent: cpu,
    systemIowaitPercent: 1.5,
    gcsfuseCpuPercent: null,
    gcsfuseRssBytes: null,
    gcsfuseVszBytes: null,
    fioCpuPercent: cpu === null ? null : cpu / 3,
    fioRssBytes: 12_345_678,
    fioProcesses: 2,
    pageCacheBytes: 1e9 + t,
    memAvailableBytes: 2e9,
    netRxBytesPerSec: null,
    netTxBytesPerSec: 0,
    loopbackRxBytesPerSec: 10.5,
    loopbackTxBytesPerSec: 3,
  };
}

/**
 * A benchmark as agents leave it: entries on 3 VMs with real fio outputs of different shapes,
 * resource samples and metadata for some entries only, a stability gate that added an iteration,
 * failed and missing entries, and an entry retried on another VM (its first VM's files ignored).
 */
async function layOutFixture(store: ArtifactStore): Promise<EntryOwner[]> {
  const config = defaultMountConfig('master', '');
  const specs = new Map<string, JobSpec>(
    VMS.map((vm) => [
      vm,
      {
        benchmarkId: ID,
        vm,
        iterations: ITERATIONS,
        mount: { kind: 'local-dir' },
        fioIterationMs: 1000,
        jobTemplatePath: 'jobfile.fio',
        entries: [],
      },
    ]),
  );
  const manifests = new Map<string, Manifest>(
    VMS.map((vm) => [vm, { benchmarkId: ID, vm, updatedAt: '2025-01-01T00:00:00Z', entries: {} }]),
  );
  const owners: EntryOwner[] = [];
  for (let m = 1; m <= ENTRIES; m++) {
    const specVm = VMS[m % VMS.length]!;
    specs.get(specVm)!.entries.push({
      matrixId: m,
      testId: `t${m}`,
      testRow: m,
      config,
      params: { test_id: `t${m}`, io_type: 'read', block_size: '4k' },
      estimatedIterationMs: 1000,
    });
    const status: EntryOwner['status'] = m % 11 === 0 ? 'failed' : m % 13 === 0 ? 'missing' : 'passed';
    // Every 7th entry was retried on the next VM: results there; a stale iteration on the spec's VM.
    const vm = status === 'missing' ? null : m % 7 === 0 ? VMS[(m + 1) % VMS.length]! : specVm;
    if (m % 7 === 0) await store.put(layout.fioOutput(ID, specVm, m, 1), OUTPUTS[0]!);
    owners.push({ matrixId: m, vm, status });
    if (!vm || status !== 'passed') continue;
    const extra = m % 5 === 0 ? 1 : 0; // a stability gate ran one more iteration
    manifests.get(vm)!.entries[String(m)] = {
      matrixId: m,
      specVm,
      status: 'passed',
      iterations: ITERATIONS,
      iterationsDone: ITERATIONS + extra,
      ...(extra ? { stable: m % 10 === 0, bwCvPercent: 3.25 } : {}),
    };
    for (let i = 1; i <= ITERATIONS + extra; i++) {
      await store.put(layout.fioOutput(ID, vm, m, i), OUTPUTS[(m + i) % OUTPUTS.length]!);
      if (m % 3 === 0) {
        const samples = [sample(m * 1000 + i, 10 + i), sample(m * 1000 + i + 500, m % 2 ? null : 40)];
        const r: Partial<ResourceSamples> = {
          schema: RESOURCE_SAMPLES_SCHEMA,
          intervalMs: 500,
          samples,
          summary: summariseSamples(samples),
        };
        await store.put(layout.resources(ID, vm, m, i), JSON.stringify(r));
      }
    }
    if (m % 4 !== 0)
      await store.put(layout.entryMetadata(ID, vm, m), JSON.stringify({ host: { machineType: m % 2 ? 'n2-standard-4' : 'local' } }));
  }
  for (const [vm, spec] of specs) await store.put(layout.jobSpec(ID, vm), JSON.stringify(spec));
  for (const [vm, manifest] of manifests) await store.put(layout.manifest(ID, vm), JSON.stringify(manifest));
  return owners;
}

/**
 * The aggregation as it was before reads were overlapped (commit 93ac02f): one file after
 * another, each fio output parsed twice, a read attempted for every optional file. The new one
 * must write the very same bytes.
 */
async function referenceResultsJson(store: ArtifactStore, owners: EntryOwner[]): Promise<string> {
  const specs: JobSpec[] = [];
  for (const k of await store.list(layout.jobsPrefix(ID))) specs.push((await getJson<JobSpec>(store, k))!);
  const entries = new Map(specs.flatMap((s) => s.entries.map((e) => [e.matrixId, { entry: e, iterations: s.iterations }] as const)));
  const reports: EntryReport[] = [];
  for (const owner of [...owners].sort((a, b) => a.matrixId - b.matrixId)) {
    const found = entries.get(owner.matrixId)!;
    const results: IterationResult[] = [];
    const samples: ResourceSample[] = [];
    let stability: { stable: boolean; bw_cv_pct: number } | undefined;
    if (owner.status === 'passed' && owner.vm) {
      const recorded = (await getJson<Manifest>(store, layout.manifest(ID, owner.vm)))?.entries[String(owner.matrixId)];
      const iterations = Math.max(found.iterations, recorded?.iterationsDone ?? 0);
      if (recorded?.stable !== undefined) stability = { stable: recorded.stable, bw_cv_pct: recorded.bwCvPercent ?? 0 };
      for (let i = 1; i <= iterations; i++) {
        const resources = await getJson<ResourceSamples>(store, layout.resources(ID, owner.vm, owner.matrixId, i));
        if (resources) samples.push(...resources.samples);
        const text = (await store.get(layout.fioOutput(ID, owner.vm, owner.matrixId, i)))!.toString('utf8');
        const jobs = (extractFioJson(text).jobs ?? []) as Parameters<typeof jobsByGroup>[0];
        const moments = (js: typeof jobs) => {
          const out: Record<string, { count: number; mean: number; stddev: number }[]> = {};
          for (const dir of ['read', 'write', 'trim', 'mixed'] as const) {
            const parts = js
              .map((j) => (j as Record<string, { clat_ns?: { N?: number; mean?: number; stddev?: number } }>)[dir]?.clat_ns)
              .filter((l) => !!l && (l.N ?? 0) > 0);
            if (parts.every((l) => typeof l!.stddev === 'number'))
              out[dir] = parts.map((l) => ({ count: l!.N!, mean: l!.mean ?? 0, stddev: l!.stddev! }));
          }
          return out;
        };
        results.push({
          ...parseFioOutput(text),
          clatMoments: moments(jobs),
          groupMoments: Object.fromEntries([...jobsByGroup(jobs)].map(([g, js]) => [g, moments(js)])),
        });
      }
    }
    const resources = samples.length ? reportResources(summariseSamples(samples)) : null;
    const meta = owner.vm ? await getJson<EntryMetadata>(store, layout.entryMetadata(ID, owner.vm, owner.matrixId)) : undefined;
    const machineType = meta?.host?.machineType ?? null;
    // The report's header: versions and machine from metadata.json (time series and prefetch: none in this fixture).
    const environment = meta ? entryEnvironment(meta) : undefined;
    reports.push(...entryReports(found.entry, owner.vm, owner.status, results, { resources, stability, machineType, environment }));
  }
  return JSON.stringify(reports);
}

describe('aggregate', () => {
  let dir: string;
  let store: LocalArtifactStore;
  let owners: EntryOwner[];
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'aggregate-test-'));
    store = new LocalArtifactStore(dir);
    owners = await layOutFixture(store);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes results.json byte for byte as the one-file-at-a-time aggregation did', async () => {
    const expected = await referenceResultsJson(store, owners);
    const summary = await aggregate(store, { benchmarkId: ID, owners });
    const written = (await store.get(summary.resultsKey))!.toString('utf8');
    expect(written.length).toBeGreaterThan(10_000);
    expect(written).toBe(expected);
    const reports = JSON.parse(written) as EntryReport[];
    // The fixture reaches what it is meant to: groups, resources, stability, metadata, retries.
    expect(reports.some((r) => r.fioGroup === 1)).toBe(true);
    expect(reports.some((r) => r.resources)).toBe(true);
    expect(reports.some((r) => r.stability?.stable === false)).toBe(true);
    expect(reports.some((r) => r.iterations === ITERATIONS + 1)).toBe(true);
    expect(new Set(reports.map((r) => r.machineType))).toEqual(new Set(['n2-standard-4', 'local', null]));
    expect(reports.filter((r) => r.status === 'missing').length).toBeGreaterThan(0);
    expect(summary.entries).toBe(reports.length);
  });

  it('reads the compact owner table the workflow sends as it reads the list (re-routed and missing entries too)', async () => {
    const specVm = new Map(
      (await Promise.all(VMS.map((vm) => getJson<JobSpec>(store, layout.jobSpec(ID, vm))))).flatMap((s) =>
        s!.entries.map((e) => [e.matrixId, s!.vm] as const),
      ),
    );
    const table = encodeOwners(owners, (id) => specVm.get(id));
    // The fixture has entries off their spec VM and with no VM: the table names them, the rest is ranges.
    expect(Object.keys(table.elsewhere).length).toBeGreaterThan(0);
    expect(JSON.stringify(table).length).toBeLessThan(JSON.stringify(owners).length / 4);
    const fromList = (await store.get((await aggregate(store, { benchmarkId: ID, owners })).resultsKey))!.toString('utf8');
    const fromTable = (await store.get((await aggregate(store, { benchmarkId: ID, owners: table })).resultsKey))!.toString('utf8');
    expect(fromTable).toBe(fromList);
  });

  it('renders the same report files from the reports in memory as from results.json', async () => {
    await aggregate(store, { benchmarkId: ID, owners });
    const fromMemory = await writeReport(store, {
      benchmarkId: ID,
      separateConfigs: true,
      incompleteReason: 'cancelled',
      reportFormat: 'original',
      reportName: 'combined_report.csv',
    });
    const first = new Map(await Promise.all(fromMemory.keys.map(async (k) => [k, (await store.get(k))!.toString('utf8')] as const)));
    // The memory was taken: this one parses results.json.
    const fromFile = await writeReport(store, {
      benchmarkId: ID,
      separateConfigs: true,
      incompleteReason: 'cancelled',
      reportFormat: 'original',
      reportName: 'combined_report.csv',
    });
    expect(fromFile.keys).toEqual(fromMemory.keys);
    expect(fromMemory.keys.length).toBeGreaterThanOrEqual(5);
    for (const k of fromFile.keys) expect((await store.get(k))!.toString('utf8'), k).toBe(first.get(k));
  });

  it('keeps pooled histograms in memory only for the tests report.html charts; results.json has them all', async () => {
    const summary = await aggregate(store, { benchmarkId: ID, owners });
    const stored = (await store.get(summary.resultsKey))!;
    const kept = takeReports(store, summary.resultsKey, stored)!;
    const written = JSON.parse(stored.toString('utf8')) as EntryReport[];
    const charted = new Set([...new Set(written.map((r) => r.testId))].slice(0, MAX_CHARTED_TESTS));
    expect(kept).toHaveLength(written.length);
    let dropped = 0;
    kept.forEach((r, i) => {
      for (const d of ['read', 'write', 'mixed'] as const) {
        if (!written[i]![d]) continue;
        expect(written[i]![d]!.clatHistogramNs.length).toBeGreaterThan(0);
        if (charted.has(r.testId)) expect(r[d]).toEqual(written[i]![d]);
        else {
          expect(r[d]!.clatHistogramNs).toEqual([]);
          expect({ ...r[d], clatHistogramNs: [] }).toEqual({ ...written[i]![d], clatHistogramNs: [] });
          dropped++;
        }
      }
    });
    expect(dropped).toBeGreaterThan(0);
  });

  it('reads results.json again when it changed after aggregate (another writer, another run)', async () => {
    await aggregate(store, { benchmarkId: ID, owners });
    const key = layout.report(ID, 'results.json');
    const reports = JSON.parse((await store.get(key))!.toString('utf8')) as EntryReport[];
    await store.put(key, JSON.stringify(reports.slice(0, 2)));
    await writeReport(store, { benchmarkId: ID, reportFormat: 'default', reportName: 'combined_report.csv' });
    const summary = JSON.parse((await store.get(layout.report(ID, 'summary.json')))!.toString('utf8')) as { counts: { entries: number } };
    expect(summary.counts.entries).toBe(2);
  });

  it('names the missing output of a passed entry', async () => {
    const other = new LocalArtifactStore(mkdtempSync(path.join(tmpdir(), 'aggregate-test-')));
    try {
      const o = await layOutFixture(other);
      rmSync(other.urlOf(layout.fioOutput(ID, 'vm-b', 1, 2)));
      await expect(aggregate(other, { benchmarkId: ID, owners: o })).rejects.toThrow(
        `${other.urlOf(layout.fioOutput(ID, 'vm-b', 1, 2))} is missing although entry 1 passed`,
      );
    } finally {
      rmSync(other.root, { recursive: true, force: true });
    }
  });
});

describe('results cache', () => {
  it('hands the reports over once, and only for the bytes that were written', () => {
    const store = new LocalArtifactStore(tmpdir());
    const reports = [{ matrixId: 1 }] as unknown as EntryReport[];
    const text = JSON.stringify(reports);
    rememberReports(store, 'b/report/results.json', sha256Hex(text), reports);
    expect(takeReports(store, 'b/report/other.json', Buffer.from(text))).toBeUndefined();
    expect(takeReports(store, 'b/report/results.json', Buffer.from(text))).toBe(reports);
    expect(takeReports(store, 'b/report/results.json', Buffer.from(text))).toBeUndefined();
    rememberReports(store, 'b/report/results.json', sha256Hex(text), reports);
    expect(takeReports(store, 'b/report/results.json', Buffer.from(text + ' '))).toBeUndefined();
  });
});

describe('asStored', () => {
  it('gives what a JSON round trip gives', () => {
    const value = {
      a: NaN,
      b: [1, undefined, -Infinity, { c: undefined, d: -0, e: 'x' }],
      f: null,
      g: { h: Infinity, i: [[1, 2]] },
      j: undefined,
      10: 2,
      k: true,
    };
    const expected = JSON.parse(JSON.stringify(value)) as unknown;
    const got = asStored(structuredClone(value));
    expect(got).toStrictEqual(expected);
    expect(JSON.stringify(got)).toBe(JSON.stringify(expected));
    expect(Object.is((got.b[3] as { d: number }).d, 0)).toBe(true);
  });
});

describe('mapAhead', () => {
  it('yields in input order with at most `ahead` calls in flight', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const out: number[] = [];
    const items = Array.from({ length: 40 }, (_, i) => i);
    for await (const v of mapAhead(items, READ_AHEAD_ENTRIES, async (i) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Later items finish first: order must still hold.
      await new Promise((r) => setTimeout(r, (40 - i) % 5));
      inFlight--;
      return i * 2;
    }))
      out.push(v);
    expect(out).toEqual(items.map((i) => i * 2));
    expect(maxInFlight).toBe(READ_AHEAD_ENTRIES);
  });

  it('surfaces a failure at its turn and refuses a non-positive window', async () => {
    const seen: number[] = [];
    const run = async () => {
      for await (const v of mapAhead([1, 2, 3, 4], 3, async (i) => {
        if (i === 3) throw new Error('item 3');
        return i;
      }))
        seen.push(v);
    };
    await expect(run()).rejects.toThrow('item 3');
    expect(seen).toEqual([1, 2]);
    await expect(mapAhead([1], 0, async (i) => i).next()).rejects.toThrow('read-ahead must be a positive integer, got 0');
  });
});
