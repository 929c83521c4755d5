import { WorkflowFailedError } from '@temporalio/client';
import { describeRetry } from '../workflows/details';
import { Command, Option } from 'commander';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkArtifactsLocation, openArtifactStore } from '../artifacts';
import { cloudEndpointsFromEnv, storageOptions } from '../shared/cloud';
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
import { buildRequest, loadConfigFile, parsePollIntervalMs, type BenchmarkFlags, type CheckOptions } from './request';
import { stableJson } from './json-output';
import { DEFAULT_RESULTS_DIR, writeResultsFolder } from './results-folder';
import { versionText } from './version';
import { progressTable, reportTable } from './table';
import { createWatchView, finalStateText } from './watch-view';
import { compareCommand } from './compare';
import { exportCommand } from './export';
import { registerScheduleCommands } from './schedule';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, entriesFailed: 3, regression: 4, refused: 5, interrupted: 130 } as const;

interface GlobalFlags {
  temporalAddress?: string;
  /** The temporal CLI's spelling of --temporal-address. */
  address?: string;
  namespace?: string;
  json?: boolean;
  /** The temporal CLI's -o/--output: text or json. */
  output?: string;
}

function temporalOf(cmd: Command): TemporalOptions {
  const g = cmd.optsWithGlobals<GlobalFlags>();
  if (g.temporalAddress && g.address && g.temporalAddress !== g.address) {
    throw new InputError(`--temporal-address ${g.temporalAddress} and --address ${g.address} disagree: give one`, { flag: '--address' });
  }
  return temporalOptionsFromEnv(process.env, { address: g.temporalAddress ?? g.address, namespace: g.namespace });
}

function jsonOf(cmd: Command): boolean {
  const g = cmd.optsWithGlobals<GlobalFlags>();
  return g.json === true || g.output === 'json';
}

/**
 * Defaults of the benchmark flags. `orchestrator` takes the original tool's (a 2-hour whole-run
 * deadline, progress every 30 s, the original's report columns); `run`, `start` and `plan` ours.
 */
interface FlagDefaults {
  runTimeout?: string;
  pollInterval?: string;
  reportFormat?: string;
  reportName?: string;
}
export const ORIGINAL_DEFAULTS = { runTimeout: '7200', pollInterval: '30', reportFormat: 'original', reportName: 'combined_report.csv' } as const satisfies FlagDefaults;

