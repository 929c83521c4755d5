/**
 * The CLI's options in one place: the global flags, the benchmark flags (`run`, `orchestrator`,
 * `start`, `plan`), the flags of commands that follow a benchmark, and how their values are read.
 */
import { type Command, Option } from 'commander';
import { checkArtifactsLocation } from '../../artifacts';
import { InputError } from '../../core/errors';
import { temporalOptionsFromEnv, type TemporalOptions } from '../../shared/temporal';
import { CONFIDENCE_LEVEL, MIN_INTERVAL_ITERATIONS } from '../../core/stats';
import { stableJson } from '../json-output';
import { DEFAULT_ITERATIONS, loadConfigFile, type BenchmarkFlags, type CheckOptions } from '../request';
import { DEFAULT_RESULTS_DIR } from '../results-folder';

/** While Temporal is unreachable, `run`, `watch` and `cancel` keep waiting this long. */
export const DEFAULT_RECONNECT_TIMEOUT = '10m';
/** The live view refreshes every second unless --poll-interval says otherwise. */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;

interface GlobalFlags {
  temporalAddress?: string;
  /** The temporal CLI's spelling of --temporal-address. */
  address?: string;
  namespace?: string;
  json?: boolean;
  /** The temporal CLI's -o/--output: text or json. */
  output?: string;
}

export function addGlobalOptions(program: Command): Command {
  return program
    .option('--temporal-address <host:port>', 'Temporal frontend (env TEMPORAL_ADDRESS, default 127.0.0.1:7233)')
    .option('--address <host:port>', 'the same as --temporal-address (as the temporal CLI)')
    .option('-n, --namespace <ns>', 'Temporal namespace (env TEMPORAL_NAMESPACE)')
    .option('--json', 'machine-readable output (JSON, keys sorted)')
    .addOption(new Option('-o, --output <format>', 'text or json (as the temporal CLI)').choices(['text', 'json']));
}

export function temporalOf(cmd: Command): TemporalOptions {
  const g = cmd.optsWithGlobals<GlobalFlags>();
  if (g.temporalAddress && g.address && g.temporalAddress !== g.address) {
    throw new InputError(`--temporal-address ${g.temporalAddress} and --address ${g.address} disagree: give one`, { flag: '--address' });
  }
  return temporalOptionsFromEnv(process.env, { address: g.temporalAddress ?? g.address, namespace: g.namespace });
}

export function jsonOf(cmd: Command): boolean {
  const g = cmd.optsWithGlobals<GlobalFlags>();
  return g.json === true || g.output === 'json';
}

/** Prints JSON (keys sorted) with --json / -o json, else the text. */
export function print(json: boolean | undefined, value: unknown, text: () => string): void {
  console.log(json ? stableJson(value) : text());
}

/**
 * Defaults of the benchmark flags. `orchestrator` takes the original tool's (a 2-hour whole-run
 * deadline, progress every 30 s, the original's report columns); `run`, `start` and `plan` ours.
 */
export interface FlagDefaults {
  runTimeout?: string;
  pollInterval?: string;
  reportFormat?: string;
  reportName?: string;
}
export const ORIGINAL_DEFAULTS = {
  runTimeout: '7200',
  pollInterval: '30',
  reportFormat: 'original',
  reportName: 'combined_report.csv',
} as const satisfies FlagDefaults;

export function addBenchmarkOptions(cmd: Command, defaults: FlagDefaults = {}): Command {
  return (
    cmd
      .option('--config <file>', 'YAML or JSON file of these options by flag name (flags given here win)')
      .option('--benchmark-id <id>', 'benchmark id (the workflow id and artifact folder); reuse it with the same inputs to resume')
      .option('--test-csv <file>', 'test cases CSV (one fio workload per row)')
      .option('--configs-csv <file>', 'mount configs CSV: commit,mount_args,label')
      .option('--fio-job-file <file>', 'fio job template with placeholders such as BLOCK_SIZE or ${IO_DEPTH}')
      .option('--iterations <n>', 'runs of each matrix entry', String(DEFAULT_ITERATIONS))
      .option('--vms <names>', 'comma-separated VM (agent) names')
      .option('--instance-group <name>', 'managed instance group whose running VMs to use')
      .option(
        '--executor-vm <name>',
        'a managed instance group of this name (its RUNNING VMs), else the single VM of this name (as the original tool)',
      )
      .option('--project <id>', 'Google Cloud project (with --instance-group / --executor-vm)')
      .option('--zone <zone>', 'zone of the VM or zonal group')
      .option('--region <region>', 'region of a regional group')
      // The env form lets a CI script's unchanged command line run against local folders (README: coming from the original tool).
      .addOption(
        new Option('--mount <kind>', 'what MOUNT_POINT is (default: gcsfuse when a bucket is given)')
          .choices(['local-dir', 'gcsfuse'])
          .env('GCSFUSE_BENCH_MOUNT'),
      )
      .option('--bucket <name>', 'test data bucket gcsfuse mounts (alias --test-data-bucket)')
      .option('--test-data-bucket <name>', "the same as --bucket (the original tool's name)")
      .option('--gcsfuse-custom-endpoint <url>', 'gcsfuse --custom-endpoint, e.g. an emulator (http://127.0.0.1:4443/storage/v1/)')
      .option('--gcsfuse-anonymous-access', 'gcsfuse --anonymous-access (no credentials; for emulators)')
      .option('--gcsfuse-commit <ref>', 'gcsfuse commit or tag when no configs CSV is given', 'master')
      .option('--gcsfuse-mount-args <args>', 'gcsfuse mount flags when no configs CSV is given', '')
      .option('--fio-timeout <duration>', 'longest one fio iteration may run', '30m')
      .addOption(
        withDefault(
          new Option(
            '--timeout <seconds>',
            'deadline for the whole run, in seconds or as a duration (4h): then the benchmark is cancelled and what finished is reported',
          ),
          defaults.runTimeout,
          'none',
        ),
      )
      .option('--run-name <name>', 'descriptive name of the run (default: the benchmark id)')
      .addOption(
        withDefault(new Option('--report-name <file>', 'file name of the combined report'), defaults.reportName, 'combined_report.csv'),
      )
      .addOption(
        withDefault(
          new Option('--report-format <format>', "combined report columns: 'default' (ours) or 'original' (the original tool's)"),
          defaults.reportFormat,
          'default',
        ),
      )
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
      .option(
        '--allow-fio-option <names...>',
        "skip this CLI's job-policy check for these fio options (the agents decide with their own --allow-fio-option)",
      )
      .option('--no-fio-check', 'skip `fio --parse-only` of each rendered job here (the agents still check)')
      .option(
        '--ci-min-iterations <n>',
        `fewest iterations with which the report gives a ${CONFIDENCE_LEVEL * 100}% interval (at least 2; with 2 it is very wide)`,
        String(MIN_INTERVAL_ITERATIONS),
      )
      .addOption(
        new Option(
          '--fio-groups <mode>',
          'job files with several fio groups (stonewall/new_group): one result per group, or merged',
        ).default('separate'),
      )
  );
}

