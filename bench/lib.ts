/**
 * Shared plumbing of the benchmarks: flags, machine facts, one uniform record per run
 * (appended to bench/results.jsonl), figures printed as JSON lines on stdout.
 * Progress and diagnostics go to stderr, so stdout stays machine-readable.
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ORCHESTRATOR_ENTRY } from '../src/local/embedded';
import { startProcess, tsxCommand, type ManagedProcess } from '../src/local/processes';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const BENCH_DIR = path.join(REPO, 'bench');
export const RESULTS_FILE = process.env.GCSFUSE_BENCH_RESULTS ?? path.join(BENCH_DIR, 'results.jsonl');
/** Scratch space (git-ignored): servers' databases, artifacts, logs of the runs. */
export const TMP_DIR = path.join(BENCH_DIR, 'tmp');

export function hasFlag(name: string, argv = process.argv): boolean {
  return argv.includes(`--${name}`);
}

export function flagValue(name: string, argv = process.argv): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

export function numberFlag(name: string, dflt: number): number {
  const v = flagValue(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${v}`);
  return n;
}

export const QUICK = hasFlag('quick');

export function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

export function scratchDir(prefix: string): string {
  mkdirSync(TMP_DIR, { recursive: true });
  return mkdtempSync(path.join(TMP_DIR, `${prefix}-`));
}

export function removeDir(dir: string): void {
  if (hasFlag('keep')) {
    log(`kept ${dir}`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

function tryRun(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], cwd: REPO }).trim();
  } catch {
    return undefined;
  }
}

export interface GitFacts {
  commit: string;
  /** Uncommitted changes in the tree when the benchmark ran. */
  dirty: boolean;
}

export function gitFacts(): GitFacts {
  const commit = tryRun('git', ['rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const status = tryRun('git', ['status', '--porcelain', '--untracked-files=no']);
  return { commit, dirty: status !== undefined && status !== '' };
}

export interface MachineFacts {
  hostname: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  /** 1, 5 and 15 minute load averages when the benchmark started (other sessions share the machine). */
  loadavgAtStart: number[];
  kernel: string;
  node: string;
  fio?: string;
  temporalCli?: string;
}

export function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadavgAtStart: loadavg(),
    kernel: os.release(),
    node: process.version,
    fio: tryRun('fio', ['--version']),
    temporalCli: tryRun(process.env.TEMPORAL_CLI ?? 'temporal', ['--version']),
  };
}

export type Op = '<' | '<=' | '>' | '>=' | 'between';

/** One acceptance rule on one figure, in the spirit of CBT's per-metric checks. */
export interface TargetCheck {
  metric: string;
  op: Op;
  value: number | [number, number];
}

export interface CheckResult extends TargetCheck {
  actual: number | null;
  met: boolean;
}

export type Figures = Record<string, number | string | boolean | null | number[] | Record<string, unknown> | Record<string, unknown>[]>;

export interface BenchRecord {
  benchmark: string;
  timestamp: string;
  mode: 'quick' | 'full';
  git: GitFacts;
  /** Kept for readers that expect a flat commit field. */
  commit: string;
  machine: MachineFacts;
  loadavgAtEnd: number[];
  durationS: number;
  params: Record<string, unknown>;
  figures: Figures;
  target: { text: string; checks: CheckResult[] };
  met: boolean;
  /** Each target's figure beside its floor or anchor measured in the same run, and their ratio. */
  headlines?: Headline[];
  notes: string[];
}

/** What a figure is read against: a floor (the least it could be) or an anchor (a reference) from the same run. */
export interface Anchor {
  metric: string;
  what: string;
}

export interface Headline {
  metric: string;
  value: number | null;
  /** The acceptance rule, e.g. "< 50"; null for a figure shown only beside its anchor. */
  target: string | null;
  met: boolean | null;
  anchor: { metric: string; value: number | null; what: string } | null;
  /** value / anchor value. */
  ratio: number | null;
}

export function checkTargets(figures: Figures, checks: TargetCheck[]): CheckResult[] {
  return checks.map((c) => {
    const v = figures[c.metric];
    const actual = typeof v === 'number' && Number.isFinite(v) ? v : null;
    let met = false;
    if (actual !== null) {
      if (c.op === 'between') {
        const [lo, hi] = c.value as [number, number];
        met = actual >= lo && actual <= hi;
      } else {
        const t = c.value as number;
        met = c.op === '<' ? actual < t : c.op === '<=' ? actual <= t : c.op === '>' ? actual > t : actual >= t;
      }
    }
    return { ...c, actual, met };
  });
}

/** A benchmark run: collects its context at start, and records figures and targets at the end. */
export class BenchRun {
  readonly started = Date.now();
  readonly machine = machineFacts();
  readonly git = gitFacts();
  readonly notes: string[] = [];
  params: Record<string, unknown> = {};

  constructor(readonly name: string) {
    log(
      `${name} (${QUICK ? 'quick' : 'full'}) on ${this.machine.cpus} CPUs, load ${this.machine.loadavgAtStart.join(' ')}, commit ${this.git.commit}${this.git.dirty ? ' (dirty tree)' : ''}`,
    );
  }

  note(text: string): void {
    this.notes.push(text);
    log(`note: ${text}`);
  }

  /**
   * Prints one JSON line per figure, one per headline (each target's figure with its anchor, ratio
   * and the load), then the whole record, and appends the record to results.jsonl.
   * `anchors`: for a figure, the figure of the same run it is read against (its floor or anchor).
   */
  finish(figures: Figures, targetText: string, checks: TargetCheck[], anchors: Record<string, Anchor> = {}): BenchRecord {
    const results = checkTargets(figures, checks);
    const headlines = headlinesOf(figures, results, anchors);
    const record: BenchRecord = {
      benchmark: this.name,
      timestamp: new Date(this.started).toISOString(),
      mode: QUICK ? 'quick' : 'full',
      git: this.git,
      commit: this.git.commit,
      machine: this.machine,
      loadavgAtEnd: loadavg(),
      durationS: round2((Date.now() - this.started) / 1000),
      params: this.params,
      figures,
      target: { text: targetText, checks: results },
      met: results.every((r) => r.met),
      headlines,
      notes: this.notes,
    };
    for (const [metric, value] of Object.entries(figures)) {
      // Details (objects, lists of objects) live in the record only.
      if (typeof value === 'object' && value !== null && !(Array.isArray(value) && value.every((v) => typeof v === 'number'))) continue;
      process.stdout.write(JSON.stringify({ type: 'figure', benchmark: this.name, metric, value }) + '\n');
    }
    for (const h of headlines) {
      process.stdout.write(
        JSON.stringify({
          type: 'headline',
          benchmark: this.name,
          ...h,
          loadavgAtStart: record.machine.loadavgAtStart,
          loadavgAtEnd: record.loadavgAtEnd,
        }) + '\n',
      );
    }
    process.stdout.write(JSON.stringify({ type: 'record', ...record }) + '\n');
    if (!hasFlag('no-record')) {
      mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
      appendFileSync(RESULTS_FILE, JSON.stringify(record) + '\n');
    }
    const load = `load ${record.machine.loadavgAtStart[0]} -> ${record.loadavgAtEnd[0]}`;
    for (const h of headlines) log(`${this.name}: ${headlineText(h)}; ${load}`);
    return record;
  }
}

function headlinesOf(figures: Figures, results: CheckResult[], anchors: Record<string, Anchor>): Headline[] {
  const num = (m: string): number | null => {
    const v = figures[m];
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  };
  const metrics = [...new Set([...results.map((r) => r.metric), ...Object.keys(anchors)])];
  return metrics.map((metric) => {
    const checks = results.filter((r) => r.metric === metric);
    const a = anchors[metric];
    const value = num(metric);
    const anchorValue = a ? num(a.metric) : null;
    return {
      metric,
      value,
      target: checks.length ? checks.map((c) => `${c.op} ${Array.isArray(c.value) ? c.value.join('..') : c.value}`).join(', ') : null,
      met: checks.length ? checks.every((c) => c.met) : null,
      anchor: a ? { metric: a.metric, value: anchorValue, what: a.what } : null,
      ratio: value !== null && anchorValue ? round(value / anchorValue, 3) : null,
    };
  });
}

/** "gap_median_ms 15 (target < 50: met; anchor history_gap_median_ms 6.8 = Temporal's part; ratio 2.2)" */
export function headlineText(h: Headline): string {
  const parts = [h.target === null ? 'no target' : `target ${h.target}: ${h.met ? 'met' : 'MISSED'}`];
  if (h.anchor) parts.push(`anchor ${h.anchor.metric} ${h.anchor.value ?? 'n/a'} (${h.anchor.what})`, `ratio ${h.ratio ?? 'n/a'}`);
  return `${h.metric} ${h.value ?? 'n/a'} (${parts.join('; ')})`;
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Percentile by the nearest-rank method on a copy of the values (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

export function stddev(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1));
}

/** mulberry32: a small seeded PRNG, so every suite is reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fields of /proc/<pid>/status in KiB (VmRSS, VmHWM, ...), or undefined once the process is gone. */
export function procStatusKiB(pid: number | 'self'): Record<string, number> | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^(\w+):\s+(\d+) kB$/gm)) out[m[1]!] = Number(m[2]);
    return out;
  } catch {
    return undefined;
  }
}

export const CLK_TCK = Number(tryRun('getconf', ['CLK_TCK']) ?? 100) || 100;

/** utime + stime of a process itself (its threads, not its children), in seconds. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After ')' the fields are numbered from 3 (state); utime is field 14 and stime 15.
    const utime = Number(fields[14 - 3]);
    const stime = Number(fields[15 - 3]);
    return (utime + stime) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Pids of a process's direct children (from /proc/<pid>/task/<tid>/children). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSyncSafe(`/proc/${pid}/task`)) {
      try {
        const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
        if (text) out.push(...text.split(/\s+/).map(Number));
      } catch {
        // thread gone
      }
    }
  } catch {
    // process gone
  }
  return out;
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function fmtMs(x: number): string {
  return `${round2(x)} ms`;
}

/** 1, 5 and 15 minute load averages, rounded (other sessions share this machine). */
export function loadavg(): number[] {
  return os.loadavg().map(round2);
}

// ------------------------------------------------------------------ statistics

/** Two-sided 95% quantile of Student's t with `df` degrees of freedom (table to 30, then the normal's). */
export function tQuantile975(df: number): number {
  const table = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093,
    2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
  ];
  if (df < 1) return NaN;
  return df <= table.length ? table[Math.floor(df) - 1]! : 1.96;
}

/** Mean and the half-width of its 95% confidence interval (t-distribution). */
export function meanCi95(values: readonly number[]): { mean: number; halfWidth: number; n: number } {
  const n = values.length;
  return { mean: mean(values), halfWidth: n < 2 ? NaN : (tQuantile975(n - 1) * stddev(values)) / Math.sqrt(n), n };
}

// ------------------------------------------------------------------ processes and their memory (/proc)

/** VmRSS of a process in KiB, or undefined once it is gone. */
export function rssKiB(pid: number | 'self'): number | undefined {
  return procStatusKiB(pid)?.VmRSS;
}

/**
 * Resets a process's VmHWM to its current RSS (Linux >= 4.0, writing 5 to clear_refs), so the
 * next VmHWM read is the peak of what ran since. False when not permitted.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface RssSample {
  /** ms since the sampler started (or since `origin`, when set). */
  tMs: number;
  rssKiB: number;
}

/** Samples a process's VmRSS every `intervalMs` until stop(); VmHWM stays the exact peak, this is the timeline. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  private readonly timer: NodeJS.Timeout;
  /** Times count from here; move it (e.g. to a workflow's start) before reading the samples. */
  origin = Date.now();

  constructor(
    readonly pid: number,
    intervalMs = 250,
  ) {
    this.timer = setInterval(() => {
      const rss = rssKiB(pid);
      if (rss !== undefined) this.samples.push({ tMs: Date.now() - this.origin, rssKiB: rss });
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get maxKiB(): number {
    return this.samples.reduce((m, s) => Math.max(m, s.rssKiB), 0);
  }

  get lastKiB(): number | undefined {
    return this.samples.at(-1)?.rssKiB;
  }
}

export const kibToMb = (kib: number): number => round2((kib * 1024) / 1e6);
export const kibToMib = (kib: number): number => round2(kib / 1024);

/** Resolves once `file` contains `text`; throws when `proc` exits first or after timeoutMs. */
export async function waitForLogLine(file: string, text: string, proc: ManagedProcess, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!(existsSync(file) && readFileSync(file, 'utf8').includes(text))) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}) before "${text}"; see ${file}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`${proc.name} did not log "${text}" within ${timeoutMs / 1000} s; see ${file}`);
    await sleep(100);
  }
}

export interface OrchestratorProcess {
  proc: ManagedProcess;
  pid: number;
  /** ms from spawn until it logged that it polls. */
  readyMs: number;
}

/** The real orchestrator worker as its own process (as `npm run worker` runs it), once it polls. */
export async function startOrchestratorProcess(o: { address: string; artifacts: string; logDir: string }): Promise<OrchestratorProcess> {
  const t0 = Date.now();
  const proc = startProcess({
    name: 'orchestrator-worker',
    ...tsxCommand(ORCHESTRATOR_ENTRY, []),
    env: { TEMPORAL_ADDRESS: o.address, GCSFUSE_BENCH_ARTIFACTS: o.artifacts },
    logDir: o.logDir,
  });
  try {
    await waitForLogLine(proc.logFile, 'orchestrator worker polling', proc);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { proc, pid: proc.child.pid!, readyMs: Date.now() - t0 };
}

export interface IdleRss {
  rssIdleKiB: number;
  hwmKiB: number;
  /** ms from spawn until its stdout matched `ready`. */
  startMs: number;
}

/** Spawns `command`, waits until its stdout matches `ready` (at once when null), then idleS, reads its memory and stops it. */
export async function measureIdleProcess(command: string, args: string[], ready: RegExp | null, idleS: number): Promise<IdleRss> {
  const t0 = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  if (ready) {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (ready.test(out)) resolve();
      });
      void exited.then((code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready: ${stderr}`)));
    });
  }
  const startMs = performance.now() - t0;
  await sleep(idleS * 1000);
  const st = procStatusKiB(child.pid!);
  child.kill('SIGTERM');
  await exited;
  if (!st) throw new Error(`no /proc status of ${args.join(' ')}: ${stderr}`);
  return { rssIdleKiB: st.VmRSS!, hwmKiB: st.VmHWM!, startMs };
}

/**
 * CPU seconds of a process and of its children: its own, its reaped children's (cutime +
 * cstime) and its live children's (recursively). For servers with worker processes (PostgreSQL).
 */
export function procTreeCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime 14, stime 15, cutime 16, cstime 17 (fields numbered from 3 after ')').
    const own = [14, 15, 16, 17].reduce((s, i) => s + Number(f[i - 3]), 0) / CLK_TCK;
    return own + childPids(pid).reduce((s, c) => s + (procTreeCpuSeconds(c) ?? 0), 0);
  } catch {
    return undefined;
  }
}
