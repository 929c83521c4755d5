import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { InputError } from '../core/errors';
import { parseBigQueryTable } from '../core/export-rows';
import { parseDurationMs } from '../core/params';
import { DEFAULT_TIMEOUTS, prepareBenchmark, type BenchmarkRequest, type FleetSpec, type InputFile, type MountSpec, type PreparedBenchmark, type TemplateRouting } from '../core/spec';

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
}

async function readInput(file: string | undefined, flag: string, required: boolean): Promise<InputFile | undefined> {
  if (!file) {
    if (required) throw new InputError('is required', { flag });
    return undefined;
  }
  try {
    return { name: path.basename(file), content: await fs.readFile(file, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? (err as Error).message})`, { flag, file });
  }
}

function duration(text: string | undefined, flag: string, fallbackMs: number, allowZero = false): number {
  if (text === undefined) return fallbackMs;
  if (allowZero && /^0+[a-z]*$/.test(text)) return 0;
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new InputError(`${JSON.stringify(text)} is not a duration (e.g. 90s, 30m, 2h)`, { flag });
  return ms;
}

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
  return { kind: 'static', vms: f.vms.split(',').map((v) => v.trim()).filter((v) => v !== '') };
}

function mountOf(f: BenchmarkFlags): MountSpec {
  const kind = f.mount ?? (f.bucket ? 'gcsfuse' : 'local-dir');
  if (kind === 'local-dir') return { kind };
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
  const cv = Number(f.stabilityCv.replace(/%$/, ''));
  if (!Number.isFinite(cv)) throw new InputError(`${JSON.stringify(f.stabilityCv)} is not a percentage`, { flag: '--stability-cv' });
  const iterations = Number(f.iterations ?? '5');
  const max = f.stabilityMaxIterations === undefined ? 3 * iterations : Number(f.stabilityMaxIterations);
  return { stability: { maxCvPercent: cv, maxIterations: max } };
}

function routingOf(f: BenchmarkFlags): TemplateRouting | undefined {
  if (!f.singleThreadVmType && !f.multiThreadVmType) return undefined;
  const flag = f.singleThreadVmType ? '--multi-thread-vm-type' : '--single-thread-vm-type';
  if (!f.singleThreadVmType || !f.multiThreadVmType) throw new InputError('routing by instance template needs both --single-thread-vm-type and --multi-thread-vm-type', { flag });
  if (f.vms !== undefined) throw new InputError('routing by instance template needs a Compute Engine fleet (--instance-group), not --vms', { flag: '--single-thread-vm-type' });
  return { singleThreadTemplate: f.singleThreadVmType, multiThreadTemplate: f.multiThreadVmType };
}

export function defaultBenchmarkId(now = new Date()): string {
  return `bench-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
}

/** Reads and checks everything a benchmark needs; throws InputError before anything starts. */
export async function buildRequest(f: BenchmarkFlags): Promise<{ request: BenchmarkRequest; prepared: PreparedBenchmark }> {
  const iterationsText = f.iterations ?? '5';
  if (!/^-?[0-9]+$/.test(iterationsText.trim())) throw new InputError(`${JSON.stringify(iterationsText)} is not a whole number`, { flag: '--iterations' });
  const testCases = (await readInput(f.testCsv, '--test-csv', true))!;
  const jobFile = (await readInput(f.fioJobFile, '--fio-job-file', true))!;
  const configs = await readInput(f.configsCsv, '--configs-csv', false);
  const request: BenchmarkRequest = {
    benchmarkId: f.benchmarkId ?? defaultBenchmarkId(),
    testCases,
    configs,
    jobFile,
    iterations: Number(iterationsText),
    fleet: fleetOf(f),
    mount: mountOf(f),
    gcsfuseCommit: f.gcsfuseCommit ?? 'master',
    gcsfuseMountArgs: f.gcsfuseMountArgs ?? '',
    timeouts: {
      fioIterationMs: duration(f.fioTimeout, '--fio-timeout', DEFAULT_TIMEOUTS.fioIterationMs),
      agentPickupMs: duration(f.agentPickupTimeout, '--agent-pickup-timeout', DEFAULT_TIMEOUTS.agentPickupMs),
      agentHeartbeatMs: duration(f.heartbeatTimeout, '--heartbeat-timeout', DEFAULT_TIMEOUTS.agentHeartbeatMs),
    },
    retryWindowMs: duration(f.retryWindow, '--retry-window', 0, true),
    rerouteOnAgentLoss: f.reroute !== false,
    routing: routingOf(f),
    ...(f.separateConfigs ? { separateConfigs: true } : {}),
    ...stabilityOf(f),
    ...(f.bigquery ? { bigquery: parseBigQueryTable(f.bigquery) } : {}),
  };
  // Inputs travel in the workflow's input; Temporal refuses payloads over 2 MB.
  const inputBytes = Buffer.byteLength(JSON.stringify(request));
  if (inputBytes > MAX_INPUT_BYTES) {
    throw new InputError(`the inputs add up to ${(inputBytes / 2 ** 20).toFixed(1)} MiB; at most ${MAX_INPUT_BYTES / 2 ** 20} MiB fit in a Temporal payload: split the test cases into several benchmarks`, { flag: '--test-csv' });
  }
  return { request, prepared: prepareBenchmark(request) };
}

const MAX_INPUT_BYTES = 1.5 * 2 ** 20;

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
};
const PATH_KEYS = new Set<keyof BenchmarkFlags>(['testCsv', 'configsCsv', 'fioJobFile']);
const BOOLEAN_KEYS = new Set<keyof BenchmarkFlags>(['reroute', 'gcsfuseAnonymousAccess', 'separateConfigs']);

/**
 * Reads a config file (YAML or JSON) of benchmark options keyed by their flag names,
 * e.g. `test-csv: tests.csv` or `vms: [vm-1, vm-2]`. Paths are relative to the file.
 */
export async function loadConfigFile(file: string): Promise<BenchmarkFlags> {
  const text = (await readInput(file, '--config', true))!.content;
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const line = err instanceof YAMLParseError ? err.linePos?.[0]?.line : undefined;
    throw new InputError(`not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`, { flag: '--config', file, line });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new InputError('must be a mapping of option names to values', { flag: '--config', file });
  const flags: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    const name = CONFIG_KEYS[key];
    if (!name) throw new InputError(`unknown key "${key}"; known keys: ${Object.keys(CONFIG_KEYS).join(', ')}`, { flag: '--config', file });
    if (BOOLEAN_KEYS.has(name)) {
      if (typeof value !== 'boolean') throw new InputError(`"${key}" must be true or false`, { flag: '--config', file });
      flags[name] = value;
    } else if (name === 'vms' && Array.isArray(value)) {
      flags[name] = value.map(String).join(',');
    } else if (typeof value === 'string' || typeof value === 'number') {
      flags[name] = PATH_KEYS.has(name) ? path.resolve(path.dirname(file), String(value)) : String(value);
    } else {
      throw new InputError(`"${key}" must be a string or a number`, { flag: '--config', file });
    }
  }
  return flags as BenchmarkFlags;
}
