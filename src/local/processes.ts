import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

/** A child process we started and must stop: its output goes to a log file. */
export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after graceMs; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartProcessOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  logDir: string;
  cwd?: string;
}

/** Every process started here and not yet exited, in start order, so an interrupt can stop them all. */
const live: ManagedProcess[] = [];

/** Stops every process this module started that is still running, the last started first. */
export async function stopAllProcesses(): Promise<void> {
  for (const p of [...live].reverse()) await p.stop();
}

/** Spawns a process without a shell, in its own process group (so Ctrl-C reaches only us, and we stop it in order). */
export function startProcess(o: StartProcessOptions): ManagedProcess {
  mkdirSync(o.logDir, { recursive: true });
  const logFile = path.join(o.logDir, `${o.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(o.command, o.args, {
    cwd: o.cwd,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      log.write(`failed to start: ${err.message}\n`);
      resolve(-1);
    });
  });
  const managed: ManagedProcess = {
    name: o.name,
    child,
    logFile,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      log.end();
    },
  };
  live.push(managed);
  void exited.then(() => live.splice(live.indexOf(managed), 1));
  return managed;
}

function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // Already gone.
  }
}

/** Node with tsx, to run one of our TypeScript entrypoints as its own process. */
export function tsxCommand(entry: string, args: string[]): { command: string; args: string[] } {
  // An absolute loader URL, so the process may start in any folder.
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { command: process.execPath, args: ['--import', loader, entry, ...args] };
}
