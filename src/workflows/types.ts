import type { EntryStatus } from '../core/spec';

/** What the agent reports for one entry; small, the fio outputs stay in the artifact store. */
export interface EntryOutcome {
  matrixId: number;
  vm: string;
  status: Extract<EntryStatus, 'passed' | 'failed'>;
  iterationsDone: number;
  durationMs: number;
  /** True when the entry had passed before (a resumed benchmark) and was not run again. */
  reused: boolean;
  error?: string;
  /** Why it failed: an unavailable agent's entries may be re-run elsewhere, a failed fio run is not. */
  failure?: FailureKind;
  /** The agent's build (version and commit) that ran it, so a mixed fleet shows; absent from older agents. */
  agentBuild?: string;
}

export type FailureKind = 'agent-unavailable' | 'fio' | 'input' | 'other';

export interface EntryRef {
  matrixId: number;
  /** VM whose job spec defines the entry. */
  specVm: string;
}

export interface RunEntryInput extends EntryRef {
  benchmarkId: string;
  /** Where the agent signals that it started this dispatch (entryStartedSignal with the token). */
  startedSignal?: { workflowId: string; token: number };
}

export interface VmWorkflowInput {
  benchmarkId: string;
  vm: string;
  entries: EntryRef[];
  iterations: number;
  fioIterationMs: number;
  agentPickupMs: number;
  agentHeartbeatMs: number;
  /** Send outcomes to the parent in at most this many batches (entryOutcomesSignal); absent: one signal per entry. */
  maxReports?: number;
  /** Continue as new at the first entry boundary past this many history events; absent: never. */
  continueAfterEvents?: number;
  /** What a run that continued as new hands to the next. */
  carried?: VmRunCarried;
}

/** A group of a large fleet's VMs (vmGroupWorkflow): their first runs, started by the group. */
export interface VmGroupInput {
  benchmarkId: string;
  /** Each VM's first run: its entries are its own (their job spec is the VM's), so ids suffice. */
  runs: { vm: string; workflowId: string; matrixIds: number[] }[];
  /** What every VM run gets besides its VM and entries. */
  vm: Omit<VmWorkflowInput, 'vm' | 'entries' | 'carried'>;
  /** Children asked to start at once. */
  startConcurrency: number;
  /** Outcome batches relayed to the benchmark at most. */
  maxReports: number;
}

/** One VM run of a group, compact: passed ids and failed outcomes. */
export interface VmGroupRunResult {
  vm: string;
  workflowId: string;
  status: Exclude<VmRunStatus, 'running'>;
  passed: number[];
  failed: EntryOutcome[];
  /** Why the run itself failed or was cancelled. */
  error?: string;
}

export interface VmGroupResult {
  runs: VmGroupRunResult[];
}

/** A VM run's state across continue-as-new: the result is every run's outcomes together. */
export interface VmRunCarried {
  /** Entries of the VM's whole share (the progress total). */
  total: number;
  outcomes: EntryOutcome[];
  /** Outcomes not yet reported to the parent, and the batches reported so far. */
  unsent: EntryOutcome[];
  batchesSent: number;
  /** Dispatch tokens used so far. */
  tokens: number;
  /** Tries of entries queued again, by matrix id. */
  tries: [number, number][];
  graceMs?: number;
}

export interface VmProgress {
  vm: string;
  total: number;
  passed: number;
  failed: number;
  runningMatrixId: number | null;
  /** Iterations of each entry (the stability gate may add some); absent in runs started before it was added. */
  iterations?: number;
  outcomes: EntryOutcome[];
}

export type VmRunStatus = 'running' | 'completed' | 'cancelled' | 'failed';

/**
 * One child run as the parent knows it, entry by entry. An entry counts in exactly one run:
 * the one whose outcome stands, so the runs' passed and failed add up to the benchmark's.
 */
export interface VmRunState {
  vm: string;
  workflowId: string;
  status: VmRunStatus;
  total: number;
  passed: number;
  failed: number;
  /** Entries this run finished (lost agent, or failed) that a later run re-ran. */
  rerun: number;
}

export type BenchmarkPhase =
  | 'resolving-fleet'
  | 'distributing'
  | 'running'
  | 'awaiting-retry'
  | 'aggregating'
  | 'reporting'
  | 'done'
  | 'cancelling'
  | 'cancelled'
  /** The whole-run deadline (runTimeoutMs) passed: the VMs were cancelled and what finished was reported. */
  | 'timed-out'
  | 'failed';

export interface BenchmarkProgress {
  benchmarkId: string;
  phase: BenchmarkPhase;
  totalEntries: number;
  /** Entries whose latest outcome passed / failed; move with every entry a VM finishes. */
  passed: number;
  failed: number;
  /** Per child run (a VM's share, or a retry of failed entries). */
  runs: VmRunState[];
  /** VMs whose agent was lost (nothing more is routed to them unless a user asks). */
  lostVms: string[];
  /** The report once written; `complete: false` for the partial report of a cancelled or failed benchmark. */
  report?: { keys: string[]; complete: boolean; urls?: string[] };
  /** The whole-run deadline (workflow time, ISO 8601), when the request set one. */
  deadline?: string;
  /** Why the benchmark ended without every entry's result (e.g. "timed out after 3600 s"). */
  incompleteReason?: string;
  /**
   * The last retryVm request and what became of it. A signal has no answer, so a refused one
   * is visible only here, in the workflow's current details and in its log.
   */
  lastRetry?: RetryRecord;
}

/** One retryVm request (signal or update) as the benchmark handled it. */
export interface RetryRecord {
  via: 'signal' | 'update';
  /** Workflow time it arrived (ISO 8601). */
  at: string;
  vm: string;
  onto?: string;
  accepted: boolean;
  /** Accepted: entries queued again. */
  retried?: number;
  /** Refused: why (the same reason the update's validator gives). */
  reason?: string;
}

/** A VM's run tells its parent each entry's outcome as it happens. */
export interface EntryOutcomeReport {
  /** The child run that produced it. */
  workflowId: string;
  outcome: EntryOutcome;
}

/** Several outcomes of one VM run at once (batched reports: a large fleet). */
export interface EntryOutcomesReport {
  workflowId: string;
  outcomes: EntryOutcome[];
}

/** A group's batch for the benchmark: outcomes of several VM runs. */
export interface GroupOutcomesReport {
  reports: EntryOutcomesReport[];
}

export interface RetryVmRequest {
  /** The VM whose failed entries run again. */
  vm: string;
  /** Run the failed entries on this VM instead; default: the same VM. */
  onto?: string;
}

export interface RetryVmResult {
  retried: number;
  onto: string;
  workflowId: string;
}

export interface BenchmarkResult {
  benchmarkId: string;
  totalEntries: number;
  passed: number;
  failed: number;
  reportKeys: string[];
  /**
   * Every entry has its final result. A cancelled or failed benchmark writes a partial report and
   * no result; one whose whole-run deadline passed returns `complete: false` with incompleteReason.
   */
  complete: boolean;
  /** Rows exported for dashboards (report/iterations.ndjson, and BigQuery when configured). */
  exportedRows?: number;
  /** Why the export failed; the benchmark's results and reports are complete regardless. */
  exportError?: string;
  /** Set when not every entry has its result: the whole-run deadline passed ("timed out after 3600 s"). */
  incompleteReason?: string;
  /** The whole-run deadline passed before every entry ran (entries not run count as neither passed nor failed). */
  timedOut?: boolean;
}
