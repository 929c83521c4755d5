/**
 * Shared plumbing of the benchmarks: flags, machine facts, one uniform record per run
 * (appended to bench/results.jsonl), figures printed as JSON lines on stdout.
 * Progress and diagnostics go to stderr, so stdout stays machine-readable.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
    loadavgAtStart: os.loadavg().map(round2),
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
  notes: string[];
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

  /** Prints one JSON line per figure, then the whole record, and appends the record to results.jsonl. */
  finish(figures: Figures, targetText: string, checks: TargetCheck[]): BenchRecord {
    const results = checkTargets(figures, checks);
    const record: BenchRecord = {
      benchmark: this.name,
      timestamp: new Date(this.started).toISOString(),
      mode: QUICK ? 'quick' : 'full',
      git: this.git,
      commit: this.git.commit,
      machine: this.machine,
      loadavgAtEnd: os.loadavg().map(round2),
      durationS: round2((Date.now() - this.started) / 1000),
      params: this.params,
      figures,
      target: { text: targetText, checks: results },
      met: results.every((r) => r.met),
      notes: this.notes,
    };
    for (const [metric, value] of Object.entries(figures)) {
      // Details (objects, lists of objects) live in the record only.
      if (typeof value === 'object' && value !== null && !(Array.isArray(value) && value.every((v) => typeof v === 'number'))) continue;
      process.stdout.write(JSON.stringify({ type: 'figure', benchmark: this.name, metric, value }) + '\n');
    }
    process.stdout.write(JSON.stringify({ type: 'record', ...record }) + '\n');
    if (!hasFlag('no-record')) {
      mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
      appendFileSync(RESULTS_FILE, JSON.stringify(record) + '\n');
    }
    for (const r of results) {
      log(`target ${r.metric} ${r.op} ${JSON.stringify(r.value)}: ${r.actual ?? 'n/a'} -> ${r.met ? 'met' : 'MISSED'}`);
    }
    return record;
  }
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
