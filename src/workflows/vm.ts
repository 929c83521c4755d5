import { ActivityFailure, ApplicationFailure, CancelledFailure, TimeoutFailure, TimeoutType } from '@temporalio/common';
import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { AgentActivities } from '../shared/agent-contract';
import type { OrchestratorActivities } from '../activities';
import { agentTaskQueue, FAILURE_TYPES } from '../shared/names';
import { entryOutcomeSignal, entryOutcomesSignal, entryStartedSignal, vmProgressQuery } from './definitions';
import { vmDetails } from './details';
import { batchDue } from './fanout';
import type { EntryOutcome, EntryRef, FailureKind, VmProgress, VmWorkflowInput } from './types';

/** Time an agent needs around fio: mounting, uploading, unmounting. */
const PER_ITERATION_OVERHEAD_MS = 2 * 60_000;
/** Tries of an entry that hit a passing error. */
const ENTRY_TRIES = 2;
/** Tries of an entry whose agent died running it but came back (restarted): more than that, the entry is the problem. */
const ENTRY_TRIES_AGENT_RESTARTED = 3;
/** Pickup windows to give an agent that polls for work yet does not start the entry queued for it. */
const PICKUP_WINDOWS_WHILE_POLLING = 3;
/**
 * How long an agent that stopped heartbeating and has not polled since gets to take work before
 * it counts as lost. A dead agent never will; one whose connection to Temporal broke (a server
 * outage, a partition) notices at its next heartbeat (every few seconds), stops fio and polls.
 */
const SILENT_AGENT_GRACE_MS = 10_000;

