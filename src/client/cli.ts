import { WorkflowFailedError } from '@temporalio/client';
import { Command, Option } from 'commander';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkArtifactsLocation } from '../artifacts';
import { InputError } from '../core/errors';
import { temporalOptionsFromEnv, type TemporalOptions } from '../shared/temporal';
import type { BenchmarkResult } from '../workflows/types';
import {
  cancelBenchmark,
  cancelOnSignals,
  connectClient,
  failureMessage,
  finalState,
  isInputFailure,
  liveProgress,
  parseReconnectTimeout,
  readReport,
  reconnectNotices,
  RefusedError,
  retryVm,
  startBenchmark,
  watchBenchmark,
} from './benchmarks';
import { planOf, planText } from './plan';
import { buildRequest, loadConfigFile, type BenchmarkFlags, type CheckOptions } from './request';
import { progressTable, reportTable } from './table';
import { createWatchView, finalStateText } from './watch-view';
import { compareCommand } from './compare';
import { exportCommand } from './export';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, entriesFailed: 3, regression: 4, refused: 5, interrupted: 130 } as const;

interface GlobalFlags {
  temporalAddress?: string;
  namespace?: string;
  json?: boolean;
}

function temporalOf(cmd: Command): TemporalOptions {
  const g = cmd.optsWithGlobals<GlobalFlags>();
  return temporalOptionsFromEnv(process.env, { address: g.temporalAddress, namespace: g.namespace });
}

function addBenchmarkOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'YAML or JSON file of these options by flag name (flags given here win)')
    .option('--benchmark-id <id>', 'benchmark id (the workflow id and artifact folder); reuse it with the same inputs to resume')
    .option('--test-csv <file>', 'test cases CSV (one fio workload per row)')
    .option('--configs-csv <file>', 'mount configs CSV: commit,mount_args,label')
    .option('--fio-job-file <file>', 'fio job template with placeholders such as BLOCK_SIZE or ${IO_DEPTH}')
    .option('--iterations <n>', 'runs of each matrix entry', '5')
    .option('--vms <names>', 'comma-separated VM (agent) names')
    .option('--instance-group <name>', 'managed instance group whose running VMs to use')
    .option('--executor-vm <name>', 'a single VM to run on')
    .option('--project <id>', 'Google Cloud project (with --instance-group / --executor-vm)')
    .option('--zone <zone>', 'zone of the VM or zonal group')
    .option('--region <region>', 'region of a regional group')
    .addOption(new Option('--mount <kind>', 'what MOUNT_POINT is').choices(['local-dir', 'gcsfuse']))
    .option('--bucket <name>', 'test data bucket gcsfuse mounts (alias --test-data-bucket)')
    .addOption(new Option('--test-data-bucket <name>').hideHelp())
    .option('--gcsfuse-custom-endpoint <url>', 'gcsfuse --custom-endpoint, e.g. an emulator (http://127.0.0.1:4443/storage/v1/)')
    .option('--gcsfuse-anonymous-access', 'gcsfuse --anonymous-access (no credentials; for emulators)')
    .option('--gcsfuse-commit <ref>', 'gcsfuse commit or tag when no configs CSV is given', 'master')
    .option('--gcsfuse-mount-args <args>', 'gcsfuse mount flags when no configs CSV is given', '')
    .option('--fio-timeout <duration>', 'longest one fio iteration may run (alias --timeout)', '30m')
    .addOption(new Option('--timeout <duration>').hideHelp())
    .option('--agent-pickup-timeout <duration>', 'how long an entry waits for its agent before the agent counts as lost', '60s')
    .option('--heartbeat-timeout <duration>', 'an agent silent this long while running fio counts as dead', '30s')
    .option('--no-reroute', "keep a lost agent's entries failed instead of re-running them on healthy VMs")
    .option('--single-thread-vm-type <template>', 'instance template of the VMs that run single-job tests (num_jobs = 1)')
    .option('--multi-thread-vm-type <template>', 'instance template of the VMs that run multi-job tests')
    .option('--retry-window <duration>', 'after all VMs finish with failures, wait this long for retry-vm', '0')
    .option('--separate-configs', 'also write one report CSV per mount config')
    .option('--stability-cv <percent>', 'stability gate: run more iterations while bandwidth CV is above this (e.g. 5)')
    .option('--stability-max-iterations <n>', 'stability gate: at most this many iterations (default 3x --iterations)')
    .option('--bigquery <project.dataset.table>', 'also load per-iteration rows into this BigQuery table (a re-run replaces its rows)')
    .option('--allow-fio-option <names...>', "skip this CLI's job-policy check for these fio options (the agents decide with their own --allow-fio-option)")
    .option('--no-fio-check', 'skip `fio --parse-only` of each rendered job here (the agents still check)');
}

