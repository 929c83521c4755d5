/**
 * How a gcsfuse mount is made on the VM agent: the mount point checked, gcsfuse started as our
 * child, the mount awaited and its root listed; and how it is torn down.
 *
 * Choices worth knowing:
 * - gcsfuse runs with `--foreground`, as our child. Without it gcsfuse daemonizes (it re-executes
 *   itself with --foreground and its parent exits once the mount is up), and we would lose the
 *   process: no pid to stop, no exit code, no stderr from before the log file is open. With it we
 *   own the pid and its process group, see a failed start as an exit code, and it is spawned under
 *   `setpriv --pdeathsig SIGTERM` so an agent that dies makes gcsfuse unmount itself (gcsfuse
 *   unmounts on SIGTERM).
 * - The mount point is the same path for every mount of a mounter: the rendered fio job names it
 *   and is stored once per entry, so it must not change between iterations.
 * - A mount is only "up" when /proc/self/mountinfo shows a fuse.gcsfuse file system at the mount
 *   point and listing its root worked. The listing loads the root's metadata before fio and is
 *   what reveals a bucket that does not exist: gcsfuse itself only checks the bucket through the
 *   storage-control API (GetStorageLayout), which is skipped with --enable-hns=false or a
 *   `localhost` custom endpoint, and then mounts a missing bucket happily. Its READDIR then fails
 *   with ENOENT, which glibc's readdir takes for the end of the folder, so the errors gcsfuse logs
 *   during the listing are what we check (a --log-severity of off hides them).
 * - With fake-gcs-server: --custom-endpoint http://127.0.0.1:<port>/storage/v1/ (trailing slash
 *   needed: without it requests miss /v1 and get 404), --anonymous-access, and --enable-hns=false
 *   (or "localhost" in the endpoint); otherwise gcsfuse dials the endpoint as a gRPC target for
 *   GetStorageLayout, fails ("lookup tcp/<port>/storage/v1/: unknown port") and retries for minutes.
 * - Flags we own are refused in mount args: --foreground and --log-file (we need the process and
 *   the log), --help/--version (gcsfuse would print and exit). --log-severity in the mount args
 *   replaces ours (a benchmark may want logging off). --custom-endpoint/--anonymous-access may be
 *   given in mount args only when the job's mount spec does not set them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { MountConfig } from '../../src/core/configs';
import { checkBucketName, checkEndpoint, checkGcsfuseMountArgv, gcsfuseArgv, type GcsfuseLogSeverity } from '../../src/core/mount-args';
import type { MountSpec } from '../../src/core/spec';
import { childEnv } from './child-env';
import type { GcsfuseBinaries } from './gcsfuse-build';
import { errorMessages, failureDetails, readFrom } from './gcsfuse-log';
import { cleanupLeftoverMounts, fuseMountAt, unmountFuse, type UnmountOptions } from './mount-table';
import type { Mounter, MountHandle } from './mounter';
import { dropPageCache } from './page-cache';
import { signalGroupOrPid, sleep } from './process';

type GcsfuseSpec = Extract<MountSpec, { kind: 'gcsfuse' }>;

const SETPRIV = '/usr/bin/setpriv';
const DEFAULT_MOUNT_TIMEOUT_MS = 60_000;
const DEFAULT_EXIT_TIMEOUT_MS = 10_000;
/** How long a gcsfuse gets after SIGTERM (and after SIGKILL) before we stop waiting. */
const STOP_GRACE_MS = 5_000;
const MOUNT_POLL_MS = 50;
/** The root listing gets at least this long, even when the mount itself took most of the timeout. */
const MIN_LIST_TIMEOUT_MS = 5_000;

export interface GcsfuseMounterOptions {
  /** Where gcsfuse binaries come from (e.g. GoInstallGcsfuseBinaries). */
  binaries: GcsfuseBinaries;
  /**
   * The mount point, the same for every mount: the rendered fio job names it, and is stored once
   * per entry. Created when missing; must be empty when nothing is mounted on it.
   */
  mountPoint: string;
  /** gcsfuse's working directory: relative --cache-dir/--temp-dir are created here (default: beside the mount point). */
  scratchDir?: string;
  /** Drop the page cache before each mount and after each unmount (default true). */
  dropCaches?: boolean;
  /** gcsfuse --log-severity unless the mount args set it; 'info' by default. */
  logSeverity?: GcsfuseLogSeverity;
  /** How long gcsfuse may take to mount and list the bucket's root (default 60 s). */
  mountTimeoutMs?: number;
  /** How long gcsfuse may take to exit after its file system is unmounted, before it is killed (default 10 s). */
  exitTimeoutMs?: number;
  /** fusermount3 by default. */
  fusermount?: string;
  /** Extra environment for gcsfuse; of the agent's own only the allow-list in child-env.ts is passed on. */
  env?: NodeJS.ProcessEnv;
  warn?: (message: string) => void;
}

