import cliProgress from 'cli-progress';
import type { BenchmarkResult } from '../workflows/types';
import type { FinalState, LiveProgress } from './benchmarks';
import { terminalColumns } from './table';

/** Shows a running benchmark: a bar per VM run on a terminal, a line per change otherwise. */
export interface WatchView {
  update(p: LiveProgress): void;
  /** Ends the display; given the benchmark's result, the last state shown is the result's counts. */
  stop(result?: BenchmarkResult): void;
}

export interface WatchViewOptions {
  /** In a log (not a terminal): repeat the state this often when nothing changed, so a long entry shows life. */
  periodicMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

/** A log line at least this often while an entry runs for long. */
export const DEFAULT_PERIODIC_LOG_MS = 30_000;

export function createWatchView(stream: NodeJS.WriteStream = process.stderr, o: WatchViewOptions = {}): WatchView {
  return stream.isTTY ? new BarsView(stream, o) : new LinesView(stream, o);
}

/** Counts of one run, as the parent records them entry by entry (they add up to the benchmark's). */
export function runCounts(
  p: LiveProgress,
): { workflowId: string; vm: string; status: string; passed: number; failed: number; rerun: number; total: number }[] {
  return p.progress.runs.map((r) => ({
    workflowId: r.workflowId,
    vm: r.vm,
    status: r.status,
    passed: r.passed,
    failed: r.failed,
    rerun: r.rerun ?? 0,
    total: r.total,
  }));
}

function totals(p: LiveProgress): { done: number; passed: number; failed: number } {
  return { done: p.progress.passed + p.progress.failed, passed: p.progress.passed, failed: p.progress.failed };
}

/** What a run is doing right now: its running entry, the agent's iteration of it when known, and that iteration's share of the entry. */
export function runningEntry(p: LiveProgress, workflowId: string): { matrixId: number; text: string; fraction: number } | undefined {
  const vm = p.live.get(workflowId);
  if (!vm || vm.runningMatrixId === null || vm.runningMatrixId === undefined) return undefined;
  const at = p.iteration?.get(workflowId);
  const of = vm.iterations;
  if (at === undefined || of === undefined) return { matrixId: vm.runningMatrixId, text: `entry ${vm.runningMatrixId}`, fraction: 0 };
  // The stability gate may run more than planned: past the plan, the entry counts as nearly done.
  const fraction = Math.min((at - 1) / of, 0.99);
  return { matrixId: vm.runningMatrixId, text: `entry ${vm.runningMatrixId} (iteration ${at}/${Math.max(at, of)})`, fraction };
}

/** "entry 3 (iteration 2/5) on local-vm-1, entry 5 on local-vm-2": what the VMs run right now. */
function runningNow(p: LiveProgress): string {
  const parts: string[] = [];
  for (const r of p.progress.runs) {
    const running = r.status === 'running' ? runningEntry(p, r.workflowId) : undefined;
    if (running) parts.push(`${running.text} on ${r.vm}`);
  }
  return parts.join(', ');
}

/** 75 s -> "1m15s"; under a minute "42s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * Time left at the pace seen so far: entries finished since watching began, over the time that took.
 * "--" until one finished (no pace yet); entries a resumed benchmark had already are not pace.
 */
export class EtaEstimator {
  private first: { atMs: number; done: number } | undefined;
  constructor(private readonly now: () => number) {}
  text(done: number, total: number): string {
    const at = this.now();
    this.first ??= { atMs: at, done };
    if (done >= total) return formatDuration(0);
    const progressed = done - this.first.done;
    if (progressed <= 0) return '--';
    return formatDuration(((at - this.first.atMs) / progressed) * (total - done));
  }
}

class LinesView implements WatchView {
  private lastState = '';
  private lastPrintMs: number;
  private readonly startedMs: number;
  private readonly now: () => number;
  private readonly periodicMs: number;
  constructor(
    private readonly stream: NodeJS.WriteStream,
    o: WatchViewOptions,
  ) {
    this.now = o.now ?? Date.now;
    this.periodicMs = o.periodicMs ?? DEFAULT_PERIODIC_LOG_MS;
    this.startedMs = this.lastPrintMs = this.now();
  }
  private state(phase: string, done: number, total: number, passed: number, failed: number): string {
    return `${phase}: ${done}/${total} entries done (${passed} passed, ${failed} failed)`;
  }
  private print(line: string): void {
    this.lastPrintMs = this.now();
    this.stream.write(`[${formatDuration(this.lastPrintMs - this.startedMs)}] ${line}\n`);
  }
  update(p: LiveProgress): void {
    const t = totals(p);
    const state = this.state(p.progress.phase, t.done, p.progress.totalEntries, t.passed, t.failed);
    const running = runningNow(p);
    if (state !== this.lastState) this.print(running ? `${state}; running ${running}` : state);
    else if (this.now() - this.lastPrintMs >= this.periodicMs) this.print(`${state}; still running ${running || 'nothing (waiting)'}`);
    this.lastState = state;
  }
  stop(result?: BenchmarkResult): void {
    if (!result) return;
    const state = this.state('done', result.passed + result.failed, result.totalEntries, result.passed, result.failed);
    // The final query may have failed or shown an earlier state: the result has the last word.
    if (!this.lastState.startsWith('done:') || state !== this.lastState) this.print(state);
    this.lastState = state;
  }
}

interface BarPayload {
  name: string;
  done: number;
  total: number;
  passed: number;
  failed: number;
  eta: string;
  status: string;
}

const BAR_MAX_CHARS = 40;
const BAR_MIN_CHARS = 10;

/**
 * One bar line, fitted to the terminal: the bar shrinks (and goes) before the text does, so a
 * line never wraps and the display redraws in place.
 */
export function barLine(p: BarPayload, progress: number, columns: number): string {
  const head = `${p.name} `;
  const tail = ` ${p.done}/${p.total} | ${p.passed} passed ${p.failed} failed | ETA ${p.eta} | ${p.status}`;
  const room = Math.min(BAR_MAX_CHARS, columns - head.length - tail.length - 1);
  if (room < BAR_MIN_CHARS) return `${head.trimEnd()}${tail}`.slice(0, Math.max(0, columns - 1));
  const filled = Math.round(Math.min(1, Math.max(0, progress)) * room);
  return `${head}${'\u2588'.repeat(filled)}${'\u2591'.repeat(room - filled)}${tail}`;
}

class BarsView implements WatchView {
  private readonly multibar: cliProgress.MultiBar;
  private overall: { bar: cliProgress.SingleBar; eta: EtaEstimator } | undefined;
  private readonly bars = new Map<string, { bar: cliProgress.SingleBar; eta: EtaEstimator }>();
  private width = 8;
  private readonly now: () => number;
  constructor(
    private readonly stream: NodeJS.WriteStream,
    o: WatchViewOptions,
  ) {
    this.now = o.now ?? Date.now;
    this.multibar = new cliProgress.MultiBar({
      stream,
      clearOnComplete: false,
      hideCursor: true,
      format: (_options, params, payload: BarPayload) => barLine(payload, params.progress, terminalColumns(this.stream) ?? 100),
    });
  }
  /** `partial`: the running entry's share done (its iterations), so the bar moves within an entry. */
  private show(key: string | undefined, payload: Omit<BarPayload, 'eta'>, partial = 0): void {
    const total = Math.max(payload.total, 1);
    const slot = key === undefined ? this.overall : this.bars.get(key);
    const entry = slot ?? { bar: this.multibar.create(total, 0, {}), eta: new EtaEstimator(this.now) };
    if (key === undefined) this.overall = entry;
    else this.bars.set(key, entry);
    entry.bar.setTotal(total);
    entry.bar.update(Math.min(payload.done + partial, total), { ...payload, eta: entry.eta.text(payload.done + partial, payload.total) });
  }
  update(p: LiveProgress): void {
    const t = totals(p);
    this.width = Math.max(this.width, ...p.progress.runs.map((r) => r.vm.length + (r.workflowId.includes('-retry-') ? 8 : 0)));
    const runs = runCounts(p).map((r) => ({ r, running: r.status === 'running' ? runningEntry(p, r.workflowId) : undefined }));
    const partial = runs.reduce((sum, { running }) => sum + (running?.fraction ?? 0), 0);
    this.show(
      undefined,
      {
        name: 'all'.padEnd(this.width),
        done: t.done,
        total: p.progress.totalEntries,
        passed: t.passed,
        failed: t.failed,
        status: p.progress.phase,
      },
      partial,
    );
    for (const { r, running } of runs) {
      const name = (r.workflowId.includes('-retry-') ? `${r.vm} (rerun)` : r.vm).padEnd(this.width);
      const status = running ? `running ${running.text}` : r.status;
      this.show(
        r.workflowId,
        { name, done: r.passed + r.failed + r.rerun, total: r.total, passed: r.passed, failed: r.failed, status },
        running?.fraction ?? 0,
      );
    }
  }
  stop(result?: BenchmarkResult): void {
    if (result && this.overall) {
      // The final query may have failed or lagged: the result has the last word on the totals.
      const done = result.passed + result.failed;
      this.show(undefined, {
        name: 'all'.padEnd(this.width),
        done,
        total: result.totalEntries,
        passed: result.passed,
        failed: result.failed,
        status: 'done',
      });
    }
    this.multibar.stop();
  }
}

/** What `cancel` and an interrupted `run` print at the end: the workflow's status, phase, counts, runs and report. */
export function finalStateText(benchmarkId: string, s: FinalState): string {
  const p = s.progress;
  if (!p) return `${benchmarkId}: ${s.status} (no orchestrator worker answered for its progress)`;
  const lines = [`${benchmarkId}: ${s.status}, phase ${p.phase}, ${p.passed} passed, ${p.failed} failed of ${p.totalEntries}`];
  for (const r of p.runs) lines.push(`  ${r.workflowId}: ${r.status}, ${r.passed} passed, ${r.failed} failed of ${r.total}`);
  if (p.report) lines.push(`${p.report.complete ? 'report' : 'partial report (finished entries only)'}: ${p.report.keys.join(', ')}`);
  else lines.push('no report was written');
  return lines.join('\n');
}
