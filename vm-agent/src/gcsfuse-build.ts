/**
 * How gcsfuse is built: `go install <module>@<ref>` once per VM and ref, cached across agent
 * restarts (GoInstallGcsfuseBinaries), or a pre-seeded binary used as it is.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../src/core/errors';
import { checkGitRef } from '../../src/core/mount-args';
import { childEnv } from './child-env';
import { runCmd, type CmdResult } from './process';

export const GCSFUSE_MODULE = 'github.com/googlecloudplatform/gcsfuse/v3';

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
    const tmp = path.join(
      path.resolve(this.opts.cacheDir),
      `.build-${sanitiseRef(version)}-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
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
      const goVersion = /:\s*(go\S+)/.exec(
        (await runCmd(this.opts.go ?? 'go', ['version', path.join(tmp, 'gcsfuse')], { env: this.goEnv() })).stdout,
      )?.[1];
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
      throw new Error(
        `gcsfuse ref "${ref}" cannot be built: cannot run ${this.opts.go ?? 'go'} (${res.spawnError.code ?? res.spawnError.message}); is Go installed?`,
      );
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