export interface GcsfuseMountHandle extends MountHandle {
  bucket: string;
  binary: string;
  /** gcsfuse's arguments (after the binary). */
  argv: string[];
  pid: number;
  /** gcsfuse's own log (--log-file). */
  logFile: string;
  /** gcsfuse's stdout and stderr: what it printed before its log file was open. */
  outputFile: string;
  cachesDropped: { beforeMount: boolean; afterUnmount?: boolean };
  /** How unmount() went, once it ran. */
  unmountResult?: 'unmounted' | 'lazy' | 'not-mounted' | 'failed';
  /** Lists a folder in the mount once, so gcsfuse loads its metadata before fio runs. */
  listDir(dir: string): Promise<string[]>;
}

/** Why a mount did not come up. */
interface MountFailure {
  reason: string;
  /** gcsfuse is alive but not answering: it is killed before the unmount, which a blocked FUSE request would hold. */
  hung: boolean;
  /** The reason already quotes gcsfuse's log, so the failure details are not added again. */
  fromLog: boolean;
}

/** The gcsfuse child process and, once it ended, how. */
class GcsfuseProcess {
  exit: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
  private readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
      child.once('error', (error) => {
        this.exit = { code: null, signal: null, error };
        resolve();
      });
    });
  }

  /** Waits up to `ms` for the process to end; true when it has. */
  async waitExit(ms: number): Promise<boolean> {
    if (!this.exit) await Promise.race([this.exited, sleep(ms)]);
    return this.exit !== undefined;
  }

  /** Signals its process group (it runs detached). */
  signal(sig: NodeJS.Signals): void {
    if (this.child.pid) signalGroupOrPid(this.child.pid, sig);
  }
}

/** Mounts a bucket with real gcsfuse for each iteration. One mount at a time per mounter. */
export class GcsfuseMounter implements Mounter {
  private active: GcsfuseMountHandle | undefined;
  private readonly warn: (message: string) => void;

  constructor(private readonly opts: GcsfuseMounterOptions) {
    this.warn = opts.warn ?? ((m) => console.warn(`[gcsfuse] ${m}`));
  }

  private get unmountOptions(): UnmountOptions {
    return { fusermount: this.opts.fusermount, warn: this.warn };
  }

  private get mountTimeoutMs(): number {
    return this.opts.mountTimeoutMs ?? DEFAULT_MOUNT_TIMEOUT_MS;
  }

  /** Unmounts gcsfuse mounts left at our mount point by an earlier life of the agent. */
  cleanupLeftovers(): Promise<string[]> {
    return cleanupLeftoverMounts(this.opts.mountPoint, this.unmountOptions);
  }

  async mount(config: MountConfig, spec: MountSpec, logDir: string): Promise<GcsfuseMountHandle> {
    const gcs = this.checkRequest(config, spec);
    const bucket = gcs.bucket;
    const binary = await this.opts.binaries.binaryFor(config.commit);
    const mountPoint = await this.prepareMountPoint(bucket);
    const { logFile, outputFile } = await nextLogFiles(logDir);
    const cachesDroppedBefore = this.opts.dropCaches === false ? false : await dropPageCache(this.warn);
    const argv = gcsfuseArgv({
      mountArgv: config.mountArgv,
      spec: gcs,
      logFile,
      logSeverity: this.opts.logSeverity ?? 'info',
      bucket,
      mountPoint,
    });
    const proc = await this.start(binary, argv, outputFile);

    let unmountPromise: Promise<void> | undefined;
    const handle: GcsfuseMountHandle = {
      mountPoint,
      bucket,
      binary,
      argv,
      pid: proc.child.pid ?? -1,
      logFile,
      outputFile,
      cachesDropped: { beforeMount: cachesDroppedBefore },
      listDir: (dir: string) => listWithin(dir, this.mountTimeoutMs),
      prepareDir: async (dir: string) => {
        await listWithin(dir, this.mountTimeoutMs);
      },
      logFiles: [logFile, outputFile],
      unmount: () => (unmountPromise ??= this.teardown(handle, proc)),
    };
    this.active = handle;

    const deadline = Date.now() + this.mountTimeoutMs;
    const failure = (await this.awaitMount(mountPoint, proc, deadline)) ?? (await listRoot(mountPoint, logFile, deadline));
    if (failure) {
      // A hung gcsfuse is killed first so a blocked FUSE request cannot hold the unmount; then the usual clean-up.
      if (failure.hung && !proc.exit) proc.signal('SIGKILL');
      try {
        await handle.unmount();
      } catch (err) {
        this.warn((err as Error).message);
      }
      const details = failure.fromLog ? '' : await failureDetails(logFile, outputFile);
      throw new Error(
        `gcsfuse could not mount bucket "${bucket}" at ${mountPoint}: ${failure.reason}${details ? `: ${details}` : ''} (gcsfuse log: ${logFile})`,
      );
    }
    return handle;
  }