function checkOptionsOf(cmd: Command): CheckOptions {
  const o = cmd.opts<{ allowFioOption?: string[]; fioCheck?: boolean }>();
  return { allowFioOptions: o.allowFioOption, fioCheck: o.fioCheck !== false };
}

/** Defaults, then the config file, then flags given on the command line. */
async function flagsOf(cmd: Command): Promise<BenchmarkFlags> {
  const o = cmd.opts<BenchmarkFlags & { config?: string; testDataBucket?: string; timeout?: string }>();
  const given = Object.fromEntries(Object.entries(o).filter(([k]) => cmd.getOptionValueSource(k) !== 'default'));
  const defaults = Object.fromEntries(Object.entries(o).filter(([k]) => cmd.getOptionValueSource(k) === 'default'));
  const fromFile = o.config ? await loadConfigFile(o.config) : {};
  const merged = { ...defaults, ...fromFile, ...given } as typeof o;
  return { ...merged, bucket: merged.bucket ?? merged.testDataBucket, fioTimeout: merged.timeout ?? merged.fioTimeout };
}

const artifactsOption = () =>
  new Option('--artifacts <dir-or-gs-url>', 'artifact store, as the workers use it (alias --artifacts-bucket)').env('GCSFUSE_BENCH_ARTIFACTS');

function artifactsOf(cmd: Command): string | undefined {
  const o = cmd.opts<{ artifacts?: string; artifactsBucket?: string }>();
  const a = o.artifacts ?? o.artifactsBucket;
  const location = a && !a.startsWith('gs://') && o.artifactsBucket && o.artifacts === undefined ? `gs://${a}` : a;
  // Checked before any connection, so a typo is an input error, not a raw ENOTDIR after the start.
  return location === undefined ? undefined : checkArtifactsLocation(location, o.artifacts !== undefined ? '--artifacts' : '--artifacts-bucket');
}

function print(json: boolean | undefined, value: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : text());
}

async function printReport(artifacts: string | undefined, benchmarkId: string, json?: boolean): Promise<void> {
  if (!artifacts) return;
  const reports = await readReport(artifacts, benchmarkId);
  if (reports) print(json, reports, () => reportTable(reports));
}

/** Runs until the benchmark ends, with progress bars on a terminal and lines otherwise. */
async function watch(cmd: Command, benchmarkId: string, client?: Awaited<ReturnType<typeof connectClient>>): Promise<BenchmarkResult> {
  const reconnect = reconnectNotices(parseReconnectTimeout(cmd.opts<{ reconnectTimeout?: string }>().reconnectTimeout));
  client ??= await connectClient(temporalOf(cmd));
  const view = createWatchView();
  try {
    return await watchBenchmark(client, benchmarkId, (p) => view.update(p), undefined, reconnect);
  } finally {
    view.stop();
  }
}

function exitFor(result: BenchmarkResult): number {
  if (result.exportError) console.error(`export failed: ${result.exportError}`);
  return result.failed > 0 ? EXIT.entriesFailed : result.exportError ? EXIT.failed : EXIT.ok;
}

