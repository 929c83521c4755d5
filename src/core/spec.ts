import { defaultMountConfig, parseMountConfigsCsv, type MountConfig } from './configs';
import { InputError } from './errors';
import { checkSafeId, isSafeId } from './ids';
import { renderJob, STAND_IN_MOUNT_POINT } from './job';
import { checkBucketName, checkEndpoint, checkGcsfuseMountArgv } from './mount-args';
import type { StabilityGate } from './stability';
import { buildMatrix, estimateIterationMs, templateRuntimeMs, type MatrixEntry } from './matrix';
import { checkTemplate } from './template';
import { parseTestCasesCsv } from './testcases';

/** A file the user gave, carried by value: inputs are small and are stored verbatim. */
export interface InputFile {
  name: string;
  content: string;
}

/** Where the fleet's VMs come from. */
export type FleetSpec =
  | { kind: 'static'; vms: string[] }
  | { kind: 'instance-group'; project: string; zone?: string; region?: string; group: string }
  | { kind: 'vm'; project: string; zone: string; name: string };

/** One VM of a resolved fleet. */
export interface FleetVm {
  name: string;
  /**
   * Name of the instance template the VM was created from: `version.instanceTemplate` of a
   * managed instance, the `instance-template` metadata item of a single VM. Absent for a
   * static fleet or a VM not created from a template.
   */
  instanceTemplate?: string;
  /** The template as the API gave it (a URL or a partial resource path). */
  instanceTemplateUrl?: string;
  /** Zone the VM is in; absent for a static fleet. */
  zone?: string;
}

/** Send single-job tests (num_jobs = 1) to VMs of one instance template and the rest to another. */
export interface TemplateRouting {
  singleThreadTemplate: string;
  multiThreadTemplate: string;
}

/** What the agent mounts at MOUNT_POINT. */
export type MountSpec = { kind: 'local-dir' } | { kind: 'gcsfuse'; bucket: string; customEndpoint?: string; anonymousAccess?: boolean };

export interface BenchmarkTimeouts {
  /** Longest one fio iteration may run before it is killed. */
  fioIterationMs: number;
  /** How long an entry may wait for its VM's agent to pick it up. */
  agentPickupMs: number;
  /** An agent that sends no heartbeat for this long is considered dead. */
  agentHeartbeatMs: number;
}

export const DEFAULT_TIMEOUTS: BenchmarkTimeouts = {
  fioIterationMs: 30 * 60_000,
  // A healthy agent picks work up within milliseconds: only its VM's entries wait on it, one at a time.
  agentPickupMs: 60_000,
  agentHeartbeatMs: 30_000,
};

/** The workflow's input: everything needed to run a benchmark, by value. */
export interface BenchmarkRequest {
  benchmarkId: string;
  testCases: InputFile;
  configs?: InputFile;
  jobFile: InputFile;
  iterations: number;
  fleet: FleetSpec;
  mount: MountSpec;
  gcsfuseCommit: string;
  gcsfuseMountArgs: string;
  timeouts: BenchmarkTimeouts;
  /** After all VMs finish, how long to wait for retry-vm requests while some entries failed. */
  retryWindowMs: number;
  /** Re-run the entries of a VM whose agent is lost on the VMs that are still healthy. */
  rerouteOnAgentLoss: boolean;
  /** Opt-in: run extra iterations while bandwidth varies more than allowed. */
  stability?: StabilityGate;
  /** Also load the per-iteration rows into this BigQuery table (replacing the run's earlier rows). */
  bigquery?: { project: string; dataset: string; table: string };
  /** Also write one report CSV per mount config (report/<label>.csv). */
  separateConfigs?: boolean;
  /** Route tests to VMs by instance template (`--single-thread-vm-type`, `--multi-thread-vm-type`). */
  routing?: TemplateRouting;
  /** Descriptive name of the run (the original's `--run-name`); default: the benchmark id. */
  runName?: string;
  /**
   * Deadline for the whole run from its start (the original's `--timeout`): when it passes the benchmark is
   * cancelled on every VM and whatever finished is reported (a partial report). Unset: no deadline.
   */
  runTimeoutMs?: number;
  /** File name of the combined report (the original's `--report-name`, e.g. combined_report.csv). */
  reportName?: string;
  /** `original`: the combined report also in the original tool's columns (compat.md); default: ours only. */
  reportFormat?: 'default' | 'original';
  /** Fewest iterations with which the report computes an interval (`--ci-min-iterations`); unset: stats.ts MIN_INTERVAL_ITERATIONS. */
  ciMinIterations?: number;
  /** Job files with several fio groups: one result per group (`separate`, unset) or all pooled (`merged`; `--fio-groups`). */
  fioGroups?: 'separate' | 'merged';
  /** How the run fans out over the fleet (src/workflows/fanout.ts); unset: its defaults. Tests use small groups. */
  fanout?: FanoutOptions;
}

/** Overrides of the fan-out's sizes (src/workflows/fanout.ts). */
export interface FanoutOptions {
  /** Fleets up to this many VMs run one child per VM under the benchmark. */
  flatMaxVms?: number;
  /** VMs per group workflow above that. */
  vmsPerGroup?: number;
  /** A VM's run continues as new past this many history events. */
  vmRunEvents?: number;
  /** Entry ids per page of a large benchmark's distribution (core/share-pages.ts). */
  sharePageEntries?: number;
}

/** config.json: the request minus the file contents (stored next to it as files). */
export type BenchmarkConfig = Omit<BenchmarkRequest, 'testCases' | 'configs' | 'jobFile'> & {
  testCasesFile: string;
  configsFile?: string;
  jobFileName: string;
};

