/**
 * Text for Temporal's user metadata (the Web UI's "Summary & Details" and current details).
 * Pure and deterministic: workflows call these.
 */
import type { BenchmarkProgress, RetryRecord } from './types';

/** Most matrix ids named in a VM run's details; the rest are counted. */
const MAX_IDS_LISTED = 40;

/** Markdown code span that cannot be broken by the value. */
export function code(value: string): string {
  return '`' + value.replace(/`/g, "'") + '`';
}

/** "3600 s" (what a deadline is given in), with hours or minutes beside it when round. */
export function formatSeconds(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s >= 3600 && s % 3600 === 0) return `${s} s (${s / 3600} h)`;
  if (s >= 60 && s % 60 === 0) return `${s} s (${s / 60} min)`;
  return `${s} s`;
}

/** Why a benchmark whose deadline passed is incomplete; the result, status and report say it. */
export function timedOutReason(runTimeoutMs: number): string {
  return `timed out after ${formatSeconds(runTimeoutMs)}`;
}

export function describeRetry(r: RetryRecord): string {
  const target = r.onto && r.onto !== r.vm ? `${r.vm} onto ${r.onto}` : r.vm;
  return r.accepted
    ? `retryVm ${r.via} (${r.at}): ${r.retried} failed entries of ${target} queued again`
    : `retryVm ${r.via} refused (${r.at}): ${r.reason}`;
}

/**
 * The benchmark's current details: phase and counts on the first line (the Web UI shows it
 * in the list too), then what an operator needs to act: lost agents, the deadline, the last
 * retry request and, at the end, the outcome and where the report is.
 */
export function benchmarkDetails(p: BenchmarkProgress, vmCount: number): string {
  const lines = [`**${p.phase}**: ${p.passed} passed, ${p.failed} failed of ${p.totalEntries} entries on ${vmCount} VMs`];
  const notRun = p.totalEntries - p.passed - p.failed;
  if (p.lostVms.length) lines.push(`- lost agents: ${p.lostVms.join(', ')}`);
  if (p.deadline && !p.incompleteReason && !p.report) lines.push(`- whole-run deadline: ${p.deadline}`);
  if (p.incompleteReason) lines.push(`- incomplete: ${p.incompleteReason}` + (notRun > 0 ? ` (${notRun} entries not run)` : ''));
  if (p.lastRetry) lines.push(`- ${describeRetry(p.lastRetry)}`);
  if (p.report) {
    const where = p.report.urls ?? p.report.keys;
    lines.push(`- ${p.report.complete ? 'report' : 'partial report (finished entries only)'}: ${where.map(code).join(', ')}`);
  }
  return lines.join('\n');
}

/** A VM run's static summary, one line: which VM, which benchmark, how much. */
export function vmRunSummary(benchmarkId: string, vm: string, retry: number, entries: number): string {
  return `VM ${vm} of benchmark ${benchmarkId}: ${entries} entries` + (retry > 0 ? ` (run ${retry + 1}: retried or re-routed)` : '');
}

export function vmRunDetails(matrixIds: number[]): string {
  const listed = matrixIds.slice(0, MAX_IDS_LISTED).join(', ');
  const more = matrixIds.length > MAX_IDS_LISTED ? ` and ${matrixIds.length - MAX_IDS_LISTED} more` : '';
  return `Matrix entries: ${listed}${more}`;
}

/** A VM run's current details: the entry running now and the counts. */
export function vmDetails(p: { total: number; passed: number; failed: number; runningMatrixId: number | null }): string {
  const head =
    p.runningMatrixId !== null ? `**running** entry ${p.runningMatrixId}` : p.passed + p.failed === p.total ? '**done**' : '**waiting**';
  return `${head}: ${p.passed} passed, ${p.failed} failed of ${p.total} entries`;
}
