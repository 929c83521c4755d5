/** Names shared by the CLI, the orchestrator worker, the workflows and the agents. */

export const ORCHESTRATOR_TASK_QUEUE = 'gcsfuse-bench-orchestrator';

/** Each VM's agent polls its own queue, named after the VM, so work goes to that VM only. */
export function agentTaskQueue(vm: string): string {
  return `gcsfuse-bench-agent-${vm}`;
}

export const WORKFLOW_TYPES = { benchmark: 'benchmarkWorkflow', vm: 'vmWorkflow' } as const;

/** Child workflow ids: readable in the Web UI next to their benchmark. */
export function vmWorkflowId(benchmarkId: string, vm: string, retry: number): string {
  return retry === 0 ? `${benchmarkId}-vm-${vm}` : `${benchmarkId}-vm-${vm}-retry-${retry}`;
}

/** Error types that no retry can fix. */
export const FAILURE_TYPES = {
  input: 'InputError',
  fio: 'FioFailed',
  conflict: 'WriteConflictError',
} as const;
