import { renderJob, STAND_IN_MOUNT_POINT } from '../core/job';
import { routableEntries, routeEntries } from '../core/routing';
import type { BenchmarkRequest, PreparedBenchmark } from '../core/spec';

export interface PlannedEntry {
  matrixId: number;
  testId: string;
  config: string;
  vm: string;
  estimatedMs: number;
  job: string;
}

export interface Plan {
  benchmarkId: string;
  iterations: number;
  entries: number;
  /** VM -> matrix ids, as the run assigns them (Compute Engine fleets are resolved at start). */
  assignment: Record<string, number[]>;
  /** The VM that takes longest, by the estimate: the run's duration if every VM starts at once. */
  estimatedDurationMs: number;
  planned: PlannedEntry[];
}

/** The matrix, the assignment the run will make and each entry's rendered job, without starting anything. */
export function planOf(request: BenchmarkRequest, prepared: PreparedBenchmark, allow?: readonly string[]): Plan {
  const fleet = request.fleet.kind === 'static' ? request.fleet.vms.map((name) => ({ name })) : [{ name: request.fleet.kind === 'vm' ? request.fleet.name : 'vm' }];
  const assignment = routeEntries(routableEntries(prepared, request.iterations), fleet, request.fleet.kind === 'static' ? request.routing : undefined);
  const vmOf = new Map<number, string>();
  for (const [vm, ids] of assignment) for (const id of ids) vmOf.set(id, vm);
  const planned = prepared.matrix.map((e) => {
    const vm = vmOf.get(e.matrixId)!;
    return {
      matrixId: e.matrixId,
      testId: e.testId,
      config: e.config.label,
      vm,
      estimatedMs: prepared.iterationMs.get(e.matrixId)! * request.iterations,
      job: renderJob(request.jobFile.content, request.jobFile.name, { testId: e.testId, params: e.params, mountPoint: STAND_IN_MOUNT_POINT, vm }, new Set(allow)).text,
    };
  });
  const perVm = new Map<string, number>();
  for (const p of planned) perVm.set(p.vm, (perVm.get(p.vm) ?? 0) + p.estimatedMs);
  return {
    benchmarkId: request.benchmarkId,
    iterations: request.iterations,
    entries: planned.length,
    assignment: Object.fromEntries(assignment),
    estimatedDurationMs: Math.max(0, ...perVm.values()),
    planned,
  };
}

export function planText(p: Plan): string {
  const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;
  return [
    `benchmark ${p.benchmarkId}: ${p.entries} entries x ${p.iterations} iterations, about ${minutes(p.estimatedDurationMs)} of fio on the busiest VM`,
    ...Object.entries(p.assignment).map(([vm, ids]) => `  ${vm}: entries ${ids.join(', ') || '(none)'}`),
    ...p.planned.map((e) => `--- entry ${e.matrixId}: test ${e.testId}, config ${e.config}, VM ${e.vm} (~${minutes(e.estimatedMs)})\n${e.job.trimEnd()}`),
  ].join('\n');
}
