/**
 * Prints a Markdown table of the latest record of each benchmark, mode and variant (the server,
 * server what-ifs, process layouts) in bench/results.jsonl: each target's figure beside its floor
 * or anchor from the same run and their ratio (records with headlines), other key figures, and
 * the load at start and end.
 *
 *   npx tsx bench/results-table.ts [--all]      (--all: every record, oldest first)
 */
import { readFileSync } from 'node:fs';
import type { BenchRecord } from './lib';
import { hasFlag, headlineText, RESULTS_FILE } from './lib';

/** The figures worth a column, per benchmark. */
/** The figures worth a column besides the headlines, per benchmark. */
const KEY_FIGURES: Record<string, string[]> = {
  'assignment-quality': [
    'true_lpt_ratio_mean',
    'true_aware_ratio_worst',
    'true_original_ratio_worst',
    'lpt_ratio_worst',
    'original_ratio_worst',
  ],
  aggregation: ['fio_outputs', 'total_s', 'peak_rss_mb', 'worker_peak_rss_mb', 'ratio_to_original'],
  'dispatch-overhead': ['fio_gap_p95_ms', 'agent_before_fio_median_ms', 'agent_after_fio_median_ms', 'gap_median_ms', 'prefetched_pct'],
  fidelity: [
    'cpu_bound_bw_ratio_ci95',
    'cpu_bound_bare_bare_ratio_ci95',
    'cpu_bound_resolves_2pct',
    'cpu_bound_blocks_needed_for_2pct',
    'rate_limited_bw_ratio',
  ],
  'fleet-scale': [
    'vms',
    'floor_flat_all_started_s',
    'floor_tree_all_started_s',
    'history_events_max_workflow',
    'child_start_latency_median_s',
    'finished_s',
    'cpu_server_s',
  ],
};

function variant(r: BenchRecord): string {
  const server = typeof r.params.serverKind === 'string' ? `${r.params.serverKind} server` : '';
  const whatIf =
    typeof r.params.server === 'string' && r.params.server.includes('+') ? r.params.server.slice(r.params.server.indexOf('+') + 2) : '';
  const workers = typeof r.params.workers === 'string' && r.params.workers.includes('one process per agent') ? 'agent processes' : '';
  return [server, whatIf, workers].filter(Boolean).join(', ') || 'as is';
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

console.log(
  '| benchmark | mode | variant | when (UTC), commit | load start → end (1 min) | figure (target; floor/anchor; ratio) | other figures | met |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of chosen) {
  // Older records have no headlines: their checks stand in (no anchor).
  const headlines =
    r.headlines?.map(headlineText) ??
    r.target.checks.map((c) => `${c.metric} ${fmt(c.actual)} (target ${c.op} ${JSON.stringify(c.value)}: ${c.met ? 'met' : 'MISSED'})`);
  const figs = (KEY_FIGURES[r.benchmark] ?? Object.keys(r.figures).slice(0, 6))
    .filter((k) => k in r.figures)
    .map((k) => `${k} ${fmt(r.figures[k])}`)
    .join('; ');
  console.log(
    `| ${r.benchmark} | ${r.mode} | ${variant(r)} | ${r.timestamp.slice(0, 16).replace('T', ' ')}, ${r.commit}${r.git.dirty ? '+' : ''} | ${r.machine.loadavgAtStart[0]} → ${r.loadavgAtEnd?.[0] ?? '?'} | ${headlines.join('<br>')} | ${figs} | ${r.met ? 'yes' : '**no**'} |`,
  );
}