function addBenchmarkOptions(cmd: Command, defaults: FlagDefaults = {}): Command {
  return cmd
    .option('--config <file>', 'YAML or JSON file of these options by flag name (flags given here win)')
    .option('--benchmark-id <id>', 'benchmark id (the workflow id and artifact folder); reuse it with the same inputs to resume')
    .option('--test-csv <file>', 'test cases CSV (one fio workload per row)')
    .option('--configs-csv <file>', 'mount configs CSV: commit,mount_args,label')
    .option('--fio-job-file <file>', 'fio job template with placeholders such as BLOCK_SIZE or ${IO_DEPTH}')
    .option('--iterations <n>', 'runs of each matrix entry', '5')
    .option('--vms <names>', 'comma-separated VM (agent) names')
    .option('--instance-group <name>', 'managed instance group whose running VMs to use')
    .option('--executor-vm <name>', 'a managed instance group of this name (its RUNNING VMs), else the single VM of this name (as the original tool)')
    .option('--project <id>', 'Google Cloud project (with --instance-group / --executor-vm)')
    .option('--zone <zone>', 'zone of the VM or zonal group')
    .option('--region <region>', 'region of a regional group')
    // The env form lets a CI script's unchanged command line run against local folders (README: coming from the original tool).
    .addOption(new Option('--mount <kind>', 'what MOUNT_POINT is (default: gcsfuse when a bucket is given)').choices(['local-dir', 'gcsfuse']).env('GCSFUSE_BENCH_MOUNT'))
    .option('--bucket <name>', 'test data bucket gcsfuse mounts (alias --test-data-bucket)')
    .option('--test-data-bucket <name>', 'the same as --bucket (the original tool\'s name)')
    .option('--gcsfuse-custom-endpoint <url>', 'gcsfuse --custom-endpoint, e.g. an emulator (http://127.0.0.1:4443/storage/v1/)')
    .option('--gcsfuse-anonymous-access', 'gcsfuse --anonymous-access (no credentials; for emulators)')
    .option('--gcsfuse-commit <ref>', 'gcsfuse commit or tag when no configs CSV is given', 'master')
    .option('--gcsfuse-mount-args <args>', 'gcsfuse mount flags when no configs CSV is given', '')
    .option('--fio-timeout <duration>', 'longest one fio iteration may run', '30m')
    .addOption(withDefault(new Option('--timeout <seconds>', 'deadline for the whole run, in seconds or as a duration (4h): then the benchmark is cancelled and what finished is reported'), defaults.runTimeout, 'none'))
    .option('--run-name <name>', 'descriptive name of the run (default: the benchmark id)')
    .addOption(withDefault(new Option('--report-name <file>', 'file name of the combined report'), defaults.reportName, 'combined_report.csv'))
    .addOption(withDefault(new Option('--report-format <format>', "combined report columns: 'default' (ours) or 'original' (the original tool's)"), defaults.reportFormat, 'default'))
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

/** A default that counts as given (`orchestrator`), or only one to show in --help (the request leaves the field unset). */
function withDefault(option: Option, value: string | undefined, shown: string): Option {
  return value === undefined ? option.default(undefined, shown) : option.default(value);
}

/** Flags of `run` and `orchestrator` beyond the benchmark's own. */
function addRunOptions(cmd: Command, defaults: FlagDefaults = {}): Command {
  return cmd
    .addOption(artifactsOption())
    .option('--artifacts-bucket <bucket>', 'the same as --artifacts gs://BUCKET (the original tool\'s name)')
    .option('--reconnect-timeout <duration>', 'while Temporal is unreachable, keep waiting this long', '10m')
    .addOption(withDefault(new Option('--poll-interval <seconds>', 'how often progress is polled and printed'), defaults.pollInterval, '1'))
    .option('--results-dir <dir>', 'write <dir>/<benchmark-id>/ with the report files and run-config.json at the end', DEFAULT_RESULTS_DIR)
    .option('--no-results-dir', 'write no local results folder')
    // The original's newer run.sh passes these; report.html plots every run instead.
    .addOption(new Option('--no-auto-plot').hideHelp())
    .addOption(new Option('--plot-metric-group <group>').hideHelp());
}

function checkOptionsOf(cmd: Command): CheckOptions {
  const o = cmd.opts<{ allowFioOption?: string[]; fioCheck?: boolean }>();
  return { allowFioOptions: o.allowFioOption, fioCheck: o.fioCheck !== false };
}

/** Defaults, then the config file, then flags given on the command line. */
export async function flagsOf(cmd: Command): Promise<BenchmarkFlags> {
  const o = cmd.opts<BenchmarkFlags & { config?: string; testDataBucket?: string }>();
  if (o.bucket !== undefined && o.testDataBucket !== undefined && o.bucket !== o.testDataBucket) {
    throw new InputError(`--bucket ${o.bucket} and --test-data-bucket ${o.testDataBucket} disagree: give one`, { flag: '--test-data-bucket' });
  }
  // Options whose property is named otherwise in BenchmarkFlags (and in config files).
  const renamed: Record<string, keyof BenchmarkFlags> = { timeout: 'runTimeout', testDataBucket: 'bucket' };
  const part = (fromDefault: boolean) =>
    Object.fromEntries(
      Object.entries(o)
        .filter(([k, v]) => (cmd.getOptionValueSource(k) === 'default') === fromDefault && !(k === 'testDataBucket' && v === undefined))
        .map(([k, v]) => [renamed[k] ?? k, v]),
    );
  const fromFile = o.config ? await loadConfigFile(o.config) : {};
  return { ...part(true), ...fromFile, ...part(false) } as BenchmarkFlags;
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
  console.log(json ? stableJson(value) : text());
}

async function printReport(artifacts: string | undefined, benchmarkId: string, json?: boolean): Promise<void> {
  if (!artifacts) return;
  const reports = await readReport(artifacts, benchmarkId);
  if (reports) print(json, reports, () => reportTable(reports));
}

/** Runs until the benchmark ends, with progress bars on a terminal and lines otherwise, every --poll-interval. */
async function watch(cmd: Command, benchmarkId: string, client?: Awaited<ReturnType<typeof connectClient>>): Promise<BenchmarkResult> {
  const o = cmd.opts<{ reconnectTimeout?: string; pollInterval?: string }>();
  const reconnect = reconnectNotices(parseReconnectTimeout(o.reconnectTimeout));
  const pollMs = parsePollIntervalMs(o.pollInterval) ?? DEFAULT_POLL_INTERVAL_MS;
  client ??= await connectClient(temporalOf(cmd));
  const view = createWatchView();
  try {
    return await watchBenchmark(client, benchmarkId, (p) => view.update(p), pollMs, reconnect);
  } finally {
    view.stop();
  }
}

/** The live view refreshes every second unless --poll-interval says otherwise. */
const DEFAULT_POLL_INTERVAL_MS = 1_000;

function exitFor(result: BenchmarkResult): number {
  if (result.exportError) console.error(`export failed: ${result.exportError}`);
  return result.failed > 0 ? EXIT.entriesFailed : result.exportError ? EXIT.failed : EXIT.ok;
}

/** Absolute locations (a path or gs:// URL) of a benchmark's report files in the artifact store. */
function reportUrls(artifacts: string | undefined, keys: string[]): string[] {
  if (!artifacts) return keys;
  const store = openArtifactStore(artifacts, storageOptions(cloudEndpointsFromEnv()));
  return keys.map((k) => store.urlOf(k));
}

/** `run` and `orchestrator`: check, start, follow to the end, print the report, leave results/<id>/. */
async function runAction(cmd: Command, argv: readonly string[]): Promise<void> {
  const artifacts = artifactsOf(cmd); // checked before anything connects
  const o = cmd.opts<{ reconnectTimeout?: string; pollInterval?: string; resultsDir?: string | false; autoPlot?: boolean; plotMetricGroup?: string }>();
  const { request } = await buildRequest(await flagsOf(cmd), checkOptionsOf(cmd));
  // Refused before anything starts.
  parseReconnectTimeout(o.reconnectTimeout);
  parsePollIntervalMs(o.pollInterval);
  const resultsDir = o.resultsDir === false ? undefined : checkResultsDir(o.resultsDir ?? DEFAULT_RESULTS_DIR);
  if (o.autoPlot === false || o.plotMetricGroup !== undefined) {
    console.error('note: --no-auto-plot and --plot-metric-group are accepted and ignored: every run writes report.html with its plots');
  }
  const json = jsonOf(cmd);
  const client = await connectClient(temporalOf(cmd));
  await startBenchmark(client, request, artifacts);
  console.error(`started benchmark ${request.benchmarkId}${request.runName && request.runName !== request.benchmarkId ? ` (${request.runName})` : ''} (Ctrl-C cancels it)`);
  // Ctrl-C or SIGTERM cancels the benchmark; the watch below then ends once the agents stopped fio.
  const signals = cancelOnSignals(client, request.benchmarkId, () => process.exit(EXIT.interrupted));
  // The results folder is written however the benchmark ended: a partial report is a report too.
  const leaveResults = async (): Promise<void> => {
    if (!resultsDir) return;
    try {
      const r = await writeResultsFolder({ dir: resultsDir, request, artifacts, argv: [...argv] });
      console.error(`results: ${r.folder}${path.sep} (${[...r.reports, r.runConfig].map((f) => path.basename(f)).join(', ')})`);
      if (!artifacts) console.error('note: no --artifacts given, so the report files were not copied into the results folder');
    } catch (err) {
      console.error(`warning: could not write the results folder under ${path.resolve(resultsDir)}: ${(err as Error).message}`);
    }
  };
  try {
    const result = await watch(cmd, request.benchmarkId, client);
    await printReport(artifacts, request.benchmarkId, json);
    await leaveResults();
    console.error(`${result.passed} passed, ${result.failed} failed; report: ${reportUrls(artifacts, result.reportKeys).join(', ')}`);
    process.exitCode = signals.interrupted ? EXIT.interrupted : exitFor(result);
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    // Cancelled (Ctrl-C, or the whole-run deadline): the partial report still goes to the results folder.
    await leaveResults();
    if (!signals.interrupted) throw err;
    console.error(finalStateText(request.benchmarkId, await finalState(client, request.benchmarkId)));
    process.exitCode = EXIT.interrupted;
  } finally {
    signals.dispose();
  }
}

function checkResultsDir(dir: string): string {
  if (dir.trim() === '' || /[\u0000-\u001f\u007f]/.test(dir)) throw new InputError(`${JSON.stringify(dir)} is not a folder name`, { flag: '--results-dir' });
  let isDir: boolean | undefined;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // Created at the end of the run.
  }
  if (isDir === false) throw new InputError(`${dir} exists and is not a folder`, { flag: '--results-dir' });
  return dir;
}