  /** Checks the job's mount request again (a job spec can reach the store without the CLI) and that nothing of ours is mounted. */
  private checkRequest(config: MountConfig, spec: MountSpec): GcsfuseSpec {
    if (spec.kind !== 'gcsfuse') throw new Error(`this agent mounts buckets with gcsfuse, the job asks for ${spec.kind}`);
    checkBucketName(spec.bucket);
    if (spec.customEndpoint !== undefined) checkEndpoint(spec.customEndpoint, spec.anonymousAccess === true);
    checkGcsfuseMountArgv(config.mountArgv, spec, config.label);
    if (this.active && !this.active.unmountResult) {
      throw new Error(`gcsfuse is still mounted at ${this.active.mountPoint} by an earlier mount: unmount it first`);
    }
    return spec;
  }

  /** The mount point: created, nothing mounted on it, empty. Returns its real path (mountinfo shows real paths). */
  private async prepareMountPoint(bucket: string): Promise<string> {
    await fs.mkdir(this.opts.mountPoint, { recursive: true });
    const mountPoint = await fs.realpath(this.opts.mountPoint);
    if (await fuseMountAt(mountPoint)) {
      this.warn(`something is still mounted at ${mountPoint}; unmounting it`);
      await cleanupLeftoverMounts(mountPoint, this.unmountOptions);
      await unmountFuse(mountPoint, this.unmountOptions);
      if (await fuseMountAt(mountPoint))
        throw new Error(`cannot mount bucket "${bucket}": ${mountPoint} is still mounted and would not unmount`);
    }
    const present = await fs.readdir(mountPoint);
    if (present.length > 0) {
      throw new Error(
        `cannot mount bucket "${bucket}": mount point ${mountPoint} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''}); fio would write to the local disk if the mount failed`,
      );
    }
    return mountPoint;
  }

