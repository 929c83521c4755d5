import {
  ApplicationFailure,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { OrchestratorActivities } from '../activities';
import { sharePages } from '../core/share-pages';
import type { BenchmarkRequest } from '../core/spec';
import { FAILURE_TYPES, SEARCH_ATTRIBUTES, vmGroupWorkflowId, vmWorkflowId } from '../shared/names';
import { entryOutcomeSignal, entryOutcomesSignal, groupOutcomesSignal, progressQuery, retryVmSignal, retryVmUpdate } from './definitions';
import { BenchmarkState, RUNNING_PHASES } from './benchmark-state';
import { benchmarkDetails, describeRetry, formatSeconds, timedOutReason, vmRunDetails, vmRunSummary } from './details';
import {
  DIRECT_RUNS_MAX,
  flatVmReports,
  GROUP_REPORTS,
  GROUP_START_CONCURRENCY,
  groupVms,
  VM_REPORTS_PER_RUN,
  VM_RUN_EVENTS,
} from './fanout';
import type {
  BenchmarkPhase,
  BenchmarkResult,
  EntryOutcome,
  EntryOutcomeReport,
  EntryOutcomesReport,
  EntryRef,
  GroupOutcomesReport,
  RetryVmRequest,
  RetryVmResult,
  VmGroupInput,
} from './types';
import { vmWorkflow } from './vm';
import { vmGroupWorkflow } from './vm-group';

const orchestrator = proxyActivities<OrchestratorActivities>({
  startToCloseTimeout: '30 minutes',
  // The activities heartbeat while they work, so a killed orchestrator worker is noticed in seconds.
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '1s',
    maximumAttempts: 10,
    maximumInterval: '30s',
    nonRetryableErrorTypes: [FAILURE_TYPES.input, FAILURE_TYPES.conflict],
  },
});

/** Phases in which the whole-run deadline cancels the work (later, the report is seconds away and is written in full). */
const DEADLINE_CANCELS: readonly BenchmarkPhase[] = ['resolving-fleet', 'distributing', 'running'];
/** Patch id of the whole-run deadline timer: runs started before it existed replay without it. */
const DEADLINE_PATCH = 'whole-run-deadline';
/** Patch id of the fan-out through group workflows (large fleets): runs started before it replay flat. */
const GROUPS_PATCH = 'vm-groups';
/** What the Web UI lists for the retryVm signal and update (the workflow metadata query). */
const RETRY_DESCRIPTION = 'Re-run a VM\'s failed entries: {"vm": "<VM>"}, or {"vm": "<VM>", "onto": "<other VM>"}';

/**
 * One benchmark, id = benchmark id: distribute -> one child per VM -> await -> aggregate
 * -> report. Only references and small outcomes pass through here; the fio outputs
 * stay in the artifact store.
 *
 * Each VM has a queue of entries and runs at most one child at a time (its agent runs one
 * entry at a time, and an entry queued behind another would look like a lost agent).
 * Retries and re-routed entries join the queue of the VM that will run them.
 *
 * Children report each entry's outcome as it ends, so counts move per entry. Cancelled (or
 * failed), the benchmark cancels its children, waits until their agents stopped fio, and
 * writes a partial report of the entries that finished before it ends. When the whole-run
 * deadline (runTimeoutMs) passes, it does the same and returns a result marked incomplete.
 */
