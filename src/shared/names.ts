import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
/** Names shared by the CLI, the orchestrator worker, the workflows and the agents. */

export const ORCHESTRATOR_TASK_QUEUE = 'gcsfuse-bench-orchestrator';

/** Each VM's agent polls its own queue, named after the VM, so work goes to that VM only. */
export function agentTaskQueue(vm: string): string {
  return `gcsfuse-bench-agent-${vm}`;
}

export const WORKFLOW_TYPES = {
  benchmark: 'benchmarkWorkflow',
  vm: 'vmWorkflow',
  vmGroup: 'vmGroupWorkflow',
  suiteRun: 'suiteRunWorkflow',
  bisect: 'bisectWorkflow',
} as const;

/** Child workflow ids: readable in the Web UI next to their benchmark. */
export function vmWorkflowId(benchmarkId: string, vm: string, retry: number): string {
  return retry === 0 ? `${benchmarkId}-vm-${vm}` : `${benchmarkId}-vm-${vm}-retry-${retry}`;
}

/** A large fleet's group of VMs (0 first). */
export function vmGroupWorkflowId(benchmarkId: string, group: number): string {
  return `${benchmarkId}-group-${group}`;
}

/** Error types that no retry can fix. */
export const FAILURE_TYPES = {
  input: 'InputError',
  fio: 'FioFailed',
  conflict: 'WriteConflictError',
} as const;

/**
 * Search attributes that make runs findable in the Web UI and `temporal workflow list`.
 * Registered by `gcsfuse-bench setup-temporal` (and by the embedded dev server at start).
 */
export const SEARCH_ATTRIBUTES = {
  benchmarkId: defineSearchAttributeKey('BenchmarkId', SearchAttributeType.KEYWORD),
  gcsfuseCommit: defineSearchAttributeKey('GcsfuseCommit', SearchAttributeType.KEYWORD_LIST),
  fleet: defineSearchAttributeKey('Fleet', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('BenchmarkStatus', SearchAttributeType.KEYWORD),
  /** The suite (schedule) a run belongs to, on the suite run and on its benchmark. */
  suite: defineSearchAttributeKey('BenchmarkSuite', SearchAttributeType.KEYWORD),
  /** A suite run's verdict against its baseline: pass, regression, inconclusive, no-baseline. */
  verdict: defineSearchAttributeKey('BenchmarkVerdict', SearchAttributeType.KEYWORD),
} as const;

/** The same attributes as `temporal server start-dev --search-attribute NAME=Type` arguments. */
export function devServerSearchAttributeArgs(): string[] {
  const typeName = { KEYWORD: 'Keyword', KEYWORD_LIST: 'KeywordList' } as const;
  return Object.values(SEARCH_ATTRIBUTES).flatMap((k) => ['--search-attribute', `${k.name}=${typeName[k.type as keyof typeof typeName]}`]);
}
