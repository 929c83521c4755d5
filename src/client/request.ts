import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, YAMLParseError, type Scalar } from 'yaml';
import { InputError } from '../core/errors';
import { renderJob, STAND_IN_MOUNT_POINT } from '../core/job';
import { stripBom } from '../core/template';
import { parseTestCasesCsv } from '../core/testcases';
import { checkJobsWithFio } from '../shared/fio-parse-check';
import { parseBigQueryTable } from '../core/export-rows';
import { checkSafeId } from '../core/ids';
import { MAX_TIMER_MS, parseCount, parseDuration, parsePercent } from '../core/numbers';
import { GROUP_MODES, type GroupMode } from '../core/report';
import { MIN_INTERVAL_ITERATIONS } from '../core/stats';
import {
  DEFAULT_TIMEOUTS,
  prepareBenchmark,
  type BenchmarkRequest,
  type FleetSpec,
  type InputFile,
  type MountSpec,
  type PreparedBenchmark,
  type TemplateRouting,
} from '../core/spec';
import { hasControlChars } from '../core/text';

/** The benchmark flags shared by `run`, `start` and `plan`, as commander hands them over. */
export interface BenchmarkFlags {
  benchmarkId?: string;
  testCsv?: string;
  configsCsv?: string;
  fioJobFile?: string;
  iterations?: string;
  vms?: string;
  instanceGroup?: string;
  executorVm?: string;
  project?: string;
  zone?: string;
  region?: string;
  mount?: string;
  bucket?: string;
  gcsfuseCommit?: string;
  gcsfuseMountArgs?: string;
  fioTimeout?: string;
  agentPickupTimeout?: string;
  heartbeatTimeout?: string;
  retryWindow?: string;
  /** commander's --no-reroute sets this false. */
  reroute?: boolean;
  singleThreadVmType?: string;
  multiThreadVmType?: string;
  gcsfuseCustomEndpoint?: string;
  gcsfuseAnonymousAccess?: boolean;
  separateConfigs?: boolean;
  stabilityCv?: string;
  stabilityMaxIterations?: string;
  bigquery?: string;
  /** The original's --run-name: a descriptive name; default the benchmark id. */
  runName?: string;
  /** The original's --timeout: whole-run deadline, whole seconds (or a duration such as 4h). */
  runTimeout?: string;
  reportName?: string;
  reportFormat?: string;
  ciMinIterations?: string;
  fioGroups?: string;
}

