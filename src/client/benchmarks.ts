import {
  Client,
  Connection,
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowExecutionDescription,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { openArtifactStore } from '../artifacts';
import { getJson } from '../artifacts/store';
import { InputError } from '../core/errors';
import { parseDurationMs } from '../core/params';
import { layout } from '../core/layout';
import type { EntryReport } from '../core/report';
import { prepareBenchmark, type BenchmarkRequest } from '../core/spec';
import { fleetLabel } from '../core/fleet-label';
import { checkInputsMatch } from '../shared/benchmark-inputs';
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { FAILURE_TYPES, ORCHESTRATOR_TASK_QUEUE, SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from '../shared/names';
import { cloudEndpointsFromEnv, storageOptions } from '../shared/cloud';
import { connectionOptions, type TemporalOptions } from '../shared/temporal';
import { benchmarkStartMetadata, defaultConfigLabel } from './workflow-metadata';
import { progressQuery, retryVmUpdate, vmProgressQuery } from '../workflows/definitions';
import type { BenchmarkProgress, BenchmarkResult, RetryVmResult, VmProgress } from '../workflows/types';
import type { benchmarkWorkflow } from '../workflows';

export async function connectClient(o: TemporalOptions): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect(connectionOptions(o));
  } catch (err) {
    // The SDK's message ("Failed to connect before the deadline") does not say where it tried.
    throw new Error(
      `cannot reach Temporal at ${o.address} (namespace ${o.namespace}; set --temporal-address or TEMPORAL_ADDRESS): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return new Client({ connection, namespace: o.namespace });
}

/** Starts a benchmark; the same id with the same inputs resumes what a previous run left. */
export async function startBenchmark(
  client: Client,
  req: BenchmarkRequest,
  artifacts: string | undefined,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof benchmarkWorkflow>> {
  if (artifacts) {
    // Refuse a reused id with other inputs before anything starts (the workflow checks again).
    await checkInputsMatch(openArtifactStore(artifacts, storageOptions(cloudEndpointsFromEnv())), req);
  }
  const searchable = await ensureSearchAttributes(client);
  const prepared = prepareBenchmark(req);
  const commits = [...new Set(prepared.configs.map((c) => c.commit))];
  try {
    return await client.workflow.start<typeof benchmarkWorkflow>(WORKFLOW_TYPES.benchmark, {
      taskQueue: ORCHESTRATOR_TASK_QUEUE,
      workflowId: req.benchmarkId,
      args: [req],
      typedSearchAttributes: searchable
        ? [
            { key: SEARCH_ATTRIBUTES.benchmarkId, value: req.benchmarkId },
            { key: SEARCH_ATTRIBUTES.gcsfuseCommit, value: commits },
            { key: SEARCH_ATTRIBUTES.fleet, value: fleetLabel(req.fleet) },
            { key: SEARCH_ATTRIBUTES.status, value: 'starting' },
          ]
        : undefined,
      // What the Web UI shows beside the run: the inputs at a glance, not their contents.
      memo: {
        runName: req.runName ?? req.benchmarkId,
        testCases: req.testCases.name,
        configs: req.configs?.name ?? defaultConfigLabel(req),
        jobFile: req.jobFile.name,
        iterations: req.iterations,
        fleet: fleetLabel(req.fleet),
        mount: req.mount.kind === 'gcsfuse' ? `gcsfuse gs://${req.mount.bucket}` : req.mount.kind,
      },
      // The Web UI's summary and details of the run (workflow-metadata.ts).
      ...benchmarkStartMetadata(req, prepared, { artifacts }),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new InputError(`benchmark "${req.benchmarkId}" is already running: watch it with \`gcsfuse-bench watch ${req.benchmarkId}\``, {
        flag: '--benchmark-id',
      });
    }
    throw err;
  }
}

export { fleetLabel };

// @temporalio/proto is CommonJS: Node's ESM loader sees only its default export.
const { IndexedValueType } = proto.temporal.api.enums.v1;
const INDEXED_TYPE = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
} as const;

