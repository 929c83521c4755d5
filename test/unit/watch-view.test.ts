import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { LiveProgress } from '../../src/client/benchmarks';
import { barLine, createWatchView, EtaEstimator, formatDuration, runningEntry } from '../../src/client/watch-view';
import type { BenchmarkPhase, VmProgress } from '../../src/workflows/types';

/** A pipe-like stream that keeps what was written. */
function capture(): NodeJS.WriteStream & { text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  stream.text = () => text;
  return stream;
}

function progress(phase: BenchmarkPhase, passed: number, running: number | null): LiveProgress {
  const live = new Map<string, VmProgress>();
  live.set('b-vm-1', { vm: 'vm-1', total: 4, passed, failed: 0, runningMatrixId: running, outcomes: [] });
  return {
    progress: {
      benchmarkId: 'b',
      phase,
      totalEntries: 4,
      passed,
      failed: 0,
      lostVms: [],
      runs: [
        { vm: 'vm-1', workflowId: 'b-vm-1', status: phase === 'running' ? 'running' : 'completed', total: 4, passed, failed: 0, rerun: 0 },
      ],
    },
    live,
  };
}

describe('watch view', () => {
  it('in a log: a line per change, and a periodic line while a long entry runs', () => {
    let nowMs = 0;
    const out = capture();
    const view = createWatchView(out, { periodicMs: 30_000, now: () => nowMs });
    view.update(progress('running', 0, 1));
    nowMs = 10_000;
    view.update(progress('running', 0, 1)); // nothing new, not yet time for a periodic line
    nowMs = 31_000;
    view.update(progress('running', 0, 1));
    nowMs = 40_000;
    view.update(progress('running', 1, 2));
    view.stop({ benchmarkId: 'b', totalEntries: 4, passed: 4, failed: 0, reportKeys: [], complete: true });
    expect(out.text().trimEnd().split('\n')).toEqual([
      '[0s] running: 0/4 entries done (0 passed, 0 failed); running entry 1 on vm-1',
      '[31s] running: 0/4 entries done (0 passed, 0 failed); still running entry 1 on vm-1',
      '[40s] running: 1/4 entries done (1 passed, 0 failed); running entry 2 on vm-1',
      // The last state shown is the result's, even when the final query was not seen.
      '[40s] done: 4/4 entries done (4 passed, 0 failed)',
    ]);
  });

  it('does not repeat the final state the last query already showed', () => {
    const out = capture();
    const view = createWatchView(out, { now: () => 0 });
    view.update(progress('done', 4, null));
    view.stop({ benchmarkId: 'b', totalEntries: 4, passed: 4, failed: 0, reportKeys: [], complete: true });
    expect(out.text().trimEnd().split('\n')).toEqual(['[0s] done: 4/4 entries done (4 passed, 0 failed)']);
  });

  it('estimates time left only once an entry finished, from the pace seen while watching', () => {
    let nowMs = 0;
    const eta = new EtaEstimator(() => nowMs);
    expect(eta.text(1, 5)).toBe('--'); // a resumed benchmark's done entries are no pace
    nowMs = 60_000;
    expect(eta.text(1, 5)).toBe('--');
    nowMs = 80_000;
    expect(eta.text(2, 5)).toBe('4m00s'); // one entry in 80 s, three to go
    expect(eta.text(5, 5)).toBe('0s');
    expect(formatDuration(3_725_000)).toBe('1h02m');
  });

  it('fits a bar line to the terminal, dropping the bar before the text', () => {
    const payload = { name: 'vm-1', done: 1, total: 4, passed: 1, failed: 0, eta: '--', status: 'running entry 2' };
    const wide = barLine(payload, 0.25, 120);
    expect(wide).toBe(`vm-1 ${'\u2588'.repeat(10)}${'\u2591'.repeat(30)} 1/4 | 1 passed 0 failed | ETA -- | running entry 2`);
    const narrow = barLine(payload, 0.25, 70);
    expect(narrow.length).toBeLessThan(70);
    expect(narrow).toContain('ETA -- | running entry 2');
    // Too narrow for a bar: the text, cut to the width so the line never wraps.
    expect(barLine(payload, 0.25, 50)).toBe('vm-1 1/4 | 1 passed 0 failed | ETA -- | running e');
  });

  it("names the running entry's iteration and counts its share, when the agent's heartbeat told it", () => {
    const p = progress('running', 1, 2);
    // Without an iteration (no heartbeat yet, or a run from before VmProgress had iterations): the entry only.
    expect(runningEntry(p, 'b-vm-1')).toEqual({ matrixId: 2, text: 'entry 2', fraction: 0 });
    p.live.get('b-vm-1')!.iterations = 4;
    p.iteration = new Map([['b-vm-1', 3]]);
    expect(runningEntry(p, 'b-vm-1')).toEqual({ matrixId: 2, text: 'entry 2 (iteration 3/4)', fraction: 0.5 });
    // The stability gate ran past the plan: named as it is, never counted as the whole entry.
    p.iteration = new Map([['b-vm-1', 6]]);
    expect(runningEntry(p, 'b-vm-1')).toEqual({ matrixId: 2, text: 'entry 2 (iteration 6/6)', fraction: 0.99 });
    expect(runningEntry(p, 'no-such-run')).toBeUndefined();
    const out = capture();
    const view = createWatchView(out, { now: () => 0 });
    view.update(p);
    expect(out.text()).toContain('running: 1/4 entries done (1 passed, 0 failed); running entry 2 (iteration 6/6) on vm-1');
  });
});
