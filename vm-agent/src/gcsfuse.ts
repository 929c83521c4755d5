/**
 * Real gcsfuse on the VM agent: building gcsfuse for a commit or tag once per VM, and
 * mounting a bucket with it for each fio iteration.
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
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MountConfig } from '../../src/core/configs';
import { InputError } from '../../src/core/errors';
import { checkBucketName, checkEndpoint, checkGcsfuseMountArgv, checkGitRef, FLAG_WORD } from '../../src/core/mount-args';

// Re-exported: the checks live in src/core so the CLI refuses what the agent would.
export { checkBucketName, checkGcsfuseMountArgv };
import type { MountSpec } from '../../src/core/spec';
import { childEnv } from './child-env';
import type { Mounter, MountHandle } from './mounter';

export const GCSFUSE_MODULE = 'github.com/googlecloudplatform/gcsfuse/v3';
const SETPRIV = '/usr/bin/setpriv';
const DROP_CACHES = '/proc/sys/vm/drop_caches';

// ---------------------------------------------------------------------------------------------
// Small process helpers (argv only, never a shell)
// ---------------------------------------------------------------------------------------------

interface CmdResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started at all (e.g. ENOENT). */
  spawnError?: NodeJS.ErrnoException;
}

function runCmd(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CmdResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const keep = (s: string) => s.slice(-256 * 1024);
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

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function isAlive(pid: number): boolean {
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

function signalGroupOrPid(pid: number, sig: NodeJS.Signals): void {
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

// ---------------------------------------------------------------------------------------------
// Building gcsfuse
// ---------------------------------------------------------------------------------------------

/** Gives the gcsfuse binary to mount with for a commit, tag or branch. */
export interface GcsfuseBinaries {
  binaryFor(commit: string): Promise<string>;
}

/** What was built (or found) for a ref; written as build.json next to the binary. */
export interface GcsfuseBuild {
  /** The ref asked for: a tag, branch or commit. */
  ref: string;
  /** The exact module version built: the tag, or the pseudo-version a branch or commit resolved to. */
  version: string;
  module: string;
  binary: string;
  /** How the binary came to be: built now, found in the cache, or pre-seeded. */
  source: 'built' | 'cached' | 'seeded';
  buildMs?: number;
  goVersion?: string;
  builtAt?: string;
}

export interface GoInstallGcsfuseBinariesOptions {
  /** Binaries live in <cacheDir>/<version>/gcsfuse, with build.json beside them. Kept across agent restarts. */
  cacheDir: string;
  /** Ready-made binaries by ref, used as they are (tests map the pinned tag to the binary setup built). */
  seeded?: Record<string, string>;
  /** The go command; 'go' on PATH by default. */
  go?: string;
  /** Module to install; gcsfuse v3 by default. */
  module?: string;
  /** Environment for go (GOPROXY, GOFLAGS, ...); the agent's own by default. */
  env?: NodeJS.ProcessEnv;
  /**
   * GOTOOLCHAIN for the builds. By default GOTOOLCHAIN from `env`/the agent's environment, else
   * 'auto': each ref is built with the Go its go.mod asks for, which the go command fetches from the
   * module proxy (golang.org/toolchain) when the VM's Go is older (gcsfuse v3.13.0 needs go >= 1.27.2).
   * A version (go1.27.3) pins one toolchain for every ref; 'local' allows the VM's Go only.
   */
  goToolchain?: string;
  /** Longest one build may take; 30 minutes by default (a cold build takes minutes on 2 cores). */
  buildTimeoutMs?: number;
  log?: (message: string) => void;
}

/** A full semantic-version tag names one immutable module version: no need to ask the proxy what it is. */
const SEMVER_TAG = /^v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** go's messages that mean "this ref can never be built here", as opposed to a passing failure. */
const PERMANENT_GO_ERROR =
  /invalid version|unknown revision|not available|no matching versions|requires go >=|malformed module path|cannot find module|does not contain package|not a known|invalid pseudo-version|disallowed version string/i;

export function sanitiseRef(ref: string): string {
  return ref.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
}

function goMessage(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^go: downloading /.test(l) && !/^go: finding module/.test(l))
    .join('\n')
    .trim()
    .slice(-4000);
}

/**
 * Builds gcsfuse with `go install <module>@<ref>` (GOBIN=<cacheDir>/<version>) once per VM and
 * keeps it. Concurrent requests for a ref share one build; a build goes to a temporary folder
 * renamed into place, so another agent process on the same cache never sees a half-written binary
 * (two processes may both build; the second rename loses and its copy is dropped).
 *
 * A full semver tag (v3.11.4) is its own version. Any other ref (master, a branch, a commit) is
 * first resolved through the module proxy with `go list -m -json <module>@<ref>` to its exact
 * pseudo-version, and the cache is keyed by that: a branch moves, and a binary cached under
 * "master" would silently benchmark an old master forever. The resolution is done once per ref
 * per agent process, so all iterations an agent runs for "master" use one build.
 */
export class GoInstallGcsfuseBinaries implements GcsfuseBinaries {
  private readonly inflight = new Map<string, Promise<GcsfuseBuild>>();
  /** Number of `go install` runs started by this instance (tests check the lock with it). */
  buildsStarted = 0;

  constructor(private readonly opts: GoInstallGcsfuseBinariesOptions) {}

  private get module(): string {
    return this.opts.module ?? GCSFUSE_MODULE;
  }

  private goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const base = childEnv('go', this.opts.env ?? process.env);
    return { ...base, GOTOOLCHAIN: this.opts.goToolchain ?? base.GOTOOLCHAIN ?? 'auto', ...extra };
  }

  async binaryFor(commit: string): Promise<string> {
    return (await this.build(commit)).binary;
  }

  /** The binary for a ref with what is known about it (the exact version, whether it was built now). */
  build(commit: string): Promise<GcsfuseBuild> {
    const ref = checkGitRef(commit, { column: 'commit' });
    let pending = this.inflight.get(ref);
    if (!pending) {
      pending = this.buildUncached(ref);
      this.inflight.set(ref, pending);
      // A failure is not remembered: a passing failure (network) may succeed when the entry is retried.
      pending.catch(() => this.inflight.delete(ref));
    }
    return pending;
  }

  private async buildUncached(ref: string): Promise<GcsfuseBuild> {
    const seeded = this.opts.seeded?.[ref];
    if (seeded !== undefined) {
      const binary = path.resolve(seeded);
      try {
        await fs.access(binary, fsConstants.X_OK);
      } catch {
        throw new Error(`the pre-seeded gcsfuse for ref "${ref}" at ${binary} is not an executable file`);
      }
      return { ref, version: ref, module: this.module, binary, source: 'seeded' };
    }

    const version = SEMVER_TAG.test(ref) ? ref : await this.resolve(ref);
    const dir = path.join(path.resolve(this.opts.cacheDir), sanitiseRef(version));
    const binary = path.join(dir, 'gcsfuse');
    if (await isExecutable(binary)) return { ...(await readBuildJson(dir)), ref, version, module: this.module, binary, source: 'cached' };

    await fs.mkdir(this.opts.cacheDir, { recursive: true });
    const tmp = path.join(path.resolve(this.opts.cacheDir), `.build-${sanitiseRef(version)}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await fs.mkdir(tmp, { recursive: true });
    try {
      const started = Date.now();
      this.buildsStarted++;
      this.opts.log?.(`building gcsfuse ${this.module}@${version}${version !== ref ? ` (ref "${ref}")` : ''} into ${dir}`);
      // gcsfuse's release build stamps its version this way; without it `gcsfuse --version` and its log say "unknown".
      const ldflags = this.module === GCSFUSE_MODULE ? [`-ldflags=-X ${GCSFUSE_MODULE}/common.gcsfuseVersion=${version}`] : [];
      const res = await runCmd(this.opts.go ?? 'go', ['install', ...ldflags, `${this.module}@${version}`], {
        cwd: tmp, // never inside someone's Go module
        env: this.goEnv({ GOBIN: tmp }),
        timeoutMs: this.opts.buildTimeoutMs ?? 30 * 60_000,
      });
      this.failOnGoError(ref, res);
      if (!(await isExecutable(path.join(tmp, 'gcsfuse')))) {
        throw new Error(`gcsfuse ref "${ref}" cannot be built: go install succeeded but left no gcsfuse binary in ${tmp}`);
      }
      // The toolchain that really built it (GOTOOLCHAIN may have switched): "<file>: go1.27.3".
      const goVersion = /:\s*(go\S+)/.exec((await runCmd(this.opts.go ?? 'go', ['version', path.join(tmp, 'gcsfuse')], { env: this.goEnv() })).stdout)?.[1];
      const build: GcsfuseBuild = {
        ref,
        version,
        module: this.module,
        binary,
        source: 'built',
        buildMs: Date.now() - started,
        goVersion,
        builtAt: new Date().toISOString(),
      };
      await fs.writeFile(path.join(tmp, 'build.json'), JSON.stringify(build, null, 2) + '\n');
      try {
        await fs.rename(tmp, dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Another process finished the same build first: use its binary.
        if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await isExecutable(binary))) return { ...build, source: 'cached' };
        throw err;
      }
      this.opts.log?.(`built gcsfuse ${version} in ${Math.round(build.buildMs! / 1000)} s`);
      return build;
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }

  /** The exact module version of a branch or commit, from the module proxy. */
  private async resolve(ref: string): Promise<string> {
    await fs.mkdir(this.opts.cacheDir, { recursive: true });
    const res = await runCmd(this.opts.go ?? 'go', ['list', '-m', '-json', `${this.module}@${ref}`], {
      cwd: path.resolve(this.opts.cacheDir),
      env: this.goEnv(),
      timeoutMs: 5 * 60_000,
    });
    this.failOnGoError(ref, res);
    let version: unknown;
    try {
      version = (JSON.parse(res.stdout) as { Version?: unknown }).Version;
    } catch {
      // handled below
    }
    if (typeof version !== 'string' || !/^v[0-9A-Za-z.+-]+$/.test(version)) {
      throw new Error(`gcsfuse ref "${ref}" cannot be built: go list gave no version: ${res.stdout.slice(0, 500)}`);
    }
    return version;
  }

  private failOnGoError(ref: string, res: CmdResult): void {
    if (res.spawnError) {
      throw new Error(`gcsfuse ref "${ref}" cannot be built: cannot run ${this.opts.go ?? 'go'} (${res.spawnError.code ?? res.spawnError.message}); is Go installed?`);
    }
    if (res.code === 0) return;
    const why = goMessage(res.stderr) || `go exited with ${res.code ?? res.signal}`;
    const message = `gcsfuse ref "${ref}" cannot be built: ${why}`;
    // A ref that does not exist (or needs a newer Go) never will build: not worth a retry.
    if (PERMANENT_GO_ERROR.test(why)) throw new InputError(message);
    throw new Error(message);
  }
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function readBuildJson(dir: string): Promise<Partial<GcsfuseBuild>> {
  try {
    const { buildMs, goVersion, builtAt } = JSON.parse(await fs.readFile(path.join(dir, 'build.json'), 'utf8')) as GcsfuseBuild;
    return { buildMs, goVersion, builtAt };
  } catch {
    return {};
  }
}

// ---------------------------------------------------------------------------------------------
// Mount table
// ---------------------------------------------------------------------------------------------

export interface MountInfoEntry {
  mountPoint: string;
  /** e.g. fuse.gcsfuse */
  fsType: string;
  /** For gcsfuse, the bucket name. */
  source: string;
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo (or another mountinfo file). */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 3) continue;
    entries.push({ mountPoint: unescapeMountField(fields[4]!), fsType: fields[sep + 1]!, source: unescapeMountField(fields[sep + 2]!) });
  }
  return entries;
}

export async function readMountInfo(file = '/proc/self/mountinfo'): Promise<MountInfoEntry[]> {
  return parseMountInfo(await fs.readFile(file, 'utf8'));
}

function isFuse(e: MountInfoEntry): boolean {
  return e.fsType === 'fuse' || e.fsType.startsWith('fuse.');
}

/** The FUSE mount at a path (the last one stacked there), if any. */
export async function fuseMountAt(mountPoint: string): Promise<MountInfoEntry | undefined> {
  const all = await readMountInfo();
  return all.filter((e) => e.mountPoint === mountPoint && isFuse(e)).pop();
}

/**
 * gcsfuse mounts at or below `under` (all of them without it): what a restarted agent finds its
 * previous life left behind. gcsfuse mounts show as fstype fuse.gcsfuse.
 */
export async function findGcsfuseMounts(under?: string): Promise<MountInfoEntry[]> {
  // mountinfo shows real paths (e.g. /tmp behind a symlink resolved).
  const root = under === undefined ? undefined : await fs.realpath(under).catch(() => path.resolve(under));
  return (await readMountInfo()).filter(
    (e) => e.fsType === 'fuse.gcsfuse' && (root === undefined || e.mountPoint === root || e.mountPoint.startsWith(root + '/')),
  );
}

/** Live gcsfuse processes whose last argument (the mount point) is `mountPoint`. */
export function gcsfuseProcessesFor(mountPoint: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
      if (argv.length < 2 || argv[argv.length - 1] !== mountPoint) continue;
      if (!argv.some((a) => path.basename(a).startsWith('gcsfuse'))) continue;
      if (isAlive(Number(name))) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

export interface UnmountOptions {
  /** fusermount3 by default; `umount` is used when it cannot be run. */
  fusermount?: string;
  /** How long to retry a busy mount before detaching it lazily. */
  busyRetryMs?: number;
  warn?: (message: string) => void;
}

/**
 * Unmounts whatever FUSE file system is at `mountPoint`: `fusermount3 -u`, retried briefly while
 * busy, then `fusermount3 -uz` (lazy: detached now, released when the last file closes). Returns
 * how it went; never leaves the path mounted unless even the lazy unmount failed.
 */
export async function unmountFuse(mountPoint: string, opts: UnmountOptions = {}): Promise<'not-mounted' | 'unmounted' | 'lazy' | 'failed'> {
  if (!(await fuseMountAt(mountPoint))) return 'not-mounted';
  const fusermount = opts.fusermount ?? 'fusermount3';
  const attempt = async (lazy: boolean): Promise<string | undefined> => {
    let res = await runCmd(fusermount, [lazy ? '-uz' : '-u', mountPoint], { timeoutMs: 30_000 });
    if (res.spawnError) res = await runCmd('umount', lazy ? ['-l', mountPoint] : [mountPoint], { timeoutMs: 30_000 });
    if (res.code === 0) return undefined;
    return (res.stderr.trim() || res.spawnError?.message || `exit ${res.code ?? res.signal}`).split('\n').pop();
  };
  const deadline = Date.now() + (opts.busyRetryMs ?? 3_000);
  let why: string | undefined;
  for (;;) {
    why = await attempt(false);
    if (!(await fuseMountAt(mountPoint))) return 'unmounted';
    if (Date.now() > deadline) break;
    await sleep(200);
  }
  opts.warn?.(`unmounting ${mountPoint} failed (${why ?? 'still mounted'}); detaching it lazily`);
  why = await attempt(true);
  if (!(await fuseMountAt(mountPoint))) return 'lazy';
  opts.warn?.(`lazy unmount of ${mountPoint} failed too: ${why ?? 'still mounted'}`);
  return 'failed';
}

/** Stops gcsfuse processes serving `mountPoint`: SIGTERM, then SIGKILL after a grace period. */
export async function stopGcsfuseProcesses(mountPoint: string, graceMs = 5_000): Promise<number[]> {
  const pids = gcsfuseProcessesFor(mountPoint);
  for (const pid of pids) signalGroupOrPid(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(100);
  for (const pid of pids.filter(isAlive)) signalGroupOrPid(pid, 'SIGKILL');
  return pids;
}

/**
 * For a restarted agent: unmounts every gcsfuse mount at or below `under` and stops the gcsfuse
 * processes serving them. Returns the mount points it cleaned.
 */
export async function cleanupLeftoverMounts(under: string, opts: UnmountOptions = {}): Promise<string[]> {
  const cleaned: string[] = [];
  // Deepest first, so a mount inside another is released before its parent.
  const mounts = (await findGcsfuseMounts(under)).sort((a, b) => b.mountPoint.length - a.mountPoint.length);
  for (const m of mounts) {
    opts.warn?.(`cleaning up gcsfuse mount of ${m.source} at ${m.mountPoint} left by an earlier run`);
    await unmountFuse(m.mountPoint, opts);
    await stopGcsfuseProcesses(m.mountPoint);
    // A gcsfuse that died leaves an unconnected mount behind: release that too.
    await unmountFuse(m.mountPoint, opts);
    cleaned.push(m.mountPoint);
  }
  return cleaned;
}

// ---------------------------------------------------------------------------------------------
// Page cache
// ---------------------------------------------------------------------------------------------

/**
 * `sync`, then drops the page cache, dentries and inodes (echo 3 > /proc/sys/vm/drop_caches), so
 * one iteration does not read what the previous one left in memory. Returns false (after a
 * warning) where that is not permitted, e.g. unprivileged or in a container with a read-only /proc/sys.
 */
export async function dropPageCache(warn: (message: string) => void = console.warn): Promise<boolean> {
  const synced = await runCmd('sync', [], { timeoutMs: 120_000 });
  if (synced.code !== 0) warn(`sync failed (${synced.spawnError?.message ?? (synced.stderr.trim() || `exit ${synced.code}`)}); dropping caches anyway`);
  try {
    await fs.writeFile(DROP_CACHES, '3');
    return true;
  } catch (err) {
    warn(`could not drop the page cache (${(err as NodeJS.ErrnoException).code ?? (err as Error).message} writing ${DROP_CACHES}): reads may be served from memory`);
    return false;
  }
}

function userSetsFlag(argv: readonly string[], name: string): boolean {
  return argv.some((w) => FLAG_WORD.exec(w)?.[1] === name);
}

// ---------------------------------------------------------------------------------------------
// The mounter
// ---------------------------------------------------------------------------------------------

export type GcsfuseLogSeverity = 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'off';

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

/** Mounts a bucket with real gcsfuse for each iteration. One mount at a time per mounter. */
export class GcsfuseMounter implements Mounter {
  private active: GcsfuseMountHandle | undefined;
  private readonly warn: (message: string) => void;

  constructor(private readonly opts: GcsfuseMounterOptions) {
    this.warn = opts.warn ?? ((m) => console.warn(`[gcsfuse] ${m}`));
  }

  /** Unmounts gcsfuse mounts left at our mount point by an earlier life of the agent. */
  cleanupLeftovers(): Promise<string[]> {
    return cleanupLeftoverMounts(this.opts.mountPoint, { fusermount: this.opts.fusermount, warn: this.warn });
  }

  async mount(config: MountConfig, spec: MountSpec, logDir: string): Promise<GcsfuseMountHandle> {
    if (spec.kind !== 'gcsfuse') throw new Error(`this agent mounts buckets with gcsfuse, the job asks for ${spec.kind}`);
    const bucket = checkBucketName(spec.bucket);
    if (spec.customEndpoint !== undefined) checkEndpoint(spec.customEndpoint, spec.anonymousAccess === true);
    checkGcsfuseMountArgv(config.mountArgv, spec, config.label);
    if (this.active && !this.active.unmountResult) {
      throw new Error(`gcsfuse is still mounted at ${this.active.mountPoint} by an earlier mount: unmount it first`);
    }
    const binary = await this.opts.binaries.binaryFor(config.commit);

    // The mount point: created, nothing mounted on it, empty.
    await fs.mkdir(this.opts.mountPoint, { recursive: true });
    const mountPoint = await fs.realpath(this.opts.mountPoint); // mountinfo shows real paths
    if (await fuseMountAt(mountPoint)) {
      this.warn(`something is still mounted at ${mountPoint}; unmounting it`);
      await cleanupLeftoverMounts(mountPoint, { fusermount: this.opts.fusermount, warn: this.warn });
      await unmountFuse(mountPoint, { fusermount: this.opts.fusermount, warn: this.warn });
      if (await fuseMountAt(mountPoint)) throw new Error(`cannot mount bucket "${bucket}": ${mountPoint} is still mounted and would not unmount`);
    }
    const present = await fs.readdir(mountPoint);
    if (present.length > 0) {
      throw new Error(
        `cannot mount bucket "${bucket}": mount point ${mountPoint} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''}); fio would write to the local disk if the mount failed`,
      );
    }

    // Log files: gcsfuse-<n>.log, n one more than the highest already in logDir (kept across iterations).
    await fs.mkdir(logDir, { recursive: true });
    const n = 1 + Math.max(0, ...(await fs.readdir(logDir)).map((f) => Number(/^gcsfuse-(\d+)\.log$/.exec(f)?.[1] ?? 0)));
    const logFile = path.resolve(logDir, `gcsfuse-${n}.log`);
    const outputFile = path.resolve(logDir, `gcsfuse-${n}.output.log`);

    const cachesDroppedBefore = this.opts.dropCaches === false ? false : await dropPageCache(this.warn);

    const argv = [
      ...config.mountArgv,
      ...(spec.customEndpoint !== undefined ? ['--custom-endpoint', spec.customEndpoint] : []),
      ...(spec.anonymousAccess ? ['--anonymous-access'] : []),
      '--foreground',
      '--log-file',
      logFile,
      ...(userSetsFlag(config.mountArgv, 'log-severity') ? [] : ['--log-severity', this.opts.logSeverity ?? 'info']),
      bucket,
      mountPoint,
    ];
    const scratchDir = path.resolve(this.opts.scratchDir ?? `${this.opts.mountPoint}-scratch`);
    await fs.mkdir(scratchDir, { recursive: true });
    const out = await fs.open(outputFile, 'a');
    let child: ChildProcess;
    try {
      // setpriv --pdeathsig: an agent that dies sends gcsfuse SIGTERM, on which gcsfuse unmounts itself.
      const [cmd, args] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'SIGTERM', '--', binary, ...argv]] : [binary, argv];
      child = spawn(cmd, args, {
        stdio: ['ignore', out.fd, out.fd],
        detached: true, // its own process group: a Ctrl-C at the agent's terminal does not reach it directly
        // An allow-listed environment (child-env.ts), and a working directory where relative --cache-dir/--temp-dir land.
        env: { ...childEnv('gcsfuse'), ...this.opts.env },
        cwd: scratchDir,
      });
    } finally {
      await out.close();
    }
    let exit: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        resolve();
      });
      child.once('error', (error) => {
        exit = { code: null, signal: null, error };
        resolve();
      });
    });

    let unmountPromise: Promise<void> | undefined;
    const handle: GcsfuseMountHandle = {
      mountPoint,
      bucket,
      binary,
      argv,
      pid: child.pid ?? -1,
      logFile,
      outputFile,
      cachesDropped: { beforeMount: cachesDroppedBefore },
      listDir: (dir: string) => listWithin(dir, this.opts.mountTimeoutMs ?? 60_000),
      prepareDir: async (dir: string) => {
        await listWithin(dir, this.opts.mountTimeoutMs ?? 60_000);
      },
      logFiles: [logFile, outputFile],
      unmount: () => (unmountPromise ??= teardown()),
    };
    const teardown = async (): Promise<void> => {
      const warn = this.warn;
      let result = await unmountFuse(mountPoint, { fusermount: this.opts.fusermount, warn });
      // After its file system is gone gcsfuse exits by itself; one that does not is stopped.
      if (!exit) {
        await Promise.race([exited, sleep(this.opts.exitTimeoutMs ?? 10_000)]);
        if (!exit) {
          warn(`gcsfuse (pid ${child.pid}) did not exit after unmounting ${mountPoint}; stopping it`);
          if (child.pid) signalGroupOrPid(child.pid, 'SIGTERM');
          await Promise.race([exited, sleep(5_000)]);
          if (!exit && child.pid) signalGroupOrPid(child.pid, 'SIGKILL');
          await Promise.race([exited, sleep(5_000)]);
        }
      }
      // A gcsfuse that died while mounted leaves an unconnected mount ("Transport endpoint is not connected").
      if (await fuseMountAt(mountPoint)) {
        const again = await unmountFuse(mountPoint, { fusermount: this.opts.fusermount, warn });
        result = result === 'not-mounted' ? again : result;
      }
      handle.unmountResult = (await fuseMountAt(mountPoint)) ? 'failed' : result;
      handle.cachesDropped.afterUnmount = this.opts.dropCaches === false ? false : await dropPageCache(warn);
      if (this.active === handle) this.active = undefined;
      if (handle.unmountResult === 'failed') {
        throw new Error(`could not unmount gcsfuse (bucket "${bucket}") at ${mountPoint}; see ${logFile}`);
      }
    };
    this.active = handle;

    // Wait until the kernel shows the mount, gcsfuse gives up, or time runs out.
    const timeoutMs = this.opts.mountTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    let failure: string | undefined;
    let hung = false;
    let detailed = false;
    for (;;) {
      const m = await fuseMountAt(mountPoint);
      if (m && !exit) {
        if (m.fsType !== 'fuse.gcsfuse') this.warn(`${mountPoint} is mounted as ${m.fsType}, expected fuse.gcsfuse`);
        break;
      }
      if (exit) {
        failure = exit.error
          ? `gcsfuse could not be started (${exit.error.message})`
          : `gcsfuse exited (${exit.code !== null ? `code ${exit.code}` : `signal ${exit.signal}`}) before the mount was up`;
        break;
      }
      if (Date.now() > deadline) {
        failure = `gcsfuse did not mount within ${Math.round(timeoutMs / 1000)} s`;
        hung = true;
        break;
      }
      await sleep(50);
    }

    // List the root once: loads its metadata before fio, and proves the bucket is there and readable.
    if (!failure) {
      // glibc's readdir takes an ENOENT from getdents for the end of the folder, so a listing of a
      // bucket that does not exist "succeeds" empty: the errors gcsfuse logs while listing tell.
      const logSize = await fs.stat(logFile).then((st) => st.size, () => 0);
      try {
        await listWithin(mountPoint, Math.max(5_000, deadline - Date.now()));
        const logged = errorMessages(await readFrom(logFile, logSize));
        // The first error is the cause; "fuse: Op ... -> Error" lines only echo the reply to the kernel.
        const cause = logged.find((m) => !/^fuse: Op /.test(m)) ?? logged[0];
        if (cause) {
          failure = `the mount is up but listing its root failed: ${cause}`;
          detailed = true;
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        failure = `the mount is up but listing its root failed (${code ?? (err as Error).message})`;
        hung = code === 'ETIMEDOUT';
      }
    }
    if (failure) {
      // A hung gcsfuse is killed first so a blocked FUSE request cannot hold the unmount; then the usual clean-up.
      if (hung && !exit && child.pid) signalGroupOrPid(child.pid, 'SIGKILL');
      try {
        await handle.unmount();
      } catch (err) {
        this.warn((err as Error).message);
      }
      const details = detailed ? '' : await failureDetails(logFile, outputFile);
      throw new Error(`gcsfuse could not mount bucket "${bucket}" at ${mountPoint}: ${failure}${details ? `: ${details}` : ''} (gcsfuse log: ${logFile})`);
    }
    return handle;
  }
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
        timer = setTimeout(() => reject(Object.assign(new Error(`listing ${dir} took over ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// Errors gcsfuse logs on every start without Google credentials (metrics/tracing exporters): not the cause.
const NOISE = /gcpexporter|setting up tracing|could not find default credentials/;

/** The error messages in (part of) a gcsfuse log, JSON or text format, less known noise. */
export function errorMessages(log: string, severities: readonly string[] = ['ERROR', 'FATAL']): string[] {
  const messages: string[] = [];
  for (const line of log.split('\n')) {
    if (!line.trim()) continue;
    let severity: string | undefined;
    let message = line;
    try {
      const j = JSON.parse(line) as { severity?: string; message?: string };
      severity = j.severity;
      message = j.message ?? line;
    } catch {
      severity = /\b(ERROR|FATAL|WARNING|WARN)\b/.exec(line)?.[1]?.replace(/^WARN$/, 'WARNING');
    }
    if (severity !== undefined && severities.includes(severity) && !NOISE.test(message)) messages.push(message.trim());
  }
  return messages;
}

async function readFrom(file: string, offset: number): Promise<string> {
  const fh = await fs.open(file, 'r').catch(() => undefined);
  if (!fh) return '';
  try {
    const { size } = await fh.stat();
    if (size <= offset) return '';
    const buf = Buffer.alloc(Math.min(size - offset, 4 * 1024 * 1024));
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The last error messages gcsfuse wrote, from its log (JSON or text) and its output. */
export async function failureDetails(logFile: string, outputFile: string, max = 3): Promise<string> {
  const log = await fs.readFile(logFile, 'utf8').catch(() => '');
  // Without errors (e.g. gcsfuse still retrying when time ran out), its warnings tell what it was doing.
  let messages = errorMessages(log);
  if (messages.length === 0) messages = errorMessages(log, ['WARNING']).slice(-1);
  const output = (await fs.readFile(outputFile, 'utf8').catch(() => ''))
    .replace(/WARNING: gcsfuse invoked as root\.[^]*?interacting with the file system\.\n?/, '')
    .trim();
  if (output) messages.push(...output.split('\n').slice(-max).map((l) => l.trim()));
  return [...new Set(messages)].slice(-max).join(' | ').slice(-2000);
}
