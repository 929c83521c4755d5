/**
 * Temporal plumbing shared by the benchmarks that run the real system: a dev server, the real
 * orchestrator worker, agents, and reading timings back from manifests and histories.
 */
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NamespaceNotFoundError } from '@temporalio/client';
import { connectClient, startBenchmark as startBenchmarkOnce } from '../src/client/benchmarks';
import type { BenchmarkRequest, JobSpec, Manifest } from '../src/core/spec';
import { DEFAULT_TIMEOUTS } from '../src/core/spec';
import { startTemporalDevServer, type DevServer } from '../src/local/temporal-dev-server';
import { createOrchestratorWorker } from '../src/workers/orchestrator';
import { ORCHESTRATOR_TASK_QUEUE, SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from '../src/shared/names';
import type { benchmarkWorkflow } from '../src/workflows';
import { hasFlag, log } from './lib';

let runtimeInstalled = false;
/** Worker state changes at INFO would drown the benchmark's output; warnings still show. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

export interface Stack {
  home: string;
  artifacts: string;
  server: DevServer;
  client: Client;
  temporal: { address: string; namespace: string };
  /** Workers started in this process, run until stop(). */
  workers: { name: string; worker: Worker; done: Promise<void> }[];
  track(name: string, worker: Worker): void;
  stop(): Promise<void>;
}

/** A headless dev server (database file, as the embedded default; --memory-db for none) and a client. */
export function serverKind(): string {
  const cfg = devServerConfig();
  return (
    (hasFlag('memory-db') ? 'temporal server start-dev (in-memory sqlite)' : 'temporal server start-dev (sqlite file)') +
    (cfg.length ? ` + ${cfg.join(' ')}` : '')
  );
}

/**
 * --dev-server-config KEY=VALUE (repeatable): a what-if, for trying a proposed dev server setting
 * without changing src/local: a wrapper around the temporal CLI (TEMPORAL_CLI, which
 * startTemporalDevServer honours) adds --dynamic-config-value KEY=VALUE to `server start-dev`.
 */
export function devServerConfig(): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => {
    if (a === '--dev-server-config' && process.argv[i + 1]) out.push(process.argv[i + 1]!);
    else if (a.startsWith('--dev-server-config=')) out.push(a.slice('--dev-server-config='.length));
  });
  return out;
}

function installDevServerWrapper(home: string): void {
  const values = devServerConfig();
  if (values.length === 0) return;
  for (const v of values) if (!/^[\w.]+=[\w.-]+$/.test(v)) throw new Error(`--dev-server-config wants KEY=VALUE, got ${v}`);
  const real = process.env.TEMPORAL_CLI ?? 'temporal';
  const wrapper = path.join(home, 'temporal-with-config.sh');
  const extra = values.map((v) => `--dynamic-config-value ${v}`).join(' ');
  writeFileSync(wrapper, `#!/bin/sh\nif [ "$1" = server ]; then exec ${real} "$@" ${extra}; fi\nexec ${real} "$@"\n`, { mode: 0o755 });
  process.env.TEMPORAL_CLI = wrapper;
  log(`dev server with ${extra}`);
}

export async function startStack(home: string, opts: { inProcessOrchestrator: boolean }): Promise<Stack> {
  quietRuntime();
  installDevServerWrapper(home);
  const t0 = Date.now();
  // --memory-db: the dev server without its database file (as the tests' TestWorkflowEnvironment).
  const server = await startTemporalDevServer({ dir: path.join(home, 'temporal'), headless: true, persist: !hasFlag('memory-db') });
  log(`Temporal dev server on ${server.address} (${Date.now() - t0} ms)`);
  const temporal = { address: server.address, namespace: 'default' };
  const client = await connectClient(temporal);
  const stack: Stack = {
    home,
    artifacts: path.join(home, 'artifacts'),
    server,
    client,
    temporal,
    workers: [],
    track(name, worker) {
      stack.workers.push({ name, worker, done: worker.run() });
    },
    async stop() {
      for (const w of stack.workers) if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
      await Promise.allSettled(stack.workers.map((w) => w.done));
      await client.connection.close().catch(() => {});
      await server.stop();
    },
  };
  if (opts.inProcessOrchestrator) stack.track('orchestrator', await createOrchestratorWorker({ temporal, artifacts: stack.artifacts }));
  return stack;
}

