/**
 * The benchmark workflow's bookkeeping: who owns each entry, each VM's queue, the child runs and
 * their counts, lost VMs, re-routing and retries. Deterministic and free of Temporal APIs, so it
 * runs in the workflow sandbox and is unit-tested without a server; the workflow keeps the
 * orchestration (timers, children, signals, activities).
 */
import { encodeOwners, type EntryOwner, type OwnerTable } from '../core/owners';
import { isSafeId } from '../core/ids';
import { timedOutReason } from './details';
import type { BenchmarkPhase, BenchmarkProgress, EntryOutcome, EntryRef, RetryRecord, RetryVmRequest, VmRunState } from './types';

/** Who runs an entry and how it stands. */
export interface Owner {
  specVm: string;
  /** The VM that ran it last; its results are the ones that count. */
  vm: string | null;
  status: EntryOwner['status'];
  /** The child run that runs it, or whose outcome stands. */
  run: string | null;
}

/** Phases in which the VMs may still run entries. */
export const RUNNING_PHASES: readonly BenchmarkPhase[] = ['running', 'awaiting-retry'];
/** Fields a retryVm request may have (a signal's input is typed by hand in the Web UI or a shell). */
const RETRY_FIELDS: readonly string[] = ['vm', 'onto'];

export interface BenchmarkStateOptions {
  benchmarkId: string;
  /** Workflow id of a VM's n-th run (0 first). */
  runWorkflowId: (vm: string, n: number) => string;
  /** Entries of a lost agent go to healthy VMs (otherwise they fail). */
  rerouteOnAgentLoss: boolean;
  /** Routing by instance template: a lost VM's entries stay on VMs of its template. */
  routeByTemplate: boolean;
  /** The whole-run deadline, named when a retry is refused after it passed. */
  runTimeoutMs?: number;
  /**
   * Called synchronously when an idle VM gets queued entries: the caller starts working through
   * its queue (markBusy, then takeQueue until empty, then markIdle).
   */
  startVm: (vm: string) => void;
}

/** A run just started by startRun. */
export interface StartedRun {
  workflowId: string;
  /** The VM's run number (0 first). */
  n: number;
  state: VmRunState;
}

/** What became of a lost agent's entries. */
export type AgentLoss = { rerouted: true; entries: number; to: string[] } | { rerouted: false; entries: number; failedInRun: string };

export class BenchmarkState {
  readonly progress: BenchmarkProgress;
  /** Set when the whole-run deadline passed: nothing more is started. */
  deadlinePassed = false;
  private readonly owners = new Map<number, Owner>();
  private readonly runs = new Map<string, VmRunState>();
  private readonly queues = new Map<string, EntryRef[]>();
  private readonly busy = new Set<string>();
  private readonly runCount = new Map<string, number>();
  /** VMs whose agent was lost: nothing more is routed to them unless a user asks for it. */
  private readonly lost = new Set<string>();
  private readonly templates = new Map<string, string | undefined>();
  private fleetVms: string[] = [];

  constructor(private readonly options: BenchmarkStateOptions) {
    this.progress = {
      benchmarkId: options.benchmarkId,
      phase: 'resolving-fleet',
      totalEntries: 0,
      passed: 0,
      failed: 0,
      runs: [],
      lostVms: [],
    };
  }

  /** The progress query's answer (and the current details' input). */
  snapshot(): BenchmarkProgress {
    return { ...this.progress, lostVms: [...this.lost] };
  }

  get fleet(): readonly string[] {
    return this.fleetVms;
  }

  /** The resolved fleet, with each VM's instance template. */
  setResolvedFleet(vms: readonly { name: string; instanceTemplate?: string }[]): void {
    this.fleetVms = vms.map((v) => v.name);
    for (const v of vms) this.templates.set(v.name, v.instanceTemplate);
  }

  /** The VMs the entries were distributed to. */
  setFleet(vms: readonly string[]): void {
    this.fleetVms = [...vms];
  }

  get hasEntries(): boolean {
    return this.owners.size > 0;
  }

  get anyFailed(): boolean {
    return [...this.owners.values()].some((o) => o.status === 'failed');
  }

  get anyBusy(): boolean {
    return this.busy.size > 0;
  }

  isBusy(vm: string): boolean {
    return this.busy.has(vm);
  }

  owner(matrixId: number): Owner | undefined {
    return this.owners.get(matrixId);
  }

  /** Every entry's owner, for aggregation. */
  ownerList(): EntryOwner[] {
    return [...this.owners.entries()].map(([matrixId, o]) => ({ matrixId, vm: o.vm, status: o.status }));
  }

