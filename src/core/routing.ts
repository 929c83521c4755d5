import { assignByCost } from './assign';
import { InputError } from './errors';
import type { FleetVm, PreparedBenchmark, TemplateRouting } from './spec';

export interface RoutableEntry {
  matrixId: number;
  costMs: number;
  numJobs: number;
}

/**
 * Assigns entries to VMs, first splitting both by instance template when routing is
 * asked for: single-job tests to the single-thread template's VMs, the rest to the
 * multi-thread template's (as the original tool's --single/--multi-thread-vm-type did).
 */
export function routeEntries(entries: readonly RoutableEntry[], vms: readonly FleetVm[], routing?: TemplateRouting): Map<string, number[]> {
  const names = vms.map((v) => v.name);
  if (!routing) return assignByCost(entries, names);
  const assignment = new Map<string, number[]>(names.map((n) => [n, []]));
  const classes = [
    { template: routing.singleThreadTemplate, flag: '--single-thread-vm-type', entries: entries.filter((e) => e.numJobs <= 1) },
    { template: routing.multiThreadTemplate, flag: '--multi-thread-vm-type', entries: entries.filter((e) => e.numJobs > 1) },
  ];
  for (const c of classes) {
    if (c.entries.length === 0) continue;
    // As the original: the flag is a substring of the template name (a VM may match both classes).
    const pool = vms.filter((v) => v.instanceTemplate?.includes(c.template)).map((v) => v.name);
    if (pool.length === 0) {
      const seen = [...new Set(vms.map((v) => v.instanceTemplate ?? '(none)'))].join(', ');
      throw new InputError(
        `no VM whose instance template name contains "${c.template}" for ${c.entries.length} entries (the fleet's templates: ${seen})`,
        { flag: c.flag },
      );
    }
    for (const [vm, ids] of assignByCost(c.entries, pool)) assignment.get(vm)!.push(...ids);
  }
  for (const ids of assignment.values()) ids.sort((a, b) => a - b);
  return assignment;
}

/** What routing weighs each entry by; `plan` and the distribute activity share it, so plan shows the run's assignment. */
export function routableEntries(prepared: PreparedBenchmark, iterations: number): RoutableEntry[] {
  return prepared.matrix.map((e) => ({
    matrixId: e.matrixId,
    costMs: prepared.iterationMs.get(e.matrixId)! * iterations,
    numJobs: Number(e.params.num_jobs ?? 1),
  }));
}