/** A suite of `entries` entries, each sleeping `runtime` in the agents' SIMULATION MODE. */
export function simulatedRequest(
  benchmarkId: string,
  vms: string[],
  entries: number,
  runtime: string | ((i: number) => string),
): BenchmarkRequest {
  const rt = typeof runtime === 'string' ? () => runtime : runtime;
  const rows = ['test_id,runtime', ...Array.from({ length: entries }, (_, i) => `t${i + 1},${rt(i)}`)];
  return {
    benchmarkId,
    testCases: { name: 'test-cases.csv', content: rows.join('\n') + '\n' },
    // A valid fio job; SIMULATION MODE reads only its runtime= line.
    jobFile: {
      name: 'jobfile.fio',
      content: '[global]\nioengine=null\nsize=1m\ntime_based=1\nruntime=${RUNTIME}\ndirectory=${TEST_DATA_DIR}\n\n[job]\nrw=read\n',
    },
    iterations: 1,
    fleet: { kind: 'static', vms },
    mount: { kind: 'local-dir' },
    gcsfuseCommit: 'master',
    gcsfuseMountArgs: '',
    timeouts: { ...DEFAULT_TIMEOUTS },
    retryWindowMs: 0,
    rerouteOnAgentLoss: false,
  };
}

/**
 * startBenchmark, retried a few times on NamespaceNotFound: under heavy load the dev server's
 * namespace registry was seen to answer that for 'default' right after start-up. Every retry is logged.
 */
export async function startBenchmark(
  client: Client,
  req: BenchmarkRequest,
  artifacts: string,
  note: (text: string) => void = log,
): ReturnType<typeof startBenchmarkOnce> {
  let shortLabel = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return shortLabel ? await startWithShortFleetLabel(client, req) : await startBenchmarkOnce(client, req, artifacts);
    } catch (err) {
      const details = (err as { cause?: { details?: string } }).cause?.details ?? '';
      if (!shortLabel && /search attribute Fleet value size \d+ exceeds size limit/.test(details)) {
        note(
          `startBenchmark refused by the server: ${details} (src/client/benchmarks.ts fleetLabel joins every VM name); started with a shortened Fleet label instead`,
        );
        shortLabel = true;
        continue;
      }
      if (!(err instanceof NamespaceNotFoundError) || attempt >= 10) throw err;
      note(`start attempt ${attempt}: the server answered "${err.message}"; retried`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

/** What startBenchmark sends, with the Fleet search attribute and memo shortened (a workaround, see above). */
async function startWithShortFleetLabel(client: Client, req: BenchmarkRequest): ReturnType<typeof startBenchmarkOnce> {
  const vms = req.fleet.kind === 'static' ? req.fleet.vms : [];
  const label = `static:${vms.length} VMs ${vms[0]}..${vms.at(-1)}`;
  return client.workflow.start<typeof benchmarkWorkflow>(WORKFLOW_TYPES.benchmark, {
    taskQueue: ORCHESTRATOR_TASK_QUEUE,
    workflowId: req.benchmarkId,
    args: [req],
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.benchmarkId, value: req.benchmarkId },
      { key: SEARCH_ATTRIBUTES.gcsfuseCommit, value: [req.gcsfuseCommit] },
      { key: SEARCH_ATTRIBUTES.fleet, value: label },
      { key: SEARCH_ATTRIBUTES.status, value: 'starting' },
    ],
    memo: {
      testCases: req.testCases.name,
      configs: `default (${req.gcsfuseCommit} ${req.gcsfuseMountArgs})`.trim(),
      jobFile: req.jobFile.name,
      iterations: req.iterations,
      fleet: label,
      mount: req.mount.kind,
    },
  });
}

export interface EntryTiming {
  vm: string;
  matrixId: number;
  startedMs: number;
  finishedMs: number;
  status: string;
}