/** How long a run waits for newly registered search attributes to become usable. */
export const SEARCH_ATTRIBUTES_READY_TIMEOUT_MS = 60_000;
const SEARCH_ATTRIBUTES_POLL_MS = 250;

/**
 * Registers our search attributes in the namespace when missing, then waits until the frontend
 * accepts them. Returns false where registering is not allowed (e.g. a Cloud namespace without
 * admin rights): runs then start without them.
 *
 * A real server lists a newly added attribute at once but its frontends validate starts against a
 * namespace cache refreshed every few seconds, so a start right after registering fails ("Failed to
 * start Workflow"); the dev server applies them at once. A visibility query naming every attribute
 * is validated the same way, so it is the readiness probe.
 */
export async function ensureSearchAttributes(client: Client, readyTimeoutMs = SEARCH_ATTRIBUTES_READY_TIMEOUT_MS): Promise<boolean> {
  const namespace = client.options.namespace;
  try {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.values(SEARCH_ATTRIBUTES).filter((k) => !(k.name in (customAttributes ?? {})));
    if (missing.length > 0) {
      await client.connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED_TYPE[k.type as keyof typeof INDEXED_TYPE]])),
      });
    }
  } catch (err) {
    console.error(`warning: search attributes are not registered (${(err as Error).message}); runs won't be searchable by benchmark id`);
    return false;
  }
  await awaitSearchAttributesUsable(client, readyTimeoutMs);
  return true;
}

/** Probes until the frontend accepts a query on every attribute; a clear error after the deadline. */
async function awaitSearchAttributesUsable(client: Client, timeoutMs: number): Promise<void> {
  const namespace = client.options.namespace;
  const names = Object.values(SEARCH_ATTRIBUTES).map((k) => k.name);
  // Matches nothing; only whether the frontend knows each name matters.
  const query = names.map((n) => `${n} = '__gcsfuse_bench_probe__'`).join(' AND ');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.workflowService.countWorkflowExecutions({ namespace, query });
      return;
    } catch (err) {
      // INVALID_ARGUMENT: an attribute the frontend does not know yet. Anything else is a real failure.
      if (!isGrpcServiceError(err) || err.code !== GRPC_INVALID_ARGUMENT) throw err;
      if (Date.now() >= deadline) {
        throw new Error(
          `the search attributes ${names.join(', ')} were registered in namespace "${namespace}" but the Temporal frontend ` +
            `still refuses them after ${Math.round(timeoutMs / 1000)} s (${err.details}); ` +
            `check them with \`temporal operator search-attribute list --namespace ${namespace}\` and run again`,
          { cause: err },
        );
      }
    }
    await new Promise((r) => setTimeout(r, SEARCH_ATTRIBUTES_POLL_MS));
  }
}
// gRPC status code 3 (@grpc/grpc-js's status.INVALID_ARGUMENT).
const GRPC_INVALID_ARGUMENT = 3;

export interface LiveProgress {
  progress: BenchmarkProgress;
  /** Live progress of each running child, by workflow id. */
  live: Map<string, VmProgress>;
  /**
   * The fio iteration each running child's agent is on (1-based), by workflow id, from the agent's last
   * heartbeat: no history event per iteration. The SDK sends heartbeats at most every 80% of the
   * heartbeat timeout (24 s at the default 30 s), so this lags by up to that much.
   */
  iteration?: Map<string, number>;
}

/** The iteration in the heartbeat of a VM run's pending runEntry activity (the agent sends `{ iteration }`). */
async function heartbeatIteration(client: Client, workflowId: string): Promise<number | undefined> {
  const d = await client.workflow.getHandle(workflowId).describe();
  for (const a of d.raw.pendingActivities ?? []) {
    const payload = a.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    const details = defaultPayloadConverter.fromPayload<{ iteration?: unknown }>(payload);
    if (typeof details?.iteration === 'number' && Number.isSafeInteger(details.iteration) && details.iteration > 0)
      return details.iteration;
  }
  return undefined;
}

