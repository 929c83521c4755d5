/**
 * Fleet scale: 1,000 simulated VMs x 10 entries of 100 ms with the real orchestrator worker (its
 * own process, memory sampled from /proc), on each Temporal server asked for (--server
 * dev|temporal|both, default both: the dev server and the real server on PostgreSQL), one record
 * per server.
 *
 * On each server, in the same run and before the real benchmark, the server's floor: as many
 * empty child workflows as VMs, started flat from one parent and as a tree of groups of ~32
 * (bench/probe/workflows.ts). Target: every entry started within 2x the faster floor.
 *
 * Agents: one agent Worker per VM in SIMULATION MODE on agentTaskQueue(vm), hosted by a few "agent
 * host" processes sharing one NativeConnection each (createSimulatedAgentWorker: the activities
 * and options of createAgentWorker).
 *
 * Measured, whatever the fan-out's shape (flat children, or groups `<id>-group-<n>` of VM
 * workflows, VM runs that continue as new): the benchmark's workflow runs are listed from
 * visibility by id prefix and each run's history length read (describe); where the children's start time goes, from the histories of
 * every workflow that starts children (parent, groups); the orchestrator's RSS (VmRSS every 250 ms,
 * VmHWM at the end) peak and idle; time from the accepted start until every entry had started
 * (manifests' startedAt); CPU seconds of the server, orchestrator and agent hosts; the load.
 *
 *   npx tsx bench/fleet-scale.ts [--quick] [--server dev|temporal|both] [--vms 1000] [--entries-per-vm 10]
 *                                [--runtime-ms 100] [--agent-procs 2] [--group-size 32] [--timeout-s 1200] [--no-floor]
 */
import { NativeConnection, type Worker } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openArtifactStore } from '../src/artifacts';
import { tsxCommand } from '../src/local/processes';
import { WORKFLOW_TYPES } from '../src/shared/names';
import { progressQuery } from '../src/workflows/definitions';
import {
  BenchRun,
  flagValue,
  hasFlag,
  kibToMib,
  loadavg,
  log,
  numberFlag,
  percentile,
  procCpuSeconds,
  procStatusKiB,
  QUICK,
  removeDir,
  round2,
  RssSampler,
  scratchDir,
  sleep,
  startOrchestratorProcess,
  type OrchestratorProcess,
} from './lib';
import {
  activityTimes,
  consecutiveGaps,
  createSimulatedAgentWorker,
  listWorkflowsByPrefix,
  manifestTimings,
  measureFanoutFloor,
  quietRuntime,
  serverChoices,
  simulatedFioThatPasses,
  simulatedRequest,
  startBenchmark,
  startStack,
  tsMs,
  type FanoutFloor,
  type ServerChoice,
} from './temporal-support';

const SELF = fileURLToPath(import.meta.url);
const VMS = numberFlag('vms', QUICK ? 100 : 1000);
const ENTRIES_PER_VM = numberFlag('entries-per-vm', 10);
const RUNTIME_MS = numberFlag('runtime-ms', 100);
const AGENT_PROCS = numberFlag('agent-procs', QUICK ? 1 : 2);
const TIMEOUT_S = numberFlag('timeout-s', QUICK ? 300 : 1200);
/** Leaves per group of the floor's tree. */
const GROUP_SIZE = numberFlag('group-size', 32);
const FLOOR_TIMEOUT_S = numberFlag('floor-timeout-s', QUICK ? 180 : 600);
/** Temporal warns about a history at 10K events. */
const HISTORY_WARN = 10_000;
const FLOOR_FACTOR = 2;
const RSS_PEAK_TARGET_MIB = 400;
const RSS_IDLE_TARGET_MIB = 200;
/** The orchestrator's idle RSS is read this long after it says it polls (as bench/orchestrator-memory.ts). */
const IDLE_SETTLE_MS = 5_000;

// ------------------------------------------------------------------ agent host (child process)

