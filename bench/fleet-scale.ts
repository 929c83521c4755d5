/**
 * Fleet scale: 1,000 simulated VMs x 10 entries of 100 ms on a real Temporal dev server with
 * the real orchestrator worker, run as its own process (src/local/processes.ts startProcess +
 * tsxCommand(ORCHESTRATOR_ENTRY)) so its memory can be sampled from /proc.
 *
 * Agents: 1,000 agent Workers in SIMULATION MODE, each on its own task queue
 * agentTaskQueue(vm), hosted by a few "agent host" processes that share one NativeConnection
 * per process. createAgentWorker() opens a connection per agent and cannot share one, so the
 * host builds each Worker the way createAgentWorker does (same activities from
 * createAgentActivities with simulatedFio, maxConcurrentActivityTaskExecutions 1,
 * maxHeartbeatThrottleInterval 3s); keep AGENT_WORKER_OPTIONS in step with vm-agent/src/main.ts.
 *
 * Measured:
 *  - history length (events) of the parent and the longest child (Temporal warns at 10K);
 *  - the orchestrator worker's RSS (VmRSS sampled every 250 ms, VmHWM at the end);
 *  - time from start until every entry had started (manifests' startedAt), until every VM had
 *    started its first entry, and until the benchmark finished;
 *  - CPU seconds of the dev server, the orchestrator and the agent hosts (2-core machine).
 *
 *   npx tsx bench/fleet-scale.ts [--quick] [--vms 1000] [--entries-per-vm 10] [--runtime-ms 100]
 *                                [--agent-procs 2] [--timeout-s 1200]
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openArtifactStore } from '../src/artifacts';
import { ORCHESTRATOR_ENTRY } from '../src/local/embedded';
import { startProcess, tsxCommand, type ManagedProcess } from '../src/local/processes';
import { agentTaskQueue } from '../src/shared/names';
import { progressQuery } from '../src/workflows/definitions';
import { createAgentActivities } from '../vm-agent/src/activities';
import { LocalDirMounter } from '../vm-agent/src/mounter';
import { simulatedFio } from '../vm-agent/src/simulated-fio';
import {
  BenchRun,
  flagValue,
  hasFlag,
  log,
  numberFlag,
  percentile,
  procCpuSeconds,
  procStatusKiB,
  QUICK,
  removeDir,
  round2,
  scratchDir,
  sleep,
} from './lib';
import {
  activityTimes,
  consecutiveGaps,
  manifestTimings,
  quietRuntime,
  tsMs,
  simulatedRequest,
  startBenchmark,
  startStack,
} from './temporal-support';
import { serverKind } from './temporal-support';

const SELF = fileURLToPath(import.meta.url);
const VMS = numberFlag('vms', QUICK ? 100 : 1000);
const ENTRIES_PER_VM = numberFlag('entries-per-vm', 10);
const RUNTIME_MS = numberFlag('runtime-ms', 100);
const AGENT_PROCS = numberFlag('agent-procs', QUICK ? 1 : 2);
const TIMEOUT_S = numberFlag('timeout-s', QUICK ? 300 : 1200);
const HISTORY_WARN = 10_000;

/** The Worker options createAgentWorker uses (vm-agent/src/main.ts). */
const AGENT_WORKER_OPTIONS = { maxConcurrentActivityTaskExecutions: 1, maxHeartbeatThrottleInterval: '3s' } as const;

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
    workers.push(
      await Worker.create({
        connection,
        namespace: 'default',
        taskQueue: agentTaskQueue(vm),
        activities: createAgentActivities({
          vm,
          store,
          mounter: new LocalDirMounter(path.join(workDir, 'mnt')),
          runFio: simulatedFio,
          workDir,
        }),
        ...AGENT_WORKER_OPTIONS,
      }),
    );
  }
  const runs = workers.map((w) => w.run());
  const created = Date.now() - t0;
  process.stdout.write(`READY ${JSON.stringify({ agents: workers.length, createMs: created, rssKiB: procStatusKiB('self')?.VmRSS })}\n`);
  const stop = async (): Promise<void> => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(runs);
    process.stdout.write(
      `STATS ${JSON.stringify({ hwmKiB: procStatusKiB('self')?.VmHWM, cpuS: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 })}\n`,
    );
    await connection.close().catch(() => {});
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.stdin.on('end', () => void stop()); // the parent went away
  process.stdin.resume();
}

