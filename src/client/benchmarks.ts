import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { openArtifactStore } from '../artifacts';
import { getJson } from '../artifacts/store';
import { InputError } from '../core/errors';
import { layout } from '../core/layout';
import type { EntryReport } from '../core/report';
import type { BenchmarkRequest } from '../core/spec';
import { findInputConflict } from '../activities/distribute';
import { FAILURE_TYPES, ORCHESTRATOR_TASK_QUEUE, WORKFLOW_TYPES } from '../shared/names';
import { connectionOptions, type TemporalOptions } from '../shared/temporal';
import { progressQuery, retryVmUpdate, vmProgressQuery } from '../workflows/definitions';
import type { BenchmarkProgress, BenchmarkResult, RetryVmResult, VmProgress } from '../workflows/types';
import type { benchmarkWorkflow } from '../workflows';

export async function connectClient(o: TemporalOptions): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(o));
  return new Client({ connection, namespace: o.namespace });
}

/** Starts a benchmark; the same id with the same inputs resumes what a previous run left. */
export async function startBenchmark(client: Client, req: BenchmarkRequest, artifacts: string | undefined): Promise<WorkflowHandleWithFirstExecutionRunId<typeof benchmarkWorkflow>> {
  if (artifacts) {
    // Refuse a reused id with other inputs before anything starts (the workflow checks again).
    const conflict = await findInputConflict(openArtifactStore(artifacts), req);
    if (conflict) {
      throw new InputError(`benchmark "${req.benchmarkId}" already exists with different inputs (${conflict} differs): choose a new benchmark id, or give the same inputs to resume it`, { flag: '--benchmark-id' });
    }
  }
  try {
    return await client.workflow.start<typeof benchmarkWorkflow>(WORKFLOW_TYPES.benchmark, {
      taskQueue: ORCHESTRATOR_TASK_QUEUE,
      workflowId: req.benchmarkId,
      args: [req],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new InputError(`benchmark "${req.benchmarkId}" is already running: watch it with \`gcsfuse-bench watch ${req.benchmarkId}\``, { flag: '--benchmark-id' });
    }
    throw err;
  }
}

export interface LiveProgress {
  progress: BenchmarkProgress;
  /** Live progress of each running child, by workflow id. */
  live: Map<string, VmProgress>;
}

export async function liveProgress(client: Client, benchmarkId: string): Promise<LiveProgress> {
  const progress = await client.workflow.getHandle(benchmarkId).query(progressQuery);
  const live = new Map<string, VmProgress>();
  await Promise.all(
    progress.runs
      .filter((r) => r.status === 'running')
      .map(async (r) => {
        try {
          live.set(r.workflowId, await client.workflow.getHandle(r.workflowId).query(vmProgressQuery));
        } catch {
          // The child may not have started its first task yet.
        }
      }),
  );
  return { progress, live };
}

export async function retryVm(client: Client, benchmarkId: string, vm: string, onto?: string): Promise<RetryVmResult> {
  return client.workflow.getHandle(benchmarkId).executeUpdate(retryVmUpdate, { args: [{ vm, onto }] });
}

export async function readReport(artifacts: string, benchmarkId: string): Promise<EntryReport[] | undefined> {
  return getJson<EntryReport[]>(openArtifactStore(artifacts), layout.report(benchmarkId, 'results.json'));
}

/** Waits for the result, calling onTick with progress about once a second. */
export async function watchBenchmark(
  client: Client,
  benchmarkId: string,
  onTick: (p: LiveProgress) => void,
  intervalMs = 1_000,
): Promise<BenchmarkResult> {
  const handle = client.workflow.getHandle<typeof benchmarkWorkflow>(benchmarkId);
  const result = handle.result();
  let done = false;
  void result.finally(() => (done = true)).catch(() => {});
  while (!done) {
    try {
      onTick(await liveProgress(client, benchmarkId));
    } catch {
      // Queries fail briefly while the workflow has no worker or just completed.
    }
    await Promise.race([result.catch(() => {}), new Promise((r) => setTimeout(r, intervalMs))]);
  }
  return result;
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
