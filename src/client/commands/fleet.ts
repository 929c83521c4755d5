/**
 * Which builds the fleet runs: `gcsfuse-bench fleet [vm...]` and the builds section of `status`.
 * Read from Temporal (who polls each VM's task queue and the orchestrator's, with the build in
 * the worker identity), so it needs nothing from the VMs and shows a half-done upgrade.
 */
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { checkSafeId } from '../../core/ids';
import { mapAhead } from '../../core/read-ahead';
import { buildsOfPollers, fleetBuilds, fleetBuildsText, type FleetBuilds } from '../../shared/build';
import { agentTaskQueue, ORCHESTRATOR_TASK_QUEUE } from '../../shared/names';
import { taskQueuePollers } from '../../shared/pollers';
import { progressQuery } from '../../workflows/definitions';
import type { EntryOutcome } from '../../workflows/types';
import { connectClient } from '../benchmarks';
import { jsonOf, print, temporalOf } from './options';

const DESCRIBES_IN_FLIGHT = 16;

/** The builds of the orchestrator workers and of each VM's agents, from their task queues' recent pollers. */
export async function readFleetBuilds(client: Client, vms: readonly string[]): Promise<FleetBuilds> {
  const service = client.workflowService;
  const namespace = client.options.namespace;
  const orchestrator = await Promise.all([
    taskQueuePollers(service, namespace, ORCHESTRATOR_TASK_QUEUE, 'workflow'),
    taskQueuePollers(service, namespace, ORCHESTRATOR_TASK_QUEUE, 'activity'),
  ]).then(([w, a]) => buildsOfPollers([...w, ...a]));
  // One describe per VM, a bounded number in flight: a large fleet must not hit the server with all at once.
  const agents: { vm: string; builds: string[] }[] = [];
  const described = mapAhead(vms, DESCRIBES_IN_FLIGHT, async (vm) => ({
    vm,
    builds: buildsOfPollers(await taskQueuePollers(service, namespace, agentTaskQueue(vm), 'activity')),
  }));
  for await (const a of described) agents.push(a);
  return fleetBuilds(agents, orchestrator);
}

/** How many entries each agent build ran (outcomes the agent returned; others name no build). */
export function entriesByBuild(outcomes: Iterable<EntryOutcome>): { build: string; entries: number }[] {
  const n = new Map<string, number>();
  for (const o of outcomes) if (o.agentBuild) n.set(o.agentBuild, (n.get(o.agentBuild) ?? 0) + 1);
  return [...n].map(([build, entries]) => ({ build, entries })).sort((a, b) => b.entries - a.entries);
}

/** The builds section of `status`: the fleet now, and which builds ran the benchmark's entries. */
export function buildsSectionText(builds: FleetBuilds, ran: { build: string; entries: number }[]): string {
  const lines = [fleetBuildsText(builds)];
  if (ran.length) lines.push(`entries run by build: ${ran.map((r) => `${r.build} (${r.entries})`).join(', ')}`);
  if (ran.length > 1 && !builds.mixed) lines.push(`MIXED FLEET: this benchmark's entries ran on ${ran.length} agent builds`);
  return lines.join('\n');
}

export function registerFleetCommand(program: Command): void {
  program
    .command('fleet [vm...]')
    .description("the build of the orchestrator worker and of each VM's agent (from who polls their task queues); flags a mixed fleet")
    .option('--benchmark <id>', "also every VM of this benchmark's runs")
    .action(async (vmArgs: string[], o: { benchmark?: string }, cmd: Command) => {
      for (const vm of vmArgs) checkSafeId(vm, 'VM name');
      const client = await connectClient(temporalOf(cmd));
      const vms = new Set(vmArgs);
      if (o.benchmark) {
        const progress = await client.workflow.getHandle(o.benchmark).query(progressQuery);
        for (const r of progress.runs) vms.add(r.vm);
      }
      const builds = await readFleetBuilds(client, [...vms].sort());
      print(jsonOf(cmd), builds, () => fleetBuildsText(builds));
    });
}