interface Host {
  child: ChildProcess;
  ready: Promise<{ agents: number; createMs: number; rssKiB: number }>;
  stats: Promise<{ hwmKiB: number; cpuS: number } | undefined>;
}

function startAgentHost(index: number, vms: string[], address: string, artifacts: string, workRoot: string, logDir: string): Host {
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
  let resolveReady!: (v: { agents: number; createMs: number; rssKiB: number }) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<{ agents: number; createMs: number; rssKiB: number }>(
    (res, rej) => ((resolveReady = res), (rejectReady = rej)),
  );
  let resolveStats!: (v: { hwmKiB: number; cpuS: number } | undefined) => void;
  const stats = new Promise<{ hwmKiB: number; cpuS: number } | undefined>((res) => (resolveStats = res));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('READY ')) resolveReady(JSON.parse(line.slice(6)));
    else if (line.startsWith('STATS ')) resolveStats(JSON.parse(line.slice(6)));
  });
  child.once('exit', (code) => {
    rejectReady(new Error(`agent host ${index} exited with ${code}: ${errLog.join('').slice(-2000)}`));
    resolveStats(undefined);
    mkdirSync(logDir, { recursive: true });
  });
  return { child, ready, stats };
}

// ------------------------------------------------------------------ the benchmark

interface Sample {
  tMs: number;
  rssKiB: number;
}