async function agentHost(): Promise<void> {
  quietRuntime();
  const address = flagValue('address')!;
  const artifacts = flagValue('artifacts')!;
  const workRoot = flagValue('work-root')!;
  const vms = flagValue('vm-list')!.split(',');
  const connection = await NativeConnection.connect({ address });
  const store = openArtifactStore(artifacts);
  const workers: Worker[] = [];
  const t0 = Date.now();
  for (const vm of vms) {
    const workDir = path.join(workRoot, vm);
    mkdirSync(workDir, { recursive: true });
    workers.push(await createSimulatedAgentWorker({ connection, vm, store, workDir, runFio: simulatedFioThatPasses }));
  }
  const runs = workers.map((w) => w.run());
  const created = Date.now() - t0;
  process.stdout.write(`READY ${JSON.stringify({ agents: workers.length, createMs: created, rssKiB: procStatusKiB('self')?.VmRSS })}\n`);
  const stop = async (): Promise<void> => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(runs);
    process.stdout.write(`STATS ${JSON.stringify({ hwmKiB: procStatusKiB('self')?.VmHWM })}\n`);
    await connection.close().catch(() => {});
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.stdin.on('end', () => void stop()); // the parent went away
  process.stdin.resume();
}

interface Ready {
  agents: number;
  createMs: number;
  rssKiB: number;
}

interface Host {
  child: ChildProcess;
  ready: Promise<Ready>;
  stats: Promise<{ hwmKiB: number } | undefined>;
}

function startAgentHost(index: number, vms: string[], address: string, artifacts: string, workRoot: string): Host {
  const c = tsxCommand(SELF, [
    '--agent-host',
    '--address',
    address,
    '--artifacts',
    artifacts,
    '--work-root',
    workRoot,
    '--vm-list',
    vms.join(','),
  ]);
  const child = spawn(c.command, c.args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const errLog: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    errLog.push(d);
    if (errLog.length > 200) errLog.shift();
  });
  let resolveReady!: (v: Ready) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<Ready>((res, rej) => ((resolveReady = res), (rejectReady = rej)));
  let resolveStats!: (v: { hwmKiB: number } | undefined) => void;
  const stats = new Promise<{ hwmKiB: number } | undefined>((res) => (resolveStats = res));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('READY ')) resolveReady(JSON.parse(line.slice(6)) as Ready);
    else if (line.startsWith('STATS ')) resolveStats(JSON.parse(line.slice(6)) as { hwmKiB: number });
  });
  child.once('exit', (code) => {
    rejectReady(new Error(`agent host ${index} exited with ${code}: ${errLog.join('').slice(-2000)}`));
    resolveStats(undefined);
  });
  return { child, ready, stats };
}

// ------------------------------------------------------------------ the benchmark on one server

const s = (ms: number | null | undefined): number | null =>
  ms === null || ms === undefined || !Number.isFinite(ms) ? null : round2(ms / 1000);
const p50 = (xs: number[]): number | null => (xs.length ? percentile(xs, 50) : null);
const p95 = (xs: number[]): number | null => (xs.length ? percentile(xs, 95) : null);
const max = (xs: number[]): number | null => (xs.length ? Math.max(...xs) : null);

/** The VM of a VM workflow id (`<benchmark>-vm-<vm>`, `-retry-<n>` after a retry). */
function vmOf(workflowId: string): string | undefined {
  return /-vm-(.+?)(?:-retry-\d+)?$/.exec(workflowId)?.[1];
}

