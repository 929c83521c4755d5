/**
 * What the Temporal Web UI shows for a benchmark before anyone opens its artifacts: the user
 * metadata given at start (static summary and details) and the memo's config label.
 * The workflow adds its current details while it runs (src/workflows/details.ts).
 */
import os from 'node:os';
import type { BenchmarkRequest, FleetSpec, PreparedBenchmark } from '../core/spec';
import { code, formatSeconds } from '../workflows/details';

/** Configs named in the details; the rest are counted (the details should stay readable). */
const MAX_CONFIGS_LISTED = 20;
/** VMs of a static fleet named in the summary line. */
const MAX_VMS_IN_SUMMARY = 3;

export interface StartMetadata {
  staticSummary: string;
  staticDetails: string;
}

/** The memo's name of the one config made from --gcsfuse-commit and --gcsfuse-mount-args: `default (master --implicit-dirs)`. */
export function defaultConfigLabel(req: BenchmarkRequest): string {
  return `default (${[req.gcsfuseCommit, req.gcsfuseMountArgs.trim()].filter(Boolean).join(' ')})`;
}

/**
 * Static summary (one line, shown in the workflow list) and details (markdown, on the
 * workflow's page): what runs, where, on which gcsfuse, started by whom.
 */
export function benchmarkStartMetadata(req: BenchmarkRequest, prepared: PreparedBenchmark, o: { artifacts?: string } = {}): StartMetadata {
  const entries = prepared.matrix.length;
  const configs = prepared.configs.length;
  const tests = entries / configs;
  const refs = [...new Set(prepared.configs.map((c) => c.commit))];
  const name = req.runName && req.runName !== req.benchmarkId ? ` (${req.runName})` : '';
  const staticSummary =
    `Benchmark ${req.benchmarkId}${name}: ${entries} entries × ${req.iterations} iterations on ${fleetSummary(req.fleet)}, ` +
    `gcsfuse ${refs.join(', ')}`;

  const listed = prepared.configs
    .slice(0, MAX_CONFIGS_LISTED)
    .map((c) => `  - ${code(c.label)}: ${code(c.commit)}${c.mountArgs.trim() ? ` ${code(c.mountArgs.trim())}` : ''}`);
  if (configs > MAX_CONFIGS_LISTED) listed.push(`  - and ${configs - MAX_CONFIGS_LISTED} more (${req.configs?.name})`);
  const details = [
    `- **benchmark**: ${code(req.benchmarkId)}` + (req.runName ? `, run name ${code(req.runName)}` : ''),
    `- **matrix**: ${tests} tests (${code(req.testCases.name)}) × ${configs} configs = ${entries} entries, ${req.iterations} iterations each` +
      (req.stability ? ` (up to ${req.stability.maxIterations} while bandwidth varies more than ${req.stability.maxCvPercent}%)` : ''),
    `- **fio job**: ${code(req.jobFile.name)}`,
    `- **VMs**: ${fleetDetails(req.fleet)}`,
    `- **gcsfuse** (${configs} configs):`,
    ...listed,
    `- **mount**: ${code(mountLabel(req))}`,
    `- **whole-run deadline**: ${req.runTimeoutMs !== undefined ? formatSeconds(req.runTimeoutMs) : 'none'}`,
    ...(o.artifacts ? [`- **artifacts**: ${code(o.artifacts)}`] : []),
    `- **started by**: ${code(`${whoAmI()}@${os.hostname()}`)}`,
  ];
  return { staticSummary, staticDetails: details.join('\n') };
}

function mountLabel(req: BenchmarkRequest): string {
  return req.mount.kind === 'gcsfuse' ? `gcsfuse gs://${req.mount.bucket}` : req.mount.kind;
}

function fleetSummary(f: FleetSpec): string {
  switch (f.kind) {
    case 'static':
      return f.vms.length <= MAX_VMS_IN_SUMMARY ? `${f.vms.length} VMs (${f.vms.join(', ')})` : `${f.vms.length} VMs`;
    case 'instance-group':
      return `instance group ${f.group}`;
    case 'vm':
      return `VM ${f.name}`;
  }
}

function fleetDetails(f: FleetSpec): string {
  switch (f.kind) {
    case 'static':
      return `${f.vms.length} (${f.vms.map(code).join(', ')})`;
    case 'instance-group':
      return `the RUNNING VMs of instance group ${code(f.group)} in ${code(`${f.project}/${f.zone ?? f.region}`)}`;
    case 'vm':
      return `${code(f.name)} in ${code(`${f.project}/${f.zone}`)}`;
  }
}

/** The OS user, or USER when the uid has no passwd entry (some containers). */
function whoAmI(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}