async function readInput(file: string | undefined, flag: string, required: boolean): Promise<InputFile | undefined> {
  if (!file) {
    if (required) throw new InputError('is required', { flag });
    return undefined;
  }
  try {
    return { name: path.basename(file), content: stripBom(await fs.readFile(file, 'utf8')) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? (err as Error).message})`, { flag, file });
  }
}

/**
 * The original tool's flags take whole seconds (`--timeout 14400`); ours take durations (`4h`).
 * Both are accepted: a bare number is seconds.
 */
export function parseSecondsOrDuration(text: string, flag: string, bounds: { minMs: number; maxMs?: number } = { minMs: 1_000 }): number {
  const t = text.trim();
  const maxMs = bounds.maxMs ?? MAX_TIMER_MS;
  if (!/^[0-9]+$/.test(t)) return parseDuration(t, { flag }, { ...bounds, maxMs });
  const ms = Number(t) * 1000;
  if (!Number.isSafeInteger(ms) || ms < bounds.minMs || ms > maxMs) {
    throw new InputError(
      `${t} is out of range: give whole seconds from ${bounds.minMs / 1000} to ${Math.floor(maxMs / 1000)} (or a duration such as 4h)`,
      { flag },
    );
  }
  return ms;
}

/** --poll-interval: how often run/watch ask for progress and print it (default every second). */
export function parsePollIntervalMs(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseSecondsOrDuration(text, '--poll-interval', { minMs: 1_000, maxMs: 24 * 3_600_000 });
}

export const REPORT_FORMATS = ['default', 'original'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Files the report step writes beside the combined report: --report-name must not take their place. */
const RESERVED_REPORT_NAMES = new Set(['results.json', 'summary.json', 'report.html', 'iterations.ndjson', 'bigquery-schema.json']);
const MAX_RUN_NAME_CHARS = 200;

function runNameOf(f: BenchmarkFlags): string | undefined {
  if (f.runName === undefined) return undefined;
  const name = f.runName.trim();
  if (name === '')
    throw new InputError('is empty: give a descriptive name, or leave the flag out to use the benchmark id', { flag: '--run-name' });
  if (hasControlChars(name)) throw new InputError(`${JSON.stringify(f.runName)} has control characters`, { flag: '--run-name' });
  if (name.length > MAX_RUN_NAME_CHARS)
    throw new InputError(`is ${name.length} characters long: at most ${MAX_RUN_NAME_CHARS}`, { flag: '--run-name' });
  return name;
}

function reportNameOf(f: BenchmarkFlags): string | undefined {
  if (f.reportName === undefined) return undefined;
  // A file name in the report folder (and in results/<id>/): no path, nothing a shell treats specially.
  checkSafeId(f.reportName, 'report name', { flag: '--report-name' });
  if (RESERVED_REPORT_NAMES.has(f.reportName)) {
    throw new InputError(`"${f.reportName}" is a report file of its own (${[...RESERVED_REPORT_NAMES].join(', ')}): choose another name`, {
      flag: '--report-name',
    });
  }
  return f.reportName;
}

/** --ci-min-iterations: below 2 there is no spread to build an interval from. */
function ciMinIterationsOf(f: BenchmarkFlags): number | undefined {
  if (f.ciMinIterations === undefined) return undefined;
  const n = parseCount(f.ciMinIterations, { flag: '--ci-min-iterations' }, { min: 2, max: LIMITS.maxIterations });
  // The default is left unset, so config.json stays what it was without the flag.
  return n === MIN_INTERVAL_ITERATIONS ? undefined : n;
}

function fioGroupsOf(f: BenchmarkFlags): GroupMode | undefined {
  if (f.fioGroups === undefined) return undefined;
  if (!(GROUP_MODES as readonly string[]).includes(f.fioGroups)) {
    throw new InputError(`${JSON.stringify(f.fioGroups)} is not a fio group mode (${GROUP_MODES.join(' or ')})`, { flag: '--fio-groups' });
  }
  return f.fioGroups === 'separate' ? undefined : (f.fioGroups as GroupMode);
}

function reportFormatOf(f: BenchmarkFlags): ReportFormat | undefined {
  if (f.reportFormat === undefined) return undefined;
  if (!(REPORT_FORMATS as readonly string[]).includes(f.reportFormat)) {
    throw new InputError(`${JSON.stringify(f.reportFormat)} is not a report format (${REPORT_FORMATS.join(' or ')})`, {
      flag: '--report-format',
    });
  }
  return f.reportFormat as ReportFormat;
}

function duration(
  text: string | undefined,
  flag: string,
  fallbackMs: number,
  bounds: { minMs: number; maxMs?: number; allowZero?: boolean },
): number {
  if (text === undefined) return fallbackMs;
  return parseDuration(text, { flag }, { maxMs: MAX_TIMER_MS, ...bounds });
}

/** Bounds a user could mean; documented in the README's "Limits" table. */
export const LIMITS = { maxIterations: 10_000, minTimeoutMs: 1_000 } as const;
/** Runs of each matrix entry when --iterations is not given (the original tool requires the flag). */
export const DEFAULT_ITERATIONS = 5;

function fleetOf(f: BenchmarkFlags): FleetSpec {
  const given = [f.vms && '--vms', f.instanceGroup && '--instance-group', f.executorVm && '--executor-vm'].filter(Boolean);
  if (given.length > 1) throw new InputError(`give only one of ${given.join(', ')}`, { flag: given[0] as string });
  if (f.instanceGroup || f.executorVm) {
    const flag = f.instanceGroup ? '--instance-group' : '--executor-vm';
    if (!f.project) throw new InputError(`--project is required with ${flag}`, { flag: '--project' });
    if (f.instanceGroup) {
      if (!f.zone === !f.region) throw new InputError('give exactly one of --zone or --region with --instance-group', { flag: '--zone' });
      return { kind: 'instance-group', project: f.project, zone: f.zone, region: f.region, group: f.instanceGroup };
    }
    if (!f.zone) throw new InputError('--zone is required with --executor-vm', { flag: '--zone' });
    return { kind: 'vm', project: f.project, zone: f.zone, name: f.executorVm! };
  }
  if (f.vms === undefined) throw new InputError('name the VMs to run on: --vms, --instance-group or --executor-vm', { flag: '--vms' });
  return {
    kind: 'static',
    vms: f.vms
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== ''),
  };
}

function mountOf(f: BenchmarkFlags): MountSpec {
  const kind = f.mount ?? (f.bucket ? 'gcsfuse' : 'local-dir');
  if (kind === 'local-dir') {
    if (f.bucket) console.error(`note: --mount local-dir: the agents use local folders; bucket ${f.bucket} is not mounted`);
    return { kind };
  }
  if (kind === 'gcsfuse') {
    if (!f.bucket) throw new InputError('--bucket (the bucket gcsfuse mounts) is required with --mount gcsfuse', { flag: '--bucket' });
    return {
      kind,
      bucket: f.bucket.replace(/^gs:\/\//, ''),
      ...(f.gcsfuseCustomEndpoint ? { customEndpoint: f.gcsfuseCustomEndpoint } : {}),
      ...(f.gcsfuseAnonymousAccess ? { anonymousAccess: true } : {}),
    };
  }
  throw new InputError(`${JSON.stringify(kind)} is not a mount kind (local-dir or gcsfuse)`, { flag: '--mount' });
}

function stabilityOf(f: BenchmarkFlags): Pick<BenchmarkRequest, 'stability'> {
  if (f.stabilityCv === undefined) {
    if (f.stabilityMaxIterations !== undefined) throw new InputError('goes with --stability-cv', { flag: '--stability-max-iterations' });
    return {};
  }
  const cv = parsePercent(f.stabilityCv, { flag: '--stability-cv' });
  const iterations = iterationsOf(f);
  const max =
    f.stabilityMaxIterations === undefined
      ? Math.min(3 * iterations, LIMITS.maxIterations)
      : parseCount(f.stabilityMaxIterations, { flag: '--stability-max-iterations' }, { min: 1, max: LIMITS.maxIterations });
  return { stability: { maxCvPercent: cv, maxIterations: max } };
}

function routingOf(f: BenchmarkFlags): TemplateRouting | undefined {
  if (!f.singleThreadVmType && !f.multiThreadVmType) return undefined;
  const flag = f.singleThreadVmType ? '--multi-thread-vm-type' : '--single-thread-vm-type';
  if (!f.singleThreadVmType || !f.multiThreadVmType)
    throw new InputError('routing by instance template needs both --single-thread-vm-type and --multi-thread-vm-type', { flag });
  if (f.vms !== undefined)
    throw new InputError('routing by instance template needs a Compute Engine fleet (--instance-group), not --vms', {
      flag: '--single-thread-vm-type',
    });
  return { singleThreadTemplate: f.singleThreadVmType, multiThreadTemplate: f.multiThreadVmType };
}

function iterationsOf(f: BenchmarkFlags): number {
  return parseCount(f.iterations ?? String(DEFAULT_ITERATIONS), { flag: '--iterations' }, { min: 1, max: LIMITS.maxIterations });
}

export function defaultBenchmarkId(now = new Date()): string {
  return `bench-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
}

