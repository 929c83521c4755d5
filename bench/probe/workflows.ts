/**
 * Trivial workflows for bench/fanout-probe.ts: how fast the Temporal server starts and completes
 * N child workflows from one parent (flat), against a two-level tree (parent -> groups -> leaves).
 * No activities, no I/O: only the server's and the worker's cost of children.
 */
import { executeChild, workflowInfo } from '@temporalio/workflow';

/** A leaf: returns at once. */
export async function leafWorkflow(): Promise<number> {
  return 1;
}

/** Starts `leaves` leaf children at once and waits for them all. */
export async function flatParentWorkflow(leaves: number): Promise<number> {
  const id = workflowInfo().workflowId;
  const results = await Promise.all(
    Array.from({ length: leaves }, (_, i) => executeChild(leafWorkflow, { workflowId: `${id}-leaf-${i}` })),
  );
  return results.length;
}

/** Starts `groups` group children, each starting leaves / groups leaves. */
export async function treeParentWorkflow(leaves: number, groups: number): Promise<number> {
  const id = workflowInfo().workflowId;
  const per = Math.ceil(leaves / groups);
  const results = await Promise.all(
    Array.from({ length: groups }, (_, g) =>
      executeChild(flatParentWorkflow, { workflowId: `${id}-group-${g}`, args: [Math.min(per, leaves - g * per)] }),
    ),
  );
  return results.reduce((s, n) => s + n, 0);
}
