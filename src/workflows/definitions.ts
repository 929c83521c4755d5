import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  BenchmarkProgress,
  EntryOutcomeReport,
  EntryOutcomesReport,
  GroupOutcomesReport,
  RetryVmRequest,
  RetryVmResult,
  VmProgress,
} from './types';

/** Progress of a benchmark as the parent knows it (child runs report each entry as it ends). */
export const progressQuery = defineQuery<BenchmarkProgress>('progress');
/** Live progress of one VM's run, entry by entry. */
export const vmProgressQuery = defineQuery<VmProgress>('vmProgress');
/** Re-runs a VM's failed entries, on the same VM or `onto` another one. */
export const retryVmUpdate = defineUpdate<RetryVmResult, [RetryVmRequest]>('retryVm');
/**
 * The same as a signal, for the Web UI's "Send a Signal" and `temporal workflow signal`: no
 * answer, so a refusal shows in the progress (lastRetry), the current details and the log.
 */
export const retryVmSignal = defineSignal<[RetryVmRequest]>('retryVm');
/** Sent by an agent when it starts an entry (the token names the dispatch), so the next entry can be queued behind it. */
export const entryStartedSignal = defineSignal<[number]>('entryStarted');
/** Sent by a VM's run to its parent for each entry that ends, so the parent's counts move per entry. */
export const entryOutcomeSignal = defineSignal<[EntryOutcomeReport]>('entryOutcome');
/** A VM's run reports several outcomes at once (a large fleet: a bounded number of batches per run). */
export const entryOutcomesSignal = defineSignal<[EntryOutcomesReport]>('entryOutcomes');
/** A group relays its VM runs' outcomes to the benchmark (a bounded number of batches per group). */
export const groupOutcomesSignal = defineSignal<[GroupOutcomesReport]>('groupOutcomes');
