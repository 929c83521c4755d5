/**
 * Dispatch overhead: the idle time of a VM between one entry ending and the next starting.
 *
 * A real Temporal dev server (headless, database file as the embedded default), the real
 * orchestrator worker in this process, and 4 agents in SIMULATION MODE (createAgentWorker with
 * simulateFio: each entry sleeps for its runtime= instead of running fio), each on its own
 * task queue. 400 entries of 200 ms, 1 iteration.
 *
 * The gap is measured twice:
 *  - from the agents' manifests (what the brief asks): next startedAt - previous finishedAt,
 *    ms resolution; it spans the agent's last manifest write, the activity completion, the
 *    child workflow's task on the orchestrator, scheduling and the agent's pickup;
 *  - from each child workflow's history (server clock, sub-ms): ActivityTaskStarted of the next
 *    runEntry - ActivityTaskCompleted of the previous one. When the workflow queues the next entry
 *    only after the previous one ends, that splits into the workflow's turnaround (completed ->
 *    next scheduled) and the agent's pickup (scheduled -> started); when it queues it ahead
 *    (prefetch, vm.ts since 2ca3848), the share of entries queued ahead is reported and the
 *    agent's pickup counts from the later of scheduled and the previous entry's end.
 *
 *   npx tsx bench/dispatch-overhead.ts [--quick] [--entries 400] [--agents 4] [--runtime-ms 200]
 *                                      [--agent-processes] [--memory-db] [--runtime-jitter-ms 0]
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AGENT_ENTRY } from '../src/local/embedded';
import { startProcess, tsxCommand, type ManagedProcess } from '../src/local/processes';
import { createAgentWorker } from '../vm-agent/src/main';
import { BenchRun, hasFlag, log, sleep, mean, numberFlag, percentile, QUICK, removeDir, round2, scratchDir } from './lib';
import {
  activityTimes,
  consecutiveGaps,
  jobSpecOf,
  manifestTimings,
  simulatedRequest,
  startBenchmark,
  startStack,
} from './temporal-support';
import { serverKind } from './temporal-support';

const AGENTS = numberFlag('agents', 4);
const ENTRIES = numberFlag('entries', QUICK ? 80 : 400);
const RUNTIME_MS = numberFlag('runtime-ms', 200);
/** --agent-processes: each agent its own process (vm-agent/src/main.ts --simulate-fio) instead of in this one. */
const AGENT_PROCESSES = hasFlag('agent-processes');
const JITTER_MS = numberFlag('runtime-jitter-ms', 0);