/** A default that counts as given (`orchestrator`), or only one to show in --help (the request leaves the field unset). */
function withDefault(option: Option, value: string | undefined, shown: string): Option {
  return value === undefined ? option.default(undefined, shown) : option.default(value);
}

/** --artifacts and its alias --artifacts-bucket: where the workers keep a benchmark's files. */
export function addArtifactsOptions(cmd: Command): Command {
  return cmd
    .addOption(artifactsOption())
    .option('--artifacts-bucket <bucket>', "the same as --artifacts gs://BUCKET (the original tool's name)");
}

export const artifactsOption = () =>
  new Option('--artifacts <dir-or-gs-url>', 'artifact store, as the workers use it (alias --artifacts-bucket)').env(
    'GCSFUSE_BENCH_ARTIFACTS',
  );

export function artifactsOf(cmd: Command): string | undefined {
  const o = cmd.opts<{ artifacts?: string; artifactsBucket?: string }>();
  const a = o.artifacts ?? o.artifactsBucket;
  const location = a && !a.startsWith('gs://') && o.artifactsBucket && o.artifacts === undefined ? `gs://${a}` : a;
  // Checked before any connection, so a typo is an input error, not a raw ENOTDIR after the start.
  return location === undefined
    ? undefined
    : checkArtifactsLocation(location, o.artifacts !== undefined ? '--artifacts' : '--artifacts-bucket');
}

export function addReconnectOption(cmd: Command): Command {
  return cmd.option('--reconnect-timeout <duration>', 'while Temporal is unreachable, keep waiting this long', DEFAULT_RECONNECT_TIMEOUT);
}

/** --poll-interval: the original's default for `orchestrator`, else ours shown in --help only. */
export function pollIntervalOption(defaultValue?: string): Option {
  return withDefault(
    new Option('--poll-interval <seconds>', 'how often progress is polled and printed'),
    defaultValue,
    String(DEFAULT_POLL_INTERVAL_MS / 1000),
  );
}

/** Flags of `run` and `orchestrator` beyond the benchmark's own. */
export function addRunOptions(cmd: Command, defaults: FlagDefaults = {}): Command {
  return (
    addReconnectOption(addArtifactsOptions(cmd))
      .addOption(pollIntervalOption(defaults.pollInterval))
      .option(
        '--results-dir <dir>',
        'write <dir>/<benchmark-id>/ with the report files and run-config.json at the end',
        DEFAULT_RESULTS_DIR,
      )
      .option('--no-results-dir', 'write no local results folder')
      // The original's newer run.sh passes these; report.html plots every run instead.
      .addOption(new Option('--no-auto-plot').hideHelp())
      .addOption(new Option('--plot-metric-group <group>').hideHelp())
  );
}

export function checkOptionsOf(cmd: Command): CheckOptions {
  const o = cmd.opts<{ allowFioOption?: string[]; fioCheck?: boolean }>();
  return { allowFioOptions: o.allowFioOption, fioCheck: o.fioCheck !== false };
}

/** Defaults, then the config file, then flags given on the command line. */
export async function flagsOf(cmd: Command): Promise<BenchmarkFlags> {
  const o = cmd.opts<BenchmarkFlags & { config?: string; testDataBucket?: string }>();
  if (o.bucket !== undefined && o.testDataBucket !== undefined && o.bucket !== o.testDataBucket) {
    throw new InputError(`--bucket ${o.bucket} and --test-data-bucket ${o.testDataBucket} disagree: give one`, {
      flag: '--test-data-bucket',
    });
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
