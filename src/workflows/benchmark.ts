import {
  ApplicationFailure,
  condition,
  executeChild,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
} from '@temporalio/workflow';
import type { OrchestratorActivities } from '../activities';
import type { EntryOwner } from '../activities/aggregate';
import type { BenchmarkRequest } from '../core/spec';
import { isSafeId } from '../core/ids';
import { vmWorkflowId } from '../shared/names';
import { progressQuery, retryVmUpdate } from './definitions';
import type { BenchmarkProgress, BenchmarkResult, EntryOutcome, EntryRef, RetryVmRequest, VmRunState } from './types';
import { vmWorkflow } from './vm';

const orchestrator = proxyActivities<OrchestratorActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 10, nonRetryableErrorTypes: ['InputError', 'WriteConflictError'] },
});

/**
 * One benchmark, id = benchmark id: distribute -> one child per VM -> await -> aggregate
 * -> report. Only references and small outcomes pass through here; the fio outputs
 * stay in the artifact store.
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
  /** The VM that last ran each entry and how it went: the last run wins, so results count once. */
  const owners = new Map<number, { specVm: string; vm: string | null; status: EntryOwner['status'] }>();
  const retriesByVm = new Map<string, number>();
  let activeRuns = 0;
  let fleet: string[] = [];

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
      `**${progress.phase}**: ${passed} passed, ${failed} failed of ${progress.totalEntries} entries on ${fleet.length} VMs`,
    );
  };

  setHandler(progressQuery, () => progress);

  /** Runs entries on one VM as a child workflow and records who holds their results. */
  const runOnVm = async (vm: string, entries: EntryRef[], retry: number): Promise<void> => {
    const workflowId = vmWorkflowId(req.benchmarkId, vm, retry);
    const run: VmRunState = { vm, workflowId, status: 'running', total: entries.length, passed: 0, failed: 0 };
    progress.runs.push(run);
    activeRuns++;
    try {
      const outcomes: EntryOutcome[] = await executeChild(vmWorkflow, {
        workflowId,
        args: [
          {
            benchmarkId: req.benchmarkId,
            vm,
            entries,
            iterations: req.iterations,
            fioIterationMs: req.timeouts.fioIterationMs,
            agentPickupMs: req.timeouts.agentPickupMs,
            agentHeartbeatMs: req.timeouts.agentHeartbeatMs,
          },
        ],
      });
      for (const o of outcomes) {
        owners.set(o.matrixId, { specVm: owners.get(o.matrixId)!.specVm, vm: o.vm, status: o.status });
      }
      run.passed = outcomes.filter((o) => o.status === 'passed').length;
      run.failed = outcomes.length - run.passed;
      run.status = 'completed';
    } catch (err) {
      run.status = 'failed';
      throw err;
    } finally {
      activeRuns--;
      refresh();
    }
  };

  const failedEntriesOf = (vm: string): EntryRef[] => {
    return [...owners.entries()]
      .filter(([, o]) => o.status === 'failed' && o.vm === vm)
      .map(([matrixId, o]) => ({ matrixId, specVm: o.specVm }));
  };

  const pending: Promise<void>[] = [];
  setHandler(
    retryVmUpdate,
    async ({ vm, onto }: RetryVmRequest) => {
      const target = onto ?? vm;
      const entries = failedEntriesOf(vm);
      const retry = (retriesByVm.get(target) ?? 0) + 1;
      retriesByVm.set(target, retry);
      for (const e of entries) owners.set(e.matrixId, { specVm: e.specVm, vm: null, status: 'missing' });
      if (progress.phase === 'awaiting-retry') progress.phase = 'running';
      const runPromise = runOnVm(target, entries, retry);
      pending.push(runPromise);
      refresh();
      return { retried: entries.length, onto: target, workflowId: vmWorkflowId(req.benchmarkId, target, retry) };
    },
    {
      validator: ({ vm, onto }: RetryVmRequest) => {
        if (progress.phase === 'resolving-fleet' || progress.phase === 'distributing') throw new Error('the benchmark has not been distributed yet');
        if (progress.phase === 'aggregating' || progress.phase === 'reporting' || progress.phase === 'done') throw new Error('the benchmark is already aggregating its results');
        if (!progress.runs.some((r) => r.vm === vm)) throw new Error(`VM "${vm}" has no run in this benchmark (VMs: ${fleet.join(', ')})`);
        if (progress.runs.some((r) => r.vm === vm && r.status === 'running')) throw new Error(`VM "${vm}" is still running; retry it once its run has finished`);
        if (onto !== undefined && !isSafeId(onto)) throw new Error(`"${onto}" is not a valid VM name`);
        if (onto !== undefined && progress.runs.some((r) => r.vm === onto && r.status === 'running')) throw new Error(`VM "${onto}" is busy with another run`);
        if (failedEntriesOf(vm).length === 0) throw new Error(`VM "${vm}" has no failed entries to retry`);
      },
    },
  );

  fleet = await orchestrator.resolveFleet(req.fleet);
  progress.phase = 'distributing';
  refresh();
  const distribution = await orchestrator.distribute(req, fleet);
  fleet = distribution.vms.map((v) => v.vm);
  progress.totalEntries = distribution.totalEntries;
  for (const share of distribution.vms) {
    for (const matrixId of share.matrixIds) owners.set(matrixId, { specVm: share.vm, vm: null, status: 'missing' });
  }
  progress.phase = 'running';
  refresh();
  if (distribution.resumed) log.info('resuming a benchmark whose inputs were written before', { benchmarkId: req.benchmarkId });

  for (const share of distribution.vms) {
    if (share.matrixIds.length === 0) continue;
    pending.push(runOnVm(share.vm, share.matrixIds.map((matrixId) => ({ matrixId, specVm: share.vm })), 0));
  }

  // Wait for every run, including retries requested while others were running.
  for (;;) {
    await condition(() => activeRuns === 0);
    await Promise.all(pending);
    const anyFailed = [...owners.values()].some((o) => o.status === 'failed');
    if (!anyFailed || req.retryWindowMs <= 0) break;
    progress.phase = 'awaiting-retry';
    refresh();
    // A retry-vm request starts a run; with none before the window closes, report what we have.
    if (!(await condition(() => activeRuns > 0, req.retryWindowMs))) break;
  }

  progress.phase = 'aggregating';
  refresh();
  const ownerList: EntryOwner[] = [...owners.entries()].map(([matrixId, o]) => ({ matrixId, vm: o.vm, status: o.status }));
  const summary = await orchestrator.aggregate({ benchmarkId: req.benchmarkId, owners: ownerList });
  progress.phase = 'reporting';
  refresh();
  const report = await orchestrator.report(req.benchmarkId);
  progress.phase = 'done';
  refresh();
  if (summary.entries !== progress.totalEntries) {
    throw ApplicationFailure.nonRetryable(`aggregated ${summary.entries} entries of ${progress.totalEntries}`);
  }
  return { benchmarkId: req.benchmarkId, totalEntries: progress.totalEntries, passed: summary.passed, failed: summary.failed, reportKeys: report.keys };
}
