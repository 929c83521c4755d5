import { ActivityFailure, ApplicationFailure, CancelledFailure, TimeoutFailure, TimeoutType } from '@temporalio/common';
import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { AgentActivities } from '../../vm-agent/src/activities';
import { agentTaskQueue, FAILURE_TYPES } from '../shared/names';
import { entryStartedSignal, vmProgressQuery } from './definitions';
import type { EntryOutcome, EntryRef, FailureKind, VmProgress, VmWorkflowInput } from './types';

/** Time an agent needs around fio: mounting, uploading, unmounting. */
const PER_ITERATION_OVERHEAD_MS = 2 * 60_000;
/** Tries of an entry whose agent was lost or hit a passing error (a restarted agent resumes it). */
const ENTRY_TRIES = 2;

interface Dispatch {
  ref: EntryRef;
  token: number;
  scope: CancellationScope;
  promise: Promise<EntryOutcome>;
  settled: boolean;
}

/**
 * One VM's share: its entries run one at a time on that VM's agent. While one runs, the next
 * is already queued on the agent's task queue, so the agent starts it the moment the first
 * ends instead of waiting for a workflow round trip. Whether the agent picks work up is
 * timed here (from the moment it should be free), not by schedule-to-start, which would
 * count the time the queued entry waits behind the running one.
 *
 * A failed entry is recorded and the next one runs; a lost agent fails the rest at once,
 * for the parent to re-route.
 */
export async function vmWorkflow(input: VmWorkflowInput): Promise<EntryOutcome[]> {
  const entryBoundMs = input.iterations * (input.fioIterationMs + PER_ITERATION_OVERHEAD_MS);
  const agent = proxyActivities<AgentActivities>({
    taskQueue: agentTaskQueue(input.vm),
    // A backstop only: the pickup timer below detects a missing agent much sooner.
    scheduleToStartTimeout: entryBoundMs + input.agentPickupMs,
    startToCloseTimeout: entryBoundMs,
    heartbeatTimeout: input.agentHeartbeatMs,
    // Tries are decided here, where the pickup timer is: a server-side retry could queue behind the prefetched entry.
    retry: { maximumAttempts: 1 },
    // Wait for the agent to stop fio and unmount before the cancellation completes.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });

  const progress: VmProgress = { vm: input.vm, total: input.entries.length, passed: 0, failed: 0, runningMatrixId: null, outcomes: [] };
  setHandler(vmProgressQuery, () => progress);
  const started = new Set<number>();
  setHandler(entryStartedSignal, (token) => void started.add(token));

  let tokens = 0;
  const dispatch = (ref: EntryRef): Dispatch => {
    const token = ++tokens;
    const scope = new CancellationScope();
    const d: Dispatch = { ref, token, scope, settled: false, promise: Promise.resolve(undefined as never) };
    d.promise = scope.run(() =>
      agent.runEntry({ benchmarkId: input.benchmarkId, matrixId: ref.matrixId, specVm: ref.specVm, startedSignal: { workflowId: workflowInfo().workflowId, token } }),
    );
    d.promise.then(
      () => (d.settled = true),
      () => (d.settled = true),
    );
    return d;
  };
  const withdraw = async (d: Dispatch | undefined): Promise<void> => {
    if (!d) return;
    d.scope.cancel();
    await d.promise.catch(() => undefined);
  };
  const record = (o: EntryOutcome): void => {
    progress.outcomes.push(o);
    if (o.status === 'passed') progress.passed++;
    else progress.failed++;
  };

  const queue = [...input.entries];
  const tries = new Map<number, number>();
  let current = queue.length ? dispatch(queue.shift()!) : undefined;
  while (current) {
    const d: Dispatch = current;
    progress.runningMatrixId = d.ref.matrixId;
    // The agent is free now (the previous entry ended, or this is the first): it must start this one soon.
    if (!(await condition(() => started.has(d.token) || d.settled, input.agentPickupMs))) {
      await withdraw(d);
      const why = `the agent of VM ${input.vm} did not pick up work within ${input.agentPickupMs} ms`;
      for (const ref of [d.ref, ...queue.splice(0)]) record(failed(ref.matrixId, input.vm, why, 'agent-unavailable'));
      break;
    }
    const next = queue.length ? dispatch(queue.shift()!) : undefined;
    try {
      record(await d.promise);
    } catch (err) {
      if (isCancellation(err)) {
        await withdraw(next);
        throw err;
      }
      const kind = failureKind(err);
      const message = describeFailure(err);
      const tried = (tries.get(d.ref.matrixId) ?? 0) + 1;
      tries.set(d.ref.matrixId, tried);
      log.warn('entry failed', { vm: input.vm, matrixId: d.ref.matrixId, error: message, kind, tried });
      if ((kind === 'agent-unavailable' || kind === 'other') && tried < ENTRY_TRIES) {
        // Again, after the entry already queued: if the agent is really gone, that one's pickup timer says so.
        queue.unshift(d.ref);
      } else {
        record(failed(d.ref.matrixId, input.vm, message, kind));
      }
    }
    current = next ?? (queue.length ? dispatch(queue.shift()!) : undefined);
  }
  progress.runningMatrixId = null;
  return progress.outcomes;
}

function failed(matrixId: number, vm: string, error: string, failure: FailureKind): EntryOutcome {
  return { matrixId, vm, status: 'failed', iterationsDone: 0, durationMs: 0, reused: false, error, failure };
}

/** An agent that stops heartbeating or never picks up work is lost; anything else failed on its own. */
function failureKind(err: unknown): FailureKind {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (cause instanceof TimeoutFailure) {
    return cause.timeoutType === TimeoutType.SCHEDULE_TO_START || cause.timeoutType === TimeoutType.HEARTBEAT ? 'agent-unavailable' : 'other';
  }
  if (cause instanceof ApplicationFailure) {
    if (cause.type === FAILURE_TYPES.fio) return 'fio';
    if (cause.type === FAILURE_TYPES.input || cause.type === FAILURE_TYPES.conflict) return 'input';
  }
  return 'other';
}

/** The innermost message: an ActivityFailure says only "activity failed". */
function describeFailure(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof TimeoutFailure) return `timed out (${e.timeoutType ?? 'unknown'})`;
  if (e instanceof ApplicationFailure || e instanceof CancelledFailure || e instanceof Error) return e.message;
  return String(e);
}