export function buildCli(argv: readonly string[] = []): Command {
  const program = new Command('gcsfuse-bench')
    .description('Durable, distributed fio micro-benchmarks for GCSFuse on Temporal')
    .version(versionText(), '-V, --version', 'print the version (and git commit) and exit')
    .option('--temporal-address <host:port>', 'Temporal frontend (env TEMPORAL_ADDRESS, default 127.0.0.1:7233)')
    .option('--address <host:port>', 'the same as --temporal-address (as the temporal CLI)')
    .option('-n, --namespace <ns>', 'Temporal namespace (env TEMPORAL_NAMESPACE)')
    .option('--json', 'machine-readable output (JSON, keys sorted)')
    .addOption(new Option('-o, --output <format>', 'text or json (as the temporal CLI)').choices(['text', 'json']))
    .showHelpAfterError()
    .exitOverride();
  // What run-config.json records: the arguments after the program name.
  const args = argv.slice(2);

  addRunOptions(addBenchmarkOptions(program.command('run').description('start a benchmark and watch it to the end; takes the original tool\'s flags too')))
    .action(async (_o, cmd: Command) => runAction(cmd, args));

  addRunOptions(
    addBenchmarkOptions(
      program
        .command('orchestrator')
        .description("the original tool's command line (orchestrator.py) with its defaults: --timeout 7200, --poll-interval 30, --report-format original"),
      ORIGINAL_DEFAULTS,
    ),
    ORIGINAL_DEFAULTS,
  ).action(async (_o, cmd: Command) => runAction(cmd, args));

  addBenchmarkOptions(program.command('start').description('start a benchmark and return'))
    .addOption(artifactsOption())
    .option('--artifacts-bucket <bucket>', 'the same as --artifacts gs://BUCKET')
    .action(async (_o, cmd: Command) => {
      const artifacts = artifactsOf(cmd); // checked before anything connects
      const { request } = await buildRequest(await flagsOf(cmd), checkOptionsOf(cmd));
      const client = await connectClient(temporalOf(cmd));
      const handle = await startBenchmark(client, request, artifacts);
      print(jsonOf(cmd), { benchmarkId: request.benchmarkId, runId: handle.firstExecutionRunId }, () => request.benchmarkId);
    });

  addBenchmarkOptions(program.command('plan').description('check inputs and show the matrix, assignment and rendered fio jobs; starts nothing'))
    // Accepted so a run's command line plans as it is; checked, not used.
    .addOption(artifactsOption())
    .option('--artifacts-bucket <bucket>', 'the same as --artifacts gs://BUCKET')
    .action(async (_o, cmd: Command) => {
      artifactsOf(cmd);
      const { request, prepared } = await buildRequest(await flagsOf(cmd), checkOptionsOf(cmd));
      const plan = planOf(request, prepared, checkOptionsOf(cmd).allowFioOptions);
      print(jsonOf(cmd), plan, () => planText(plan));
    });

  program
    .command('watch <benchmark-id>')
    .description('follow a running benchmark until it ends')
    .addOption(artifactsOption())
    .option('--reconnect-timeout <duration>', 'while Temporal is unreachable, keep waiting this long', '10m')
    .addOption(new Option('--poll-interval <seconds>', 'how often progress is polled and printed').default(undefined, '1'))
    .action(async (id: string, _o, cmd: Command) => {
      parsePollIntervalMs(cmd.opts<{ pollInterval?: string }>().pollInterval);
      const result = await watch(cmd, id);
      await printReport(artifactsOf(cmd), id, jsonOf(cmd));
      process.exitCode = exitFor(result);
    });

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
        // Workflow side (issue 14/11): why it ended incomplete (e.g. the deadline), and the last retryVm request, which a signal cannot answer.
        progress.incompleteReason ? `incomplete: ${progress.incompleteReason}` : '',
        progress.lastRetry ? describeRetry(progress.lastRetry) : '',
      ].filter(Boolean);
      // live: one element per VM run, in workflow-id order (not keyed by workflow id).
      const liveList = [...live].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([workflowId, p]) => ({ workflowId, ...p }));
      print(jsonOf(cmd), { benchmarkId: id, runName, status: desc.status.name, progress, live: liveList }, () =>
        `${id}${runName !== id ? ` (${runName})` : ''}: ${desc.status.name}, phase ${progress.phase}, ${progress.passed} passed, ${progress.failed} failed of ${progress.totalEntries}${notes.map((n) => `; ${n}`).join('')}\n${progressTable(progress, live)}`,
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
        print(jsonOf(cmd), r, () => `retrying ${r.retried} entries on ${r.onto} (${r.workflowId})`);
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
        print(jsonOf(cmd), state, () => finalStateText(id, state));
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
      print(jsonOf(cmd), reports, () => reportTable(reports));
    });

  program.addCommand(compareCommand());
  program.addCommand(exportCommand());
  registerScheduleCommands(program);

  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildCli(argv);
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