/**
 * Up to this many running VM runs, a poll also reads each one's iteration (one describe call per run
 * per poll, beside its query); a larger fleet shows progress per entry, so a poll stays cheap for the server.
 */
export const MAX_RUNS_WITH_ITERATIONS = 64;

/** The parent's progress, plus each running child's live counts (`all`: finished children's too). */
export async function liveProgress(client: Client, benchmarkId: string, all = false): Promise<LiveProgress> {
  const progress = await client.workflow.getHandle(benchmarkId).query(progressQuery);
  const live = new Map<string, VmProgress>();
  const iteration = new Map<string, number>();
  const withIterations = progress.runs.filter((r) => r.status === 'running').length <= MAX_RUNS_WITH_ITERATIONS;
  await Promise.all(
    progress.runs
      .filter((r) => all || r.status === 'running')
      .map(async (r) => {
        try {
          const vm = await client.workflow.getHandle(r.workflowId).query(vmProgressQuery);
          live.set(r.workflowId, vm);
          const at = vm.runningMatrixId === null || !withIterations ? undefined : await heartbeatIteration(client, r.workflowId);
          if (at !== undefined) iteration.set(r.workflowId, at);
        } catch {
          // The child may not have started its first task yet.
        }
      }),
  );
  return { progress, live, iteration };
}

/** Re-runs a VM's failed entries; a RefusedError says why the benchmark would not (the workflow's validator's reason). */
export async function retryVm(client: Client, benchmarkId: string, vm: string, onto?: string): Promise<RetryVmResult> {
  try {
    return await client.workflow.getHandle(benchmarkId).executeUpdate(retryVmUpdate, { args: [{ vm, onto }] });
  } catch (err) {
    // "Workflow Update failed" says nothing: the reason is in its causes.
    if (err instanceof WorkflowUpdateFailedError) throw new RefusedError(`retry-vm refused: ${failureMessage(err.cause ?? err)}`);
    if (err instanceof WorkflowNotFoundError)
      throw new RefusedError(`retry-vm refused: benchmark "${benchmarkId}" is closed or does not exist`);
    throw err;
  }
}

export async function readReport(artifacts: string, benchmarkId: string): Promise<EntryReport[] | undefined> {
  return getJson<EntryReport[]>(
    openArtifactStore(artifacts, storageOptions(cloudEndpointsFromEnv())),
    layout.report(benchmarkId, 'results.json'),
  );
}

/** How long `run`, `watch` and `cancel` wait for an unreachable Temporal before they give up (--reconnect-timeout). */
export const DEFAULT_RECONNECT_TIMEOUT_MS = 10 * 60_000;
const RECONNECT_BACKOFF_MS = { first: 1_000, max: 15_000 } as const;

// gRPC status codes of a server that is down, restarting or overloaded (the client's own retries gave up).
const GRPC_UNREACHABLE = new Set([
  1, // CANCELLED: the connection went away mid-call
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  14, // UNAVAILABLE
]);

/** True when Temporal could not be reached (as opposed to an answer such as "not found" or a failed workflow). */
export function isUnreachable(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) {
    if (e instanceof WorkflowFailedError || e instanceof WorkflowNotFoundError) return false;
    if (isGrpcServiceError(e)) return GRPC_UNREACHABLE.has(e.code);
  }
  return false;
}

export interface ReconnectOptions {
  /** Give up after Temporal was unreachable this long (default 10 minutes). */
  reconnectTimeoutMs?: number;
  /** Called once when Temporal becomes unreachable, and once when it answers again. */
  onDisconnected?: (err: Error) => void;
  onReconnected?: () => void;
}