export interface CheckOptions {
  /** Options the agents are known to allow (their --allow-fio-option): skipped by this pre-check only. */
  allowFioOptions?: readonly string[];
  /** Have fio parse every distinct rendered job (default true). */
  fioCheck?: boolean;
}

/**
 * Reads and checks everything a benchmark needs: `plan`, `run` and `start` share it, so each
 * refuses the same inputs with exit 2 before anything is written or started.
 */
export async function buildRequest(
  f: BenchmarkFlags,
  check: CheckOptions = {},
): Promise<{ request: BenchmarkRequest; prepared: PreparedBenchmark }> {
  const iterations = iterationsOf(f);
  const testCases = (await readInput(f.testCsv, '--test-csv', true))!;
  const jobFile = (await readInput(f.fioJobFile, '--fio-job-file', true))!;
  const configs = await readInput(f.configsCsv, '--configs-csv', false);
  const benchmarkId = f.benchmarkId ?? defaultBenchmarkId();
  const request: BenchmarkRequest = {
    benchmarkId,
    testCases,
    configs,
    jobFile,
    iterations,
    fleet: fleetOf(f),
    mount: mountOf(f),
    gcsfuseCommit: f.gcsfuseCommit ?? 'master',
    gcsfuseMountArgs: f.gcsfuseMountArgs ?? '',
    timeouts: {
      fioIterationMs: duration(f.fioTimeout, '--fio-timeout', DEFAULT_TIMEOUTS.fioIterationMs, { minMs: LIMITS.minTimeoutMs }),
      agentPickupMs: duration(f.agentPickupTimeout, '--agent-pickup-timeout', DEFAULT_TIMEOUTS.agentPickupMs, {
        minMs: LIMITS.minTimeoutMs,
      }),
      agentHeartbeatMs: duration(f.heartbeatTimeout, '--heartbeat-timeout', DEFAULT_TIMEOUTS.agentHeartbeatMs, {
        minMs: LIMITS.minTimeoutMs,
      }),
    },
    retryWindowMs: duration(f.retryWindow, '--retry-window', 0, { minMs: 0, allowZero: true }),
    rerouteOnAgentLoss: f.reroute !== false,
    routing: routingOf(f),
    ...(f.separateConfigs ? { separateConfigs: true } : {}),
    ...stabilityOf(f),
    ...(f.bigquery ? { bigquery: parseBigQueryTable(f.bigquery) } : {}),
    runName: runNameOf(f) ?? benchmarkId,
    ...(f.runTimeout !== undefined ? { runTimeoutMs: parseSecondsOrDuration(f.runTimeout, '--timeout') } : {}),
    ...optional('reportName', reportNameOf(f)),
    ...optional('reportFormat', reportFormatOf(f)),
    ...optional('ciMinIterations', ciMinIterationsOf(f)),
    ...optional('fioGroups', fioGroupsOf(f)),
  };
  // Inputs travel in the workflow's input; Temporal refuses payloads over 2 MB.
  const inputBytes = Buffer.byteLength(JSON.stringify(request));
  if (inputBytes > MAX_INPUT_BYTES) {
    throw new InputError(
      `the inputs add up to ${(inputBytes / 2 ** 20).toFixed(1)} MiB; at most ${MAX_INPUT_BYTES / 2 ** 20} MiB fit in a Temporal payload: split the test cases into several benchmarks`,
      { flag: '--test-csv' },
    );
  }
  const allow = new Set(check.allowFioOptions ?? []);
  const prepared = prepareBenchmark(request, { fioPolicy: { allow } });
  if (check.fioCheck !== false) {
    const vm = request.fleet.kind === 'static' ? request.fleet.vms[0]! : 'vm';
    const jobs = parseTestCasesCsv(request.testCases.content, request.testCases.name).map((t) => ({
      label: `test "${t.testId}" (${request.testCases.name} row ${t.row})`,
      file: request.jobFile.name,
      job: renderJob(
        request.jobFile.content,
        request.jobFile.name,
        { testId: t.testId, params: t.params, mountPoint: STAND_IN_MOUNT_POINT, vm },
        allow,
      ),
    }));
    const r = await checkJobsWithFio(jobs, { env: { PATH: process.env.PATH, LANG: process.env.LANG }, allow });
    if ('skipped' in r)
      console.error(
        `warning: ${r.skipped}: rendered jobs are not parsed by fio here; the agents check them before fio runs (--no-fio-check silences this)`,
      );
  }
  return { request, prepared };
}