async function main(): Promise<void> {
  const run = new BenchRun('dispatch-overhead');
  run.params = {
    agents: AGENTS,
    entries: ENTRIES,
    entryRuntimeMs: RUNTIME_MS,
    runtimeJitterMs: JITTER_MS,
    iterations: 1,
    simulateFio: true,
    server: serverKind(),
    workers: AGENT_PROCESSES ? 'orchestrator in this process, one process per agent' : 'orchestrator + agents in this process',
  };
  const home = scratchDir('dispatch');
  const stack = await startStack(home, { inProcessOrchestrator: true });
  const agentProcs: ManagedProcess[] = [];
  try {
    const vms = Array.from({ length: AGENTS }, (_, i) => `sim-${i + 1}`);
    for (const vm of vms) {
      const workDir = path.join(home, 'agents', vm);
      if (AGENT_PROCESSES) {
        // `npm run agent -- --simulate-fio`, one process per VM as the demo runs them.
        const c = tsxCommand(AGENT_ENTRY, ['--vm', vm, '--work-dir', workDir, '--simulate-fio']);
        agentProcs.push(
          startProcess({
            name: `agent-${vm}`,
            ...c,
            env: { TEMPORAL_ADDRESS: stack.server.address, GCSFUSE_BENCH_ARTIFACTS: stack.artifacts },
            logDir: path.join(home, 'logs'),
          }),
        );
      } else {
        stack.track(
          `agent-${vm}`,
          await createAgentWorker({ vm, temporal: stack.temporal, artifacts: stack.artifacts, workDir, simulateFio: true }),
        );
      }
    }
    for (const p of agentProcs) {
      const t0 = Date.now();
      while (!(existsSync(p.logFile) && readFileSync(p.logFile, 'utf8').includes('polling'))) {
        if (p.child.exitCode !== null || Date.now() - t0 > 60_000) throw new Error(`${p.name} did not start; see ${p.logFile}`);
        await sleep(100);
      }
    }
    const benchmarkId = `dispatch-${Date.now()}`;
    // With --runtime-jitter-ms J, runtimes spread evenly over RUNTIME +- J (mean unchanged), so VMs drift out of step.
    const runtimeOf = (i: number) => `${Math.round(RUNTIME_MS + (JITTER_MS ? (((i * 7919) % 101) / 50 - 1) * JITTER_MS : 0))}ms`;
    const req = simulatedRequest(benchmarkId, vms, ENTRIES, runtimeOf);
    const runtimes = new Map(Array.from({ length: ENTRIES }, (_, i) => [i + 1, Number.parseInt(runtimeOf(i))]));
    const serverCpu = () => stack.server.cpuSeconds();
    const cpu0 = { self: process.cpuUsage(), server: serverCpu() };
    const t0 = Date.now();
    const handle = await startBenchmark(stack.client, req, stack.artifacts);
    const result = await handle.result();
    const wallMs = Date.now() - t0;
    const cpuSelf = process.cpuUsage(cpu0.self);
    const cpuServer = serverCpu() - cpu0.server;
    log(`benchmark done in ${wallMs} ms: ${result.passed} passed, ${result.failed} failed`);

    // Manifests: ms timestamps written by the agents.
    const timings = manifestTimings(stack.artifacts, benchmarkId, vms);
    const gaps = consecutiveGaps(timings);
    const inEntryOverhead = timings.map((t) => t.finishedMs - t.startedMs - runtimes.get(t.matrixId)!);

    // Histories: server timestamps of each child's runEntry activities.
    const histGaps: number[] = [];
    const turnaround: number[] = [];
    let prefetched = 0;
    const pickup: number[] = [];
    const activityOverhead: number[] = [];
    const wftPickup: number[] = [];
    const wftProcessing: number[] = [];
    let maxChildEvents = 0;
    for (const vm of vms) {
      const { activities, workflowTasks, events } = await activityTimes(stack.client, `${benchmarkId}-vm-${vm}`);
      for (const w of workflowTasks) {
        wftPickup.push(w.startedMs - w.scheduledMs);
        wftProcessing.push(w.completedMs - w.startedMs);
      }
      const order = jobSpecOf(stack.artifacts, benchmarkId, vm).entries.map((e) => e.matrixId);
      maxChildEvents = Math.max(maxChildEvents, events);
      for (let i = 0; i < activities.length; i++) {
        const a = activities[i]!;
        activityOverhead.push(a.closedMs - a.startedMs - (runtimes.get(order[i]!) ?? RUNTIME_MS));
        if (i === 0) continue;
        const prev = activities[i - 1]!;
        histGaps.push(a.startedMs - prev.closedMs);
        if (a.scheduledMs < prev.closedMs) prefetched++;
        else turnaround.push(a.scheduledMs - prev.closedMs);
        pickup.push(a.startedMs - Math.max(a.scheduledMs, prev.closedMs));
      }
    }
    const parentEvents = (await handle.describe()).historyLength;
    const perVmIdealMs = (ENTRIES / AGENTS) * RUNTIME_MS;
    const stat = (xs: number[]) => ({
      median: round2(percentile(xs, 50)),
      p95: round2(percentile(xs, 95)),
      max: round2(Math.max(...xs)),
      mean: round2(mean(xs)),
    });
    const g = stat(gaps);
    const h = stat(histGaps);
    const figures = {
      entries_passed: result.passed,
      entries_failed: result.failed,
      gaps_measured: gaps.length,
      gap_median_ms: g.median,
      gap_p95_ms: g.p95,
      gap_max_ms: g.max,
      gap_mean_ms: g.mean,
      history_gap_median_ms: h.median,
      history_gap_p95_ms: h.p95,
      history_gap_max_ms: h.max,
      prefetched_pct: round2((prefetched / Math.max(1, histGaps.length)) * 100),
      workflow_turnaround_median_ms: turnaround.length ? round2(percentile(turnaround, 50)) : null,
      workflow_turnaround_p95_ms: turnaround.length ? round2(percentile(turnaround, 95)) : null,
      orchestrator_wft_pickup_median_ms: round2(percentile(wftPickup, 50)),
      orchestrator_wft_processing_median_ms: round2(percentile(wftProcessing, 50)),
      orchestrator_wft_processing_p95_ms: round2(percentile(wftProcessing, 95)),
      agent_pickup_median_ms: round2(percentile(pickup, 50)),
      agent_pickup_p95_ms: round2(percentile(pickup, 95)),
      agent_in_entry_overhead_median_ms: round2(percentile(inEntryOverhead, 50)),
      agent_in_entry_overhead_p95_ms: round2(percentile(inEntryOverhead, 95)),
      activity_overhead_median_ms: round2(percentile(activityOverhead, 50)),
      wall_s: round2(wallMs / 1000),
      ideal_per_vm_s: round2(perVmIdealMs / 1000),
      efficiency: round2(perVmIdealMs / wallMs),
      parent_history_events: parentEvents,
      max_child_history_events: maxChildEvents,
      bench_process_cpu_s: round2((cpuSelf.user + cpuSelf.system) / 1e6),
      dev_server_cpu_s: round2(cpuServer),
    };
    run.note(
      'gap = next entry startedAt - previous finishedAt from manifests (ms resolution); history_* from server event times of consecutive runEntry activities',
    );
    run.note(
      'agent_in_entry_overhead = manifest finishedAt - startedAt - runtime: agent work inside runEntry (manifest/store I/O), not part of the gap',
    );
    run.finish(figures, 'median gap between consecutive entries on a VM < 50 ms', [{ metric: 'gap_median_ms', op: '<', value: 50 }]);
  } finally {
    await Promise.all(agentProcs.map((p) => p.stop()));
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