export function buildCli(): Command {
  const program = new Command('gcsfuse-bench')
    .description('Durable, distributed fio micro-benchmarks for GCSFuse on Temporal')
    .option('--temporal-address <host:port>', 'Temporal frontend (env TEMPORAL_ADDRESS, default 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace (env TEMPORAL_NAMESPACE)')
    .option('--json', 'machine-readable output')
    .showHelpAfterError()
    .exitOverride();

  addBenchmarkOptions(program.command('run').description('start a benchmark and watch it to the end'))
    .addOption(artifactsOption())
    .addOption(new Option('--artifacts-bucket <bucket>').hideHelp())
    .option('--reconnect-timeout <duration>', 'while Temporal is unreachable, keep waiting this long', '10m')
    .action(async (_o, cmd: Command) => {
      const artifacts = artifactsOf(cmd); // checked before anything connects
      const { request } = await buildRequest(await flagsOf(cmd), checkOptionsOf(cmd));
      parseReconnectTimeout(cmd.opts<{ reconnectTimeout?: string }>().reconnectTimeout); // refused before anything starts
      const client = await connectClient(temporalOf(cmd));
      await startBenchmark(client, request, artifacts);
      console.error(`started benchmark ${request.benchmarkId} (Ctrl-C cancels it)`);
      // Ctrl-C or SIGTERM cancels the benchmark; the watch below then ends once the agents stopped fio.
      const signals = cancelOnSignals(client, request.benchmarkId, () => process.exit(EXIT.interrupted));
      try {
        const result = await watch(cmd, request.benchmarkId, client);
        await printReport(artifactsOf(cmd), request.benchmarkId, cmd.optsWithGlobals<GlobalFlags>().json);
        console.error(`${result.passed} passed, ${result.failed} failed; report: ${result.reportKeys.join(', ')}`);
        process.exitCode = signals.interrupted ? EXIT.interrupted : exitFor(result);
      } catch (err) {
        if (!signals.interrupted || !(err instanceof WorkflowFailedError)) throw err;
        console.error(finalStateText(request.benchmarkId, await finalState(client, request.benchmarkId)));
        process.exitCode = EXIT.interrupted;
      } finally {
        signals.dispose();
      }
    });

  addBenchmarkOptions(program.command('start').description('start a benchmark and return'))
    .addOption(artifactsOption())
    .addOption(new Option('--artifacts-bucket <bucket>').hideHelp())
    .action(async (_o, cmd: Command) => {
      const artifacts = artifactsOf(cmd); // checked before anything connects
      const { request } = await buildRequest(await flagsOf(cmd), checkOptionsOf(cmd));
      const client = await connectClient(temporalOf(cmd));
      const handle = await startBenchmark(client, request, artifacts);
      print(cmd.optsWithGlobals<GlobalFlags>().json, { benchmarkId: request.benchmarkId, runId: handle.firstExecutionRunId }, () => request.benchmarkId);
    });

  addBenchmarkOptions(program.command('plan').description('check inputs and show the matrix, assignment and rendered fio jobs; starts nothing')).action(async (_o, cmd: Command) => {
    const { request, prepared } = await buildRequest(await flagsOf(cmd), checkOptionsOf(cmd));
    const plan = planOf(request, prepared, checkOptionsOf(cmd).allowFioOptions);
    print(cmd.optsWithGlobals<GlobalFlags>().json, plan, () => planText(plan));
  });

  program
    .command('watch <benchmark-id>')
    .description('follow a running benchmark until it ends')
    .addOption(artifactsOption())
    .option('--reconnect-timeout <duration>', 'while Temporal is unreachable, keep waiting this long', '10m')
    .action(async (id: string, _o, cmd: Command) => {
      const result = await watch(cmd, id);
      await printReport(artifactsOf(cmd), id, cmd.optsWithGlobals<GlobalFlags>().json);
      process.exitCode = exitFor(result);
    });

  program
    .command('status <benchmark-id>')
    .description('per-VM progress of a benchmark')
    .action(async (id: string, _o, cmd: Command) => {
      const client = await connectClient(temporalOf(cmd));
      const desc = await client.workflow.getHandle(id).describe();
      const { progress, live } = await liveProgress(client, id, true);
      // The header's counts are the table's columns summed: the parent counts each entry once, as it ends.
      const notes = [
        progress.lostVms?.length ? `lost agents: ${progress.lostVms.join(', ')}` : '',
        progress.report ? `${progress.report.complete ? 'report' : 'partial report'}: ${progress.report.keys[0] ?? ''}` : '',
      ].filter(Boolean);
      print(cmd.optsWithGlobals<GlobalFlags>().json, { status: desc.status.name, progress, live: Object.fromEntries(live) }, () =>
        `${id}: ${desc.status.name}, phase ${progress.phase}, ${progress.passed} passed, ${progress.failed} failed of ${progress.totalEntries}${notes.map((n) => `; ${n}`).join('')}\n${progressTable(progress, live)}`,
      );
    });

  program
    .command('retry-vm <benchmark-id> <vm>')
    .description("re-run a VM's failed entries, on the same VM or --onto another")
    .option('--onto <vm>', 'run them on this VM instead')
    .action(async (id: string, vm: string, o: { onto?: string }, cmd: Command) => {
      const client = await connectClient(temporalOf(cmd));
      try {
        const r = await retryVm(client, id, vm, o.onto);
        print(cmd.optsWithGlobals<GlobalFlags>().json, r, () => `retrying ${r.retried} entries on ${r.onto} (${r.workflowId})`);
      } catch (err) {
        if (!(err instanceof RefusedError)) throw err;
        console.error(`error: ${err.message}`);
        process.exitCode = EXIT.refused;
      }
    });

  program
    .command('cancel <benchmark-id>')
    .description('cancel a benchmark and wait until it is closed: agents stop fio and unmount, finished entries are reported')
    .option('--reconnect-timeout <duration>', 'while Temporal is unreachable, keep waiting this long', '10m')
    .action(async (id: string, o: { reconnectTimeout?: string }, cmd: Command) => {
      const client = await connectClient(temporalOf(cmd));
      try {
        console.error(`cancelling ${id}; waiting for its agents to stop fio`);
        const state = await cancelBenchmark(client, id, reconnectNotices(parseReconnectTimeout(o.reconnectTimeout)));
        print(cmd.optsWithGlobals<GlobalFlags>().json, state, () => finalStateText(id, state));
      } catch (err) {
        if (!(err instanceof RefusedError)) throw err;
        console.error(`error: ${err.message}`);
        process.exitCode = EXIT.refused;
      }
    });

  program
    .command('report <benchmark-id>')
    .description("print a finished benchmark's report from the artifact store")
    .addOption(artifactsOption().makeOptionMandatory())
    .action(async (id: string, _o, cmd: Command) => {
      const reports = await readReport(artifactsOf(cmd)!, id);
      if (!reports) throw new InputError(`no report for benchmark "${id}" in ${artifactsOf(cmd)}`, { flag: '--artifacts' });
      print(cmd.optsWithGlobals<GlobalFlags>().json, reports, () => reportTable(reports));
    });

  program.addCommand(compareCommand());
  program.addCommand(exportCommand());

  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildCli();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) return EXIT.badInput; // commander printed the message
    if (err instanceof InputError) {
      console.error(`error: ${err.message}`);
      return EXIT.badInput;
    }
    console.error(`error: ${err instanceof WorkflowFailedError ? failureMessage(err) : (err as Error).message}`);
    return isInputFailure(err) ? EXIT.badInput : EXIT.failed;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runCli(process.argv).then((code) => process.exit(code));
}
