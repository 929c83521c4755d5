/** Who polls a task queue, as Temporal's DescribeTaskQueue says (the orchestrator's presence check and the CLI's fleet view). */
import proto from '@temporalio/proto';
import type { Poller } from './build';

// @temporalio/proto is CommonJS: Node's ESM loader sees only its default export.
const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;
export type WorkflowService = proto.temporal.api.workflowservice.v1.WorkflowService;
export type PollerKind = 'activity' | 'workflow';

/** The workers that polled a task queue for one kind of task recently (the server keeps a few minutes). */
export async function taskQueuePollers(
  service: WorkflowService,
  namespace: string,
  taskQueue: string,
  kind: PollerKind,
): Promise<Poller[]> {
  const r = await service.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: kind === 'activity' ? TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY : TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (r.pollers ?? []).map((p) => {
    const t = p.lastAccessTime;
    return {
      identity: p.identity ?? '',
      lastAccessMs: t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : null,
    };
  });
}
