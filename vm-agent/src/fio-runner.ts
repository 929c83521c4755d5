import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
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
}

export interface FioRunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  /** The last part of stderr: fio's error messages. */
  stderr: string;
}

/** Runs one fio iteration; production code uses `runFio`, tests may inject another runner. */
export type FioRunner = (req: FioRunRequest) => Promise<FioRunResult>;

const STDERR_KEEP_BYTES = 64 * 1024;
const KILL_GRACE_MS = 5_000;
// With setpriv, fio dies with the agent even on SIGKILL, so no orphan keeps using the mount.
const SETPRIV = '/usr/bin/setpriv';

export function fioArgv(req: Pick<FioRunRequest, 'jobFile' | 'outputFile'>): string[] {
  return ['--output-format=json+', `--output=${req.outputFile}`, req.jobFile];
}

export const runFio: FioRunner = async (req) => {
  const fioBin = process.env.FIO_BIN ?? 'fio';
  const [cmd, args] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', fioBin, ...fioArgv(req)]]
    : [fioBin, fioArgv(req)];
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
    return { exitCode, signal, timedOut, aborted, durationMs: Date.now() - started, stderr };
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
