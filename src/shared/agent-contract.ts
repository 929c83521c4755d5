/**
 * The agent's activities as the vmWorkflow calls them on an agent's task queue
 * (`gcsfuse-bench-agent-<vm>`): the contract between src/workflows/vm.ts and vm-agent/, so the
 * workflow takes its type from here rather than from the agent's code. Types only.
 */
import type { EntryOutcome, RunEntryInput } from '../workflows/types';

export interface AgentActivities {
  /** Runs one entry's iterations (mount, fio, resource samples) and records it in the VM's manifest. */
  runEntry(input: RunEntryInput): Promise<EntryOutcome>;
}