  /** The same as a compact table (core/owners.ts): a few bytes where ownerList is ~60 per entry. */
  ownerTable(): OwnerTable {
    return encodeOwners(this.ownerList(), (matrixId) => this.owners.get(matrixId)?.specVm);
  }

  markBusy(vm: string): void {
    this.busy.add(vm);
  }

  markIdle(vm: string): void {
    this.busy.delete(vm);
  }

  /** The VM's queued entries, removed from its queue. */
  takeQueue(vm: string): EntryRef[] {
    const batch = this.queues.get(vm) ?? [];
    this.queues.set(vm, []);
    return batch;
  }

  /**
   * Gives a VM entries that a group workflow runs (not queued here): the VM is busy, and its
   * first run, whose workflow id the group uses, owns them.
   */
  assign(vm: string, entries: EntryRef[]): StartedRun {
    for (const e of entries) this.setOwner(e.matrixId, { specVm: e.specVm, vm: null, status: 'missing', run: null });
    this.busy.add(vm);
    return this.startRun(vm, entries);
  }

  /** Whether entries wait in the VM's queue (re-routed to it while a group ran it). */
  hasQueued(vm: string): boolean {
    return (this.queues.get(vm)?.length ?? 0) > 0;
  }

  /** Queues entries on a VM (they become missing until a run reports them); an idle VM is started. */
  enqueue(vm: string, entries: EntryRef[]): void {
    if (entries.length === 0) return;
    for (const e of entries) this.setOwner(e.matrixId, { specVm: e.specVm, vm: null, status: 'missing', run: null });
    this.queues.set(vm, [...(this.queues.get(vm) ?? []), ...entries]);
    if (!this.busy.has(vm)) this.options.startVm(vm);
  }

  /** Records a new child run of a VM for these entries, which it now owns. */
  startRun(vm: string, entries: EntryRef[]): StartedRun {
    const n = this.runCount.get(vm) ?? 0;
    this.runCount.set(vm, n + 1);
    const workflowId = this.options.runWorkflowId(vm, n);
    const state: VmRunState = { vm, workflowId, status: 'running', total: entries.length, passed: 0, failed: 0, rerun: 0 };
    this.progress.runs.push(state);
    this.runs.set(workflowId, state);
    for (const e of entries) this.setOwner(e.matrixId, { ...this.owners.get(e.matrixId)!, run: workflowId });
    return { workflowId, n, state };
  }

  /** An entry's outcome from a run; ignored unless that run still owns the entry. */
  applyOutcome(workflowId: string, o: EntryOutcome): void {
    const owner = this.owners.get(o.matrixId);
    if (owner?.run !== workflowId) return; // not (or no longer) that run's entry
    this.setOwner(o.matrixId, { ...owner, vm: o.vm, status: o.status });
  }

  /**
   * A VM's agent was lost on these outcomes: the VM is marked lost, and its lost entries and
   * whatever else was queued for it go to healthy VMs, fewest queued first. When they cannot
   * (re-routing off, no healthy VM), the queued entries fail in the VM's last run.
   */
  agentLost(vm: string, unavailable: EntryOutcome[]): AgentLoss {
    const refs = unavailable.map((o) => ({ matrixId: o.matrixId, specVm: this.owners.get(o.matrixId)!.specVm }));
    const queued = this.takeQueue(vm);
    const run = this.options.runWorkflowId(vm, this.runCount.get(vm)! - 1);
    const moves = this.reroute(vm, [...refs, ...queued]);
    if (moves) {
      for (const [target, moved] of moves) this.enqueue(target, moved);
      return { rerouted: true, entries: refs.length + queued.length, to: [...moves.keys()] };
    }
    // Failed by the lost VM's last run, so the runs' counts still add up to the benchmark's.
    for (const e of queued) this.setOwner(e.matrixId, { specVm: e.specVm, vm, status: 'failed', run });
    this.runs.get(run)!.total += queued.length;
    return { rerouted: false, entries: refs.length + queued.length, failedInRun: run };
  }

  /** Entries whose latest outcome failed on this VM (what retryVm runs again). */
  failedEntriesOf(vm: string): EntryRef[] {
    return [...this.owners.entries()]
      .filter(([, o]) => o.status === 'failed' && o.vm === vm)
      .map(([matrixId, o]) => ({ matrixId, specVm: o.specVm }));
  }

