import cliProgress from 'cli-progress';
import type { FinalState, LiveProgress } from './benchmarks';

/** Shows a running benchmark: a bar per VM run on a terminal, a line per change otherwise. */
export interface WatchView {
  update(p: LiveProgress): void;
  stop(): void;
}

export function createWatchView(stream: NodeJS.WriteStream = process.stderr): WatchView {
  return stream.isTTY ? new BarsView(stream) : new LinesView(stream);
}

/** Counts of one run, as the parent records them entry by entry (they add up to the benchmark's). */
export function runCounts(p: LiveProgress): { workflowId: string; vm: string; status: string; passed: number; failed: number; rerun: number; total: number }[] {
  return p.progress.runs.map((r) => ({ workflowId: r.workflowId, vm: r.vm, status: r.status, passed: r.passed, failed: r.failed, rerun: r.rerun ?? 0, total: r.total }));
}

function totals(p: LiveProgress): { done: number; passed: number; failed: number } {
  return { done: p.progress.passed + p.progress.failed, passed: p.progress.passed, failed: p.progress.failed };
}

class LinesView implements WatchView {
  private last = '';
  private readonly started = Date.now();
  constructor(private readonly stream: NodeJS.WriteStream) {}
  update(p: LiveProgress): void {
    const t = totals(p);
    const line = `${p.progress.phase}: ${t.done}/${p.progress.totalEntries} entries done (${t.passed} passed, ${t.failed} failed)`;
    if (line !== this.last) this.stream.write(`[${Math.round((Date.now() - this.started) / 1000)}s] ${line}\n`);
    this.last = line;
  }
  stop(): void {}
}

class BarsView implements WatchView {
  private readonly multibar: cliProgress.MultiBar;
  private overall: cliProgress.SingleBar | undefined;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  constructor(stream: NodeJS.WriteStream) {
    this.multibar = new cliProgress.MultiBar(
      {
        stream,
        clearOnComplete: false,
        hideCursor: true,
        format: '{name} {bar} {value}/{total} | {passed} passed {failed} failed | ETA {eta_formatted} | {status}',
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
  }
  update(p: LiveProgress): void {
    const t = totals(p);
    const width = Math.max(8, ...p.progress.runs.map((r) => r.vm.length + (r.workflowId.includes('-retry-') ? 8 : 0)));
    const overall = { name: 'all'.padEnd(width), passed: t.passed, failed: t.failed, status: p.progress.phase };
    if (!this.overall) this.overall = this.multibar.create(Math.max(p.progress.totalEntries, 1), t.done, overall);
    this.overall.setTotal(Math.max(p.progress.totalEntries, 1));
    this.overall.update(t.done, overall);
    for (const r of runCounts(p)) {
      const name = (r.workflowId.includes('-retry-') ? `${r.vm} (rerun)` : r.vm).padEnd(width);
      const payload = { name, passed: r.passed, failed: r.failed, status: r.status };
      const bar = this.bars.get(r.workflowId) ?? this.multibar.create(Math.max(r.total, 1), 0, payload);
      this.bars.set(r.workflowId, bar);
      bar.update(r.passed + r.failed + r.rerun, payload);
    }
  }
  stop(): void {
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
