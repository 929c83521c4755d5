import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  setCurrentDetails,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { entryOutcomesSignal, groupOutcomesSignal } from './definitions';
import { vmRunDetails, vmRunSummary } from './details';
import { batchDue } from './fanout';
import type { EntryOutcome, EntryOutcomesReport, VmGroupInput, VmGroupResult, VmGroupRunResult } from './types';
import { vmWorkflow } from './vm';

/** Longest failure message a group hands back per entry: its result must stay small however many entries failed. */
const MAX_ERROR_CHARS = 500;

/**
 * A few dozen VMs of a large fleet (see fanout.ts): starts their runs a few at a time, relays
 * their outcomes to the benchmark in at most `maxReports` batches, and returns, per run, the
 * passed entries' ids and the failed outcomes. It decides nothing: re-routing a lost agent's
 * entries and retries stay with the benchmark, which knows the whole fleet.
 * Cancelled, it cancels its runs and waits until their agents stopped fio.
 */
export async function vmGroupWorkflow(input: VmGroupInput): Promise<VmGroupResult> {
  const { parent } = workflowInfo();
  const parentHandle = parent ? getExternalWorkflowHandle(parent.workflowId, parent.runId) : undefined;
  const total = input.runs.reduce((n, r) => n + r.matrixIds.length, 0);
  const done = new Map<string, { passed: number; failed: number }>(input.runs.map((r) => [r.workflowId, { passed: 0, failed: 0 }]));
  let started = 0;
  let finished = 0;
  const showDetails = (): void => {
    let passed = 0;
    let failed = 0;
    for (const c of done.values()) {
      passed += c.passed;
      failed += c.failed;
    }
    setCurrentDetails(
      `**${finished === input.runs.length ? 'done' : 'running'}**: ${started} of ${input.runs.length} VM runs started, ${finished} ended; ${passed} passed, ${failed} failed of ${total} entries`,
    );
  };

  let unsent: EntryOutcomesReport[] = [];
  let unsentCount = 0;
  let batchesSent = 0;
  const relays: Promise<void>[] = [];
  const relay = (force: boolean): void => {
    if (!parentHandle || unsentCount === 0) return;
    if (!force && !batchDue(unsentCount, total, batchesSent, input.maxReports)) return;
    const reports = unsent;
    unsent = [];
    unsentCount = 0;
    batchesSent++;
    // Not cancellable: outcomes the agents finished must reach the benchmark even while this group is cancelled.
    const sent = CancellationScope.nonCancellable(() => parentHandle.signal(groupOutcomesSignal, { reports }));
    relays.push(sent.catch((err: Error) => log.warn('could not relay outcomes to the benchmark', { error: err.message })));
  };
  setHandler(
    entryOutcomesSignal,
    (r: EntryOutcomesReport) => {
      const counts = done.get(r.workflowId);
      if (!counts) return;
      for (const o of r.outcomes) counts[o.status === 'passed' ? 'passed' : 'failed']++;
      unsent.push(r);
      unsentCount += r.outcomes.length;
      relay(false);
      showDetails();
    },
    { description: "Internal: a VM run reports entries' outcomes (not for people to send)" },
  );
  showDetails();

  let starting = 0;
  const results: Promise<VmGroupRunResult>[] = [];
  try {
    for (const run of input.runs) {
      // A few starts at a time: the server starts children one by one, and a thousand asked at once queue behind each other.
      await condition(() => starting < input.startConcurrency);
      starting++;
      const handle = startChild(vmWorkflow, {
        workflowId: run.workflowId,
        staticSummary: vmRunSummary(input.benchmarkId, run.vm, 0, run.matrixIds.length),
        staticDetails: vmRunDetails(run.matrixIds),
        // Cancelled rather than terminated if this workflow ends: the agent must get to stop fio and unmount.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        args: [{ ...input.vm, vm: run.vm, entries: run.matrixIds.map((matrixId) => ({ matrixId, specVm: run.vm })) }],
      });
      void handle.then(
        () => {
          starting--;
          started++;
          showDetails();
        },
        () => starting--,
      );
      results.push(
        handle
          .then((h) => h.result())
          .then(
            (outcomes): VmGroupRunResult => compact(run.vm, run.workflowId, 'completed', outcomes),
            (err: unknown): VmGroupRunResult => ({
              ...compact(run.vm, run.workflowId, isCancellation(err) ? 'cancelled' : 'failed', []),
              error: (err as Error).message,
            }),
          )
          .finally(() => {
            finished++;
            showDetails();
          }),
      );
    }
    const runs = await Promise.all(results);
    return { runs };
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelling this group cancelled its runs: wait until their agents stopped fio and unmounted.
      await CancellationScope.nonCancellable(() => Promise.all(results));
    }
    throw err;
  } finally {
    // What the batches did not carry comes back in the result; relays already under way must land first.
    await CancellationScope.nonCancellable(() => Promise.all(relays));
  }
}

/** A run's result for the benchmark: passed ids and failed outcomes (errors shortened), so a group's result stays small. */
function compact(vm: string, workflowId: string, status: VmGroupRunResult['status'], outcomes: EntryOutcome[]): VmGroupRunResult {
  return {
    vm,
    workflowId,
    status,
    passed: outcomes.filter((o) => o.status === 'passed').map((o) => o.matrixId),
    failed: outcomes
      .filter((o) => o.status !== 'passed')
      .map((o) => (o.error && o.error.length > MAX_ERROR_CHARS ? { ...o, error: `${o.error.slice(0, MAX_ERROR_CHARS)}...` } : o)),
  };
}