const MAX_INPUT_BYTES = 1.5 * 2 ** 20;

/** `{ key: value }` when the value is set, `{}` otherwise: the request carries no undefined keys. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Config-file keys: the long flag names of the benchmark options. */
const CONFIG_KEYS: Record<string, keyof BenchmarkFlags> = {
  'benchmark-id': 'benchmarkId',
  'test-csv': 'testCsv',
  'configs-csv': 'configsCsv',
  'fio-job-file': 'fioJobFile',
  iterations: 'iterations',
  vms: 'vms',
  'instance-group': 'instanceGroup',
  'executor-vm': 'executorVm',
  project: 'project',
  zone: 'zone',
  region: 'region',
  mount: 'mount',
  bucket: 'bucket',
  'test-data-bucket': 'bucket',
  'gcsfuse-commit': 'gcsfuseCommit',
  'gcsfuse-mount-args': 'gcsfuseMountArgs',
  'gcsfuse-custom-endpoint': 'gcsfuseCustomEndpoint',
  'gcsfuse-anonymous-access': 'gcsfuseAnonymousAccess',
  'fio-timeout': 'fioTimeout',
  'agent-pickup-timeout': 'agentPickupTimeout',
  'heartbeat-timeout': 'heartbeatTimeout',
  'retry-window': 'retryWindow',
  reroute: 'reroute',
  'single-thread-vm-type': 'singleThreadVmType',
  'multi-thread-vm-type': 'multiThreadVmType',
  'separate-configs': 'separateConfigs',
  'stability-cv': 'stabilityCv',
  'stability-max-iterations': 'stabilityMaxIterations',
  bigquery: 'bigquery',
  'run-name': 'runName',
  timeout: 'runTimeout',
  'report-name': 'reportName',
  'report-format': 'reportFormat',
  'ci-min-iterations': 'ciMinIterations',
  'fio-groups': 'fioGroups',
};
const PATH_KEYS = new Set<keyof BenchmarkFlags>(['testCsv', 'configsCsv', 'fioJobFile']);
const BOOLEAN_KEYS = new Set<keyof BenchmarkFlags>(['reroute', 'gcsfuseAnonymousAccess', 'separateConfigs']);

