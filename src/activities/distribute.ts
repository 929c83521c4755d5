import { getJson, toJson, WriteConflictError, type ArtifactStore } from '../artifacts/store';
import { InputError } from '../core/errors';
import { layout, STORED_INPUT_NAMES } from '../core/layout';
import { routableEntries, routeEntries } from '../core/routing';
import { prepareBenchmark, type BenchmarkRequest, type FleetVm, type JobSpec } from '../core/spec';
import { SHARE_PAGE_ENTRIES } from '../core/share-pages';
import { mapAhead } from '../core/read-ahead';
import { checkInputsMatch, inputConflictError, inputObjects } from '../shared/benchmark-inputs';

// Kept until src/client/benchmarks.ts imports it from src/shared/benchmark-inputs (its owner is editing it).

export interface VmShare {
  vm: string;
  /** Absent when the benchmark has more than SHARE_PAGE_ENTRIES entries: read them with `shares` a page at a time. */
  matrixIds?: number[];
  /** How many entries the VM has. */
  entries: number;
  estimatedMs: number;
}
/** Job specs written at once: a fleet of thousands of VMs must not write them one by one to Cloud Storage. */
const SPEC_WRITES_IN_FLIGHT = 32;

export interface DistributeResult {
  totalEntries: number;
  vms: VmShare[];
  /** True when the benchmark folder existed with the same inputs: a resumed run. */
  resumed: boolean;
}

interface FleetRecord {
  vms: FleetVm[];
}

/**
 * Writes the inputs and one job spec per VM, all write-once. Safe to retry at any
 * point: the VM list is recorded first, so the assignment is recomputed identically.
 */
export async function distribute(store: ArtifactStore, req: BenchmarkRequest, resolvedVms: FleetVm[]): Promise<DistributeResult> {
  const prepared = prepareBenchmark(req);
  const id = req.benchmarkId;
  if (resolvedVms.length === 0) throw new InputError('the fleet has no VMs to run on', { flag: '--vms' });

  await checkInputsMatch(store, req);
  let resumed = false;
  for (const [key, content] of inputObjects(req)) {
    try {
      if ((await store.putOnce(key, content)) === 'unchanged') resumed = true;
    } catch (err) {
      // Another writer got there between our check and our write.
      if (err instanceof WriteConflictError) throw inputConflictError(id, store.urlOf(key));
      throw err;
    }
  }

  // The first attempt's VM list wins: a resumed run keeps its original assignment.
  const fleetKey = layout.fleet(id);
  await store.putOnce(fleetKey, toJson({ vms: resolvedVms } satisfies FleetRecord)).catch((err) => {
    if (!(err instanceof WriteConflictError)) throw err;
  });
  const fleet = (await getJson<FleetRecord>(store, fleetKey))!.vms;
  const vms = fleet.map((v) => v.name);

  const assignment = routeEntries(routableEntries(prepared, req.iterations), fleet, req.routing);
  const byId = new Map(prepared.matrix.map((e) => [e.matrixId, e]));
  const paged = prepared.matrix.length > (req.fanout?.sharePageEntries ?? SHARE_PAGE_ENTRIES);
  const writeSpec = async (vm: string): Promise<VmShare> => {
    const matrixIds = assignment.get(vm)!;
    const spec: JobSpec = {
      benchmarkId: id,
      vm,
      iterations: req.iterations,
      mount: req.mount,
      fioIterationMs: req.timeouts.fioIterationMs,
      ...(req.stability ? { stability: req.stability } : {}),
      // Relative to the benchmark folder: the agent reads <id>/<jobTemplatePath> (layout.jobTemplate).
      jobTemplatePath: STORED_INPUT_NAMES.jobFile,
      entries: matrixIds.map((m) => ({ ...byId.get(m)!, estimatedIterationMs: prepared.iterationMs.get(m)! })),
    };
    await store.putOnce(layout.jobSpec(id, vm), toJson(spec));
    const estimatedMs = matrixIds.reduce((s, m) => s + prepared.iterationMs.get(m)! * req.iterations, 0);
    return { vm, ...(paged ? {} : { matrixIds }), entries: matrixIds.length, estimatedMs };
  };
  const shares: VmShare[] = [];
  for await (const share of mapAhead(vms, SPEC_WRITES_IN_FLIGHT, writeSpec)) shares.push(share);
  return { totalEntries: prepared.matrix.length, vms: shares, resumed };
}

/** The entry ids of these VMs, from their job specs (a page of a large benchmark's distribution). */
export async function shares(store: ArtifactStore, input: { benchmarkId: string; vms: string[] }): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for await (const [vm, spec] of mapAhead(
    input.vms,
    SPEC_WRITES_IN_FLIGHT,
    async (vm) => [vm, await getJson<JobSpec>(store, layout.jobSpec(input.benchmarkId, vm))] as const,
  )) {
    if (!spec) throw new Error(`the job spec of VM ${vm} is missing from benchmark ${input.benchmarkId}`);
    out[vm] = spec.entries.map((e) => e.matrixId);
  }
  return out;
}
