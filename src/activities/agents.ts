import proto from '@temporalio/proto';
import { agentTaskQueue } from '../shared/names';

// @temporalio/proto is CommonJS: Node's ESM loader sees only its default export.
const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;
type WorkflowService = proto.temporal.api.workflowservice.v1.WorkflowService;

/** What the orchestrator can learn about an agent without asking the agent. */
export interface AgentPresence {
  /** When a worker last polled the task queue for activities (ms since epoch, server clock); null when none is known. */
  lastPollMs(taskQueue: string): Promise<number | null>;
}

/** Reads the task queue's pollers from Temporal (DescribeTaskQueue). */
export function temporalAgentPresence(service: WorkflowService, namespace: string): AgentPresence {
  return {
    async lastPollMs(taskQueue) {
      const r = await service.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      let last: number | null = null;
      for (const p of r.pollers ?? []) {
        const t = p.lastAccessTime;
        if (!t) continue;
        const ms = Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
        if (last === null || ms > last) last = ms;
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
