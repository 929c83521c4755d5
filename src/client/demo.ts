import { Command } from 'commander';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../core/errors';
import { startEmbedded, type Embedded } from '../local/embedded';
import { stopAllProcesses } from '../local/processes';
import { temporalOptionsFromEnv } from '../shared/temporal';
import { connectClient, failureMessage, readReport, startBenchmark, watchBenchmark } from './benchmarks';
import { EXIT } from './cli';
import { buildRequest, defaultBenchmarkId } from './request';
import { reportTable } from './table';
import { createWatchView } from './watch-view';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `npm run demo`: the whole system on this machine. Starts a Temporal dev server with
 * its Web UI, an orchestrator worker and local agents as separate processes, runs a
 * small suite with real fio against local folders, prints the report, stops everything.
 */
async function main(): Promise<number> {
  const o = new Command('demo')
    .option('--home <dir>', 'where the demo keeps its server database, artifacts and logs', path.join(REPO, '.gcsfuse-bench/demo'))
    .option('--agents <n>', 'local agents (VMs)', '3')
    .option('--iterations <n>', 'iterations of each entry', '2')
    .option('--test-csv <file>', 'test cases', path.join(REPO, 'examples/quick/test-cases.csv'))
    .option('--fio-job-file <file>', 'fio job template', path.join(REPO, 'examples/quick/jobfile.fio'))
    .option('--benchmark-id <id>', 'benchmark id', defaultBenchmarkId())
    .option('--keep', 'keep the server, worker and agents running (Web UI stays up) until Ctrl-C')
    .parse()
    .opts<{ home: string; agents: string; iterations: string; testCsv: string; fioJobFile: string; benchmarkId: string; keep?: boolean }>();

  const agents = Array.from({ length: Number(o.agents) }, (_, i) => `local-vm-${i + 1}`);
  // Check the inputs before starting any process.
  const { request } = await buildRequest({
    benchmarkId: o.benchmarkId,
    testCsv: o.testCsv,
    fioJobFile: o.fioJobFile,
    iterations: o.iterations,
    vms: agents.join(','),
    mount: 'local-dir',
    // Local agents start in seconds; a missing one should fail the demo fast.
    agentPickupTimeout: '2m',
    heartbeatTimeout: '30s',
    fioTimeout: '10m',
  });

  let embedded: Embedded | undefined;
  let stopping: Promise<void> | undefined;
  // In order when everything is up; whatever was started so far when interrupted during start-up.
  const stopAll = (): Promise<void> => (stopping ??= (embedded ? embedded.stop() : Promise.resolve()).then(stopAllProcesses));
  let interrupted = false;
  let cancelBenchmark: (() => Promise<void>) | undefined;
  process.on('SIGINT', () => {
    if (interrupted) return;
    interrupted = true;
    console.error('\ninterrupted: cancelling the benchmark and stopping the server, worker and agents...');
    void (async () => {
      await Promise.race([cancelBenchmark?.().catch(() => {}), new Promise((r) => setTimeout(r, 15_000))]);
      await stopAll();
      process.exit(EXIT.interrupted);
    })();
  });

  try {
    console.error(`starting Temporal dev server, orchestrator worker and ${agents.length} agents (logs in ${path.join(o.home, 'logs')})`);
    embedded = await startEmbedded({ home: o.home, agents });
    const client = await connectClient(temporalOptionsFromEnv({}, { address: embedded.server.address }));
    await startBenchmark(client, request, embedded.artifacts);
    cancelBenchmark = async () => {
      await client.workflow.getHandle(request.benchmarkId).cancel();
      await client.workflow.getHandle(request.benchmarkId).result().catch(() => {});
    };
    const uiLink = `${embedded.server.uiUrl}/namespaces/default/workflows/${request.benchmarkId}`;
    console.error(`benchmark ${request.benchmarkId} started; watch it in the Temporal Web UI: ${uiLink}`);
    const view = createWatchView();
    const result = await watchBenchmark(client, request.benchmarkId, (p) => view.update(p)).finally(() => view.stop());
    const reports = await readReport(embedded.artifacts, request.benchmarkId);
    if (reports) console.log(reportTable(reports));
    console.log(`report: ${path.join(embedded.artifacts, request.benchmarkId, 'report', 'combined_report.csv')}`);
    console.log(`Temporal Web UI: ${uiLink}`);
    if (o.keep) {
      console.error('--keep: server, worker and agents keep running; press Ctrl-C to stop them');
      await new Promise(() => {});
    }
    return result.failed > 0 ? EXIT.entriesFailed : EXIT.ok;
  } catch (err) {
    if (interrupted) await new Promise(() => {}); // the SIGINT handler exits
    console.error(`demo failed: ${failureMessage(err)}`);
    if (embedded) console.error(`logs: ${embedded.logDir}`);
    return err instanceof InputError ? EXIT.badInput : EXIT.failed;
  } finally {
    if (!interrupted) await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof InputError ? `error: ${err.message}` : err);
    process.exit(err instanceof InputError ? EXIT.badInput : EXIT.failed);
  },
);
