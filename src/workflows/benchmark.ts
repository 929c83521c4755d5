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
import type { EntryOwner } from '../activities/aggregate';
import { isSafeId } from '../core/ids';
import type { BenchmarkRequest } from '../core/spec';
import { FAILURE_TYPES, SEARCH_ATTRIBUTES, vmWorkflowId } from '../shared/names';
import { entryOutcomeSignal, progressQuery, retryVmSignal, retryVmUpdate } from './definitions';
import { benchmarkDetails, describeRetry, formatSeconds, timedOutReason, vmRunDetails, vmRunSummary } from './details';
import type {
  BenchmarkPhase,
  BenchmarkProgress,
  BenchmarkResult,
  EntryOutcome,
  EntryOutcomeReport,
  EntryRef,
  RetryRecord,
  RetryVmRequest,
  RetryVmResult,
  VmRunState,
} from './types';
import { vmWorkflow } from './vm';

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

interface Owner {
  specVm: string;
  /** The VM that ran it last; its results are the ones that count. */
  vm: string | null;
  status: EntryOwner['status'];
  /** The child run that runs it, or whose outcome stands. */
  run: string | null;
}

/** Phases in which the VMs may still run entries. */
const RUNNING_PHASES: readonly BenchmarkPhase[] = ['running', 'awaiting-retry'];
/** Phases in which the whole-run deadline cancels the work (later, the report is seconds away and is written in full). */
const DEADLINE_CANCELS: readonly BenchmarkPhase[] = ['resolving-fleet', 'distributing', 'running'];
/** Patch id of the whole-run deadline timer: runs started before it existed replay without it. */
const DEADLINE_PATCH = 'whole-run-deadline';
/** Fields a retryVm request may have (a signal's input is typed by hand in the Web UI or a shell). */
const RETRY_FIELDS: readonly string[] = ['vm', 'onto'];
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
  const progress: BenchmarkProgress = {
    benchmarkId: req.benchmarkId,
    phase: 'resolving-fleet',
    totalEntries: 0,
    passed: 0,
    failed: 0,
    runs: [],
    lostVms: [],
  };
  const owners = new Map<number, Owner>();
  const runs = new Map<string, VmRunState>();
  const queues = new Map<string, EntryRef[]>();
  const busy = new Set<string>();
  const runCount = new Map<string, number>();
  /** Scopes of the running children, cancelled (and awaited) when the benchmark ends early. */
  const childScopes = new Set<CancellationScope>();
  /** Children that failed outright (not an entry: the run itself). */
  const childFailures: unknown[] = [];
  /** VMs whose agent was lost: nothing more is routed to them unless a user asks for it. */
  const lost = new Set<string>();
  let fleet: string[] = [];
  const templates = new Map<string, string | undefined>();
  let aggregationStarted = false;

  // An entry counts once, in the run whose outcome stands; these keep the counts as owners change.
  const count = (o: Owner | undefined, delta: number): void => {
    if (!o || (o.status !== 'passed' && o.status !== 'failed')) return;
    progress[o.status] += delta;
    const run = o.run ? runs.get(o.run) : undefined;
    if (run) run[o.status] += delta;
  };
  const setOwner = (matrixId: number, next: Owner): void => {
    const prev = owners.get(matrixId);
    count(prev, -1);
    // An outcome of one run that another run takes over: that run re-runs it.
    if (prev?.run && prev.run !== next.run && (prev.status === 'passed' || prev.status === 'failed')) runs.get(prev.run)!.rerun++;
    owners.set(matrixId, next);
    count(next, +1);
  };
  const applyOutcome = (workflowId: string, o: EntryOutcome): void => {
    const owner = owners.get(o.matrixId);
    if (owner?.run !== workflowId) return; // not (or no longer) that run's entry
    setOwner(o.matrixId, { ...owner, vm: o.vm, status: o.status });
  };

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
  const showDetails = (): void => setCurrentDetails(benchmarkDetails({ ...progress, lostVms: [...lost] }, fleet.length));
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

  setHandler(progressQuery, () => ({ ...progress, lostVms: [...lost] }));
  setHandler(
    entryOutcomeSignal,
    ({ workflowId, outcome }: EntryOutcomeReport) => {
      applyOutcome(workflowId, outcome);
      refresh();
    },
    { description: "Internal: a VM run reports an entry's outcome (not for people to send)" },
  );

  /** Runs a batch on a VM; throws only when the child run itself fails or is cancelled. */
  const runOnVm = async (vm: string, entries: EntryRef[]): Promise<EntryOutcome[]> => {
    const n = runCount.get(vm) ?? 0;
    runCount.set(vm, n + 1);
    const workflowId = vmWorkflowId(req.benchmarkId, vm, n);
    const run: VmRunState = { vm, workflowId, status: 'running', total: entries.length, passed: 0, failed: 0, rerun: 0 };
    progress.runs.push(run);
    runs.set(workflowId, run);
    for (const e of entries) setOwner(e.matrixId, { ...owners.get(e.matrixId)!, run: workflowId });
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
          args: [
            {
              benchmarkId: req.benchmarkId,
              vm,
              entries,
              // With a stability gate an entry may run up to its maximum: size the timeouts for that.
              iterations: Math.max(req.iterations, req.stability?.maxIterations ?? 0),
              fioIterationMs: req.timeouts.fioIterationMs,
              agentPickupMs: req.timeouts.agentPickupMs,
              agentHeartbeatMs: req.timeouts.agentHeartbeatMs,
            },
          ],
        }),
      );
      // Signals said most of it already; the returned list is complete, including lost-agent outcomes.
      for (const o of outcomes) applyOutcome(workflowId, o);
      run.status = 'completed';
      return outcomes;
    } catch (err) {
      run.status = isCancellation(err) ? 'cancelled' : 'failed';
      throw err;
    } finally {
      childScopes.delete(scope);
    }
  };

  const enqueue = (vm: string, entries: EntryRef[]): void => {
    if (entries.length === 0) return;
    for (const e of entries) setOwner(e.matrixId, { specVm: e.specVm, vm: null, status: 'missing', run: null });
    queues.set(vm, [...(queues.get(vm) ?? []), ...entries]);
    if (!busy.has(vm)) void drain(vm);
  };

  /** Re-runs a lost agent's entries on healthy VMs, fewest queued first. */
  const reroute = (from: string, entries: EntryRef[]): boolean => {
    lost.add(from);
    // With routing by instance template, a lost VM's entries stay on VMs of its template.
    const template = req.routing ? templates.get(from) : undefined;
    const healthy = fleet.filter((vm) => !lost.has(vm) && (template === undefined || templates.get(vm) === template));
    if (!req.rerouteOnAgentLoss || healthy.length === 0) return false;
    const load = new Map(healthy.map((vm) => [vm, (queues.get(vm)?.length ?? 0) + (busy.has(vm) ? 1 : 0)]));
    const moves = new Map<string, EntryRef[]>();
    for (const e of entries) {
      const target = healthy.reduce((best, vm) => (load.get(vm)! < load.get(best)! ? vm : best));
      load.set(target, load.get(target)! + 1);
      moves.set(target, [...(moves.get(target) ?? []), e]);
    }
    log.warn('agent lost: re-routing its entries', { vm: from, entries: entries.length, to: [...moves.keys()] });
    for (const [vm, moved] of moves) enqueue(vm, moved);
    return true;
  };

  /** Runs a VM's queue until it is empty; never throws (a failed child is recorded, a cancelled one ends it). */
  async function drain(vm: string): Promise<void> {
    busy.add(vm);
    try {
      for (let batch = queues.get(vm) ?? []; batch.length > 0; batch = queues.get(vm) ?? []) {
        queues.set(vm, []);
        let outcomes: EntryOutcome[];
        try {
          outcomes = await runOnVm(vm, batch);
        } catch (err) {
          if (!isCancellation(err)) childFailures.push(err);
          return;
        }
        const unavailable = outcomes.filter((o) => o.failure === 'agent-unavailable');
        if (unavailable.length > 0) {
          const refs = unavailable.map((o) => ({ matrixId: o.matrixId, specVm: owners.get(o.matrixId)!.specVm }));
          // Whatever else was queued for this VM goes elsewhere too.
          const queued = queues.get(vm) ?? [];
          queues.set(vm, []);
          const run = vmWorkflowId(req.benchmarkId, vm, runCount.get(vm)! - 1);
          if (!reroute(vm, [...refs, ...queued])) {
            // Failed by the lost VM's last run, so the runs' counts still add up to the benchmark's.
            for (const e of queued) setOwner(e.matrixId, { specVm: e.specVm, vm, status: 'failed', run });
            runs.get(run)!.total += queued.length;
          }
        }
        refresh();
      }
    } finally {
      busy.delete(vm);
      refresh();
    }
  }

  const failedEntriesOf = (vm: string): EntryRef[] =>
    [...owners.entries()].filter(([, o]) => o.status === 'failed' && o.vm === vm).map(([matrixId, o]) => ({ matrixId, specVm: o.specVm }));

  /** Set when the whole-run deadline passed: nothing more is started. */
  let deadlinePassed = false;

  /** Why a retryVm request (update or signal) is refused; undefined when it would be carried out. */
  const retryRefusal = (input: unknown): string | undefined => {
    const expected = 'expected {"vm": "<VM name>"} or {"vm": "<VM name>", "onto": "<VM name>"}';
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return expected;
    // A misspelt field is named (`{"VM": ...}`), rather than the missing one.
    const unknown = Object.keys(input).filter((k) => !RETRY_FIELDS.includes(k));
    if (unknown.length)
      return `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (expected "vm" and optionally "onto")`;
    if (typeof (input as RetryVmRequest).vm !== 'string') return expected;
    const { vm, onto } = input as RetryVmRequest;
    if (deadlinePassed) return `the whole-run deadline passed (${timedOutReason(req.runTimeoutMs ?? 0)})`;
    if (progress.phase === 'resolving-fleet' || progress.phase === 'distributing') return 'the benchmark has not been distributed yet';
    if (progress.phase === 'aggregating' || progress.phase === 'reporting' || progress.phase === 'done')
      return 'the benchmark is already aggregating its results';
    if (!RUNNING_PHASES.includes(progress.phase)) return `the benchmark is ${progress.phase}`;
    if (!progress.runs.some((r) => r.vm === vm)) return `VM "${vm}" has no run in this benchmark (VMs: ${fleet.join(', ')})`;
    if (onto !== undefined && (typeof onto !== 'string' || !isSafeId(onto))) return `${JSON.stringify(onto)} is not a valid VM name`;
    if (failedEntriesOf(vm).length === 0) {
      return busy.has(vm) ? `VM "${vm}" is still running and has no failed entries yet` : `VM "${vm}" has no failed entries to retry`;
    }
    return undefined;
  };

  /** Queues a VM's failed entries again (the request passed retryRefusal). */
  const retry = ({ vm, onto }: RetryVmRequest, via: RetryRecord['via']): RetryVmResult => {
    const target = onto ?? vm;
    const entries = failedEntriesOf(vm);
    lost.delete(target); // the user vouches for it
    // An idle VM starts a run now; a busy one takes the entries in its next run.
    const wasBusy = busy.has(target);
    enqueue(target, entries);
    const run = (runCount.get(target) ?? 0) - (wasBusy ? 0 : 1);
    if (progress.phase === 'awaiting-retry') progress.phase = 'running';
    progress.lastRetry = {
      via,
      at: new Date().toISOString(),
      vm,
      ...(onto !== undefined ? { onto } : {}),
      accepted: true,
      retried: entries.length,
    };
    log.info('retrying a VM', { via, vm, onto: target, entries: entries.length });
    refresh();
    return { retried: entries.length, onto: target, workflowId: vmWorkflowId(req.benchmarkId, target, run) };
  };

  setHandler(retryVmUpdate, (r: RetryVmRequest) => retry(r, 'update'), {
    description: RETRY_DESCRIPTION,
    validator: (r: RetryVmRequest) => {
      const reason = retryRefusal(r);
      if (reason) throw new Error(reason);
    },
  });
  // Same semantics as the update; a signal has no answer, so a refusal is recorded where people look.
  setHandler(
    retryVmSignal,
    (r: RetryVmRequest) => {
      const reason = retryRefusal(r);
      if (!reason) {
        retry(r, 'signal');
        return;
      }
      const shown = typeof r === 'object' && r !== null && typeof r.vm === 'string' ? r : { vm: JSON.stringify(r ?? null) };
      progress.lastRetry = {
        via: 'signal',
        at: new Date().toISOString(),
        vm: shown.vm,
        ...(typeof shown.onto === 'string' ? { onto: shown.onto } : {}),
        accepted: false,
        reason,
      };
      log.warn(describeRetry(progress.lastRetry), { request: r as unknown });
      refresh();
    },
    { description: `${RETRY_DESCRIPTION}. A refusal shows in the current details.` },
  );

  const aggregateAndReport = async (incompleteReason?: string) => {
    aggregationStarted = true;
    const ownerList: EntryOwner[] = [...owners.entries()].map(([matrixId, o]) => ({ matrixId, vm: o.vm, status: o.status }));
    const summary = await orchestrator.aggregate({ benchmarkId: req.benchmarkId, owners: ownerList });
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
    await condition(() => busy.size === 0);
    // A report that failed once would fail again; without a distribution there is nothing to report.
    if (!aggregationStarted && owners.size > 0) {
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
    fleet = fleetVms.map((v) => v.name);
    for (const v of fleetVms) templates.set(v.name, v.instanceTemplate);
    progress.phase = 'distributing';
    refresh();
    const distribution = await orchestrator.distribute(req, fleetVms);
    fleet = distribution.vms.map((v) => v.vm);
    progress.totalEntries = distribution.totalEntries;
    progress.phase = 'running';
    if (distribution.resumed) log.info('resuming a benchmark whose inputs were written before', { benchmarkId: req.benchmarkId });
    for (const share of distribution.vms)
      enqueue(
        share.vm,
        share.matrixIds.map((matrixId) => ({ matrixId, specVm: share.vm })),
      );
    refresh();

    // Wait for every queue to drain, including retries requested meanwhile.
    for (;;) {
      await condition(() => busy.size === 0);
      if (childFailures.length > 0) throw childFailures[0];
      const anyFailed = [...owners.values()].some((o) => o.status === 'failed');
      if (!anyFailed || req.retryWindowMs <= 0) break;
      progress.phase = 'awaiting-retry';
      refresh();
      // A retry-vm request makes a VM busy; with none before the window (or the run's deadline) closes, report what we have.
      if (!(await condition(() => busy.size > 0 || deadlinePassed, req.retryWindowMs)) || deadlinePassed) break;
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
        deadlinePassed = true;
        log.warn('the whole-run deadline passed: cancelling the VM runs', { runTimeoutMs });
        work.cancel();
      } else if (progress.phase === 'awaiting-retry') {
        // Every entry has its outcome: the retry window just closes now, and the report is complete.
        deadlinePassed = true;
        log.warn('the whole-run deadline passed: closing the retry window', { runTimeoutMs });
      }
    });
  }
  showDetails();

  try {
    return await work.run(runToEnd);
  } catch (err) {
    // A user's cancel reaches the root scope too; only the deadline alone makes this a timed-out run.
    const timedOut = deadlinePassed && isCancellation(err) && !CancellationScope.current().consideredCancelled;
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
