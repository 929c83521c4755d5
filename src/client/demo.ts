import { Command } from 'commander';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { quote } from 'shell-quote';
import { fileURLToPath } from 'node:url';
import { InputError } from '../core/errors';
import { startEmbedded, type Embedded } from '../local/embedded';
import { stopAllProcesses } from '../local/processes';
import { temporalOptionsFromEnv, type TemporalOptions } from '../shared/temporal';
import { connectClient, failureMessage, readReport, startBenchmark, watchBenchmark } from './benchmarks';
import { EXIT, exitCodeOfResult } from './exit-codes';
import { buildRequest, defaultBenchmarkId } from './request';
import { reportTable } from './table';
import { createWatchView } from './watch-view';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(REPO, 'bin/gcsfuse-bench');
const DEMO_NAMESPACE = 'default';
/** Ctrl-C, `kill <pid>` and a closed terminal. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** How long an interrupted demo waits for the cancelled benchmark to close before it stops the processes. */
const CANCEL_WAIT_MS = 15_000;
/** Each agent is a Node process running fio: more than this swamps one machine. */
const MAX_DEMO_AGENTS = 16;

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
    .option('--keep', 'keep the server, worker and agents running (Web UI stays up) until Ctrl-C, SIGTERM or SIGHUP')
    .parse()
    .opts<{ home: string; agents: string; iterations: string; testCsv: string; fioJobFile: string; benchmarkId: string; keep?: boolean }>();

  const agentCount = Number(o.agents);
  if (!Number.isInteger(agentCount) || agentCount < 1 || agentCount > MAX_DEMO_AGENTS) {
    throw new InputError(`"${o.agents}" is not a number of agents from 1 to ${MAX_DEMO_AGENTS}`, { flag: '--agents' });
  }
  const agents = Array.from({ length: agentCount }, (_, i) => `local-vm-${i + 1}`);
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
  let finished = false;
  let exitCode: number = EXIT.ok;
  let cancelBenchmark: (() => Promise<void>) | undefined;
  // A closed terminal (SIGHUP) makes writes to it fail; the clean-up must go on regardless.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  const say = (line: string): void => {
    try {
      console.error(line);
    } catch {
      // the terminal is gone
    }
  };
  // Ctrl-C, `kill <pid>` (SIGTERM) and a closed terminal (SIGHUP) all clean up the same way:
  // the servers run in their own process groups, so nothing else would stop them.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    say(
      finished
        ? `\n${signal}: stopping the server, worker and agents...`
        : `\ninterrupted (${signal}): cancelling the benchmark and stopping the server, worker and agents...`,
    );
    void (async () => {
      if (!finished) await Promise.race([cancelBenchmark?.().catch(() => {}), new Promise((r) => setTimeout(r, CANCEL_WAIT_MS))]);
      await stopAll();
      if (!o.keep) removeScratch(o.home);
      say('stopped');
      process.exit(finished ? exitCode : EXIT.interrupted);
    })();
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);

  try {
    say(`starting Temporal dev server, orchestrator worker and ${agents.length} agents (logs in ${path.join(o.home, 'logs')})`);
    embedded = await startEmbedded({ home: o.home, agents });
    const temporal = temporalOptionsFromEnv({}, { address: embedded.server.address, namespace: DEMO_NAMESPACE });
    const client = await connectClient(temporal);
    await startBenchmark(client, request, embedded.artifacts);
    cancelBenchmark = async () => {
      await client.workflow.getHandle(request.benchmarkId).cancel();
      await client.workflow
        .getHandle(request.benchmarkId)
        .result()
        .catch(() => {});
    };
    const uiLink = `${embedded.server.uiUrl}/namespaces/${DEMO_NAMESPACE}/workflows/${request.benchmarkId}`;
    say(`benchmark ${request.benchmarkId} started on Temporal ${temporal.address} (namespace ${temporal.namespace}); Web UI: ${uiLink}`);
    const view = createWatchView();
    const result = await watchBenchmark(client, request.benchmarkId, (p) => view.update(p)).then(
      (r) => (view.stop(r), r),
      (err: unknown) => {
        view.stop();
        throw err;
      },
    );
    finished = true;
    const reports = await readReport(embedded.artifacts, request.benchmarkId);
    if (reports) console.log(reportTable(reports));
    console.log(`report: ${path.join(embedded.artifacts, request.benchmarkId, 'report', 'combined_report.csv')}`);
    console.log(`Temporal Web UI: ${uiLink}`);
    exitCode = exitCodeOfResult(result);
    if (o.keep) {
      console.log(keepText({ temporal, artifacts: embedded.artifacts, benchmarkId: request.benchmarkId, pid: process.pid }));
      await new Promise(() => {}); // until a signal: onSignal stops everything and exits
    }
    return exitCode;
  } catch (err) {
    if (interrupted) await new Promise(() => {}); // onSignal exits
    say(`demo failed: ${failureMessage(err)}`);
    if (embedded) say(`logs: ${embedded.logDir}`);
    return err instanceof InputError ? EXIT.badInput : EXIT.failed;
  } finally {
    if (!interrupted) {
      await stopAll();
      if (!o.keep) removeScratch(o.home);
    }
  }
}

/** What a kept demo prints: how to reach it from another terminal, and how to stop it. */
function keepText(o: { temporal: TemporalOptions; artifacts: string; benchmarkId: string; pid: number }): string {
  const rel = path.relative(process.cwd(), CLI);
  const cli = rel.startsWith('..') || path.isAbsolute(rel) ? quote([CLI]) : rel;
  return [
    `--keep: the Temporal server (${o.temporal.address}, namespace ${o.temporal.namespace}), the worker and the agents keep running.`,
    'To use them from another terminal, paste:',
    `  export TEMPORAL_ADDRESS=${o.temporal.address} TEMPORAL_NAMESPACE=${o.temporal.namespace} GCSFUSE_BENCH_ARTIFACTS=${quote([o.artifacts])}`,
    `  ${cli} status ${o.benchmarkId}`,
    `  ${cli} report ${o.benchmarkId}`,
    `or name the server on each command: ${cli} status ${o.benchmarkId} --temporal-address ${o.temporal.address}`,
    `To stop everything: Ctrl-C here, or \`kill ${o.pid}\` (closing this terminal stops it too).`,
  ].join('\n');
}

/** The agents' scratch folders (fio's test files): only a kept demo still needs them. */
function removeScratch(home: string): void {
  rmSync(path.join(home, 'agents'), { recursive: true, force: true });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof InputError ? `error: ${err.message}` : err);
    process.exit(err instanceof InputError ? EXIT.badInput : EXIT.failed);
  },
);