async function runOn(kind: ServerChoice): Promise<void> {
  const run = new BenchRun('fleet-scale');
  const home = scratchDir(`fleet-${kind}`);
  const stack = await startStack(home, { inProcessOrchestrator: false, server: kind });
  run.params = {
    vms: VMS,
    entriesPerVm: ENTRIES_PER_VM,
    entryRuntimeMs: RUNTIME_MS,
    agentProcesses: AGENT_PROCS,
    agentsShareConnectionPerProcess: true,
    simulateFio: true,
    orchestrator: 'separate process (tsxCommand(ORCHESTRATOR_ENTRY))',
    server: stack.server.label,
    serverKind: kind,
    floor: hasFlag('no-floor') ? 'not measured (--no-floor)' : `${VMS} empty children, flat and as a tree of groups of ${GROUP_SIZE}`,
  };
  const logDir = path.join(home, 'logs');
  let orchestrator: OrchestratorProcess | undefined;
  const hosts: Host[] = [];
  let sampler: RssSampler | undefined;
  try {
    // 1. The server's floor, on this server, before anything else runs on it.
    const floors: FanoutFloor[] = hasFlag('no-floor') ? [] : await measureFanoutFloor(stack, VMS, GROUP_SIZE, FLOOR_TIMEOUT_S);
    const flat = floors.find((f) => f.shape === 'flat');
    const tree = floors.find((f) => f.shape === 'tree');
    const floorValues = floors.map((f) => f.allStartedS).filter((x): x is number => x !== null);
    const floorS = floorValues.length ? Math.min(...floorValues) : null;

    // 2. The orchestrator worker, as `npm run worker` runs it.
    orchestrator = await startOrchestratorProcess({ address: stack.server.address, artifacts: stack.artifacts, logDir });
    const orchPid = orchestrator.pid;
    await sleep(IDLE_SETTLE_MS);
    const orchRssIdleKiB = procStatusKiB(orchPid)?.VmRSS ?? NaN;
    log(`orchestrator worker up (pid ${orchPid}, ${orchestrator.readyMs} ms, idle RSS ${kibToMib(orchRssIdleKiB)} MiB)`);

    // 3. Agent hosts.
    const vms = Array.from({ length: VMS }, (_, i) => `sim-${String(i + 1).padStart(4, '0')}`);
    const t1 = Date.now();
    const per = Math.ceil(VMS / AGENT_PROCS);
    for (let p = 0; p < AGENT_PROCS; p++) {
      const slice = vms.slice(p * per, (p + 1) * per);
      if (slice.length) hosts.push(startAgentHost(p, slice, stack.server.address, stack.artifacts, path.join(home, 'agents')));
    }
    const readies = await Promise.all(hosts.map((h) => h.ready));
    log(
      `${VMS} agents in ${hosts.length} processes ready in ${Date.now() - t1} ms (RSS per host ${readies.map((r) => kibToMib(r.rssKiB)).join(', ')} MiB)`,
    );
    await sleep(2_000); // let the pollers reach the server

    // 4. The benchmark.
    const pids = { orchestrator: orchPid, hosts: hosts.map((h) => h.child.pid!) };
    const cpu0 = {
      server: stack.server.cpuSeconds(),
      orchestrator: procCpuSeconds(pids.orchestrator) ?? NaN,
      hosts: pids.hosts.map((p) => procCpuSeconds(p) ?? NaN),
    };
    const loadBefore = loadavg();
    const benchmarkId = `fleet-${Date.now()}`;
    const req = simulatedRequest(benchmarkId, vms, VMS * ENTRIES_PER_VM, `${RUNTIME_MS}ms`);
    const callMs = Date.now();
    sampler = new RssSampler(orchPid, 250);
    const handle = await startBenchmark(stack.client, req, stack.artifacts, (t) => run.note(t));
    // Times count from the workflow's start as the server recorded it, so start attempts the
    // server refused (see the notes) do not count against dispatch.
    const started = (await handle.describe()).startTime.getTime();
    sampler.origin = started;
    if (started - callMs > 1_000)
      run.note(`the start call took ${s(started - callMs)} s before the server accepted it; times count from the accepted start`);
    log(`started ${benchmarkId}: ${VMS * ENTRIES_PER_VM} entries on ${VMS} VMs (${kind} server)`);
    let timedOut = false;
    let result: Awaited<ReturnType<typeof handle.result>> | undefined;
    const progressTimer = setInterval(() => {
      void handle
        .query(progressQuery)
        .then((pr) =>
          log(
            `t=${s(Date.now() - started)} s ${pr.phase}: ${pr.passed} passed, ${pr.failed} failed of ${pr.totalEntries}; orchestrator RSS ${kibToMib(sampler?.lastKiB ?? 0)} MiB; load ${loadavg()[0]}`,
          ),
        )
        .catch(() => {});
    }, 10_000);
    try {
      result = await Promise.race([
        handle.result(),
        sleep(TIMEOUT_S * 1000).then(() => {
          timedOut = true;
          return undefined;
        }),
      ]);
    } finally {
      clearInterval(progressTimer);
    }
    const doneMs = Date.now() - started;
    sampler.stop();
    const orchStatus = procStatusKiB(orchPid);
    const cpu = {
      server: stack.server.cpuSeconds() - cpu0.server,
      orchestrator: (procCpuSeconds(pids.orchestrator) ?? NaN) - cpu0.orchestrator,
      hosts: pids.hosts.reduce((sum, p, i) => sum + ((procCpuSeconds(p) ?? NaN) - cpu0.hosts[i]!), 0),
    };
    const loadAfterBenchmark = loadavg();
    if (timedOut) {
      run.note(`the benchmark did not finish within ${TIMEOUT_S} s: terminated; figures are partial`);
      await handle.terminate('fleet-scale benchmark timed out').catch(() => {});
    } else {
      log(`benchmark finished in ${doneMs} ms: ${result?.passed} passed, ${result?.failed} failed`);
    }

    // 5. Dispatch times, from the agents' manifests.
    const timings = manifestTimings(stack.artifacts, benchmarkId, vms);
    const firstByVm = new Map<string, number>();
    for (const t of timings) firstByVm.set(t.vm, Math.min(firstByVm.get(t.vm) ?? Infinity, t.startedMs));
    const allStartedMs = timings.length === VMS * ENTRIES_PER_VM ? Math.max(...timings.map((t) => t.startedMs)) - started : null;
    const allVmsStartedMs = firstByVm.size === VMS ? Math.max(...firstByVm.values()) - started : null;
    const firstOfVm = [...firstByVm.values()].map((t) => t - started);
    const gaps = consecutiveGaps(timings);

    // 6. Every workflow of the benchmark (parent, groups, VM runs) from visibility, with its history length.
    const listed = await listWorkflowsByPrefix(stack.client, benchmarkId);
    const known = listed.filter((w) => Number.isFinite(w.historyLength));
    const largest = known.reduce<(typeof known)[number] | undefined>(
      (m, w) => (!m || w.historyLength > m.historyLength ? w : m),
      undefined,
    );
    const byType: Record<string, { runs: number; historyEventsMax: number; historyEventsMedian: number }> = {};
    for (const type of new Set(known.map((w) => w.type))) {
      const lens = known.filter((w) => w.type === type).map((w) => w.historyLength);
      byType[type] = { runs: lens.length, historyEventsMax: Math.max(...lens), historyEventsMedian: percentile(lens, 50) };
    }
    const notCompleted = listed
      .filter((w) => w.status !== 'COMPLETED' && w.status !== 'CONTINUED_AS_NEW')
      .map((w) => ({ workflowId: w.workflowId, status: w.status }));
    const vmRuns = listed.filter((w) => w.type === WORKFLOW_TYPES.vm);

    // Where the children's start time goes: every workflow that starts children (the parent, groups).
    const initiated = new Map<string, number>();
    const childStarted = new Map<string, number>();
    let parentWorkflowTasks = 0;
    for (const w of listed.filter((x) => x.type !== WORKFLOW_TYPES.vm)) {
      const h = await stack.client.workflow
        .getHandle(w.workflowId, w.runId)
        .fetchHistory()
        .catch(() => undefined);
      for (const e of h?.events ?? []) {
        const t = tsMs(e.eventTime) - started;
        const ini = e.startChildWorkflowExecutionInitiatedEventAttributes;
        if (ini?.workflowId) initiated.set(ini.workflowId, t);
        const st = e.childWorkflowExecutionStartedEventAttributes;
        if (st?.workflowExecution?.workflowId) childStarted.set(st.workflowExecution.workflowId, t);
        if (w.workflowId === benchmarkId && e.workflowTaskCompletedEventAttributes) parentWorkflowTasks++;
      }
    }
    const iniTimes = [...initiated.values()];
    const startLatency = [...childStarted].map(([id, t]) => t - (initiated.get(id) ?? NaN)).filter(Number.isFinite);
    const vmRunStarted = [...childStarted].filter(([id]) => vmRuns.some((w) => w.workflowId === id)).map(([, t]) => t);
    // A VM's first entry start, after its VM workflow started.
    const firstAfterChild = [...childStarted]
      .map(([id, t]) => {
        const vm = vmOf(id);
        return vm && firstByVm.has(vm) ? firstByVm.get(vm)! - started - t : NaN;
      })
      .filter(Number.isFinite);

    // Inside the VM runs, from up to 100 histories incl. the slowest VM's: the workflow's turnaround
    // (entry completed -> next scheduled, when not queued ahead) and the agents' pickup (from the
    // later of scheduled and the previous entry's end -> started).
    const slowestVm = [...firstByVm.keys()].sort((a, b) => firstByVm.get(b)! - firstByVm.get(a)!)[0];
    const step = Math.max(1, Math.floor(vmRuns.length / 100));
    const sample = [
      ...new Set(
        [...vmRuns.filter((w) => vmOf(w.workflowId) === slowestVm), ...vmRuns.filter((_, i) => i % step === 0)].map((w) => w.workflowId),
      ),
    ].slice(0, 101);
    const turnaround: number[] = [];
    const pickup: number[] = [];
    for (const id of sample) {
      const { activities } = await activityTimes(stack.client, id).catch(() => ({ activities: [] }));
      activities.forEach((a, i) => {
        const prevClosed = i > 0 ? activities[i - 1]!.closedMs : -Infinity;
        if (Number.isFinite(a.startedMs)) pickup.push(a.startedMs - Math.max(a.scheduledMs, prevClosed));
        if (i > 0 && a.scheduledMs >= prevClosed) turnaround.push(a.scheduledMs - prevClosed);
      });
    }
    const failedEntries = timings.filter((t) => t.status !== 'passed').slice(0, 10);
    const failures = [...failedEntries.map((t) => ({ vm: t.vm, matrixId: t.matrixId, status: t.status })), ...notCompleted.slice(0, 10)];
    for (const f of failures) log(`not passed: ${JSON.stringify(f)}`);

    const parentEvents = listed.find((w) => w.workflowId === benchmarkId)?.historyLength ?? null;
    const rssPeakKiB = orchStatus?.VmHWM ?? sampler.maxKiB;

    // Stop the agents now to read their own peaks.
    for (const h of hosts) h.child.kill('SIGTERM');
    const hostStats = await Promise.all(hosts.map((h) => Promise.race([h.stats, sleep(30_000).then(() => undefined)])));

    const allStartedS = s(allStartedMs);
    const figures = {
      server: kind,
      vms: VMS,
      entries: VMS * ENTRIES_PER_VM,
      entries_passed: result?.passed ?? timings.filter((t) => t.status === 'passed').length,
      entries_failed: result?.failed ?? null,
      finished: !timedOut,
      // The headline and its floor.
      all_entries_started_s: allStartedS,
      floor_all_started_s: floorS,
      all_entries_started_ratio_to_floor: allStartedS !== null && floorS ? round2(allStartedS / floorS) : null,
      target_all_entries_started_s: floorS === null ? null : round2(FLOOR_FACTOR * floorS),
      floor_flat_all_started_s: flat?.allStartedS ?? null,
      floor_tree_all_started_s: tree?.allStartedS ?? null,
      floor_flat_leaf_started_median_s: flat?.leafStartedMedianS ?? null,
      floor_tree_leaf_started_median_s: tree?.leafStartedMedianS ?? null,
      floor_flat_max_history_events: flat?.maxHistoryEvents ?? null,
      floor_tree_max_history_events: tree?.maxHistoryEvents ?? null,
      floor_tree_groups: tree?.groups ?? null,
      floor_flat_server_cpu_s: flat?.serverCpuS ?? null,
      floor_tree_server_cpu_s: tree?.serverCpuS ?? null,
      floor_timed_out: floors.some((f) => f.timedOut),
      // Histories, whatever the shape.
      workflow_runs_listed: listed.length,
      history_events_max: largest?.historyLength ?? null,
      history_events_max_workflow: largest ? `${largest.workflowId} (${largest.type}, run ${largest.runId})` : null,
      history_events_by_type: byType,
      parent_history_events: parentEvents,
      parent_workflow_tasks: parentWorkflowTasks,
      // The orchestrator's memory.
      orchestrator_rss_peak_mib: kibToMib(rssPeakKiB),
      orchestrator_rss_peak_sampled_mib: kibToMib(sampler.maxKiB),
      orchestrator_rss_idle_mib: kibToMib(orchRssIdleKiB),
      orchestrator_rss_end_mib: kibToMib(orchStatus?.VmRSS ?? NaN),
      orchestrator_rss_timeline_mib: sampler.samples.filter((_, i) => i % 20 === 0).map((x) => kibToMib(x.rssKiB)),
      // Dispatch.
      first_entry_started_s: timings.length ? s(Math.min(...timings.map((t) => t.startedMs)) - started) : null,
      all_vms_started_s: s(allVmsStartedMs),
      vm_first_entry_median_s: s(p50(firstOfVm)),
      vm_first_entry_p95_s: s(p95(firstOfVm)),
      children_initiated_first_s: s(iniTimes.length ? Math.min(...iniTimes) : null),
      children_initiated_last_s: s(max(iniTimes)),
      child_start_latency_median_s: s(p50(startLatency)),
      child_start_latency_max_s: s(max(startLatency)),
      vm_runs_started_last_s: s(max(vmRunStarted)),
      vm_run_to_first_entry_median_s: s(p50(firstAfterChild)),
      vm_run_to_first_entry_p95_s: s(p95(firstAfterChild)),
      sampled_vm_runs: sample.length,
      vm_run_turnaround_median_ms: turnaround.length ? round2(percentile(turnaround, 50)) : null,
      vm_run_turnaround_p95_ms: turnaround.length ? round2(percentile(turnaround, 95)) : null,
      agent_pickup_median_ms: pickup.length ? round2(percentile(pickup, 50)) : null,
      agent_pickup_p95_ms: pickup.length ? round2(percentile(pickup, 95)) : null,
      agent_pickup_max_ms: pickup.length ? round2(Math.max(...pickup)) : null,
      gap_median_ms: p50(gaps),
      gap_p95_ms: p95(gaps),
      gap_max_ms: max(gaps),
      finished_s: timedOut ? null : s(doneMs),
      ideal_s: s(ENTRIES_PER_VM * RUNTIME_MS),
      entries_with_manifest: timings.length,
      failures,
      // The machine.
      loadavg_before_benchmark: loadBefore,
      loadavg_after_benchmark: loadAfterBenchmark,
      cpu_server_s: round2(cpu.server),
      cpu_orchestrator_s: round2(cpu.orchestrator),
      cpu_agent_hosts_s: round2(cpu.hosts),
      agent_host_processes: hosts.length,
      agent_host_rss_ready_mib: readies.map((r) => kibToMib(r.rssKiB)),
      agent_host_rss_peak_mib: hostStats.map((x) => (x ? kibToMib(x.hwmKiB) : NaN)),
      agent_create_s: readies.map((r) => s(r.createMs) ?? NaN),
    };
    run.note(
      `agents: ${VMS} Worker instances in ${hosts.length} process(es), one NativeConnection per process, options as createAgentWorker`,
    );
    run.note('times count from the workflow start the server accepted; entry starts from the manifests (startedAt of runEntry)');
    run.note(
      `floor: ${VMS} empty child workflows on the same server in this run before the benchmark, flat and as a tree of groups of ${GROUP_SIZE}; the faster shape is the floor`,
    );
    run.note(
      'agents run simulatedFio with 1 byte per direction written into its output (bench/temporal-support.ts simulatedFioThatPasses): the agent refuses the all-zero simulated output since its usable-output check',
    );
    run.note('histories: every workflow whose id starts with the benchmark id, listed from visibility, history length by describe');
    run.finish(
      figures,
      `${VMS} VMs x ${ENTRIES_PER_VM} on the ${kind} server: every entry started within ${FLOOR_FACTOR}x the floor (empty children, same server, same run); ` +
        `every history < ${HISTORY_WARN} events; orchestrator RSS peak < ${RSS_PEAK_TARGET_MIB} MiB, idle < ${RSS_IDLE_TARGET_MIB} MiB`,
      [
        { metric: 'all_entries_started_ratio_to_floor', op: '<=', value: FLOOR_FACTOR },
        { metric: 'history_events_max', op: '<', value: HISTORY_WARN },
        { metric: 'orchestrator_rss_peak_mib', op: '<', value: RSS_PEAK_TARGET_MIB },
        { metric: 'orchestrator_rss_idle_mib', op: '<', value: RSS_IDLE_TARGET_MIB },
      ],
      {
        all_entries_started_s: { metric: 'floor_all_started_s', what: `${VMS} empty children, faster of flat/tree, same server` },
        history_events_max: { metric: 'floor_tree_max_history_events', what: 'largest history of the empty tree: children alone' },
        orchestrator_rss_peak_mib: { metric: 'orchestrator_rss_idle_mib', what: 'the same process idle' },
      },
    );
  } finally {
    sampler?.stop();
    for (const h of hosts) if (h.child.exitCode === null) h.child.kill('SIGKILL');
    await orchestrator?.proc.stop();
    await stack.stop();
    removeDir(home);
  }
}

async function main(): Promise<void> {
  let failed = 0;
  for (const kind of serverChoices('both')) {
    try {
      await runOn(kind);
    } catch (err) {
      // One server failing to run must not hide the other's figures.
      failed++;
      log(`fleet-scale on the ${kind} server could not run: ${(err as Error).stack ?? String(err)}`);
    }
  }
  if (failed) throw new Error(`${failed} server run(s) failed`);
}

if (hasFlag('agent-host')) {
  agentHost().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