  /** Starts gcsfuse in the foreground as our child, its stdout and stderr going to `outputFile`. */
  private async start(binary: string, argv: string[], outputFile: string): Promise<GcsfuseProcess> {
    const scratchDir = path.resolve(this.opts.scratchDir ?? `${this.opts.mountPoint}-scratch`);
    await fs.mkdir(scratchDir, { recursive: true });
    const out = await fs.open(outputFile, 'a');
    try {
      // setpriv --pdeathsig: an agent that dies sends gcsfuse SIGTERM, on which gcsfuse unmounts itself.
      const [cmd, args] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'SIGTERM', '--', binary, ...argv]] : [binary, argv];
      const child = spawn(cmd, args, {
        stdio: ['ignore', out.fd, out.fd],
        detached: true, // its own process group: a Ctrl-C at the agent's terminal does not reach it directly
        // An allow-listed environment (child-env.ts), and a working directory where relative --cache-dir/--temp-dir land.
        env: { ...childEnv('gcsfuse'), ...this.opts.env },
        cwd: scratchDir,
      });
      return new GcsfuseProcess(child);
    } finally {
      await out.close();
    }
  }

  /** Waits until the kernel shows the mount, gcsfuse gives up, or time runs out. */
  private async awaitMount(mountPoint: string, proc: GcsfuseProcess, deadline: number): Promise<MountFailure | undefined> {
    for (;;) {
      const m = await fuseMountAt(mountPoint);
      if (m && !proc.exit) {
        if (m.fsType !== 'fuse.gcsfuse') this.warn(`${mountPoint} is mounted as ${m.fsType}, expected fuse.gcsfuse`);
        return undefined;
      }
      const exit = proc.exit;
      if (exit) {
        const reason = exit.error
          ? `gcsfuse could not be started (${exit.error.message})`
          : `gcsfuse exited (${exit.code !== null ? `code ${exit.code}` : `signal ${exit.signal}`}) before the mount was up`;
        return { reason, hung: false, fromLog: false };
      }
      if (Date.now() > deadline) {
        return { reason: `gcsfuse did not mount within ${Math.round(this.mountTimeoutMs / 1000)} s`, hung: true, fromLog: false };
      }
      await sleep(MOUNT_POLL_MS);
    }
  }

  /** Unmounts, waits for gcsfuse to exit (stopping one that does not), releases a dead mount and drops the caches. */
  private async teardown(handle: GcsfuseMountHandle, proc: GcsfuseProcess): Promise<void> {
    const { mountPoint } = handle;
    let result = await unmountFuse(mountPoint, this.unmountOptions);
    // After its file system is gone gcsfuse exits by itself; one that does not is stopped.
    if (!(await proc.waitExit(this.opts.exitTimeoutMs ?? DEFAULT_EXIT_TIMEOUT_MS))) {
      this.warn(`gcsfuse (pid ${proc.child.pid}) did not exit after unmounting ${mountPoint}; stopping it`);
      proc.signal('SIGTERM');
      if (!(await proc.waitExit(STOP_GRACE_MS))) proc.signal('SIGKILL');
      await proc.waitExit(STOP_GRACE_MS);
    }
    // A gcsfuse that died while mounted leaves an unconnected mount ("Transport endpoint is not connected").
    if (await fuseMountAt(mountPoint)) {
      const again = await unmountFuse(mountPoint, this.unmountOptions);
      result = result === 'not-mounted' ? again : result;
    }
    handle.unmountResult = (await fuseMountAt(mountPoint)) ? 'failed' : result;
    handle.cachesDropped.afterUnmount = this.opts.dropCaches === false ? false : await dropPageCache(this.warn);
    if (this.active === handle) this.active = undefined;
    if (handle.unmountResult === 'failed') {
      throw new Error(`could not unmount gcsfuse (bucket "${handle.bucket}") at ${mountPoint}; see ${handle.logFile}`);
    }
  }
}

/** Log files: gcsfuse-<n>.log, n one more than the highest already in logDir (kept across iterations). */
async function nextLogFiles(logDir: string): Promise<{ logFile: string; outputFile: string }> {
  await fs.mkdir(logDir, { recursive: true });
  const n = 1 + Math.max(0, ...(await fs.readdir(logDir)).map((f) => Number(/^gcsfuse-(\d+)\.log$/.exec(f)?.[1] ?? 0)));
  return { logFile: path.resolve(logDir, `gcsfuse-${n}.log`), outputFile: path.resolve(logDir, `gcsfuse-${n}.output.log`) };
}

/** Lists the root once: loads its metadata before fio, and proves the bucket is there and readable. */
async function listRoot(mountPoint: string, logFile: string, deadline: number): Promise<MountFailure | undefined> {
  // glibc's readdir takes an ENOENT from getdents for the end of the folder, so a listing of a
  // bucket that does not exist "succeeds" empty: the errors gcsfuse logs while listing tell.
  const logSize = await fs.stat(logFile).then(
    (st) => st.size,
    () => 0,
  );
  try {
    await listWithin(mountPoint, Math.max(MIN_LIST_TIMEOUT_MS, deadline - Date.now()));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      reason: `the mount is up but listing its root failed (${code ?? (err as Error).message})`,
      hung: code === 'ETIMEDOUT',
      fromLog: false,
    };
  }
  const logged = errorMessages(await readFrom(logFile, logSize));
  // The first error is the cause; "fuse: Op ... -> Error" lines only echo the reply to the kernel.
  const cause = logged.find((m) => !/^fuse: Op /.test(m)) ?? logged[0];
  return cause ? { reason: `the mount is up but listing its root failed: ${cause}`, hung: false, fromLog: true } : undefined;
}

/**
 * Lists a folder, reporting read errors: fs.readdir (scandir) returns [] when gcsfuse answers
 * READDIR with an error (e.g. ENOENT for a bucket that does not exist), fs.opendir's iteration
 * does not.
 */
async function readDirStrict(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of await fs.opendir(dir)) names.push(entry.name);
  return names.sort();
}

/** Lists a folder, giving up after `timeoutMs` (a hung FUSE server would block it forever). */
async function listWithin(dir: string, timeoutMs: number): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      readDirStrict(dir),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(Object.assign(new Error(`listing ${dir} took over ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
