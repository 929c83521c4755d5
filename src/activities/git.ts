import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { InputError, type InputLocation } from '../core/errors';

const execFileAsync = promisify(execFile);

/**
 * Transports git may use: never `ext::` (runs a command) or `fd::`. Repository URLs come from
 * workflow inputs, i.e. from anyone who can start a workflow in the namespace.
 */
export const GIT_ALLOW_PROTOCOL = 'https:http:git:ssh:file';

/** git with no config, credentials or prompts of the worker's user, and only the transports above. */
export function gitEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: '/nonexistent',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL,
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
  };
}

export interface GitOptions {
  cwd?: string;
  timeoutMs: number;
  maxBufferBytes: number;
  /** Where an input error points (the flag that named the repository or ref). */
  location?: InputLocation;
}

/**
 * Runs git hardened (gitEnv) and returns its stdout. Exit 128 is git's "no such repository /
 * revision / not allowed": an input error no retry fixes; anything else (a timeout, the network) is retryable.
 */
export async function runGit(args: string[], what: string, o: GitOptions): Promise<string> {
  try {
    return (await execFileAsync('git', args, { cwd: o.cwd, env: gitEnv(), timeout: o.timeoutMs, maxBuffer: o.maxBufferBytes })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; code?: number | string; message: string };
    if (e.code === 128) throw new InputError(`${what} failed: ${(e.stderr ?? e.message).trim()}`, o.location);
    throw new Error(`${what} failed: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}