  /** Why a retryVm request (update or signal) is refused; undefined when it would be carried out. */
  retryRefusal(input: unknown): string | undefined {
    const expected = 'expected {"vm": "<VM name>"} or {"vm": "<VM name>", "onto": "<VM name>"}';
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return expected;
    // A misspelt field is named (`{"VM": ...}`), rather than the missing one.
    const unknown = Object.keys(input).filter((k) => !RETRY_FIELDS.includes(k));
    if (unknown.length)
      return `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (expected "vm" and optionally "onto")`;
    if (typeof (input as RetryVmRequest).vm !== 'string') return expected;
    const { vm, onto } = input as RetryVmRequest;
    const phase = this.progress.phase;
    if (this.deadlinePassed) return `the whole-run deadline passed (${timedOutReason(this.options.runTimeoutMs ?? 0)})`;
    if (phase === 'resolving-fleet' || phase === 'distributing') return 'the benchmark has not been distributed yet';
    if (phase === 'aggregating' || phase === 'reporting' || phase === 'done') return 'the benchmark is already aggregating its results';
    if (!RUNNING_PHASES.includes(phase)) return `the benchmark is ${phase}`;
    if (!this.progress.runs.some((r) => r.vm === vm)) return `VM "${vm}" has no run in this benchmark (VMs: ${this.fleetVms.join(', ')})`;
    if (onto !== undefined && (typeof onto !== 'string' || !isSafeId(onto))) return `${JSON.stringify(onto)} is not a valid VM name`;
    if (this.failedEntriesOf(vm).length === 0) {
      return this.busy.has(vm) ? `VM "${vm}" is still running and has no failed entries yet` : `VM "${vm}" has no failed entries to retry`;
    }
    return undefined;
  }

  /**
   * Queues a VM's failed entries again (the request passed retryRefusal), onto another VM if
   * asked; the target is no longer considered lost (the user vouches for it).
   * `at` is the workflow time of the request (ISO 8601).
   */
  retry({ vm, onto }: RetryVmRequest, via: RetryRecord['via'], at: string): { retried: number; onto: string; workflowId: string } {
    const target = onto ?? vm;
    const entries = this.failedEntriesOf(vm);
    this.lost.delete(target);
    // An idle VM starts a run now; a busy one takes the entries in its next run.
    const wasBusy = this.busy.has(target);
    this.enqueue(target, entries);
    const run = (this.runCount.get(target) ?? 0) - (wasBusy ? 0 : 1);
    if (this.progress.phase === 'awaiting-retry') this.progress.phase = 'running';
    this.progress.lastRetry = { via, at, vm, ...(onto !== undefined ? { onto } : {}), accepted: true, retried: entries.length };
    return { retried: entries.length, onto: target, workflowId: this.options.runWorkflowId(target, run) };
  }

  /** Records a refused retryVm signal (a signal has no answer): returns the record. */
  refuseRetry(request: unknown, reason: string, at: string): RetryRecord {
    const r = request as RetryVmRequest | null | undefined;
    const shown = typeof r === 'object' && r !== null && typeof r.vm === 'string' ? r : { vm: JSON.stringify(r ?? null) };
    this.progress.lastRetry = {
      via: 'signal',
      at,
      vm: shown.vm,
      ...(typeof shown.onto === 'string' ? { onto: shown.onto } : {}),
      accepted: false,
      reason,
    };
    return this.progress.lastRetry;
  }

  /** Healthy targets for a lost VM's entries, fewest queued first; undefined when they cannot move. */
  private reroute(from: string, entries: EntryRef[]): Map<string, EntryRef[]> | undefined {
    this.lost.add(from);
    const template = this.options.routeByTemplate ? this.templates.get(from) : undefined;
    const healthy = this.fleetVms.filter((vm) => !this.lost.has(vm) && (template === undefined || this.templates.get(vm) === template));
    if (!this.options.rerouteOnAgentLoss || healthy.length === 0) return undefined;
    const load = new Map(healthy.map((vm) => [vm, (this.queues.get(vm)?.length ?? 0) + (this.busy.has(vm) ? 1 : 0)]));
    const moves = new Map<string, EntryRef[]>();
    for (const e of entries) {
      const target = healthy.reduce((best, vm) => (load.get(vm)! < load.get(best)! ? vm : best));
      load.set(target, load.get(target)! + 1);
      moves.set(target, [...(moves.get(target) ?? []), e]);
    }
    return moves;
  }

  // An entry counts once, in the run whose outcome stands; these keep the counts as owners change.
  private count(o: Owner | undefined, delta: number): void {
    if (!o || (o.status !== 'passed' && o.status !== 'failed')) return;
    this.progress[o.status] += delta;
    const run = o.run ? this.runs.get(o.run) : undefined;
    if (run) run[o.status] += delta;
  }

  private setOwner(matrixId: number, next: Owner): void {
    const prev = this.owners.get(matrixId);
    this.count(prev, -1);
    // An outcome of one run that another run takes over: that run re-runs it.
    if (prev?.run && prev.run !== next.run && (prev.status === 'passed' || prev.status === 'failed')) this.runs.get(prev.run)!.rerun++;
    this.owners.set(matrixId, next);
    this.count(next, +1);
  }
}
