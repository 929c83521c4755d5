/** Commands about a running or finished benchmark: `watch`, `status` and `report`. */
import type { Command } from 'commander';
import { InputError } from '../../core/errors';
import { describeRetry } from '../../workflows/details';
import { connectClient, liveProgress, readReport } from '../benchmarks';
import { parsePollIntervalMs } from '../request';
import { progressTable, reportTable } from '../table';
import { buildsSectionText, entriesByBuild, readFleetBuilds } from './fleet';
import { exitCodeAfter, follow, printReport } from './follow';
import { addReconnectOption, artifactsOf, artifactsOption, jsonOf, pollIntervalOption, print, temporalOf } from './options';

export function registerWatchCommand(program: Command): void {
  addReconnectOption(
    program.command('watch <benchmark-id>').description('follow a running benchmark until it ends').addOption(artifactsOption()),
  )
    .addOption(pollIntervalOption())
    .action(async (id: string, _o, cmd: Command) => {
      parsePollIntervalMs(cmd.opts<{ pollInterval?: string }>().pollInterval);
      const result = await follow(cmd, id);
      await printReport(artifactsOf(cmd), id, jsonOf(cmd));
      process.exitCode = exitCodeAfter(result);
    });
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status <benchmark-id>')
    .description('per-VM progress of a benchmark')
    .action(async (id: string, _o, cmd: Command) => {
      const client = await connectClient(temporalOf(cmd));
      const desc = await client.workflow.getHandle(id).describe();
      const { progress, live } = await liveProgress(client, id, true);
      const runName = typeof desc.memo?.runName === 'string' ? desc.memo.runName : id;
      // The header's counts are the table's columns summed: the parent counts each entry once, as it ends.
      const notes = [
        progress.lostVms?.length ? `lost agents: ${progress.lostVms.join(', ')}` : '',
        progress.report ? `${progress.report.complete ? 'report' : 'partial report'}: ${progress.report.keys[0] ?? ''}` : '',
        // Why it ended incomplete (e.g. the deadline), and the last retryVm request, which a signal cannot answer.
        progress.incompleteReason ? `incomplete: ${progress.incompleteReason}` : '',
        progress.lastRetry ? describeRetry(progress.lastRetry) : '',
      ].filter(Boolean);
      // live: one element per VM run, in workflow-id order (not keyed by workflow id).
      const liveList = [...live].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([workflowId, p]) => ({ workflowId, ...p }));
      // Which builds the VMs' agents and the orchestrator run now, and which ran this benchmark's entries.
      const builds = await readFleetBuilds(client, [...new Set(progress.runs.map((r) => r.vm))].sort());
      const ranBy = entriesByBuild(liveList.flatMap((p) => p.outcomes));
      print(
        jsonOf(cmd),
        { benchmarkId: id, runName, status: desc.status.name, progress, live: liveList, builds: { ...builds, entriesByBuild: ranBy } },
        () =>
          `${id}${runName !== id ? ` (${runName})` : ''}: ${desc.status.name}, phase ${progress.phase}, ${progress.passed} passed, ${progress.failed} failed of ${progress.totalEntries}${notes.map((n) => `; ${n}`).join('')}\n${progressTable(progress, live)}\n${buildsSectionText(builds, ranBy)}`,
      );
    });
}

export function registerReportCommand(program: Command): void {
  program
    .command('report <benchmark-id>')
    .description("print a finished benchmark's report from the artifact store")
    .addOption(artifactsOption().makeOptionMandatory())
    .action(async (id: string, _o, cmd: Command) => {
      const reports = await readReport(artifactsOf(cmd)!, id);
      if (!reports) throw new InputError(`no report for benchmark "${id}" in ${artifactsOf(cmd)}`, { flag: '--artifacts' });
      print(jsonOf(cmd), reports, () => reportTable(reports));
    });
}
