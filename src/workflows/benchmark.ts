import {
  ApplicationFailure,
  condition,
  executeChild,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { OrchestratorActivities } from '../activities';
import type { EntryOwner } from '../activities/aggregate';
import { isSafeId } from '../core/ids';
import type { BenchmarkRequest } from '../core/spec';
import { FAILURE_TYPES, SEARCH_ATTRIBUTES, vmWorkflowId } from '../shared/names';
import { progressQuery, retryVmUpdate } from './definitions';
import type { BenchmarkProgress, BenchmarkResult, EntryOutcome, EntryRef, RetryVmRequest, VmRunState } from './types';
import { vmWorkflow } from './vm';

const orchestrator = proxyActivities<OrchestratorActivities>({
  startToCloseTimeout: '30 minutes',
  // The activities heartbeat while they work, so a killed orchestrator worker is noticed in seconds.
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '1s',
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [FAILURE_TYPES.input, FAILURE_TYPES.conflict],
  },
});

interface Owner {
  specVm: string;
  /** The VM that ran it last; its results are the ones that count. */
  vm: string | null;
  status: EntryOwner['status'];
}

/**
 * One benchmark, id = benchmark id: distribute -> one child per VM -> await -> aggregate
 * -> report. Only references and small outcomes pass through here; the fio outputs
 * stay in the artifact store.
 *
 * Each VM has a queue of entries and runs at most one child at a time (its agent runs one
 * entry at a time, and an entry queued behind another would look like a lost agent).
 * Retries and re-routed entries join the queue of the VM that will run them.
 */
