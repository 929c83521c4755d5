/**
 * Diagnostic (not a benchmark with a target, not recorded, not in run-all): how fast the
 * Temporal server behind the benchmarks starts N child workflows from one parent, flat (as
 * benchmarkWorkflow does, one child per VM) versus a two-level tree (parent -> sqrt(N) groups ->
 * leaves). The workflows are trivial (bench/probe/workflows.ts), so what is measured is the
 * server's and the worker's cost of children alone. Evidence for the fan-out finding of
 * bench/fleet-scale.ts.
 *
 *   npx tsx bench/fanout-probe.ts [--leaves 1000] [--groups 32] [--memory-db]
 */
import { Worker } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { hasFlag, log, numberFlag, percentile, procCpuSeconds, removeDir, round2, scratchDir } from './lib';
import { startStack, tsMs } from './temporal-support';
import type { flatParentWorkflow, treeParentWorkflow } from './probe/workflows';

const LEAVES = numberFlag('leaves', 1000);
const GROUPS = numberFlag('groups', Math.ceil(Math.sqrt(LEAVES)));
const TASK_QUEUE = 'fanout-probe';

async function main(): Promise<void> {
  const home = scratchDir('fanout');
  const stack = await startStack(home, { inProcessOrchestrator: false });
  try {
    const connection = await NativeConnection.connect({ address: stack.server.address });
    stack.track(
      'probe-worker',
      await Worker.create({
        connection,
        taskQueue: TASK_QUEUE,
        workflowsPath: fileURLToPath(new URL('./probe/workflows.ts', import.meta.url)),
      }),
    );
    const serverPid = stack.server.process.child.pid!;
    for (const shape of ['flat', 'tree'] as const) {
      const id = `probe-${shape}-${Date.now()}`;
      const cpu0 = procCpuSeconds(serverPid) ?? NaN;
      const t0 = Date.now();
      const handle =
        shape === 'flat'
          ? await stack.client.workflow.start<typeof flatParentWorkflow>('flatParentWorkflow', {
              taskQueue: TASK_QUEUE,
              workflowId: id,
              args: [LEAVES],
            })
          : await stack.client.workflow.start<typeof treeParentWorkflow>('treeParentWorkflow', {
              taskQueue: TASK_QUEUE,
              workflowId: id,
              args: [LEAVES, GROUPS],
            });
      const n = await handle.result();
      const totalMs = Date.now() - t0;
      const cpu = (procCpuSeconds(serverPid) ?? NaN) - cpu0;
      // Leaf start times: from the parent (flat) or from every group (tree).
      const parents = shape === 'flat' ? [id] : Array.from({ length: GROUPS }, (_, g) => `${id}-group-${g}`);
      const started: number[] = [];
      let maxEvents = 0;
      for (const p of parents) {
        const h = await stack.client.workflow.getHandle(p).fetchHistory();
        maxEvents = Math.max(maxEvents, h.events?.length ?? 0);
        for (const e of h.events ?? []) {
          const a = e.childWorkflowExecutionStartedEventAttributes;
          if (a?.workflowExecution?.workflowId?.includes('-leaf-')) started.push(tsMs(e.eventTime) - t0);
        }
      }
      const out = {
        type: 'probe',
        shape,
        leaves: n,
        groups: shape === 'tree' ? GROUPS : 1,
        all_leaves_started_s: round2(Math.max(...started) / 1000),
        leaf_started_median_s: round2(percentile(started, 50) / 1000),
        total_s: round2(totalMs / 1000),
        max_parent_history_events: maxEvents,
        server_cpu_s: round2(cpu),
        memory_db: hasFlag('memory-db'),
      };
      log(JSON.stringify(out));
      process.stdout.write(JSON.stringify(out) + '\n');
    }
  } finally {
    await stack.stop();
    removeDir(home);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
