/** `start` (start a benchmark and return) and `plan` (check the inputs and show what a run would do). */
import type { Command } from 'commander';
import { connectClient, startBenchmark } from '../benchmarks';
import { planOf, planText } from '../plan';
import { buildRequest } from '../request';
import { addArtifactsOptions, addBenchmarkOptions, artifactsOf, checkOptionsOf, flagsOf, jsonOf, print, temporalOf } from './options';

export function registerStartCommand(program: Command): void {
  addArtifactsOptions(addBenchmarkOptions(program.command('start').description('start a benchmark and return'))).action(
    async (_o, cmd: Command) => {
      const artifacts = artifactsOf(cmd); // checked before anything connects
      const { request } = await buildRequest(await flagsOf(cmd), checkOptionsOf(cmd));
      const client = await connectClient(temporalOf(cmd));
      const handle = await startBenchmark(client, request, artifacts);
      print(jsonOf(cmd), { benchmarkId: request.benchmarkId, runId: handle.firstExecutionRunId }, () => request.benchmarkId);
    },
  );
}

export function registerPlanCommand(program: Command): void {
  // --artifacts is accepted so a run's command line plans as it is; checked, not used.
  addArtifactsOptions(
    addBenchmarkOptions(
      program.command('plan').description('check inputs and show the matrix, assignment and rendered fio jobs; starts nothing'),
    ),
  ).action(async (_o, cmd: Command) => {
    artifactsOf(cmd);
    const { request, prepared } = await buildRequest(await flagsOf(cmd), checkOptionsOf(cmd));
    const plan = planOf(request, prepared, checkOptionsOf(cmd).allowFioOptions);
    print(jsonOf(cmd), plan, () => planText(plan));
  });
}
