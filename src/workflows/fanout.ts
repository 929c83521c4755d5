/**
 * How a benchmark fans out over its fleet, and why that keeps every workflow inside Temporal's
 * limits whatever the fleet's size. Pure and deterministic: the workflows call it, and
 * bench/README.md's limits table and test/unit/fanout.test.ts check its arithmetic.
 *
 * Up to FLAT_MAX_VMS VMs, the benchmark starts one child per VM itself and hears of every entry
 * as it ends. Above, it starts ceil(VMs / VMS_PER_GROUP) group workflows, each starting its VMs'
 * children a few at a time (so the server is never asked for a thousand starts at once) and
 * relaying their outcomes upward in a bounded number of batches. A VM's run continues as new
 * once its history passes VM_RUN_EVENTS, so no history grows with the number of entries.
 */
import { SHARE_PAGE_ENTRIES } from '../core/share-pages';
import type { FanoutOptions } from '../core/spec';

/** Fleets up to this size run flat: one child per VM under the benchmark. */
export const FLAT_MAX_VMS = 64;
/** VMs per group workflow. */
export const VMS_PER_GROUP = 64;
/** Children a group asks the server to start at once (each started before the next is asked). */
export const GROUP_START_CONCURRENCY = 16;
/** Outcome batches a VM's run sends its group (the rest comes back with its result). */
export const VM_REPORTS_PER_RUN = 4;
/**
 * Outcome reports all VMs of a flat benchmark send it together: up to this many, counts move
 * per entry; past it, each VM batches its outcomes.
 */
export const FLAT_REPORTS = 1_000;
/** Outcome batches a group sends the benchmark (the rest comes back with its result). */
export const GROUP_REPORTS = 8;
/** A VM's run continues as new at the first entry boundary past this many history events. */
export const VM_RUN_EVENTS = 4_000;
/** VM runs the benchmark itself runs at once (re-routed and retried entries), under the pending-children limit. */
export const DIRECT_RUNS_MAX = 500;

/** Temporal's defaults (server dynamic config) that a workflow must stay under. */
export const TEMPORAL_LIMITS = {
  /** `limit.historyCount.warn`: the Web UI and SDKs warn past it; 50K is the hard limit. */
  historyEventsWarn: 10_000,
  historyEventsError: 51_200,
  /** `limit.numPendingChildExecutions.error` */
  pendingChildren: 2_000,
  /** `limit.numPendingActivities.error` */
  pendingActivities: 2_000,
  /** `limit.numPendingSignals.error` (signals this workflow sends to others) */
  pendingSignals: 2_000,
} as const;

/** The VMs split into groups of at most vmsPerGroup, sizes differing by at most one; [] when the fleet runs flat. */
export function groupVms(vms: readonly string[], options: FanoutOptions = {}): string[][] {
  const flatMax = options.flatMaxVms ?? FLAT_MAX_VMS;
  const perGroup = options.vmsPerGroup ?? VMS_PER_GROUP;
  if (vms.length <= flatMax) return [];
  const count = Math.ceil(vms.length / perGroup);
  const groups: string[][] = [];
  for (let g = 0, at = 0; g < count; g++) {
    const size = Math.floor(vms.length / count) + (g < vms.length % count ? 1 : 0);
    groups.push(vms.slice(at, at + size));
    at += size;
  }
  return groups;
}

/** Outcome reports a VM's run may send to the benchmark when the fleet runs flat (at least VM_REPORTS_PER_RUN). */
export function flatVmReports(vms: number): number {
  return Math.max(VM_REPORTS_PER_RUN, Math.floor(FLAT_REPORTS / Math.max(1, vms)));
}

/**
 * Sends at most `maxBatches` batches over `total` items: true when the unsent items reach a
 * batch's share. The items left when the budget is spent go with the sender's result.
 */
export function batchDue(unsent: number, total: number, sentBatches: number, maxBatches: number): boolean {
  if (unsent === 0 || sentBatches >= maxBatches) return false;
  return unsent >= Math.max(1, Math.ceil(total / maxBatches));
}

/**
 * Worst-case history events, per workflow kind, from counting the commands and events each
 * step writes (see the comments of each term). Workflow tasks: a task is scheduled, started and
 * completed (3 events) each time the workflow wakes; several signals that arrive together share
 * one, so one task per signal is the worst case.
 */
