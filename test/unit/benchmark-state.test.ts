import { describe, expect, it } from 'vitest';
import { BenchmarkState, type BenchmarkStateOptions, type StartedRun } from '../../src/workflows/benchmark-state';
import type { EntryOutcome, EntryRef } from '../../src/workflows/types';

const AT = '2026-01-01T00:00:00.000Z';

/**
 * A state whose started VMs begin a run at once, as the workflow's drain does synchronously
 * (busy, take the queue, start the child); `started` lists those runs in order.
 */
function setup(over: Partial<BenchmarkStateOptions> = {}) {
  const started: StartedRun[] = [];
  const state: BenchmarkState = new BenchmarkState({
    benchmarkId: 'b1',
    runWorkflowId: (vm, n) => (n === 0 ? `b1-vm-${vm}` : `b1-vm-${vm}-retry-${n}`),
    rerouteOnAgentLoss: false,
    routeByTemplate: false,
    startVm: (vm) => {
      state.markBusy(vm);
      started.push(state.startRun(vm, state.takeQueue(vm)));
    },
    ...over,
  });
  return { state, started };
}

const refs = (vm: string, ...ids: number[]): EntryRef[] => ids.map((matrixId) => ({ matrixId, specVm: vm }));

const outcome = (matrixId: number, vm: string, status: 'passed' | 'failed', failure?: EntryOutcome['failure']): EntryOutcome => ({
  matrixId,
  vm,
  status,
  iterationsDone: 1,
  durationMs: 10,
  reused: false,
  ...(failure ? { failure } : {}),
});

/** Distributes and starts a run on each VM, as the workflow does after distribute. */
function distributed(shares: Record<string, number[]>, over: Partial<BenchmarkStateOptions> = {}) {
  const s = setup(over);
  s.state.setFleet(Object.keys(shares));
  s.state.progress.totalEntries = Object.values(shares).flat().length;
  s.state.progress.phase = 'running';
  for (const [vm, ids] of Object.entries(shares)) s.state.enqueue(vm, refs(vm, ...ids));
  return s;
}

describe('BenchmarkState: queues and runs', () => {
  it('starts an idle VM with its queue as one run that owns the entries', () => {
    const { state, started } = distributed({ a: [1, 2], b: [3] });
    expect(started.map((r) => r.workflowId)).toEqual(['b1-vm-a', 'b1-vm-b']);
    expect(started[0]!.state).toEqual({ vm: 'a', workflowId: 'b1-vm-a', status: 'running', total: 2, passed: 0, failed: 0, rerun: 0 });
    expect(state.owner(1)).toEqual({ specVm: 'a', vm: null, status: 'missing', run: 'b1-vm-a' });
    expect(state.isBusy('a') && state.isBusy('b')).toBe(true);
    expect(state.snapshot().runs).toHaveLength(2);
  });

  it('does not start a busy VM again: its new entries wait in its queue for the next run', () => {
    const { state, started } = distributed({ a: [1] });
    state.enqueue('a', refs('a', 2));
    expect(started).toHaveLength(1);
    expect(state.takeQueue('a')).toEqual(refs('a', 2));
    expect(state.takeQueue('a')).toEqual([]);
  });

  it('ignores an empty enqueue (no run is started)', () => {
    const { state, started } = setup();
    state.enqueue('a', []);
    expect(started).toHaveLength(0);
    expect(state.hasEntries).toBe(false);
  });

  it('numbers a VM’s runs: the second one is retry-1', () => {
    const { state } = setup({ startVm: () => undefined });
    expect(state.startRun('a', refs('a', 1)).workflowId).toBe('b1-vm-a');
    const second = state.startRun('a', refs('a', 1));
    expect([second.workflowId, second.n]).toEqual(['b1-vm-a-retry-1', 1]);
  });

  it('counts outcomes per benchmark and per run, and an outcome moves the counts when it changes', () => {
    const { state, started } = distributed({ a: [1, 2] });
    state.applyOutcome('b1-vm-a', outcome(1, 'a', 'passed'));
    state.applyOutcome('b1-vm-a', outcome(2, 'a', 'failed'));
    expect([state.progress.passed, state.progress.failed]).toEqual([1, 1]);
    expect([started[0]!.state.passed, started[0]!.state.failed]).toEqual([1, 1]);
    // The child's returned list repeats what its signals said: counted once.
    state.applyOutcome('b1-vm-a', outcome(2, 'a', 'failed'));
    expect(state.progress.failed).toBe(1);
    expect(state.anyFailed).toBe(true);
    expect(state.ownerList()).toEqual([
      { matrixId: 1, vm: 'a', status: 'passed' },
      { matrixId: 2, vm: 'a', status: 'failed' },
    ]);
  });

  it('ignores an outcome from a run that does not (or no longer) own the entry', () => {
    const { state } = distributed({ a: [1] });
    state.applyOutcome('b1-vm-b', outcome(1, 'b', 'passed'));
    state.applyOutcome('b1-vm-a', outcome(99, 'a', 'passed'));
    expect([state.progress.passed, state.progress.failed]).toEqual([0, 0]);
    expect(state.owner(1)!.status).toBe('missing');
  });

  it('reports busy VMs until they are idle', () => {
    const { state } = distributed({ a: [1] });
    expect(state.anyBusy).toBe(true);
    state.markIdle('a');
    expect(state.anyBusy).toBe(false);
  });
});