/** Start and finish of every entry, from the agents' manifests (ms resolution: ISO timestamps). */
export function manifestTimings(artifacts: string, benchmarkId: string, vms: readonly string[]): EntryTiming[] {
  const out: EntryTiming[] = [];
  for (const vm of vms) {
    let manifest: Manifest;
    try {
      manifest = JSON.parse(readFileSync(path.join(artifacts, benchmarkId, 'results', vm, 'manifest.json'), 'utf8')) as Manifest;
    } catch {
      continue;
    }
    for (const e of Object.values(manifest.entries)) {
      if (!e.startedAt) continue;
      out.push({
        vm,
        matrixId: e.matrixId,
        startedMs: Date.parse(e.startedAt),
        finishedMs: e.finishedAt ? Date.parse(e.finishedAt) : NaN,
        status: e.status,
      });
    }
  }
  return out;
}

export function jobSpecOf(artifacts: string, benchmarkId: string, vm: string): JobSpec {
  return JSON.parse(readFileSync(path.join(artifacts, benchmarkId, 'jobs', `${vm}.json`), 'utf8')) as JobSpec;
}

/** Gaps between one entry's finish and the next entry's start on the same VM. */
export function consecutiveGaps(timings: readonly EntryTiming[]): number[] {
  const byVm = new Map<string, EntryTiming[]>();
  for (const t of timings) byVm.set(t.vm, [...(byVm.get(t.vm) ?? []), t]);
  const gaps: number[] = [];
  for (const list of byVm.values()) {
    list.sort((a, b) => a.startedMs - b.startedMs);
    for (let i = 1; i < list.length; i++) gaps.push(list[i]!.startedMs - list[i - 1]!.finishedMs);
  }
  return gaps;
}

type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;
export function tsMs(t: Ts): number {
  if (!t) return NaN;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

export interface ActivityTimes {
  scheduledMs: number;
  startedMs: number;
  closedMs: number;
}

export interface WorkflowTaskTimes {
  scheduledMs: number;
  startedMs: number;
  completedMs: number;
}

/**
 * runEntry activities of a child workflow's history, in schedule order, with server-side times
 * (sub-ms), and its workflow tasks (scheduled -> started: the orchestrator's pickup; started ->
 * completed: the orchestrator worker's processing).
 */
export async function activityTimes(
  client: Client,
  workflowId: string,
): Promise<{ activities: ActivityTimes[]; workflowTasks: WorkflowTaskTimes[]; events: number }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const byScheduled = new Map<string, ActivityTimes>();
  const wfts = new Map<string, WorkflowTaskTimes>();
  for (const e of events) {
    const id = String(e.eventId);
    if (e.workflowTaskScheduledEventAttributes) wfts.set(id, { scheduledMs: tsMs(e.eventTime), startedMs: NaN, completedMs: NaN });
    const ws = e.workflowTaskStartedEventAttributes;
    if (ws) {
      const w = wfts.get(String(ws.scheduledEventId));
      if (w) w.startedMs = tsMs(e.eventTime);
    }
    const wc = e.workflowTaskCompletedEventAttributes;
    if (wc) {
      const w = wfts.get(String(wc.scheduledEventId));
      if (w) w.completedMs = tsMs(e.eventTime);
    }
    if (e.activityTaskScheduledEventAttributes) byScheduled.set(id, { scheduledMs: tsMs(e.eventTime), startedMs: NaN, closedMs: NaN });
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const a = byScheduled.get(String(started.scheduledEventId));
      if (a) a.startedMs = tsMs(e.eventTime);
    }
    const closed =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (closed) {
      const a = byScheduled.get(String(closed.scheduledEventId));
      if (a) a.closedMs = tsMs(e.eventTime);
    }
  }
  return {
    activities: [...byScheduled.values()].sort((a, b) => a.scheduledMs - b.scheduledMs),
    workflowTasks: [...wfts.values()].filter((w) => Number.isFinite(w.completedMs)),
    events: events.length,
  };
}

/** CPU seconds (utime + stime) of a process: the dev server's, for instance. */
export { procCpuSeconds } from './lib';
