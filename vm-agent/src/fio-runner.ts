import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { ArtifactStore } from '../../src/artifacts/store';
import { layout } from '../../src/core/layout';
import {
  FIO_LOG_AVG_MSEC,
  FIO_LOGS_SCHEMA,
  FIO_RAW_LOGS_MAX_BYTES,
  fioLogArgs,
  logFileKind,
  seriesFromFioLogs,
  TIMESERIES_SCHEMA,
  type FioRawLogs,
  type IterationTimeSeries,
} from '../../src/core/timeseries';
import { childEnv } from './child-env';

export interface FioRunRequest {
  jobFile: string;
  outputFile: string;
  timeoutMs: number;
  /** Aborting stops fio (SIGTERM to its process group, SIGKILL after a grace period). */
  signal?: AbortSignal;
  /** fio's working directory: relative file names land here (the test's data folder). */
  cwd?: string;
  /** Written while fio runs so a restarted agent can stop a fio its previous life left behind. */
  pidFile?: string;
  /**
   * The agent's own folder for fio's bandwidth/IOPS/latency logs (emptied first). The agent sets
   * them on fio's command line: a job template may not (the job policy refuses write_*_log).
   */
  logDir?: string;
}

export interface FioRunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  /** The last part of stderr: fio's error messages. */
  stderr: string;
  /** fio's log files the report reads (bw, iops, clat; lat and slat are left out), by file name; with logDir only. */
  logFiles?: Record<string, string>;
}

/** Runs one fio iteration; production code uses `runFio`, tests may inject another runner. */
export type FioRunner = (req: FioRunRequest) => Promise<FioRunResult>;

const STDERR_KEEP_BYTES = 64 * 1024;
const KILL_GRACE_MS = 5_000;
// With setpriv, fio dies with the agent even on SIGKILL, so no orphan keeps using the mount.
const SETPRIV = '/usr/bin/setpriv';

export function fioArgv(req: Pick<FioRunRequest, 'jobFile' | 'outputFile' | 'logDir'>): string[] {
  return ['--output-format=json+', `--output=${req.outputFile}`, ...(req.logDir ? fioLogArgs(req.logDir) : []), req.jobFile];
}

/** The log files fio wrote into `dir` that the report reads, by name. */
async function readLogFiles(dir: string): Promise<Record<string, string>> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => logFileKind(n)).sort();
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await fs.readFile(path.join(dir, n), 'utf8')] as const)));
}

export const runFio: FioRunner = async (req) => {
  const fioBin = process.env.FIO_BIN ?? 'fio';
  const [cmd, args] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', fioBin, ...fioArgv(req)]] : [fioBin, fioArgv(req)];
  if (req.logDir) {
    await fs.rm(req.logDir, { recursive: true, force: true });
    await fs.mkdir(req.logDir, { recursive: true });
  }
  const started = Date.now();
  // Its own process group, so stopping it stops the job processes fio forks too.
  // fio expands ${VAR} in job files: it gets an allow-listed environment, never the agent's secrets.
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: childEnv('fio'), cwd: req.cwd });
  if (req.pidFile && child.pid) await fs.writeFile(req.pidFile, String(child.pid));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-STDERR_KEEP_BYTES);
  });
  let timedOut = false;
  let aborted = false;
  const stop = (): void => {
    killGroup(child.pid, 'SIGTERM');
    setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS).unref();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, req.timeoutMs);
  const onAbort = (): void => {
    aborted = true;
    stop();
  };
  req.signal?.addEventListener('abort', onAbort, { once: true });
  if (req.signal?.aborted) onAbort();
  try {
    const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, sig) => resolve([code, sig]));
    });
    const logFiles = req.logDir ? await readLogFiles(req.logDir) : undefined;
    // Read into memory, stored by the caller: the scratch copy is not kept.
    if (req.logDir) await fs.rm(req.logDir, { recursive: true, force: true });
    return { exitCode, signal, timedOut, aborted, durationMs: Date.now() - started, stderr, ...(logFiles ? { logFiles } : {}) };
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', onAbort);
    if (req.pidFile) await fs.rm(req.pidFile, { force: true });
  }
};

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // Already gone.
  }
}

/** Stops a fio left running by an earlier life of this agent (its pid file survived). */
export async function stopLeftoverFio(pidFile: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(await fs.readFile(pidFile, 'utf8'));
  } catch {
    return false;
  }
  await fs.rm(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('fio')) return false;
  } catch {
    return false;
  }
  killGroup(pid, 'SIGKILL');
  return true;
}

/**
 * Stores an iteration's logs beside its fio output: the series summed over jobs
 * (iteration-<n>.timeseries.json, what the report reads) and, when they fit in
 * FIO_RAW_LOGS_MAX_BYTES, fio's files verbatim (iteration-<n>.fio-logs.json). Nothing without logs.
 */
export async function storeFioLogs(
  store: ArtifactStore,
  at: { benchmarkId: string; vm: string; matrixId: number; iteration: number },
  result: FioRunResult,
): Promise<void> {
  const files = result.logFiles;
  if (!files || Object.keys(files).length === 0) return;
  const { benchmarkId, vm, matrixId, iteration } = at;
  const rawBytes = Object.values(files).reduce((s, t) => s + Buffer.byteLength(t), 0);
  const fits = rawBytes <= FIO_RAW_LOGS_MAX_BYTES;
  const summed = seriesFromFioLogs(files, FIO_LOG_AVG_MSEC);
  const series: IterationTimeSeries = {
    schema: TIMESERIES_SCHEMA,
    iteration,
    intervalMs: summed.intervalMs,
    jobs: summed.jobs,
    startedAtMs: summed.startedAtMs,
    directions: summed.directions,
    ...(fits
      ? {}
      : {
          rawLogsOmitted: `fio's logs are ${(rawBytes / 2 ** 20).toFixed(1)} MiB, over the ${FIO_RAW_LOGS_MAX_BYTES / 2 ** 20} MiB kept per iteration`,
        }),
  };
  await store.put(layout.timeSeries(benchmarkId, vm, matrixId, iteration), JSON.stringify(series));
  if (fits) {
    const raw: FioRawLogs = { schema: FIO_LOGS_SCHEMA, iteration, logAvgMsec: FIO_LOG_AVG_MSEC, files };
    await store.put(layout.fioLogs(benchmarkId, vm, matrixId, iteration), JSON.stringify(raw));
  }
}