/**
 * Reads a config file (YAML or JSON) of benchmark options keyed by their flag names,
 * e.g. `test-csv: tests.csv` or `vms: [vm-1, vm-2]`. Paths are relative to the file.
 */
export async function loadConfigFile(file: string): Promise<BenchmarkFlags> {
  const text = (await readInput(file, '--config', true))!.content;
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const line = first instanceof YAMLParseError ? first.linePos?.[0]?.line : undefined;
    throw new InputError(`not valid YAML or JSON: ${first.message.split('\n')[0]}`, { flag: '--config', file, line });
  }
  const root = doc.contents;
  if (!isMap(root)) throw new InputError('must be a mapping of option names to values', { flag: '--config', file });
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined) =>
    node?.range ? text.slice(0, node.range[0]).split('\n').length : undefined;
  const flags: Record<string, unknown> = {};
  for (const pair of root.items) {
    const keyNode = pair.key;
    const loc = { flag: '--config', file, line: lineOf(keyNode as Scalar) };
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    // Own keys only: "constructor" or "toString" must not find Object's members.
    const name = Object.hasOwn(CONFIG_KEYS, key) ? CONFIG_KEYS[key] : undefined;
    if (!name) throw new InputError(`unknown key ${JSON.stringify(key)}; known keys: ${Object.keys(CONFIG_KEYS).join(', ')}`, loc);
    if (Object.hasOwn(flags, name)) throw new InputError(`key "${key}" is given twice`, loc);
    const value = pair.value;
    if (BOOLEAN_KEYS.has(name)) {
      if (!isScalar(value) || typeof value.value !== 'boolean') throw new InputError(`"${key}" must be true or false`, loc);
      flags[name] = value.value;
    } else if (name === 'vms' && isSeq(value)) {
      flags[name] = value.items
        .map((item, i) => {
          if (!isScalar(item) || typeof item.value !== 'string') {
            throw new InputError(
              `"vms" item ${i + 1} must be a VM name (a string), got ${sourceOf(text, item as Scalar) || 'nothing'}: quote names that look like numbers or booleans`,
              loc,
            );
          }
          return item.value;
        })
        .join(',');
    } else if (isScalar(value) && (typeof value.value === 'string' || typeof value.value === 'number')) {
      // Numbers are taken as written, so the flag's own check sees "0x10" or "1e300", not 16 or Infinity.
      const raw = typeof value.value === 'number' ? sourceOf(text, value) : value.value;
      flags[name] = PATH_KEYS.has(name) ? path.resolve(path.dirname(file), raw) : raw;
    } else {
      throw new InputError(`"${key}" must be a string or a number`, loc);
    }
  }
  return flags as BenchmarkFlags;
}

function sourceOf(text: string, node: Scalar | null | undefined): string {
  return node?.range ? text.slice(node.range[0], node.range[1]).trim() : '';
}