/** Asking Temporal who polls a task queue takes milliseconds; a worker that is down fails over quickly. */
const presence = proxyActivities<Pick<OrchestratorActivities, 'agentLastPoll'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
});

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
 * Each entry's outcome goes to the parent as it happens (entryOutcomeSignal), or in at most
 * `maxReports` batches (entryOutcomesSignal) when the parent asks, so that its history does not
 * grow with the entries. With `continueAfterEvents`, the run continues as new at the first entry
 * boundary past that many history events, carrying the queue and the outcomes. A failed entry
 * is recorded and the next one runs. When the agent stops heartbeating or does not pick up
 * work, Temporal is asked whether it polled since: no -> lost at once, the rest fails for the
 * parent to re-route; yes -> it was restarted, and the entry runs there again.
 * Cancelled, it waits for the agent to stop fio before it ends.
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

  const carried = input.carried;
  const progress: VmProgress = {
    vm: input.vm,
    total: carried?.total ?? input.entries.length,
    passed: carried?.outcomes.filter((o) => o.status === 'passed').length ?? 0,
    failed: carried?.outcomes.filter((o) => o.status !== 'passed').length ?? 0,
    runningMatrixId: null,
    iterations: input.iterations,
    outcomes: [...(carried?.outcomes ?? [])],
  };
  setHandler(vmProgressQuery, () => progress);
  // The Web UI's current details; not a command, so histories replay unchanged.
  const showDetails = (): void => setCurrentDetails(vmDetails(progress));
  showDetails();
  /** Workflow time (server clock) at which the agent was seen starting each dispatch. */
  const startedAt = new Map<number, number>();
  setHandler(entryStartedSignal, (token) => void startedAt.set(token, Date.now()));

  const { workflowId, parent } = workflowInfo();
  const parentHandle = parent ? getExternalWorkflowHandle(parent.workflowId, parent.runId) : undefined;
  const reports: Promise<void>[] = [];
  /** Outcomes not yet sent (batched reports only) and the batches sent so far, over all runs of this VM's share. */
  const unsent: EntryOutcome[] = [...(carried?.unsent ?? [])];
  let batchesSent = carried?.batchesSent ?? 0;
  const send = (report: () => Promise<void>, what: string): void => {
    // Not cancellable: an outcome the agent finished must reach the parent even while this run is cancelled.
    const sent = CancellationScope.nonCancellable(report);
    reports.push(sent.catch((err: Error) => log.warn('could not report outcomes to the parent', { what, error: err.message })));
  };

  // Tokens go on across continue-as-new: an agent's started signal names the dispatch, whichever run sent it.
  let tokens = carried?.tokens ?? 0;
  const pending = new Set<Dispatch>();
  const dispatch = (ref: EntryRef): Dispatch => {
    const token = ++tokens;
    const scope = new CancellationScope();
    const d: Dispatch = { ref, token, scope, settled: false, promise: Promise.resolve(undefined as never) };
    d.promise = scope.run(() =>
      agent.runEntry({ benchmarkId: input.benchmarkId, matrixId: ref.matrixId, specVm: ref.specVm, startedSignal: { workflowId, token } }),
    );
    pending.add(d);
    const settle = () => {
      d.settled = true;
      pending.delete(d);
    };
    d.promise.then(settle, settle);
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
    showDetails();
    // A lost agent's entries are the parent's to re-route when this run ends; every other outcome stands now.
    if (!parentHandle || o.failure === 'agent-unavailable') return;
    if (input.maxReports === undefined) {
      send(() => parentHandle.signal(entryOutcomeSignal, { workflowId, outcome: o }), `entry ${o.matrixId}`);
      return;
    }
    unsent.push(o);
    if (!batchDue(unsent.length, progress.total, batchesSent, input.maxReports)) return;
    const outcomes = unsent.splice(0);
    batchesSent++;
    send(() => parentHandle.signal(entryOutcomesSignal, { workflowId, outcomes }), `${outcomes.length} entries`);
  };
  /** Did the agent poll for work after `sinceMs` (workflow time)? undefined when that cannot be known. */
  const polledSince = async (sinceMs: number): Promise<boolean | undefined> => {
    try {
      const r = await presence.agentLastPoll(input.vm);
      if (!r.known) return undefined;
      log.info('agent presence', { vm: input.vm, lastPollMs: r.lastPollMs, sinceMs });
      return r.lastPollMs !== null && r.lastPollMs > sinceMs;
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('could not ask Temporal about the agent', { vm: input.vm, error: (err as Error).message });
      return undefined;
    }
  };
  const loseAgent = (refs: EntryRef[], why: string): void => {
    for (const ref of refs) record(failed(ref.matrixId, input.vm, why, 'agent-unavailable'));
  };

  const queue = [...input.entries];
  const tries = new Map<number, number>(carried?.tries ?? []);
  /** Set when the agent went silent without polling since: the next pickup decides quickly whether it is gone. */
  let graceMs: number | undefined = carried?.graceMs;
  /** Past the event budget: queue nothing more behind the running entry, and continue as new once it ends. */
  const historyFull = (): boolean => input.continueAfterEvents !== undefined && workflowInfo().historyLength >= input.continueAfterEvents;
  try {
    let current = queue.length ? dispatch(queue.shift()!) : undefined;
    while (current) {
      const d: Dispatch = current;
      progress.runningMatrixId = d.ref.matrixId;
      showDetails();
      // The agent is free now (the previous entry ended, or this is the first): it must start this one soon.
      const freeSinceMs = Date.now();
      let pickedUp = false;
      for (let window = 1; !pickedUp; window++) {
        const windowMs = window === 1 && graceMs !== undefined ? graceMs : input.agentPickupMs;
        pickedUp = await condition(() => startedAt.has(d.token) || d.settled, windowMs);
        // An agent that polls is there (e.g. just restarted): give it more time, within limits.
        if (pickedUp || window >= PICKUP_WINDOWS_WHILE_POLLING || !(await polledSince(freeSinceMs))) break;
      }
      const waitedMs = Date.now() - freeSinceMs;
      graceMs = undefined;
      if (!pickedUp) {
        await withdraw(d);
        loseAgent([d.ref, ...queue.splice(0)], `the agent of VM ${input.vm} did not pick up work within ${waitedMs} ms`);
        break;
      }
      const next = queue.length && !historyFull() ? dispatch(queue.shift()!) : undefined;
      try {
        record(await d.promise);
      } catch (err) {
        if (isCancellation(err)) throw err;
        const kind = failureKind(err);
        const message = describeFailure(err);
        const tried = (tries.get(d.ref.matrixId) ?? 0) + 1;
        tries.set(d.ref.matrixId, tried);
        log.warn('entry failed', { vm: input.vm, matrixId: d.ref.matrixId, error: message, kind, tried });
        if (kind === 'agent-unavailable') {
          // A running agent does not poll: a poll since this entry started means it was restarted
          // (never lost); none means it is gone, or has not noticed yet that Temporal was away.
          const restarted = await polledSince(startedAt.get(d.token) ?? freeSinceMs);
          // Unknown: the pickup timer of the entry that runs next decides, as without the check.
          if (restarted === false) graceMs = Math.min(SILENT_AGENT_GRACE_MS, input.agentPickupMs);
          if (tried < (restarted === undefined ? ENTRY_TRIES : ENTRY_TRIES_AGENT_RESTARTED)) {
            // Again, after the entry already queued (if any): that one's pickup says whether the agent is there.
            queue.unshift(d.ref);
          } else if (restarted === true) {
            // The agent keeps coming back but this entry kills it: the entry failed, the agent is not lost.
            record(failed(d.ref.matrixId, input.vm, `the agent died ${tried} times running this entry (last: ${message})`, 'other'));
          } else {
            record(failed(d.ref.matrixId, input.vm, message, kind));
          }
        } else if (kind === 'other' && tried < ENTRY_TRIES) {
          queue.unshift(d.ref);
        } else {
          record(failed(d.ref.matrixId, input.vm, message, kind));
        }
      }
      if (!next && queue.length > 0 && historyFull()) {
        await Promise.all(reports);
        progress.runningMatrixId = null;
        // Nothing is in flight: the running entry settled and none was queued behind it past the budget.
        return await continueAsNew<typeof vmWorkflow>({
          ...input,
          entries: queue.splice(0),
          carried: { total: progress.total, outcomes: progress.outcomes, unsent, batchesSent, tokens, tries: [...tries], graceMs },
        });
      }
      current = next ?? (queue.length ? dispatch(queue.shift()!) : undefined);
    }
  } catch (err) {
    if (isCancellation(err)) {
      // Every dispatch's scope is cancelled with the workflow: wait until the agent stopped fio and unmounted.
      await CancellationScope.nonCancellable(async () => {
        await Promise.all([...pending].map((d) => d.promise.catch(() => undefined)));
        await Promise.all(reports);
      });
    }
    throw err;
  }
  progress.runningMatrixId = null;
  showDetails();
  await Promise.all(reports);
  return progress.outcomes;
}

function failed(matrixId: number, vm: string, error: string, failure: FailureKind): EntryOutcome {
  return { matrixId, vm, status: 'failed', iterationsDone: 0, durationMs: 0, reused: false, error, failure };
}

/** An agent that stops heartbeating or never picks up work is lost; anything else failed on its own. */
function failureKind(err: unknown): FailureKind {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (cause instanceof TimeoutFailure) {
    return cause.timeoutType === TimeoutType.SCHEDULE_TO_START || cause.timeoutType === TimeoutType.HEARTBEAT
      ? 'agent-unavailable'
      : 'other';
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