/** jobs/<vm>.json: written once; everything the agent needs for its share. */
export interface JobSpec {
  benchmarkId: string;
  vm: string;
  iterations: number;
  mount: MountSpec;
  fioIterationMs: number;
  stability?: StabilityGate;
  /** Path of the job template in the artifact store, relative to the benchmark folder. */
  jobTemplatePath: string;
  entries: (MatrixEntry & { estimatedIterationMs: number })[];
}

export type EntryStatus = 'pending' | 'running' | 'passed' | 'failed';

/** results/<vm>/manifest.json: the agent's durable record of each entry it ran. */
export interface Manifest {
  benchmarkId: string;
  vm: string;
  updatedAt: string;
  entries: Record<string, ManifestEntry>;
}

export interface ManifestEntry {
  matrixId: number;
  /** VM whose job spec defines the entry (differs from the manifest's VM after a retry elsewhere). */
  specVm: string;
  status: EntryStatus;
  iterations: number;
  iterationsDone: number;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  error?: string;
  /** With a stability gate: whether bandwidth settled, and its coefficient of variation. */
  stable?: boolean;
  bwCvPercent?: number;
  /** The agent build that ran it (src/shared/build.ts); absent from records of older agents. */
  agentBuild?: string;
}

export interface PreparedBenchmark {
  configs: MountConfig[];
  matrix: MatrixEntry[];
  /** Estimated ms of one iteration, by matrix id. */
  iterationMs: Map<number, number>;
}

/**
 * Checks a request as a whole and expands it into the matrix. Pure, so the CLI can
 * refuse bad input before anything starts and the distribute activity can repeat it.
 */
export interface PrepareOptions {
  /**
   * Check every rendered job against the fio job policy (fio-policy.ts). The CLI does; the
   * orchestrator does not, since the agent, which enforces it again, may allow options
   * (`--allow-fio-option`) the CLI cannot know about.
   */
  fioPolicy?: { allow?: ReadonlySet<string> };
}

export function prepareBenchmark(req: BenchmarkRequest, opts: PrepareOptions = {}): PreparedBenchmark {
  checkSafeId(req.benchmarkId, 'benchmark id', { flag: '--benchmark-id' });
  if (!Number.isInteger(req.iterations) || req.iterations < 1) {
    throw new InputError(`must be a whole number of 1 or more, got ${req.iterations}`, { flag: '--iterations' });
  }
  if (req.stability) {
    const g = req.stability;
    if (!(g.maxCvPercent > 0)) throw new InputError(`must be a percentage above 0, got ${g.maxCvPercent}`, { flag: '--stability-cv' });
    if (!Number.isInteger(g.maxIterations) || g.maxIterations < req.iterations) {
      throw new InputError(`must be a whole number of at least --iterations (${req.iterations}), got ${g.maxIterations}`, {
        flag: '--stability-max-iterations',
      });
    }
  }
  if (req.fleet.kind === 'static') {
    if (req.fleet.vms.length === 0) throw new InputError('no VMs given', { flag: '--vms' });
    const seen = new Set<string>();
    for (const vm of req.fleet.vms) {
      checkSafeId(vm, 'VM name', { flag: '--vms' });
      if (seen.has(vm)) throw new InputError(`VM "${vm}" is listed twice`, { flag: '--vms' });
      seen.add(vm);
    }
  }
  const tests = parseTestCasesCsv(req.testCases.content, req.testCases.name);
  const columns = Object.keys(tests[0]!.params);
  checkTemplate(req.jobFile.content, req.jobFile.name, columns, req.testCases.name);
  const configs = req.configs
    ? parseMountConfigsCsv(req.configs.content, req.configs.name)
    : [defaultMountConfig(req.gcsfuseCommit, req.gcsfuseMountArgs)];
  checkMount(req.mount, configs, req.configs?.name);
  if (opts.fioPolicy) {
    // The rendered job depends on the test case only: check each once, on a stand-in mount and VM.
    const vm = req.fleet.kind === 'static' ? req.fleet.vms[0]! : req.fleet.kind === 'vm' ? req.fleet.name : 'vm';
    for (const t of tests) {
      renderJob(
        req.jobFile.content,
        req.jobFile.name,
        { testId: t.testId, params: t.params, mountPoint: STAND_IN_MOUNT_POINT, vm: isSafeId(vm) ? vm : 'vm' },
        opts.fioPolicy.allow,
      );
    }
  }
  const matrix = buildMatrix(configs, tests);
  const templateMs = templateRuntimeMs(req.jobFile.content);
  const iterationMs = new Map(matrix.map((e) => [e.matrixId, estimateIterationMs(e, templateMs)]));
  return { configs, matrix, iterationMs };
}

/** The bucket, endpoint and every config's mount args, by the rules the agent enforces before each mount. */
function checkMount(mount: MountSpec, configs: readonly MountConfig[], configsFile: string | undefined): void {
  if (mount.kind !== 'gcsfuse') return;
  checkBucketName(mount.bucket);
  if (mount.customEndpoint !== undefined) checkEndpoint(mount.customEndpoint, mount.anonymousAccess === true);
  configs.forEach((c, i) => {
    checkGcsfuseMountArgv(
      c.mountArgv,
      mount,
      c.label,
      configsFile ? { file: configsFile, row: i + 1, column: 'mount_args' } : { flag: '--gcsfuse-mount-args' },
    );
  });
}

export function benchmarkConfigOf(req: BenchmarkRequest): BenchmarkConfig {
  const { testCases, configs, jobFile, ...rest } = req;
  return { ...rest, testCasesFile: testCases.name, configsFile: configs?.name, jobFileName: jobFile.name };
}