export async function benchmarkWorkflow(req: BenchmarkRequest): Promise<BenchmarkResult> {
  const progress: BenchmarkProgress = {
    benchmarkId: req.benchmarkId,
    phase: 'resolving-fleet',
    totalEntries: 0,
    passed: 0,
    failed: 0,
    runs: [],
  };
  const owners = new Map<number, Owner>();
  const queues = new Map<string, EntryRef[]>();
  const busy = new Set<string>();
  const runCount = new Map<string, number>();
  /** VMs whose agent was lost: nothing more is routed to them unless a user asks for it. */
  const lost = new Set<string>();
  const draining: Promise<void>[] = [];
  let fleet: string[] = [];
  const templates = new Map<string, string | undefined>();
  const hasSearchAttributes = workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTES.benchmarkId) !== undefined;
  let lastStatus: string | undefined;

  const refresh = (): void => {
    let passed = 0;
    let failed = 0;
    for (const o of owners.values()) {
      if (o.status === 'passed') passed++;
      else if (o.status === 'failed') failed++;
    }
    progress.passed = passed;
    progress.failed = failed;
    setCurrentDetails(
      `**${progress.phase}**: ${passed} passed, ${failed} failed of ${progress.totalEntries} entries on ${fleet.length} VMs` +
        (lost.size ? `; lost agents: ${[...lost].join(', ')}` : ''),
    );
    // Only when the run was started with our search attributes, i.e. they are registered.
    if (hasSearchAttributes && progress.phase !== lastStatus) {
      lastStatus = progress.phase;
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: progress.phase }]);
    }
  };

  setHandler(progressQuery, () => progress);

  const runOnVm = async (vm: string, entries: EntryRef[]): Promise<EntryOutcome[]> => {
    const n = runCount.get(vm) ?? 0;
    runCount.set(vm, n + 1);
    const workflowId = vmWorkflowId(req.benchmarkId, vm, n);
    const run: VmRunState = { vm, workflowId, status: 'running', total: entries.length, passed: 0, failed: 0 };
    progress.runs.push(run);
    try {
      const outcomes = await executeChild(vmWorkflow, {
        workflowId,
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
      });
      run.passed = outcomes.filter((o) => o.status === 'passed').length;
      run.failed = outcomes.length - run.passed;
      run.status = 'completed';
      return outcomes;
    } catch (err) {
      run.status = 'failed';
      throw err;
    }
  };

  const enqueue = (vm: string, entries: EntryRef[]): void => {
    if (entries.length === 0) return;
    for (const e of entries) owners.set(e.matrixId, { specVm: e.specVm, vm: null, status: 'missing' });
    queues.set(vm, [...(queues.get(vm) ?? []), ...entries]);
    if (!busy.has(vm)) draining.push(drain(vm));
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

  async function drain(vm: string): Promise<void> {
    busy.add(vm);
    try {
      for (let batch = queues.get(vm) ?? []; batch.length > 0; batch = queues.get(vm) ?? []) {
        queues.set(vm, []);
        const outcomes = await runOnVm(vm, batch);
        for (const o of outcomes) owners.set(o.matrixId, { specVm: owners.get(o.matrixId)!.specVm, vm: o.vm, status: o.status });
        const unavailable = outcomes.filter((o) => o.failure === 'agent-unavailable');
        if (unavailable.length > 0) {
          const refs = unavailable.map((o) => ({ matrixId: o.matrixId, specVm: owners.get(o.matrixId)!.specVm }));
          // Whatever else was queued for this VM goes elsewhere too.
          const queued = queues.get(vm) ?? [];
          queues.set(vm, []);
          if (!reroute(vm, [...refs, ...queued])) for (const e of queued) owners.set(e.matrixId, { specVm: e.specVm, vm, status: 'failed' });
        }
        refresh();
      }
    } finally {
      busy.delete(vm);
    }
  }

  const failedEntriesOf = (vm: string): EntryRef[] =>
    [...owners.entries()].filter(([, o]) => o.status === 'failed' && o.vm === vm).map(([matrixId, o]) => ({ matrixId, specVm: o.specVm }));

  setHandler(
    retryVmUpdate,
    ({ vm, onto }: RetryVmRequest) => {
      const target = onto ?? vm;
      const entries = failedEntriesOf(vm);
      lost.delete(target); // the user vouches for it
      // An idle VM starts a run now; a busy one takes the entries in its next run.
      const wasBusy = busy.has(target);
      enqueue(target, entries);
      const run = (runCount.get(target) ?? 0) - (wasBusy ? 0 : 1);
      if (progress.phase === 'awaiting-retry') progress.phase = 'running';
      refresh();
      return { retried: entries.length, onto: target, workflowId: vmWorkflowId(req.benchmarkId, target, run) };
    },
    {
      validator: ({ vm, onto }: RetryVmRequest) => {
        if (progress.phase === 'resolving-fleet' || progress.phase === 'distributing') throw new Error('the benchmark has not been distributed yet');
        if (progress.phase === 'aggregating' || progress.phase === 'reporting' || progress.phase === 'done') throw new Error('the benchmark is already aggregating its results');
        if (!progress.runs.some((r) => r.vm === vm)) throw new Error(`VM "${vm}" has no run in this benchmark (VMs: ${fleet.join(', ')})`);
        if (onto !== undefined && !isSafeId(onto)) throw new Error(`"${onto}" is not a valid VM name`);
        if (failedEntriesOf(vm).length === 0) {
          throw new Error(busy.has(vm) ? `VM "${vm}" is still running and has no failed entries yet` : `VM "${vm}" has no failed entries to retry`);
        }
      },
    },
  );

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
  for (const share of distribution.vms) enqueue(share.vm, share.matrixIds.map((matrixId) => ({ matrixId, specVm: share.vm })));
  refresh();

  // Wait for every queue to drain, including retries requested meanwhile.
  for (;;) {
    await condition(() => busy.size === 0);
    await Promise.all(draining); // surfaces a child that failed outright
    const anyFailed = [...owners.values()].some((o) => o.status === 'failed');
    if (!anyFailed || req.retryWindowMs <= 0) break;
    progress.phase = 'awaiting-retry';
    refresh();
    // A retry-vm request makes a VM busy; with none before the window closes, report what we have.
    if (!(await condition(() => busy.size > 0, req.retryWindowMs))) break;
  }

  progress.phase = 'aggregating';
  refresh();
  const ownerList: EntryOwner[] = [...owners.entries()].map(([matrixId, o]) => ({ matrixId, vm: o.vm, status: o.status }));
  const summary = await orchestrator.aggregate({ benchmarkId: req.benchmarkId, owners: ownerList });
  progress.phase = 'reporting';
  refresh();
  const report = await orchestrator.report({ benchmarkId: req.benchmarkId, separateConfigs: req.separateConfigs });
  // Rows for dashboards; a failed upload is reported, but the results and reports stand.
  let exported: { rows?: number; error?: string };
  try {
    exported = { rows: (await orchestrator.exportResults({ benchmarkId: req.benchmarkId, bigquery: req.bigquery })).rows };
  } catch (err) {
    if (isCancellation(err)) throw err;
    exported = { error: (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message };
    log.warn('export failed', { error: exported.error });
  }
  progress.phase = 'done';
  refresh();
  if (summary.entries !== progress.totalEntries) {
    throw ApplicationFailure.nonRetryable(`aggregated ${summary.entries} entries of ${progress.totalEntries}`);
  }
  return {
    benchmarkId: req.benchmarkId,
    totalEntries: progress.totalEntries,
    passed: summary.passed,
    failed: summary.failed,
    reportKeys: report.keys,
    ...(exported.rows !== undefined ? { exportedRows: exported.rows } : {}),
    ...(exported.error ? { exportError: exported.error } : {}),
  };
}
