/**
 * Which build of gcsfuse-bench a process runs, so a fleet that mixes builds (an upgrade half
 * done, a VM deployed from an old tarball) is visible: in Temporal worker identities, in each
 * entry's outcome and manifest record, and in `gcsfuse-bench --version`, `status` and `fleet`.
 *
 * A build label is semver-like: `<package version>+<git commit>`, `+<commit>.dirty-<source hash>`
 * when the code differs from the commit, `+src-<source hash>` without git (a tarball), or the
 * GCSFUSE_BENCH_BUILD variable verbatim (what a deployment stamps). It is read once per process:
 * no git call in a hot path.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Overrides the whole label (a deployment that knows its build better than the files do). */
export const BUILD_ENV = 'GCSFUSE_BENCH_BUILD';
/** Overrides the commit only (kept from `--version`'s first form). */
export const COMMIT_ENV = 'GCSFUSE_BENCH_COMMIT';

/**
 * The checkout (or unpacked tarball) this code runs from: the nearest folder above this module
 * with src/shared/build.ts in it, so the answer holds for a precompiled bundle elsewhere in the tree too.
 */
export function findRepoRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'src', 'shared', 'build.ts'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no gcsfuse-bench checkout above ${from}`);
  }
}

const REPO = findRepoRoot();
/** What the agent and the orchestrator are built from: the content hash and the dirty check cover these. */
const CODE_PATHS = ['src', 'vm-agent', 'package.json', 'package-lock.json'];
const COMMIT_CHARS = 12;
const HASH_CHARS = 12;
/** A label goes into a space-separated worker identity: one printable word. */
const LABEL_RE = /^[\x21-\x7e]{1,128}$/;

export interface BuildInfo {
  version: string;
  /** Short git commit, when known. */
  commit?: string;
  /** Whether the code paths differed from the commit (git status), when known. */
  dirty?: boolean;
  /** Hash of the code's sources, when read (no git, or a dirty tree). */
  sourceHash?: string;
  /** GCSFUSE_BENCH_BUILD, when set: the label is exactly this. */
  override?: string;
  /** The label everything prints. */
  label: string;
}

/** The label of a build's parts (pure). */
export function buildLabel(b: Omit<BuildInfo, 'label'>): string {
  if (b.override !== undefined) return b.override;
  if (b.commit) return `${b.version}+${b.commit}${b.dirty ? `.dirty${b.sourceHash ? `-${b.sourceHash}` : ''}` : ''}`;
  return b.sourceHash ? `${b.version}+src-${b.sourceHash}` : b.version;
}

/** Refuses a label that cannot sit in a worker identity (whitespace, control characters, too long). */
export function checkBuildLabel(label: string, source = BUILD_ENV): string {
  if (!LABEL_RE.test(label)) throw new Error(`${source}=${JSON.stringify(label)}: a build label is one word of printable characters`);
  return label;
}

export interface ReadBuildOptions {
  env?: NodeJS.ProcessEnv;
  /** The checkout or unpacked tarball (default: this one). */
  repo?: string;
  /** Runs git with these arguments in `repo`; undefined when git or the repository is missing. */
  git?: (args: string[]) => string | undefined;
}

/** Reads the build from the environment, git and the sources (IO: call once, see currentBuild). */
export function readBuild(o: ReadBuildOptions = {}): BuildInfo {
  const env = o.env ?? process.env;
  const repo = o.repo ?? REPO;
  const git = o.git ?? ((args: string[]) => runGit(repo, args));
  const version = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
  const override = env[BUILD_ENV]?.trim();
  if (override) return { version, override: checkBuildLabel(override), label: override };
  const commit = env[COMMIT_ENV]?.trim() || git(['rev-parse', `--short=${COMMIT_CHARS}`, 'HEAD'])?.trim() || undefined;
  // Tracked changes only: an untracked file is either new code (the source hash below shows it) or noise.
  const status = commit && !env[COMMIT_ENV] ? git(['status', '--porcelain', '--untracked-files=no', '--', ...CODE_PATHS]) : undefined;
  const dirty = status === undefined ? undefined : status.trim() !== '';
  const sourceHash = !commit || dirty ? sourceHashOf(repo) : undefined;
  const parts = { version, commit, dirty, sourceHash };
  return { ...parts, label: buildLabel(parts) };
}

function runGit(repo: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 });
  } catch {
    return undefined; // no git, or not a checkout (a tarball install)
  }
}

/** Hash of the code's source files (paths and bytes), in a fixed order. */
export function sourceHashOf(repo: string): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    let entries;
    try {
      entries = readdirSync(path.join(repo, rel), { withFileTypes: true });
    } catch {
      return; // a file, or missing
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|js|json)$/.test(e.name))
        h.update(`${p}\0`)
          .update(readFileSync(path.join(repo, p)))
          .update('\0');
    }
  };
  for (const p of CODE_PATHS) {
    if (/\.json$/.test(p)) {
      try {
        h.update(`${p}\0`)
          .update(readFileSync(path.join(repo, p)))
          .update('\0');
      } catch {
        // optional (a tarball may ship without the lock file)
      }
    } else walk(p);
  }
  return h.digest('hex').slice(0, HASH_CHARS);
}

let current: BuildInfo | undefined;
/** This process's build, read at first use and kept. */
export function currentBuild(): BuildInfo {
  current ??= readBuild();
  return current;
}

// ------------------------------------------------------------------ worker identities

export type BuildRole = 'agent' | 'orchestrator';
const IDENTITY_PREFIX = 'gcsfuse-bench-';

/**
 * A Temporal worker identity that names the build, e.g. `gcsfuse-bench-agent/0.1.0+abc123 vm-1 4242@host`:
 * the server records it on every task a worker takes (ActivityTaskStarted, task-queue describe).
 */
export function workerIdentity(role: BuildRole, build: string, opts: { vm?: string; pid?: number; host?: string } = {}): string {
  const where = `${opts.pid ?? process.pid}@${opts.host ?? os.hostname()}`;
  return [`${IDENTITY_PREFIX}${role}/${build}`, ...(opts.vm ? [opts.vm] : []), where].join(' ');
}

export interface ParsedIdentity {
  role: BuildRole;
  build: string;
  vm?: string;
  /** pid@host */
  where: string;
}

/** The parts of an identity workerIdentity made; undefined for any other (an older agent: `pid@host`). */
export function parseWorkerIdentity(identity: string): ParsedIdentity | undefined {
  const m = /^gcsfuse-bench-(agent|orchestrator)\/(\S+) (?:(\S+) )?(\S+)$/.exec(identity);
  if (!m) return undefined;
  return { role: m[1] as BuildRole, build: m[2]!, ...(m[3] ? { vm: m[3] } : {}), where: m[4]! };
}

// ------------------------------------------------------------------ fleet view

/** A worker polling a task queue, as DescribeTaskQueue lists it. */
export interface Poller {
  identity: string;
  lastAccessMs: number | null;
}

/** Label for a worker whose identity names no build (an agent older than build reporting). */
export const UNKNOWN_BUILD = 'unknown';

/** The builds polling a queue, most recent poll first, each once. */
export function buildsOfPollers(pollers: readonly Poller[]): string[] {
  const sorted = [...pollers].sort((a, b) => (b.lastAccessMs ?? 0) - (a.lastAccessMs ?? 0));
  return [...new Set(sorted.map((p) => parseWorkerIdentity(p.identity)?.build ?? UNKNOWN_BUILD))];
}

export interface FleetBuilds {
  /** Builds seen per VM (its pollers' and, when given, its entries' outcomes'); empty when no agent polls. */
  vms: { vm: string; builds: string[] }[];
  orchestrator: string[];
  /** Every agent build seen, with the VMs running it. */
  agentBuilds: { build: string; vms: string[] }[];
  /** More than one agent build, or an agent build other than the orchestrator's. */
  mixed: boolean;
}

/** What a fleet runs (pure): per VM, the builds of its agents; mixed when they are not all one build. */
export function fleetBuilds(vms: { vm: string; builds: string[] }[], orchestrator: string[]): FleetBuilds {
  const byBuild = new Map<string, string[]>();
  for (const { vm, builds } of vms) for (const b of builds) byBuild.set(b, [...(byBuild.get(b) ?? []), vm]);
  const agentBuilds = [...byBuild].map(([build, v]) => ({ build, vms: v })).sort((a, b) => b.vms.length - a.vms.length);
  const all = new Set([...byBuild.keys(), ...orchestrator]);
  return { vms, orchestrator, agentBuilds, mixed: all.size > 1 };
}

/** Lines for a terminal: the orchestrator's build, each agent build and its VMs, and a MIXED warning. */
export function fleetBuildsText(f: FleetBuilds): string {
  const lines = [`orchestrator build: ${f.orchestrator.length ? f.orchestrator.join(', ') : 'no orchestrator worker polling'}`];
  for (const { build, vms } of f.agentBuilds) lines.push(`agent build ${build}: ${vms.join(', ')}`);
  const idle = f.vms.filter((v) => v.builds.length === 0).map((v) => v.vm);
  if (idle.length) lines.push(`no agent polling: ${idle.join(', ')}`);
  if (f.mixed) {
    const builds = new Set([...f.agentBuilds.map((b) => b.build), ...f.orchestrator]);
    lines.push(`MIXED FLEET: ${builds.size} builds (${[...builds].join(', ')})`);
  }
  return lines.join('\n');
}