export async function benchmarkWorkflow(req: BenchmarkRequest): Promise<BenchmarkResult> {
  const state: BenchmarkState = new BenchmarkState({
    benchmarkId: req.benchmarkId,
    runWorkflowId: (vm, n) => vmWorkflowId(req.benchmarkId, vm, n),
    rerouteOnAgentLoss: Boolean(req.rerouteOnAgentLoss),
    routeByTemplate: Boolean(req.routing),
    runTimeoutMs: req.runTimeoutMs,
    // Synchronous up to the child's start, as the history's command order requires.
    startVm: (vm) => void drain(vm),
  });
  const progress = state.progress;
  /** Scopes of the running children, cancelled (and awaited) when the benchmark ends early. */
  const childScopes = new Set<CancellationScope>();
  /** Children that failed outright (not an entry: the run itself). */
  const childFailures: unknown[] = [];
  let aggregationStarted = false;

  const hasSearchAttributes = workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTES.benchmarkId) !== undefined;
  let statusWanted = '';
  let statusSent: string | undefined;
  const sendStatus = (): void => {
    // Only when the run was started with our search attributes, i.e. they are registered.
    if (!hasSearchAttributes || statusWanted === statusSent) return;
    statusSent = statusWanted;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: statusWanted }]);
  };
  let lastPhase: BenchmarkPhase | undefined;
  /** Current details only: not a command, so it may run anywhere without changing the history. */
  const showDetails = (): void => setCurrentDetails(benchmarkDetails(state.snapshot(), state.fleet.length));
  const refresh = (): void => {
    const counts = `${progress.passed} passed, ${progress.failed} failed of ${progress.totalEntries}`;
    showDetails();
    // "running: 3 passed, 0 failed of 10" while VMs run (STARTS_WITH "running" finds them); the bare phase otherwise.
    statusWanted = RUNNING_PHASES.includes(progress.phase) ? `${progress.phase}: ${counts}` : progress.phase;
    if (progress.phase !== lastPhase) {
      lastPhase = progress.phase;
      sendStatus();
    }
  };
  // Counts change in signal handlers: one upsert per workflow task, however many outcomes it brought.
  void CancellationScope.nonCancellable(async () => {
    for (;;) {
      await condition(() => statusWanted !== statusSent && hasSearchAttributes);
      sendStatus();
    }
  });

  setHandler(progressQuery, () => state.snapshot());
  setHandler(
    entryOutcomeSignal,
    ({ workflowId, outcome }: EntryOutcomeReport) => {
      state.applyOutcome(workflowId, outcome);
      refresh();
    },
    { description: "Internal: a VM run reports an entry's outcome (not for people to send)" },
  );
  const applyReport = ({ workflowId, outcomes }: EntryOutcomesReport): void => {
    for (const o of outcomes) state.applyOutcome(workflowId, o);
  };
  setHandler(
    entryOutcomesSignal,
    (r: EntryOutcomesReport) => {
      applyReport(r);
      refresh();
    },
    { description: "Internal: a VM run reports entries' outcomes (not for people to send)" },
  );
  setHandler(
    groupOutcomesSignal,
    ({ reports }: GroupOutcomesReport) => {
      for (const r of reports) applyReport(r);
      refresh();
    },
    { description: "Internal: a group of VMs relays its runs' outcomes (not for people to send)" },
  );

  /** What every VM run gets besides its VM and entries. */
  const vmRunOptions = (maxReports: number): VmGroupInput['vm'] => ({
    benchmarkId: req.benchmarkId,
    // With a stability gate an entry may run up to its maximum: size the timeouts for that.
    iterations: Math.max(req.iterations, req.stability?.maxIterations ?? 0),
    fioIterationMs: req.timeouts.fioIterationMs,
    agentPickupMs: req.timeouts.agentPickupMs,
    agentHeartbeatMs: req.timeouts.agentHeartbeatMs,
    maxReports,
    continueAfterEvents: req.fanout?.vmRunEvents ?? VM_RUN_EVENTS,
  });
  /** VM runs this workflow started itself and that have not ended (the pending-children limit). */
  let directRuns = 0;

  /** Runs a batch on a VM; throws only when the child run itself fails or is cancelled. */
  const runOnVm = async (vm: string, entries: EntryRef[]): Promise<EntryOutcome[]> => {
    // Only a large fleet gets here (re-routing, retries): small ones start at once, as their histories did before.
    if (directRuns >= DIRECT_RUNS_MAX) await condition(() => directRuns < DIRECT_RUNS_MAX);
    directRuns++;
    const { workflowId, n, state: run } = state.startRun(vm, entries);
    const scope = new CancellationScope();
    childScopes.add(scope);
    try {
      const outcomes = await scope.run(() =>
        executeChild(vmWorkflow, {
          workflowId,
          staticSummary: vmRunSummary(req.benchmarkId, vm, n, entries.length),
          staticDetails: vmRunDetails(entries.map((e) => e.matrixId)),
          // Cancelled rather than terminated if this workflow ends: the agent must get to stop fio and unmount.
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          args: [{ ...vmRunOptions(flatVmReports(state.fleet.length)), vm, entries }],
        }),
      );
      // Signals said most of it already; the returned list is complete, including lost-agent outcomes.
      for (const o of outcomes) state.applyOutcome(workflowId, o);
      run.status = 'completed';
      return outcomes;
    } catch (err) {
      run.status = isCancellation(err) ? 'cancelled' : 'failed';
      throw err;
    } finally {
      childScopes.delete(scope);
      directRuns--;
    }
  };

  /**
   * A group of a large fleet's VMs runs their shares (their first runs); lost agents' entries
   * are re-routed here when it ends, and entries queued meanwhile on its VMs run then.
   */
  const runGroup = async (group: number, shares: readonly { vm: string; entries: EntryRef[] }[]): Promise<void> => {
    const runs = shares.map(({ vm, entries }) => ({ vm, entries, ...state.assign(vm, entries) }));
    const scope = new CancellationScope();
    childScopes.add(scope);
    try {
      const result = await scope.run(() =>
        executeChild(vmGroupWorkflow, {
          workflowId: vmGroupWorkflowId(req.benchmarkId, group),
          staticSummary: `${shares.length} VMs (${shares.at(0)?.vm}..${shares.at(-1)?.vm}) of benchmark ${req.benchmarkId}`,
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          args: [
            {
              benchmarkId: req.benchmarkId,
              runs: runs.map(({ vm, workflowId, entries }) => ({ vm, workflowId, matrixIds: entries.map((e) => e.matrixId) })),
              vm: vmRunOptions(VM_REPORTS_PER_RUN),
              startConcurrency: GROUP_START_CONCURRENCY,
              maxReports: GROUP_REPORTS,
            },
          ],
        }),
      );
      for (const r of result.runs) {
        // The batches said most of it already; the result is complete.
        const passed = r.passed.map((matrixId): EntryOutcome => ({
          matrixId,
          vm: r.vm,
          status: 'passed',
          iterationsDone: 0,
          durationMs: 0,
          reused: false,
        }));
        applyReport({ workflowId: r.workflowId, outcomes: [...passed, ...r.failed] });
        runs.find((run) => run.workflowId === r.workflowId)!.state.status = r.status;
      }
      for (const r of result.runs) {
        const unavailable = r.failed.filter((o) => o.failure === 'agent-unavailable');
        if (unavailable.length === 0) continue;
        const loss = state.agentLost(r.vm, unavailable);
        if (loss.rerouted) log.warn('agent lost: re-routing its entries', { vm: r.vm, entries: loss.entries, to: loss.to });
      }
    } catch (err) {
      for (const run of runs) if (run.state.status === 'running') run.state.status = isCancellation(err) ? 'cancelled' : 'failed';
      if (!isCancellation(err)) childFailures.push(err);
    } finally {
      childScopes.delete(scope);
      // The group's VMs are free: entries re-routed to them meanwhile run now (as direct runs).
      for (const { vm } of shares) {
        state.markIdle(vm);
        if (state.hasQueued(vm) && !state.deadlinePassed && childFailures.length === 0 && !CancellationScope.current().consideredCancelled)
          void drain(vm);
      }
      refresh();
    }
  };

  /** Runs a VM's queue until it is empty; never throws (a failed child is recorded, a cancelled one ends it). */
  async function drain(vm: string): Promise<void> {
    state.markBusy(vm);
    try {
      for (let batch = state.takeQueue(vm); batch.length > 0; batch = state.takeQueue(vm)) {
        let outcomes: EntryOutcome[];
        try {
          outcomes = await runOnVm(vm, batch);
        } catch (err) {
          if (!isCancellation(err)) childFailures.push(err);
          return;
        }
        const unavailable = outcomes.filter((o) => o.failure === 'agent-unavailable');
        if (unavailable.length > 0) {
          // Its lost entries and whatever else was queued for it go elsewhere (or fail when they cannot).
          const loss = state.agentLost(vm, unavailable);
          if (loss.rerouted) log.warn('agent lost: re-routing its entries', { vm, entries: loss.entries, to: loss.to });
        }
        refresh();
      }
    } finally {
      state.markIdle(vm);
      refresh();
    }
  }

  /** Queues a VM's failed entries again (the request passed retryRefusal). */
  const retry = (r: RetryVmRequest, via: 'signal' | 'update'): RetryVmResult => {
    const result = state.retry(r, via, new Date().toISOString());
    log.info('retrying a VM', { via, vm: r.vm, onto: result.onto, entries: result.retried });
    refresh();
    return result;
  };

  setHandler(retryVmUpdate, (r: RetryVmRequest) => retry(r, 'update'), {
    description: RETRY_DESCRIPTION,
    validator: (r: RetryVmRequest) => {
      const reason = state.retryRefusal(r);
      if (reason) throw new Error(reason);
    },
  });
  // Same semantics as the update; a signal has no answer, so a refusal is recorded where people look.
  setHandler(
    retryVmSignal,
    (r: RetryVmRequest) => {
      const reason = state.retryRefusal(r);
      if (!reason) {
        retry(r, 'signal');
        return;
      }
      log.warn(describeRetry(state.refuseRetry(r, reason, new Date().toISOString())), { request: r as unknown });
      refresh();
    },
    { description: `${RETRY_DESCRIPTION}. A refusal shows in the current details.` },
  );

  const aggregateAndReport = async (incompleteReason?: string) => {
    aggregationStarted = true;
    const summary = await orchestrator.aggregate({ benchmarkId: req.benchmarkId, owners: state.ownerTable() });
    if (!incompleteReason) {
      progress.phase = 'reporting';
      refresh();
    }
    const report = await orchestrator.report({ benchmarkId: req.benchmarkId, separateConfigs: req.separateConfigs, incompleteReason });
    progress.report = { keys: report.keys, complete: report.complete, urls: report.urls };
    return { summary, report };
  };

  /** Cancelled, timed out or failed: stop the children, wait for their agents, report what finished. */
  const windDown = async (err: unknown, timedOut: boolean): Promise<void> => {
    const cancelled = isCancellation(err);
    if (cancelled) {
      progress.phase = 'cancelling';
      if (timedOut) progress.incompleteReason = timedOutReason(req.runTimeoutMs!);
      refresh();
    }
    for (const scope of childScopes) scope.cancel();
    await condition(() => !state.anyBusy);
    // A report that failed once would fail again; without a distribution there is nothing to report.
    if (!aggregationStarted && state.hasEntries) {
      try {
        await aggregateAndReport(timedOut ? progress.incompleteReason : cancelled ? 'cancelled' : `failed: ${(err as Error).message}`);
      } catch (e) {
        log.warn('the partial report failed', { error: (e as Error).message });
      }
    }
    progress.phase = timedOut ? 'timed-out' : cancelled ? 'cancelled' : 'failed';
    if (!timedOut && !progress.incompleteReason) progress.incompleteReason = cancelled ? 'cancelled' : `failed: ${(err as Error).message}`;
    refresh();
  };

  const runToEnd = async (): Promise<BenchmarkResult> => {
    const fleetVms = await orchestrator.resolveFleet(req.fleet);
    state.setResolvedFleet(fleetVms);
    progress.phase = 'distributing';
    refresh();
    const distribution = await orchestrator.distribute(req, fleetVms);
    state.setFleet(distribution.vms.map((v) => v.vm));
    progress.totalEntries = distribution.totalEntries;
    progress.phase = 'running';
    if (distribution.resumed) log.info('resuming a benchmark whose inputs were written before', { benchmarkId: req.benchmarkId });
    // A large benchmark's entry ids come in pages, each under the payload limit (core/share-pages.ts).
    const idsByVm = new Map<string, number[]>();
    for (const share of distribution.vms) if (share.matrixIds) idsByVm.set(share.vm, share.matrixIds);
    for (const page of sharePages(
      distribution.vms.filter((s) => !s.matrixIds),
      req.fanout?.sharePageEntries,
    )) {
      for (const [vm, ids] of Object.entries(await orchestrator.shares({ benchmarkId: req.benchmarkId, vms: page }))) idsByVm.set(vm, ids);
    }
    const shares = distribution.vms.map((share) => ({
      vm: share.vm,
      entries: (idsByVm.get(share.vm) ?? []).map((matrixId) => ({ matrixId, specVm: share.vm })),
    }));
    // A VM with nothing to run gets no run in a group (a flat benchmark never starts one either).
    const groups = groupVms(
      shares.filter((s) => s.entries.length > 0).map((s) => s.vm),
      req.fanout,
    );
    if (groups.length > 0 && patched(GROUPS_PATCH)) {
      // A large fleet: a few dozen VMs per group workflow, so no history grows with the fleet.
      const byVm = new Map(shares.map((s) => [s.vm, s]));
      groups.forEach(
        (vms, g) =>
          void runGroup(
            g,
            vms.map((vm) => byVm.get(vm)!),
          ),
      );
    } else {
      for (const share of shares) state.enqueue(share.vm, share.entries);
    }
    refresh();

    // Wait for every queue to drain, including retries requested meanwhile.
    for (;;) {
      await condition(() => !state.anyBusy);
      if (childFailures.length > 0) throw childFailures[0];
      if (!state.anyFailed || req.retryWindowMs <= 0) break;
      progress.phase = 'awaiting-retry';
      refresh();
      // A retry-vm request makes a VM busy; with none before the window (or the run's deadline) closes, report what we have.
      if (!(await condition(() => state.anyBusy || state.deadlinePassed, req.retryWindowMs)) || state.deadlinePassed) break;
    }

    progress.phase = 'aggregating';
    refresh();
    // Seconds of work once every entry is done: a cancel now lets the full report be written first.
    const { summary, report } = await CancellationScope.nonCancellable(() => aggregateAndReport());
    // Rows for dashboards; a failed upload is reported, but the results and reports stand.
    let exported: { rows?: number; error?: string };
    try {
      exported = { rows: (await orchestrator.exportResults({ benchmarkId: req.benchmarkId, bigquery: req.bigquery })).rows };
    } catch (err) {
      if (isCancellation(err)) throw err;
      exported = { error: (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message };
      log.warn('export failed', { error: exported.error });
    }
    if (summary.entries !== progress.totalEntries) {
      throw ApplicationFailure.nonRetryable(`aggregated ${summary.entries} entries of ${progress.totalEntries}`);
    }
    progress.phase = 'done';
    refresh();
    return {
      benchmarkId: req.benchmarkId,
      totalEntries: progress.totalEntries,
      passed: summary.passed,
      failed: summary.failed,
      reportKeys: report.keys,
      complete: report.complete,
      ...(exported.rows !== undefined ? { exportedRows: exported.rows } : {}),
      ...(exported.error ? { exportError: exported.error } : {}),
    };
  };

  // The run's own scope: the whole-run deadline cancels it as a user's cancel would (which reaches it through the root).
  const work = new CancellationScope();
  if (req.runTimeoutMs !== undefined && patched(DEADLINE_PATCH)) {
    const runTimeoutMs = req.runTimeoutMs;
    progress.deadline = new Date(Date.now() + runTimeoutMs).toISOString();
    // A durable timer: it survives worker and server restarts like the rest of the run.
    void CancellationScope.nonCancellable(async () => {
      await sleep(runTimeoutMs, { summary: `whole-run deadline (${formatSeconds(runTimeoutMs)})` });
      if (DEADLINE_CANCELS.includes(progress.phase)) {
        state.deadlinePassed = true;
        log.warn('the whole-run deadline passed: cancelling the VM runs', { runTimeoutMs });
        work.cancel();
      } else if (progress.phase === 'awaiting-retry') {
        // Every entry has its outcome: the retry window just closes now, and the report is complete.
        state.deadlinePassed = true;
        log.warn('the whole-run deadline passed: closing the retry window', { runTimeoutMs });
      }
    });
  }
  showDetails();

  try {
    return await work.run(runToEnd);
  } catch (err) {
    // A user's cancel reaches the root scope too; only the deadline alone makes this a timed-out run.
    const timedOut = state.deadlinePassed && isCancellation(err) && !CancellationScope.current().consideredCancelled;
    // Not cancellable: the children's cancellation must reach the agents, and the partial report be written.
    await CancellationScope.nonCancellable(() => windDown(err, timedOut));
    if (!timedOut) throw err;
    return {
      benchmarkId: req.benchmarkId,
      totalEntries: progress.totalEntries,
      passed: progress.passed,
      failed: progress.failed,
      reportKeys: progress.report?.keys ?? [],
      complete: false,
      incompleteReason: progress.incompleteReason,
      timedOut: true,
    };
  }
}
