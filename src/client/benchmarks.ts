import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { openArtifactStore } from '../artifacts';
import { getJson } from '../artifacts/store';
import { InputError } from '../core/errors';
import { layout } from '../core/layout';
import type { EntryReport } from '../core/report';
import { prepareBenchmark, type BenchmarkRequest, type FleetSpec } from '../core/spec';
import { findInputConflict } from '../activities/distribute';
import proto from '@temporalio/proto';
import { FAILURE_TYPES, ORCHESTRATOR_TASK_QUEUE, SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from '../shared/names';
import { cloudEndpointsFromEnv, storageOptions } from '../shared/cloud';
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
    const conflict = await findInputConflict(openArtifactStore(artifacts, storageOptions(cloudEndpointsFromEnv())), req);
    if (conflict) {
      throw new InputError(`benchmark "${req.benchmarkId}" already exists with different inputs (${conflict} differs): choose a new benchmark id, or give the same inputs to resume it`, { flag: '--benchmark-id' });
    }
  }
  const searchable = await ensureSearchAttributes(client);
  const commits = req.configs ? [...new Set(prepareBenchmark(req).configs.map((c) => c.commit))] : [req.gcsfuseCommit];
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
        testCases: req.testCases.name,
        configs: req.configs?.name ?? `default (${req.gcsfuseCommit} ${req.gcsfuseMountArgs})`.trim(),
        jobFile: req.jobFile.name,
        iterations: req.iterations,
        fleet: fleetLabel(req.fleet),
        mount: req.mount.kind === 'gcsfuse' ? `gcsfuse gs://${req.mount.bucket}` : req.mount.kind,
      },
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new InputError(`benchmark "${req.benchmarkId}" is already running: watch it with \`gcsfuse-bench watch ${req.benchmarkId}\``, { flag: '--benchmark-id' });
    }
    throw err;
  }
}

export function fleetLabel(f: FleetSpec): string {
  switch (f.kind) {
    case 'static': {
      // A search attribute value is limited to 2 KB: name the VMs only while they fit.
      const all = f.vms.join(',');
      return all.length <= 2000 ? all : `static:${f.vms.length} VMs (${f.vms[0]}..${f.vms[f.vms.length - 1]})`;
    }
    case 'instance-group':
      return `mig:${f.project}/${f.zone ?? f.region}/${f.group}`;
    case 'vm':
      return `vm:${f.project}/${f.zone}/${f.name}`;
  }
}

// @temporalio/proto is CommonJS: Node's ESM loader sees only its default export.
const { IndexedValueType } = proto.temporal.api.enums.v1;
const INDEXED_TYPE = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
} as const;

/**
 * Registers our search attributes in the namespace when missing. Returns false where
 * that is not allowed (e.g. a Cloud namespace without admin rights): runs then start without them.
 */
export async function ensureSearchAttributes(client: Client): Promise<boolean> {
  const namespace = client.options.namespace;
  try {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.values(SEARCH_ATTRIBUTES).filter((k) => !(k.name in (customAttributes ?? {})));
    if (missing.length === 0) return true;
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED_TYPE[k.type as keyof typeof INDEXED_TYPE]])),
    });
    return true;
  } catch (err) {
    console.error(`warning: search attributes are not registered (${(err as Error).message}); runs won't be searchable by benchmark id`);
    return false;
  }
}

export interface LiveProgress {
  progress: BenchmarkProgress;
  /** Live progress of each running child, by workflow id. */
  live: Map<string, VmProgress>;
}

/** The parent's progress, plus each running child's live counts (`all`: finished children's too). */
export async function liveProgress(client: Client, benchmarkId: string, all = false): Promise<LiveProgress> {
  const progress = await client.workflow.getHandle(benchmarkId).query(progressQuery);
  const live = new Map<string, VmProgress>();
  await Promise.all(
    progress.runs
      .filter((r) => all || r.status === 'running')
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
  return getJson<EntryReport[]>(openArtifactStore(artifacts, storageOptions(cloudEndpointsFromEnv())), layout.report(benchmarkId, 'results.json'));
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
