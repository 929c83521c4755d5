/** Small process helpers for the agent's own commands (argv only, never a shell). */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface CmdResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started at all (e.g. ENOENT). */
  spawnError?: NodeJS.ErrnoException;
}

/** The last 256 KiB of a command's output is what its errors are in. */
const OUTPUT_KEEP_CHARS = 256 * 1024;

export function runCmd(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CmdResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const keep = (s: string) => s.slice(-OUTPUT_KEEP_CHARS);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout = keep(stdout + d)));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = keep(stderr + d)));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        stderr += `\n(killed after ${opts.timeoutMs} ms)`;
        child.kill('SIGKILL');
      }, opts.timeoutMs);
    }
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr, spawnError: err });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie answers kill(0); it is dead for our purposes.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

export function signalGroupOrPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
    return;
  } catch {
    // Not a group leader (or gone): fall back to the process.
  }
  try {
    process.kill(pid, sig);
  } catch {
    // Gone.
  }
}
