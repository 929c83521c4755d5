/**
 * Assigns matrix entries to VMs by longest-processing-time first: each entry, longest
 * first, goes to the VM with the least work so far. Its makespan is within 4/3 of the
 * optimum, where the original tool's equal split by count can leave one VM with all
 * the long tests. Deterministic: ties go to the earlier VM and the lower matrix id.
 */
export function assignByCost(entries: readonly { matrixId: number; costMs: number }[], vms: readonly string[]): Map<string, number[]> {
  if (vms.length === 0) throw new Error('no VMs to assign entries to');
  // A repeated name would collapse in the returned map and silently drop its entries.
  if (new Set(vms).size !== vms.length) throw new Error(`a VM is listed twice: ${vms.join(', ')}`);
  const load = vms.map(() => 0);
  const assigned = vms.map((): number[] => []);
  const order = [...entries].sort((a, b) => b.costMs - a.costMs || a.matrixId - b.matrixId);
  for (const entry of order) {
    let best = 0;
    for (let i = 1; i < vms.length; i++) if (load[i]! < load[best]!) best = i;
    load[best]! += entry.costMs;
    assigned[best]!.push(entry.matrixId);
  }
  return new Map(vms.map((vm, i) => [vm, assigned[i]!.sort((a, b) => a - b)]));
}

/** Makespan of an assignment, and the lower bound max(total / VMs, longest entry). */
export function assignmentQuality(
  costs: ReadonlyMap<number, number>,
  assignment: ReadonlyMap<string, number[]>,
): { makespanMs: number; lowerBoundMs: number } {
  let total = 0;
  let longest = 0;
  for (const c of costs.values()) {
    total += c;
    longest = Math.max(longest, c);
  }
  let makespanMs = 0;
  for (const ids of assignment.values())
    makespanMs = Math.max(
      makespanMs,
      ids.reduce((s, id) => s + (costs.get(id) ?? 0), 0),
    );
  return { makespanMs, lowerBoundMs: Math.max(total / Math.max(assignment.size, 1), longest) };
}
