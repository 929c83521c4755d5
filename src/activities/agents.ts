import { agentTaskQueue } from '../shared/names';
import { taskQueuePollers, type WorkflowService } from '../shared/pollers';

/** What the orchestrator can learn about an agent without asking the agent. */
export interface AgentPresence {
  /** When a worker last polled the task queue for activities (ms since epoch, server clock); null when none is known. */
  lastPollMs(taskQueue: string): Promise<number | null>;
}

/** Reads the task queue's pollers from Temporal (DescribeTaskQueue). */
export function temporalAgentPresence(service: WorkflowService, namespace: string): AgentPresence {
  return {
    async lastPollMs(taskQueue) {
      let last: number | null = null;
      for (const p of await taskQueuePollers(service, namespace, taskQueue, 'activity')) {
        if (p.lastAccessMs !== null && (last === null || p.lastAccessMs > last)) last = p.lastAccessMs;
      }
      return last;
    },
  };
}

export interface AgentLastPoll {
  /** False when this worker has no way to ask (the workflow then falls back to its timers). */
  known: boolean;
  lastPollMs: number | null;
}

/**
 * When the VM's agent last asked for work. An agent runs one entry at a time and does not poll
 * while it runs one, so a poll after an entry started means the agent was restarted.
 */
export async function agentLastPoll(presence: AgentPresence | undefined, vm: string): Promise<AgentLastPoll> {
  if (!presence) return { known: false, lastPollMs: null };
  return { known: true, lastPollMs: await presence.lastPollMs(agentTaskQueue(vm)) };
}