/** Tracks one outage at a time: when it began, and whether the caller was told. */
class Outage {
  private since: number | undefined;
  private backoffMs: number = RECONNECT_BACKOFF_MS.first;
  constructor(private readonly o: ReconnectOptions) {}
  /** Records a failure; throws it when it is not an outage, or the outage lasted too long. */
  failed(err: unknown): void {
    if (!isUnreachable(err)) throw err;
    const limitMs = this.o.reconnectTimeoutMs ?? DEFAULT_RECONNECT_TIMEOUT_MS;
    if (this.since === undefined) {
      this.since = Date.now();
      this.o.onDisconnected?.(err as Error);
    } else if (Date.now() - this.since >= limitMs) {
      throw new Error(
        `Temporal was unreachable for ${Math.round((Date.now() - this.since) / 1000)} s, longer than the reconnect timeout (${Math.round(limitMs / 1000)} s): ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  ok(): void {
    if (this.since === undefined) return;
    this.since = undefined;
    this.backoffMs = RECONNECT_BACKOFF_MS.first;
    this.o.onReconnected?.();
  }
  /** Waits before the next try, longer each time within an outage. */
  async pause(): Promise<void> {
    await new Promise((r) => setTimeout(r, this.backoffMs));
    this.backoffMs = Math.min(this.backoffMs * 2, RECONNECT_BACKOFF_MS.max);
  }
}

/**
 * The workflow's result, riding out Temporal outages: the client's own retries give up after
 * ~20 s ("Failed to get Workflow execution history"); here it asks again with backoff until
 * the reconnect timeout.
 */
export async function benchmarkResult(client: Client, benchmarkId: string, o: ReconnectOptions = {}): Promise<BenchmarkResult> {
  const outage = new Outage(o);
  for (;;) {
    try {
      const result = await client.workflow.getHandle<typeof benchmarkWorkflow>(benchmarkId).result();
      outage.ok();
      return result;
    } catch (err) {
      outage.failed(err);
      await outage.pause();
    }
  }
}

/** Waits for the result, calling onTick with progress about once a second; rides out outages like benchmarkResult. */
export async function watchBenchmark(
  client: Client,
  benchmarkId: string,
  onTick: (p: LiveProgress) => void,
  intervalMs = 1_000,
  reconnect: ReconnectOptions = {},
): Promise<BenchmarkResult> {
  // Both the progress queries and the result's long poll notice an outage; the user hears of it once.
  let down = false;
  const shared: ReconnectOptions = {
    ...reconnect,
    onDisconnected: (err) => {
      if (!down) reconnect.onDisconnected?.(err);
      down = true;
    },
    onReconnected: () => {
      if (down) reconnect.onReconnected?.();
      down = false;
    },
  };
  const result = benchmarkResult(client, benchmarkId, shared);
  let done = false;
  void result.finally(() => (done = true)).catch(() => {});
  while (!done) {
    try {
      onTick(await liveProgress(client, benchmarkId));
      shared.onReconnected!();
    } catch (err) {
      // Queries also fail briefly while the workflow has no worker or just completed.
      if (isUnreachable(err)) shared.onDisconnected!(err as Error);
    }
    await Promise.race([result.catch(() => {}), new Promise((r) => setTimeout(r, intervalMs))]);
  }
  // The final state too, so a watcher sees where it ended (best effort: the result is what counts).
  await liveProgress(client, benchmarkId).then(onTick, () => {});
  return result;
}

/** --reconnect-timeout: a duration such as 90s or 10m; 0 gives up at the first outage. */
export function parseReconnectTimeout(text: string | undefined): number {
  if (text === undefined) return DEFAULT_RECONNECT_TIMEOUT_MS;
  if (text.trim() === '0') return 0;
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new InputError(`"${text}" is not a duration (e.g. 90s, 10m)`, { flag: '--reconnect-timeout' });
  return ms;
}

/** Reconnect options that tell the user, one line each, when Temporal went away and came back. */
export function reconnectNotices(reconnectTimeoutMs: number, write: (line: string) => void = (l) => console.error(l)): ReconnectOptions {
  const limit = reconnectTimeoutMs % 60_000 === 0 ? `${reconnectTimeoutMs / 60_000} min` : `${Math.round(reconnectTimeoutMs / 1000)} s`;
  return {
    reconnectTimeoutMs,
    onDisconnected: (err) =>
      write(`lost the connection to Temporal (${err.message}); waiting up to ${limit} for it to come back (--reconnect-timeout)`),
    onReconnected: () => write('reconnected to Temporal'),
  };
}

/**
 * While `run` follows a benchmark, Ctrl-C (SIGINT) or SIGTERM cancels it: the caller keeps
 * waiting until the workflow closed, i.e. the agents stopped fio. A second signal leaves at once.
 */
export function cancelOnSignals(
  client: Client,
  benchmarkId: string,
  onExitNow: () => void,
): { readonly interrupted: boolean; dispose(): void } {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      console.error(`${signal} again: leaving; benchmark ${benchmarkId} is still being cancelled (gcsfuse-bench status ${benchmarkId})`);
      onExitNow();
      return;
    }
    interrupted = true;
    console.error(`\n${signal}: cancelling benchmark ${benchmarkId}; waiting for the agents to stop fio (again to leave now)`);
    client.workflow
      .getHandle(benchmarkId)
      .cancel()
      .catch((err: Error) => console.error(`could not cancel: ${err.message}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get interrupted() {
      return interrupted;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** A request the benchmark's state does not allow; nothing was changed. */
export class RefusedError extends Error {
  override readonly name = 'RefusedError';
}

export interface FinalState {
  status: string;
  progress?: BenchmarkProgress;
}

/** The workflow's status and, when a worker answers, its progress. */
export async function finalState(client: Client, benchmarkId: string): Promise<FinalState> {
  const handle = client.workflow.getHandle(benchmarkId);
  const desc = await handle.describe();
  try {
    return { status: desc.status.name, progress: await handle.query(progressQuery) };
  } catch {
    return { status: desc.status.name }; // no orchestrator worker to answer the query
  }
}

/**
 * Cancels a benchmark and returns once it is closed: its VM runs are cancelled in turn, their
 * agents stop fio and unmount, and a partial report of the finished entries is written.
 */
export async function cancelBenchmark(client: Client, benchmarkId: string, o: ReconnectOptions = {}): Promise<FinalState> {
  const handle = client.workflow.getHandle(benchmarkId);
  let desc: WorkflowExecutionDescription;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new RefusedError(`there is no benchmark "${benchmarkId}"`);
    throw err;
  }
  if (desc.status.name !== 'RUNNING')
    throw new RefusedError(`benchmark "${benchmarkId}" is already closed (${desc.status.name}): nothing to cancel`);
  try {
    await handle.cancel();
  } catch (err) {
    // It closed between the two calls.
    if (err instanceof WorkflowNotFoundError) throw new RefusedError(`benchmark "${benchmarkId}" is already closed: nothing to cancel`);
    throw err;
  }
  await benchmarkResult(client, benchmarkId, o).catch((err: unknown) => {
    if (!(err instanceof WorkflowFailedError)) throw err; // the expected end is a cancelled workflow
  });
  return finalState(client, benchmarkId);
}

/** True when a workflow failed on bad input (a non-retryable InputError from an activity). */
export function isInputFailure(err: unknown): boolean {
  let e: unknown = err;
  while (e instanceof Error) {
    if ((e as { type?: string }).type === FAILURE_TYPES.input) return true;
    e = (e as Error & { cause?: unknown }).cause;
  }
  return false;
}

export function failureMessage(err: unknown): string {
  let e: unknown = err;
  const parts: string[] = [];
  while (e instanceof Error) {
    if (!(e instanceof WorkflowFailedError)) parts.push(e.message);
    e = (e as Error & { cause?: unknown }).cause;
  }
  return parts.filter((p, i) => p && p !== parts[i - 1]).join(': ') || String(err);
}