describe('BenchmarkState: a lost agent', () => {
  it('re-routes the lost entries and the VM’s queue to the healthy VM with the fewest queued, and marks the VM lost', () => {
    const { state, started } = distributed({ a: [1, 2], b: [3], c: [4] }, { rerouteOnAgentLoss: true });
    state.markIdle('c'); // c finished: idle VMs take entries first
    state.applyOutcome('b1-vm-c', outcome(4, 'c', 'passed'));
    state.enqueue('a', refs('a', 5)); // queued behind a's run
    state.applyOutcome('b1-vm-a', outcome(1, 'a', 'passed'));
    const loss = state.agentLost('a', [outcome(2, 'a', 'failed', 'agent-unavailable')]);
    state.applyOutcome('b1-vm-a', outcome(2, 'a', 'failed', 'agent-unavailable'));
    expect(loss).toEqual({ rerouted: true, entries: 2, to: ['c', 'b'] });
    // c was idle (load 0): entry 2 starts a run there; b was busy (load 1), so c and b tie and b queues entry 5.
    expect(started.map((r) => r.workflowId)).toEqual(['b1-vm-a', 'b1-vm-b', 'b1-vm-c', 'b1-vm-c-retry-1']);
    expect(started[3]!.state.total).toBe(1);
    expect(state.takeQueue('b')).toEqual(refs('a', 5));
    expect(state.snapshot().lostVms).toEqual(['a']);
    expect(state.owner(2)).toEqual({ specVm: 'a', vm: null, status: 'missing', run: 'b1-vm-c-retry-1' });
  });

  it('keeps a lost VM’s entries on VMs of its instance template when routing by template', () => {
    const { state, started } = setup({ rerouteOnAgentLoss: true, routeByTemplate: true });
    state.setResolvedFleet([
      { name: 'a', instanceTemplate: 't1' },
      { name: 'b', instanceTemplate: 't2' },
      { name: 'c', instanceTemplate: 't1' },
    ]);
    state.progress.phase = 'running';
    state.enqueue('a', refs('a', 1));
    state.enqueue('b', refs('b', 2));
    state.enqueue('c', refs('c', 3));
    state.markIdle('b'); // idle b would be preferred without routing by template
    const loss = state.agentLost('a', [outcome(1, 'a', 'failed', 'agent-unavailable')]);
    expect(loss).toMatchObject({ rerouted: true, to: ['c'] });
    expect(started.map((r) => r.state.vm)).toEqual(['a', 'b', 'c']); // c is busy: queued
    expect(state.takeQueue('c')).toEqual(refs('a', 1));
  });

  it('fails the queued entries in the lost VM’s last run when re-routing is off, so the runs’ counts add up', () => {
    const { state, started } = distributed({ a: [1], b: [2] });
    state.enqueue('a', refs('a', 3, 4));
    state.applyOutcome('b1-vm-a', outcome(1, 'a', 'failed', 'agent-unavailable'));
    const loss = state.agentLost('a', [outcome(1, 'a', 'failed', 'agent-unavailable')]);
    expect(loss).toEqual({ rerouted: false, entries: 3, failedInRun: 'b1-vm-a' });
    expect(started[0]!.state).toMatchObject({ total: 3, failed: 3 });
    expect(state.progress.failed).toBe(3);
    expect(state.owner(4)).toEqual({ specVm: 'a', vm: 'a', status: 'failed', run: 'b1-vm-a' });
    expect(state.takeQueue('a')).toEqual([]);
    expect(state.snapshot().lostVms).toEqual(['a']);
  });

  it('does not re-route when every other VM is lost too', () => {
    const { state } = distributed({ a: [1], b: [2] }, { rerouteOnAgentLoss: true });
    expect(state.agentLost('b', [outcome(2, 'b', 'failed', 'agent-unavailable')]).rerouted).toBe(true);
    // b's entry went to a, whose agent is then lost too: nowhere healthy is left.
    expect(state.agentLost('a', [outcome(1, 'a', 'failed', 'agent-unavailable')]).rerouted).toBe(false);
    expect(state.snapshot().lostVms).toEqual(['b', 'a']);
  });
});