export const EVENTS = {
  workflowTask: 3,
  /** Start, first task, completion or continue-as-new. */
  runFixed: 2 + 3 + 1,
  /** An entry: its activity (3), the agent's started signal (1), the pickup timer (2), up to 3 wakes (9). */
  entryOnce: 3 + 1 + 2 + 9,
  /** A failed try adds a presence check (activity 3 + wake 3) and one more pickup window (timer 2 + wake 3). */
  failedTry: 3 + 3 + 2 + 3,
  /** Tries of one entry at most (an agent restarted under it), see vm.ts. */
  maxTries: 3,
  /** A child run: initiated, started, completed (3) and two wakes (6). */
  child: 3 + 6,
  /** A signal received: the signal and a wake. */
  signalIn: 1 + 3,
  /** A signal sent: initiated, signaled and a wake. */
  signalOut: 2 + 3,
  /** Per wake that changed the counts: a search-attribute upsert. */
  upsert: 1,
} as const;

export interface FanoutBudget {
  vms: number;
  entriesPerVm: number;
  groups: number;
  vmsPerGroup: number;
  /** Worst-case events of each workflow kind. */
  benchmarkEvents: number;
  groupEvents: number;
  vmRunEvents: number;
  /** Runs a VM's share is split into by continue-as-new at the worst (every entry at its worst case). */
  vmRunsPerVm: number;
  benchmarkPendingChildren: number;
  groupPendingChildren: number;
  groupPendingSignals: number;
  vmPendingActivities: number;
}

/**
 * The worst case for a fleet with no failures (failures add a bounded amount per failed try of
 * an entry, counted in vmRunEvents, and one direct run per re-routed or retried VM, at most
 * DIRECT_RUNS_MAX at once).
 */
export function fanoutBudget(vms: number, entriesPerVm: number, options: FanoutOptions = {}): FanoutBudget {
  const flatMax = options.flatMaxVms ?? FLAT_MAX_VMS;
  const perGroup = options.vmsPerGroup ?? VMS_PER_GROUP;
  const runEvents = options.vmRunEvents ?? VM_RUN_EVENTS;
  const flat = vms <= flatMax;
  const groups = flat ? 0 : Math.ceil(vms / perGroup);
  const vmsPerGroup = flat ? 0 : Math.ceil(vms / groups);
  const worstEntry = EVENTS.entryOnce + (EVENTS.maxTries - 1) * (EVENTS.entryOnce + EVENTS.failedTry);
  // A run continues as new at the first boundary past runEvents: one more entry at the worst.
  const vmRunEvents = Math.min(EVENTS.runFixed + entriesPerVm * worstEntry, runEvents + worstEntry + EVENTS.runFixed);
  const entriesPerRun = Math.max(1, Math.floor((runEvents - EVENTS.runFixed) / worstEntry));
  // Fixed work of the benchmark: resolve fleet, distribute, aggregate, report, export, and the distribution's
  // pages past SHARE_PAGE_ENTRIES entries (activities 3 + wake 3 each).
  const total = vms * entriesPerVm;
  const pages = total > SHARE_PAGE_ENTRIES ? Math.ceil(total / SHARE_PAGE_ENTRIES) + 1 : 0;
  const benchmarkFixed = EVENTS.runFixed + (5 + pages) * (3 + EVENTS.workflowTask);
  const benchmarkEvents = flat
    ? // Flat: a child per VM, and its reports (one per entry while they fit FLAT_REPORTS), each with its upsert.
      benchmarkFixed + vms * (EVENTS.child + Math.min(entriesPerVm, flatVmReports(vms)) * (EVENTS.signalIn + EVENTS.upsert))
    : benchmarkFixed + groups * (EVENTS.child + GROUP_REPORTS * (EVENTS.signalIn + EVENTS.upsert));
  const groupEvents = flat
    ? 0
    : EVENTS.runFixed + vmsPerGroup * (EVENTS.child + VM_REPORTS_PER_RUN * EVENTS.signalIn) + GROUP_REPORTS * EVENTS.signalOut;
  return {
    vms,
    entriesPerVm,
    groups,
    vmsPerGroup,
    benchmarkEvents,
    groupEvents,
    vmRunEvents,
    vmRunsPerVm: Math.ceil(entriesPerVm / entriesPerRun),
    benchmarkPendingChildren: flat ? vms : groups + DIRECT_RUNS_MAX,
    groupPendingChildren: vmsPerGroup,
    // Relays are not awaited one by one: at most every batch is in flight.
    groupPendingSignals: GROUP_REPORTS,
    // The running entry and the one queued behind it, and a presence check.
    vmPendingActivities: 3,
  };
}
