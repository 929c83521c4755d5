import { ActivityFailure, ApplicationFailure, CancelledFailure, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { ActivityCancellationType, isCancellation, log, proxyActivities, setHandler } from '@temporalio/workflow';
import type { AgentActivities } from '../../vm-agent/src/activities';
import { agentTaskQueue, FAILURE_TYPES } from '../shared/names';
import { vmProgressQuery } from './definitions';
import type { EntryOutcome, FailureKind, VmProgress, VmWorkflowInput } from './types';

/** Time an agent needs around fio: mounting, uploading, unmounting. */
const PER_ITERATION_OVERHEAD_MS = 2 * 60_000;

/**
 * One VM's share: its entries run one at a time on that VM's agent. A failed entry is
 * recorded and the next one runs; an agent that never picks up work fails the rest at once.
 */
export async function vmWorkflow(input: VmWorkflowInput): Promise<EntryOutcome[]> {
  const agent = proxyActivities<AgentActivities>({
    taskQueue: agentTaskQueue(input.vm),
    scheduleToStartTimeout: input.agentPickupMs,
    startToCloseTimeout: input.iterations * (input.fioIterationMs + PER_ITERATION_OVERHEAD_MS),
    heartbeatTimeout: input.agentHeartbeatMs,
    retry: {
      initialInterval: '2s',
      // One retry: an agent that crashed and came back resumes the entry (stored iterations are kept).
      maximumAttempts: 2,
      nonRetryableErrorTypes: [FAILURE_TYPES.input, FAILURE_TYPES.fio, FAILURE_TYPES.conflict],
    },
    // Wait for the agent to stop fio and unmount before the cancellation completes.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });

  const progress: VmProgress = { vm: input.vm, total: input.entries.length, passed: 0, failed: 0, runningMatrixId: null, outcomes: [] };
  setHandler(vmProgressQuery, () => progress);

  let agentGone: string | undefined;
  for (const ref of input.entries) {
    let outcome: EntryOutcome;
    if (agentGone) {
      outcome = failed(ref.matrixId, input.vm, agentGone, 'agent-unavailable');
    } else {
      progress.runningMatrixId = ref.matrixId;
      try {
        outcome = await agent.runEntry({ benchmarkId: input.benchmarkId, matrixId: ref.matrixId, specVm: ref.specVm });
      } catch (err) {
        if (isCancellation(err)) throw err;
        const message = describeFailure(err);
        const kind = failureKind(err);
        if (isPickupTimeout(err)) agentGone = `the agent of VM ${input.vm} did not pick up work within ${input.agentPickupMs} ms`;
        log.warn('entry failed', { vm: input.vm, matrixId: ref.matrixId, error: message, kind });
        outcome = failed(ref.matrixId, input.vm, agentGone ?? message, kind);
      }
    }
    progress.outcomes.push(outcome);
    if (outcome.status === 'passed') progress.passed++;
    else progress.failed++;
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

function isPickupTimeout(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;
}

/** The innermost message: an ActivityFailure says only "activity failed". */
function describeFailure(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof TimeoutFailure) return `timed out (${e.timeoutType ?? 'unknown'})`;
  if (e instanceof ApplicationFailure || e instanceof CancelledFailure || e instanceof Error) return e.message;
  return String(e);
}