describe('BenchmarkState: retryVm', () => {
  /** a ran [1, 2] and failed 2, then went idle; b still runs [3]. */
  function afterAFailed(over: Partial<BenchmarkStateOptions> = {}) {
    const s = distributed({ a: [1, 2], b: [3] }, over);
    s.state.applyOutcome('b1-vm-a', outcome(1, 'a', 'passed'));
    s.state.applyOutcome('b1-vm-a', outcome(2, 'a', 'failed'));
    s.started[0]!.state.status = 'completed';
    s.state.markIdle('a');
    return s;
  }

  it('lists a VM’s failed entries by the VM that ran them last', () => {
    const { state } = afterAFailed();
    expect(state.failedEntriesOf('a')).toEqual(refs('a', 2));
    expect(state.failedEntriesOf('b')).toEqual([]);
  });

  it('re-runs the failed entries on the same VM in a new run, which takes their counts over', () => {
    const { state, started } = afterAFailed();
    state.progress.phase = 'awaiting-retry';
    const result = state.retry({ vm: 'a' }, 'update', AT);
    expect(result).toEqual({ retried: 1, onto: 'a', workflowId: 'b1-vm-a-retry-1' });
    expect(started.at(-1)!.workflowId).toBe('b1-vm-a-retry-1');
    expect(state.progress.phase).toBe('running');
    expect(state.progress.lastRetry).toEqual({ via: 'update', at: AT, vm: 'a', accepted: true, retried: 1 });
    // The first run's failure is re-run: it no longer counts there.
    expect(started[0]!.state).toMatchObject({ passed: 1, failed: 0, rerun: 1 });
    expect(state.progress.failed).toBe(0);
    state.applyOutcome('b1-vm-a-retry-1', outcome(2, 'a', 'passed'));
    expect([state.progress.passed, state.progress.failed]).toEqual([2, 0]);
    expect(started.at(-1)!.state.passed).toBe(1);
  });

  it('names the run a busy target will take the entries in (its next one) and queues them', () => {
    const { state, started } = afterAFailed();
    const result = state.retry({ vm: 'a', onto: 'b' }, 'signal', AT);
    expect(result).toEqual({ retried: 1, onto: 'b', workflowId: 'b1-vm-b-retry-1' });
    expect(started).toHaveLength(2);
    expect(state.takeQueue('b')).toEqual(refs('a', 2));
    expect(state.progress.lastRetry).toMatchObject({ via: 'signal', vm: 'a', onto: 'b', accepted: true });
  });

  it('takes a lost VM back when a user retries onto it', () => {
    const { state } = distributed({ a: [1], b: [2] });
    state.agentLost('a', [outcome(1, 'a', 'failed', 'agent-unavailable')]);
    state.applyOutcome('b1-vm-a', outcome(1, 'a', 'failed', 'agent-unavailable'));
    state.markIdle('a');
    expect(state.snapshot().lostVms).toEqual(['a']);
    state.retry({ vm: 'a' }, 'update', AT);
    expect(state.snapshot().lostVms).toEqual([]);
  });

  it('refuses requests that are not {vm[, onto]}, naming a misspelt field', () => {
    const { state } = afterAFailed();
    const expected = 'expected {"vm": "<VM name>"} or {"vm": "<VM name>", "onto": "<VM name>"}';
    expect(state.retryRefusal('a')).toBe(expected);
    expect(state.retryRefusal(null)).toBe(expected);
    expect(state.retryRefusal(['a'])).toBe(expected);
    expect(state.retryRefusal({ vm: 3 })).toBe(expected);
    expect(state.retryRefusal({ VM: 'a' })).toBe('unknown field "VM" (expected "vm" and optionally "onto")');
    expect(state.retryRefusal({ VM: 'a', to: 'b' })).toBe('unknown fields "VM", "to" (expected "vm" and optionally "onto")');
    expect(state.retryRefusal({ vm: 'a', onto: 'a b' })).toBe('"a b" is not a valid VM name');
  });

  it('refuses by phase, for unknown VMs and VMs without failed entries; accepts a VM with failed entries', () => {
    const { state } = afterAFailed();
    expect(state.retryRefusal({ vm: 'a' })).toBeUndefined();
    expect(state.retryRefusal({ vm: 'zz' })).toBe('VM "zz" has no run in this benchmark (VMs: a, b)');
    expect(state.retryRefusal({ vm: 'b' })).toBe('VM "b" is still running and has no failed entries yet');
    state.markIdle('b');
    expect(state.retryRefusal({ vm: 'b' })).toBe('VM "b" has no failed entries to retry');
    const byPhase: [typeof state.progress.phase, string | undefined][] = [
      ['resolving-fleet', 'the benchmark has not been distributed yet'],
      ['distributing', 'the benchmark has not been distributed yet'],
      ['awaiting-retry', undefined],
      ['aggregating', 'the benchmark is already aggregating its results'],
      ['reporting', 'the benchmark is already aggregating its results'],
      ['done', 'the benchmark is already aggregating its results'],
      ['cancelling', 'the benchmark is cancelling'],
      ['failed', 'the benchmark is failed'],
    ];
    for (const [phase, reason] of byPhase) {
      state.progress.phase = phase;
      expect(state.retryRefusal({ vm: 'a' }), phase).toBe(reason);
    }
  });

  it('refuses every request once the whole-run deadline passed, naming it', () => {
    const { state } = afterAFailed({ runTimeoutMs: 3_600_000 });
    state.deadlinePassed = true;
    expect(state.retryRefusal({ vm: 'a' })).toBe('the whole-run deadline passed (timed out after 3600 s (1 h))');
  });

  it('records a refused signal with what could be read of the request', () => {
    const { state } = afterAFailed();
    expect(state.refuseRetry({ vm: 'zz', onto: 'b' }, 'why', AT)).toEqual({
      via: 'signal',
      at: AT,
      vm: 'zz',
      onto: 'b',
      accepted: false,
      reason: 'why',
    });
    expect(state.refuseRetry('junk', 'why', AT)).toMatchObject({ vm: '"junk"', accepted: false });
    expect(state.refuseRetry(undefined, 'why', AT).vm).toBe('null');
    expect(state.snapshot().lastRetry).toMatchObject({ vm: 'null', reason: 'why' });
  });
});

describe('BenchmarkState: progress snapshot', () => {
  it('is a copy of the lost VMs, not the live set', () => {
    const { state } = distributed({ a: [1], b: [2] });
    const before = state.snapshot();
    state.agentLost('a', [outcome(1, 'a', 'failed', 'agent-unavailable')]);
    expect(before.lostVms).toEqual([]);
    expect(state.snapshot()).toMatchObject({ benchmarkId: 'b1', phase: 'running', totalEntries: 2, lostVms: ['a'] });
    expect(state.fleet).toEqual(['a', 'b']);
  });
});
