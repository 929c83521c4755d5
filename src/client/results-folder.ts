import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { openArtifactStore, type ArtifactStore } from '../artifacts';
import { getJson } from '../artifacts/store';
import { layout, STORED_INPUT_NAMES } from '../core/layout';
import type { BenchmarkRequest, FleetVm } from '../core/spec';
import { cloudEndpointsFromEnv, storageOptions } from '../shared/cloud';

/** The original tool's local folder: `results/<benchmark-id>/` below the working directory. */
export const DEFAULT_RESULTS_DIR = 'results';
export const RUN_CONFIG_FILE = 'run-config.json';
/** `results/latest` points at the last run's folder, as the original's does. */
export const LATEST_LINK = 'latest';

export interface ResultsFolderInput {
  /** The parent folder (`--results-dir`), relative to the working directory or absolute. */
  dir: string;
  request: BenchmarkRequest;
  /** The artifact store the workers use, when the CLI was given it: reports are copied from there. */
  artifacts?: string;
  /** The command line after the program name, as given (the original keeps its arguments). */
  argv: string[];
  now?: Date;
}

export interface ResultsFolder {
  /** Absolute path of `<dir>/<benchmark-id>`. */
  folder: string;
  /** Absolute paths of the report files copied into it. */
  reports: string[];
  /** Absolute path of run-config.json. */
  runConfig: string;
}

/**
 * run-config.json: the original's keys (timestamp, benchmark_id, num_vms, vm_names, num_tests,
 * num_configs, iterations, bucket, artifacts_bucket, instance_group, zone, project), then ours.
 */
export function runConfigOf(
  req: BenchmarkRequest,
  vms: string[],
  numTests: number,
  numConfigs: number,
  argv: string[],
  artifacts: string | undefined,
  now: Date,
): Record<string, unknown> {
  const fleet = req.fleet;
  return {
    timestamp: now.toISOString(),
    benchmark_id: req.benchmarkId,
    run_name: req.runName ?? req.benchmarkId,
    num_vms: vms.length,
    vm_names: vms,
    num_tests: numTests,
    num_configs: numConfigs,
    iterations: req.iterations,
    bucket: req.mount.kind === 'gcsfuse' ? req.mount.bucket : null,
    artifacts_bucket: artifacts ?? null,
    instance_group: fleet.kind === 'instance-group' ? fleet.group : fleet.kind === 'vm' ? fleet.name : null,
    zone: fleet.kind === 'static' ? null : ((fleet.kind === 'instance-group' ? (fleet.zone ?? fleet.region) : fleet.zone) ?? null),
    project: fleet.kind === 'static' ? null : fleet.project,
    fleet,
    report_name: req.reportName ?? null,
    report_format: req.reportFormat ?? 'default',
    run_timeout_ms: req.runTimeoutMs ?? null,
    arguments: argv,
  };
}

/**
 * Writes `<dir>/<benchmark-id>/` with the report files from the artifact store, the inputs and
 * run-config.json. Everything is staged in a temporary sibling folder first; each file then
 * lands with one rename, so a reader (or a crash) never sees a half-written file.
 */
export async function writeResultsFolder(o: ResultsFolderInput): Promise<ResultsFolder> {
  const id = o.request.benchmarkId;
  const parent = path.resolve(o.dir);
  const folder = path.join(parent, id);
  await fs.mkdir(parent, { recursive: true });
  const staging = path.join(parent, `.${id}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fs.mkdir(staging);
  try {
    const store = o.artifacts ? openArtifactStore(o.artifacts, storageOptions(cloudEndpointsFromEnv())) : undefined;
    const reportNames = store ? await copyReports(store, id, staging) : [];
    await fs.writeFile(path.join(staging, STORED_INPUT_NAMES.testCases), o.request.testCases.content);
    if (o.request.configs) await fs.writeFile(path.join(staging, STORED_INPUT_NAMES.configs), o.request.configs.content);
    await fs.writeFile(path.join(staging, STORED_INPUT_NAMES.jobFile), o.request.jobFile.content);
    const vms = store ? ((await getJson<{ vms: FleetVm[] }>(store, layout.fleet(id)))?.vms.map((v) => v.name) ?? []) : [];
    const numTests = countRows(o.request.testCases.content);
    const numConfigs = o.request.configs ? countRows(o.request.configs.content) : 1;
    const runConfig = runConfigOf(o.request, vms, numTests, numConfigs, o.argv, o.artifacts, o.now ?? new Date());
    await fs.writeFile(path.join(staging, RUN_CONFIG_FILE), JSON.stringify(runConfig, null, 2) + '\n');
    await publish(staging, folder);
    await pointLatest(parent, id);
    return { folder, reports: reportNames.map((n) => path.join(folder, n)), runConfig: path.join(folder, RUN_CONFIG_FILE) };
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function copyReports(store: ArtifactStore, id: string, into: string): Promise<string[]> {
  const prefix = layout.report(id, '');
  const names: string[] = [];
  for (const key of await store.list(prefix)) {
    const name = key.slice(prefix.length);
    if (name === '' || name.includes('/')) continue; // report files only, no sub-folders
    const data = await store.get(key);
    if (data === undefined) continue;
    await fs.writeFile(path.join(into, name), data);
    names.push(name);
  }
  return names;
}

/** Data rows of a small CSV we already validated: non-empty lines after the header. */
function countRows(csv: string): number {
  return Math.max(0, csv.split(/\r?\n/).filter((l) => l.trim() !== '').length - 1);
}

/** A new folder appears whole (one rename); an existing one (a resumed run) gets each file replaced by a rename. */
async function publish(staging: string, folder: string): Promise<void> {
  try {
    await fs.rename(staging, folder);
    await fs.mkdir(staging); // the caller's cleanup expects it
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  for (const name of await fs.readdir(staging)) await fs.rename(path.join(staging, name), path.join(folder, name));
}

/** results/latest -> <id>, replaced with a rename so it never dangles half-way. */
async function pointLatest(parent: string, id: string): Promise<void> {
  if (id === LATEST_LINK) return;
  const link = path.join(parent, LATEST_LINK);
  const current = await fs.lstat(link).catch(() => undefined);
  if (current && !current.isSymbolicLink()) return; // someone's own folder of that name: leave it
  const tmp = `${link}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await fs.symlink(id, tmp);
  await fs.rename(tmp, link);
}
