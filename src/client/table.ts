import Table from 'cli-table3';
import type { EntryReport } from '../core/report';
import type { SampleStats } from '../core/stats';
import type { BenchmarkProgress, VmProgress } from '../workflows/types';

const MIB = 2 ** 20;
const num = (v: number | null | undefined, digits: number): string =>
  v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits);
const ms = (ns: number | null | undefined): string => (ns === null || ns === undefined ? '-' : (ns / 1e6).toFixed(3));

/** Mean ± half-width of the 95% CI (± stddev where an older results.json has no CI), MiB/s. */
function bandwidth(s: SampleStats | undefined): string {
  if (!s) return '-';
  const half = typeof s.ci95High === 'number' ? s.ci95High - s.mean : s.n > 1 ? s.stddev : null;
  const outliers = s.outlierIterations?.length ? ` !${s.outlierIterations.join(',')}` : '';
  return `${num(s.mean / MIB, 1)}${half === null ? '' : ` ±${num(half / MIB, 1)}`}${outliers}`;
}

/**
 * The report as a console table: bandwidth in MiB/s as mean ± half-width of its 95% confidence
 * interval over iterations, then "!n" for outlier iterations; cv of the bandwidth; latency
 * (completion, pooled over jobs and iterations) in ms.
 */
export function reportTable(reports: readonly EntryReport[]): string {
  const table = new Table({
    head: ['matrix', 'test', 'config', 'vm', 'status', 'iter', 'read MiB/s (95% CI)', 'write MiB/s (95% CI)', 'cv %', 'IOPS', 'lat mean ms', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms'],
    style: { head: [], border: [] },
  });
  for (const r of reports) {
    // Latency of the direction that did the I/O (read wins for mixed workloads; both are in the CSV).
    const lat = r.read ?? r.write ?? r.trim ?? null;
    const cv = lat?.bwBytesPerSec.cv;
    table.push([
      r.matrixId,
      r.testId,
      r.configLabel,
      r.vm ?? '-',
      r.status,
      r.iterations,
      r.read ? bandwidth(r.read.bwBytesPerSec) : '-',
      r.write ? bandwidth(r.write.bwBytesPerSec) : '-',
      typeof cv === 'number' && r.iterations > 1 ? num(cv * 100, 1) : '-',
      num((r.read?.iops.mean ?? 0) + (r.write?.iops.mean ?? 0) + (r.trim?.iops.mean ?? 0), 0),
      ms(lat?.clatMeanNs),
      ms(lat?.clatPercentilesNs.p50),
      ms(lat?.clatPercentilesNs.p90),
      ms(lat?.clatPercentilesNs.p99),
      ms(lat?.clatPercentilesNs['p99.9']),
    ]);
  }
  return table.toString();
}

/**
 * Per-VM runs: entries assigned, passed, failed, re-run by a later run, the one running, and how
 * long entries took. Counts are the parent's, so each entry counts once and the columns add up
 * to the benchmark's passed and failed.
 */
export function progressTable(progress: BenchmarkProgress, live: ReadonlyMap<string, VmProgress>): string {
  const table = new Table({
    head: ['run', 'vm', 'status', 'assigned', 'passed', 'failed', 're-run', 'running entry', 'entry mean s', 'entries total s', 'failures'],
    style: { head: [], border: [] },
  });
  for (const run of progress.runs) {
    const l = live.get(run.workflowId);
    const ran = (l?.outcomes ?? []).filter((o) => !o.reused && o.durationMs > 0);
    const totalMs = ran.reduce((s, o) => s + o.durationMs, 0);
    const errors = [...new Set((l?.outcomes ?? []).filter((o) => o.status === 'failed').map((o) => o.failure ?? 'other'))].join(', ');
    table.push([
      run.workflowId,
      run.vm,
      run.status,
      run.total,
      run.passed,
      run.failed,
      run.rerun ?? 0,
      run.status === 'running' ? (l?.runningMatrixId ?? '-') : '-',
      ran.length ? (totalMs / ran.length / 1000).toFixed(1) : '-',
      ran.length ? (totalMs / 1000).toFixed(1) : '-',
      errors || '-',
    ]);
  }
  return table.toString();
}
