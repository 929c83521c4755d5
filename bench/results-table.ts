/**
 * Prints a Markdown table of the latest record of each benchmark, mode and variant (server
 * what-ifs are variants) in bench/results.jsonl, with the key figures and target outcomes.
 *
 *   npx tsx bench/results-table.ts [--all]      (--all: every record, oldest first)
 */
import { readFileSync } from 'node:fs';
import type { BenchRecord } from './lib';
import { hasFlag, RESULTS_FILE } from './lib';

/** The figures worth a column, per benchmark. */
const KEY_FIGURES: Record<string, string[]> = {
  'assignment-quality': [
    'lpt_ratio_worst',
    'lpt_ratio_mean',
    'lpt_suites_over_1_10_proven_optimal',
    'original_ratio_worst',
    'original_ratio_mean',
    'noisy_lpt_ratio_worst',
    'overhead_lpt_ratio_worst',
    'overhead_lpt_aware_ratio_worst',
  ],
  aggregation: [
    'fio_outputs',
    'total_s',
    'peak_rss_mb',
    'aggregate_peak_rss_mb',
    'report_peak_rss_mb',
    'cold_total_s',
    'cold_peak_rss_mb',
    'results_json_mib',
  ],
  'dispatch-overhead': [
    'gap_median_ms',
    'gap_p95_ms',
    'history_gap_median_ms',
    'workflow_turnaround_median_ms',
    'agent_pickup_median_ms',
    'agent_in_entry_overhead_median_ms',
  ],
  fidelity: [
    'rate_limited_bw_ratio',
    'cached_read_bw_ratio',
    'cached_read_bare_bw_cv_pct',
    'agent_cpu_pct_during_fio_max',
    'agent_cpu_pct_during_fio_mean',
  ],
  'fleet-scale': [
    'vms',
    'all_entries_started_s',
    'all_vms_started_s',
    'child_start_latency_median_s',
    'parent_history_events',
    'child_history_events_max',
    'orchestrator_rss_peak_mb',
    'finished_s',
  ],
};

function variant(r: BenchRecord): string {
  const server =
    typeof r.params.server === 'string' && r.params.server.includes('+') ? r.params.server.slice(r.params.server.indexOf('+') + 2) : '';
  const workers = typeof r.params.workers === 'string' && r.params.workers.includes('one process per agent') ? 'agent processes' : '';
  return [server, workers].filter(Boolean).join(', ') || 'as is';
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return 'n/a';
  if (Array.isArray(v)) return v.join(' / ');
  return String(v);
}

const records = readFileSync(RESULTS_FILE, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as BenchRecord);
const chosen = hasFlag('all')
  ? records
  : [...new Map(records.map((r) => [`${r.benchmark}|${r.mode}|${variant(r)}`, r])).values()].sort((a, b) =>
      `${a.benchmark}${a.mode}${a.timestamp}`.localeCompare(`${b.benchmark}${b.mode}${b.timestamp}`),
    );

console.log('| benchmark | mode | variant | when (UTC), commit | load at start (1/5/15 min) | key figures | targets | met |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of chosen) {
  const figs = (KEY_FIGURES[r.benchmark] ?? Object.keys(r.figures).slice(0, 6)).map((k) => `${k} ${fmt(r.figures[k])}`).join('; ');
  const checks = r.target.checks
    .map((c) => `${c.metric} ${c.op} ${JSON.stringify(c.value)}: ${fmt(c.actual)} ${c.met ? '✓' : '✗'}`)
    .join('; ');
  console.log(
    `| ${r.benchmark} | ${r.mode} | ${variant(r)} | ${r.timestamp.slice(0, 16).replace('T', ' ')}, ${r.commit}${r.git.dirty ? '+' : ''} | ${r.machine.loadavgAtStart.join(' / ')} | ${figs} | ${checks} | ${r.met ? 'yes' : '**no**'} |`,
  );
}
