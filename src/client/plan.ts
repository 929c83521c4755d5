import { renderJob, STAND_IN_MOUNT_POINT } from '../core/job';
import { templateRuntimeMs } from '../core/matrix';
import { parseSizeBytes } from '../core/params';
import { routableEntries, routeEntries } from '../core/routing';
import type { BenchmarkRequest, PreparedBenchmark } from '../core/spec';
import { formatDuration } from './watch-view';

export interface PlannedEntry {
  matrixId: number;
  testId: string;
  config: string;
  vm: string;
  /** fio time of all its iterations, by the estimate the assignment balances VMs with. */
  estimatedMs: number;
  /** What that estimate rests on, e.g. "runtime=2s in jobfile.fio". */
  estimateBasis: string;
  job: string;
}

export interface Plan {
  benchmarkId: string;
  iterations: number;
  entries: number;
  /** VM -> matrix ids, as the run assigns them (Compute Engine fleets are resolved at start). */
  assignment: Record<string, number[]>;
  /** VM -> estimated fio time of its entries. */
  estimatedMsByVm: Record<string, number>;
  /** The VM that takes longest, by the estimate: the run's duration if every VM starts at once. */
  estimatedDurationMs: number;
  planned: PlannedEntry[];
}

const MIB = 2 ** 20;

/** Why an iteration is estimated as it is; mirrors estimateIterationMs's order (runtime column, time-based template, bytes). */
function estimateBasis(params: Record<string, string>, jobFileName: string, templateMs: number | undefined, iterationMs: number): string {
  if (params.runtime !== undefined) return `runtime=${params.runtime} in the test case`;
  if (templateMs !== undefined) return `runtime=${formatDuration(templateMs)} in ${jobFileName}`;
  const bytes = (parseSizeBytes(params.file_size ?? '') ?? 2 ** 30) * Number(params.nr_files ?? 1) * Number(params.num_jobs ?? 1);
  return `${(bytes / MIB).toFixed(0)} MiB moved at an assumed ${(bytes / MIB / (iterationMs / 1000)).toFixed(0)} MiB/s`;
}

/** The matrix, the assignment the run will make and each entry's rendered job, without starting anything. */
export function planOf(request: BenchmarkRequest, prepared: PreparedBenchmark, allow?: readonly string[]): Plan {
  const fleet =
    request.fleet.kind === 'static'
      ? request.fleet.vms.map((name) => ({ name }))
      : [{ name: request.fleet.kind === 'vm' ? request.fleet.name : 'vm' }];
  const assignment = routeEntries(
    routableEntries(prepared, request.iterations),
    fleet,
    request.fleet.kind === 'static' ? request.routing : undefined,
  );
  const vmOf = new Map<number, string>();
  for (const [vm, ids] of assignment) for (const id of ids) vmOf.set(id, vm);
  const templateMs = templateRuntimeMs(request.jobFile.content);
  const planned = prepared.matrix.map((e) => {
    const vm = vmOf.get(e.matrixId)!;
    const iterationMs = prepared.iterationMs.get(e.matrixId)!;
    return {
      matrixId: e.matrixId,
      testId: e.testId,
      config: e.config.label,
      vm,
      estimatedMs: iterationMs * request.iterations,
      estimateBasis: estimateBasis(e.params, request.jobFile.name, templateMs, iterationMs),
      job: renderJob(
        request.jobFile.content,
        request.jobFile.name,
        { testId: e.testId, params: e.params, mountPoint: STAND_IN_MOUNT_POINT, vm },
        new Set(allow),
      ).text,
    };
  });
  const perVm = new Map<string, number>([...assignment.keys()].map((vm) => [vm, 0]));
  for (const p of planned) perVm.set(p.vm, (perVm.get(p.vm) ?? 0) + p.estimatedMs);
  return {
    benchmarkId: request.benchmarkId,
    iterations: request.iterations,
    entries: planned.length,
    assignment: Object.fromEntries(assignment),
    estimatedMsByVm: Object.fromEntries(perVm),
    estimatedDurationMs: Math.max(0, ...perVm.values()),
    planned,
  };
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

export function planText(p: Plan): string {
  const vms = Object.keys(p.assignment);
  const bases = [...new Set(p.planned.map((e) => e.estimateBasis))];
  const busiest = vms.find((vm) => p.estimatedMsByVm[vm] === p.estimatedDurationMs);
  return [
    `benchmark ${p.benchmarkId}: ${plural(p.entries, 'entry', 'entries')} x ${plural(p.iterations, 'iteration')} on ${plural(vms.length, 'VM')}`,
    `estimated duration: about ${formatDuration(p.estimatedDurationMs)}${vms.length > 1 && busiest ? ` (the busiest VM, ${busiest}; VMs run at once)` : ''}.`,
    `  This is an estimate of fio time only (mounts, gcsfuse builds and agent start-up come on top),`,
    `  from each iteration's expected run time: ${bases.length === 1 ? bases[0] : 'given with each entry'}.`,
    ...vms.map(
      (vm) =>
        `  ${vm}: ${plural(p.assignment[vm]!.length, 'entry', 'entries')} (${p.assignment[vm]!.join(', ') || 'none'}), ~${formatDuration(p.estimatedMsByVm[vm] ?? 0)}`,
    ),
    ...p.planned.map(
      (e) =>
        `--- entry ${e.matrixId}: test ${e.testId} x config ${e.config} on ${e.vm} (~${formatDuration(e.estimatedMs)}${bases.length > 1 ? `: ${plural(p.iterations, 'iteration')}, ${e.estimateBasis}` : ''})\n${e.job.trimEnd()}`,
    ),
  ].join('\n');
}