async function main(): Promise<void> {
  const run = new BenchRun('fleet-scale');
  run.params = {
    vms: VMS,
    entriesPerVm: ENTRIES_PER_VM,
    entryRuntimeMs: RUNTIME_MS,
    agentProcesses: AGENT_PROCS,
    agentsShareConnectionPerProcess: true,
    simulateFio: true,
    orchestrator: 'separate process (tsxCommand(ORCHESTRATOR_ENTRY))',
    server: serverKind(),
  };
  const home = scratchDir('fleet');
  const stack = await startStack(home, { inProcessOrchestrator: false });
  const logDir = path.join(home, 'logs');
  let orchestrator: ManagedProcess | undefined;
  const hosts: Host[] = [];
  const samples: Sample[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    // The orchestrator worker, as `npm run worker` runs it.
    const oc = tsxCommand(ORCHESTRATOR_ENTRY, []);
    orchestrator = startProcess({
      name: 'orchestrator-worker',
      ...oc,
      env: { TEMPORAL_ADDRESS: stack.server.address, GCSFUSE_BENCH_ARTIFACTS: stack.artifacts },
      logDir,
    });
    const orchPid = orchestrator.child.pid!;
    const t0 = Date.now();
    const logText = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');
    while (!logText(orchestrator.logFile).includes('orchestrator worker polling')) {
      if (orchestrator.child.exitCode !== null) throw new Error(`orchestrator exited; see ${orchestrator.logFile}`);
      if (Date.now() - t0 > 120_000) throw new Error('orchestrator did not start within 120 s');
      await sleep(200);
    }
    log(`orchestrator worker up (pid ${orchPid}, ${Date.now() - t0} ms, RSS ${round2((procStatusKiB(orchPid)?.VmRSS ?? 0) / 1024)} MiB)`);
    const orchRssIdleKiB = procStatusKiB(orchPid)?.VmRSS ?? NaN;

    // Agent hosts.
    const vms = Array.from({ length: VMS }, (_, i) => `sim-${String(i + 1).padStart(4, '0')}`);
    const t1 = Date.now();
    const per = Math.ceil(VMS / AGENT_PROCS);
    for (let p = 0; p < AGENT_PROCS; p++) {
      const slice = vms.slice(p * per, (p + 1) * per);
      if (slice.length) hosts.push(startAgentHost(p, slice, stack.server.address, stack.artifacts, path.join(home, 'agents'), logDir));
    }
    const readies = await Promise.all(hosts.map((h) => h.ready));
    log(
      `${VMS} agents in ${hosts.length} processes ready in ${Date.now() - t1} ms (RSS per host ${readies.map((r) => round2(r.rssKiB / 1024)).join(', ')} MiB)`,
    );
    await sleep(2_000); // let the pollers reach the server

    const pids = { server: stack.server.process.child.pid!, orchestrator: orchPid, hosts: hosts.map((h) => h.child.pid!) };
    const cpu0 = {
      server: procCpuSeconds(pids.server) ?? NaN,
      orchestrator: procCpuSeconds(pids.orchestrator) ?? NaN,
      hosts: pids.hosts.map((p) => procCpuSeconds(p) ?? NaN),
    };
    const benchmarkId = `fleet-${Date.now()}`;
    const req = simulatedRequest(benchmarkId, vms, VMS * ENTRIES_PER_VM, `${RUNTIME_MS}ms`);
    const callMs = Date.now();
    // Times are measured from the workflow's start as the server recorded it (set below), so
    // start attempts the server refused (see the notes) do not count against dispatch.
    let started = callMs;
    sampler = setInterval(() => {
      const st = procStatusKiB(orchPid);
      if (st?.VmRSS) samples.push({ tMs: Date.now() - started, rssKiB: st.VmRSS });
    }, 250);
    const handle = await startBenchmark(stack.client, req, stack.artifacts, (t) => run.note(t));
    started = (await handle.describe()).startTime.getTime();
    if (started - callMs > 1_000)
      run.note(
        `the start call took ${round2((started - callMs) / 1000)} s before the server accepted it; times count from the accepted start`,
      );
    log(`started ${benchmarkId}: ${VMS * ENTRIES_PER_VM} entries on ${VMS} VMs`);
    let timedOut = false;
    let result: Awaited<ReturnType<typeof handle.result>> | undefined;
    const progressTimer = setInterval(() => {
      void handle
        .query(progressQuery)
        .then((pr) => {
          log(
            `t=${round2((Date.now() - started) / 1000)} s ${pr.phase}: ${pr.passed} passed, ${pr.failed} failed of ${pr.totalEntries}; orchestrator RSS ${round2((samples.at(-1)?.rssKiB ?? 0) / 1024)} MiB`,
          );
        })
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
    clearInterval(sampler);
    sampler = undefined;
    const orchStatus = procStatusKiB(orchPid);
    const cpu = {
      server: (procCpuSeconds(pids.server) ?? NaN) - cpu0.server,
      orchestrator: (procCpuSeconds(pids.orchestrator) ?? NaN) - cpu0.orchestrator,
      hosts: pids.hosts.reduce((s, p, i) => s + ((procCpuSeconds(p) ?? NaN) - cpu0.hosts[i]!), 0),
    };
    if (timedOut) {
      run.note(`the benchmark did not finish within ${TIMEOUT_S} s: terminated; figures are partial`);
      await handle.terminate('fleet-scale benchmark timed out').catch(() => {});
    } else {
      log(`benchmark finished in ${doneMs} ms: ${result?.passed} passed, ${result?.failed} failed`);
    }

    // Dispatch times from the manifests.
    const timings = manifestTimings(stack.artifacts, benchmarkId, vms);
    const firstByVm = new Map<string, number>();
    for (const t of timings) firstByVm.set(t.vm, Math.min(firstByVm.get(t.vm) ?? Infinity, t.startedMs));
    const allStartedMs = timings.length === VMS * ENTRIES_PER_VM ? Math.max(...timings.map((t) => t.startedMs)) - started : null;
    const allVmsStartedMs = firstByVm.size === VMS ? Math.max(...firstByVm.values()) - started : null;
    const firstStartMs = timings.length ? Math.min(...timings.map((t) => t.startedMs)) - started : null;
    const firstOfVm = [...firstByVm.values()].map((t) => t - started);
    const gaps = consecutiveGaps(timings);

    // Where the time goes: from the parent's history, when each child was asked for and when it started.
    const parentHistory = await handle.fetchHistory();
    const initiated = new Map<string, number>();
    const childStarted = new Map<string, number>();
    let parentWorkflowTasks = 0;
    const activityDone: number[] = [];
    for (const e of parentHistory.events ?? []) {
      const t = tsMs(e.eventTime) - started;
      if (e.activityTaskCompletedEventAttributes) activityDone.push(t);
      const ini = e.startChildWorkflowExecutionInitiatedEventAttributes;
      if (ini?.workflowId) initiated.set(ini.workflowId, t);
      const st = e.childWorkflowExecutionStartedEventAttributes;
      if (st?.workflowExecution?.workflowId) childStarted.set(st.workflowExecution.workflowId, t);
      if (e.workflowTaskCompletedEventAttributes) parentWorkflowTasks++;
    }
    const iniTimes = [...initiated.values()];
    const startLatency = [...childStarted].map(([id, t]) => t - (initiated.get(id) ?? NaN)).filter(Number.isFinite);
    const startedTimes = [...childStarted.values()];
    // A child's first entry start, after the child itself started.
    const firstAfterChild = vms
      .map((vm) => (firstByVm.get(vm) ?? NaN) - started - (childStarted.get(`${benchmarkId}-vm-${vm}`) ?? NaN))
      .filter(Number.isFinite);

    // Inside the children, from the histories of up to 100 children incl. the slowest VM: the
    // orchestrator's turnaround (entry completed -> next scheduled, when not queued ahead) and the
    // agents' pickup (from the later of scheduled and the previous entry's end -> started).
    const slowestVm = [...firstByVm.keys()].sort((a, b) => firstByVm.get(b)! - firstByVm.get(a)!)[0];
    const sampleVms = [
      ...new Set([...(slowestVm ? [slowestVm] : []), ...vms.filter((_, i) => i % Math.max(1, Math.floor(VMS / 100)) === 0)]),
    ].slice(0, 101);
    const turnaround: number[] = [];
    const pickup: number[] = [];
    for (const vm of sampleVms) {
      try {
        const { activities } = await activityTimes(stack.client, `${benchmarkId}-vm-${vm}`);
        activities.forEach((a, i) => {
          const prevClosed = i > 0 ? activities[i - 1]!.closedMs : -Infinity;
          if (Number.isFinite(a.startedMs)) pickup.push(a.startedMs - Math.max(a.scheduledMs, prevClosed));
          if (i > 0 && a.scheduledMs >= prevClosed) turnaround.push(a.scheduledMs - prevClosed);
        });
      } catch {
        // history not available
      }
    }
    // Why entries failed, from the children's results.
    const failures: Record<string, unknown>[] = [];
    const incomplete = vms.filter((vm) => timings.filter((t) => t.vm === vm && t.status === 'passed').length < ENTRIES_PER_VM);
    for (const vm of incomplete.slice(0, 10)) {
      try {
        const outcomes = (await stack.client.workflow.getHandle(`${benchmarkId}-vm-${vm}`).result()) as {
          matrixId: number;
          status: string;
          error?: string;
          failure?: string;
        }[];
        for (const o of outcomes.filter((x) => x.status !== 'passed'))
          failures.push({ vm, matrixId: o.matrixId, failure: o.failure, error: o.error });
      } catch (err) {
        failures.push({ vm, error: (err as Error).message });
      }
    }
    for (const f of failures) log(`failed: ${JSON.stringify(f)}`);

    // History lengths: the parent, and every child (describe is one RPC each).
    const parentEvents = (await handle.describe()).historyLength;
    const childEvents: number[] = [];
    for (let i = 0; i < vms.length; i += 50) {
      const part = await Promise.all(
        vms.slice(i, i + 50).map((vm) =>
          stack.client.workflow
            .getHandle(`${benchmarkId}-vm-${vm}`)
            .describe()
            .then((d) => d.historyLength)
            .catch(() => NaN),
        ),
      );
      childEvents.push(...part);
    }
    const known = childEvents.filter((n) => Number.isFinite(n));
    const rssPeakSampledKiB = Math.max(...samples.map((s) => s.rssKiB));
    const mb = (kib: number) => round2((kib * 1024) / 1e6);

    // Stop the agents now to read their own peaks.
    for (const h of hosts) h.child.kill('SIGTERM');
    const hostStats = await Promise.all(hosts.map((h) => Promise.race([h.stats, sleep(30_000).then(() => undefined)])));

    const figures = {
      vms: VMS,
      entries: VMS * ENTRIES_PER_VM,
      entries_passed: result?.passed ?? timings.filter((t) => t.status === 'passed').length,
      entries_failed: result?.failed ?? null,
      finished: !timedOut,
      parent_history_events: parentEvents,
      child_history_events_max: known.length ? Math.max(...known) : null,
      child_history_events_median: known.length ? percentile(known, 50) : null,
      children_described: known.length,
      orchestrator_rss_peak_mb: mb(orchStatus?.VmHWM ?? rssPeakSampledKiB),
      orchestrator_rss_peak_sampled_mb: mb(rssPeakSampledKiB),
      orchestrator_rss_idle_mb: mb(orchRssIdleKiB),
      orchestrator_rss_end_mb: mb(orchStatus?.VmRSS ?? NaN),
      first_entry_started_s: firstStartMs === null ? null : round2(firstStartMs / 1000),
      all_vms_started_s: allVmsStartedMs === null ? null : round2(allVmsStartedMs / 1000),
      vm_first_entry_median_s: firstOfVm.length ? round2(percentile(firstOfVm, 50) / 1000) : null,
      vm_first_entry_p95_s: firstOfVm.length ? round2(percentile(firstOfVm, 95) / 1000) : null,
      distribute_done_s: activityDone.length >= 2 ? round2(activityDone[1]! / 1000) : null,
      children_initiated_first_s: iniTimes.length ? round2(Math.min(...iniTimes) / 1000) : null,
      children_initiated_last_s: iniTimes.length ? round2(Math.max(...iniTimes) / 1000) : null,
      child_start_latency_median_s: startLatency.length ? round2(percentile(startLatency, 50) / 1000) : null,
      child_start_latency_max_s: startLatency.length ? round2(Math.max(...startLatency) / 1000) : null,
      children_started_last_s: startedTimes.length ? round2(Math.max(...startedTimes) / 1000) : null,
      child_to_first_entry_median_s: firstAfterChild.length ? round2(percentile(firstAfterChild, 50) / 1000) : null,
      child_to_first_entry_p95_s: firstAfterChild.length ? round2(percentile(firstAfterChild, 95) / 1000) : null,
      parent_workflow_tasks: parentWorkflowTasks,
      sampled_children: sampleVms.length,
      orchestrator_turnaround_median_ms: turnaround.length ? round2(percentile(turnaround, 50)) : null,
      orchestrator_turnaround_p95_ms: turnaround.length ? round2(percentile(turnaround, 95)) : null,
      orchestrator_turnaround_max_ms: turnaround.length ? round2(Math.max(...turnaround)) : null,
      agent_pickup_median_ms: pickup.length ? round2(percentile(pickup, 50)) : null,
      agent_pickup_p95_ms: pickup.length ? round2(percentile(pickup, 95)) : null,
      agent_pickup_max_ms: pickup.length ? round2(Math.max(...pickup)) : null,
      failures,
      gap_median_ms: gaps.length ? percentile(gaps, 50) : null,
      gap_p95_ms: gaps.length ? percentile(gaps, 95) : null,
      gap_max_ms: gaps.length ? Math.max(...gaps) : null,
      all_entries_started_s: allStartedMs === null ? null : round2(allStartedMs / 1000),
      finished_s: timedOut ? null : round2(doneMs / 1000),
      ideal_s: round2((ENTRIES_PER_VM * RUNTIME_MS) / 1000),
      entries_with_manifest: timings.length,
      cpu_dev_server_s: round2(cpu.server),
      cpu_orchestrator_s: round2(cpu.orchestrator),
      cpu_agent_hosts_s: round2(cpu.hosts),
      agent_host_processes: hosts.length,
      agent_host_rss_ready_mb: readies.map((r) => mb(r.rssKiB)),
      agent_host_rss_peak_mb: hostStats.map((s) => (s ? mb(s.hwmKiB) : NaN)),
      agent_create_s: readies.map((r) => round2(r.createMs / 1000)),
      orchestrator_rss_timeline_mb: samples.filter((_, i) => i % 20 === 0).map((s) => mb(s.rssKiB)),
    };
    run.note(
      `agents: ${VMS} Worker instances in ${hosts.length} process(es), one NativeConnection per process, options as createAgentWorker`,
    );
    run.note('times count from the workflow start the server accepted; entry starts from the manifests (startedAt of runEntry)');
    run.finish(
      figures,
      `${VMS} VMs x ${ENTRIES_PER_VM}: histories < ${HISTORY_WARN} events, orchestrator RSS < 1 GB, every entry started within 60 s`,
      [
        { metric: 'parent_history_events', op: '<', value: HISTORY_WARN },
        { metric: 'child_history_events_max', op: '<', value: HISTORY_WARN },
        { metric: 'orchestrator_rss_peak_mb', op: '<', value: 1000 },
        { metric: 'all_entries_started_s', op: '<=', value: 60 },
      ],
    );
  } finally {
    if (sampler) clearInterval(sampler);
    for (const h of hosts) if (h.child.exitCode === null) h.child.kill('SIGKILL');
    await orchestrator?.stop();
    await stack.stop();
    removeDir(home);
  }
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
