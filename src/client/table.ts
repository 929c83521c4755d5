import Table from 'cli-table3';
import { MIB, PERCENTILE_METRICS, metricKind, UNITS } from '../core/metrics';
import type { EntryReport } from '../core/report';
import type { SampleStats } from '../core/stats';
import type { BenchmarkProgress, VmProgress } from '../workflows/types';

/**
 * How wide tables may be: the terminal's width, else COLUMNS (e.g. `COLUMNS=100 gcsfuse-bench report x | less`),
 * else unbounded, so a log or a pipe gets whole lines to grep.
 */
export function terminalColumns(
  stream: { isTTY?: boolean; columns?: number } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): number | undefined {
  if (stream.isTTY && stream.columns && stream.columns > 0) return stream.columns;
  const fromEnv = Number(env.COLUMNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined;
}

// Data rows after the first draw no rule above them: a rule under the header only.
const NO_ROW_RULE = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };
const CELL_PADDING_CHARS = 2;
/** Narrowest a squeezed column gets (its text then wraps); narrower reads worse than a wrapped line. */
const MIN_COLUMN_CHARS = 4;

/** Breaks at plain spaces only: a no-break space keeps a value with its ± half-width. */
const WRAP_AT = / +/;
const NO_BREAK_SPACE = '\u00a0';
const longestWord = (text: string): number => Math.max(0, ...text.split(WRAP_AT).map((w) => w.length));

/** Wraps at spaces, and breaks a word only when it alone is wider than the column. */
export function wrapText(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(WRAP_AT).filter(Boolean)) {
    while (word.length > width) {
      if (line) lines.push(line);
      lines.push(word.slice(0, width));
      word = word.slice(width);
      line = '';
    }
    if (!line) line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  lines.push(line);
  return lines.join('\n');
}

/** A number (with its ± or ! mark) reads wrong broken across lines: a squeezed column keeps it whole. */
const NUMBER_TOKEN = /^[±!+-]?[0-9][0-9.,]*%?(\u00a0±[0-9.]+)?$/;

/**
 * Column text widths within `columns`: headers wrap at spaces, then the widest columns shrink to
 * their longest word (cells wrap at spaces), then, if `breakWords`, further (long words break;
 * numbers stay whole). `fits` is false when that is still too wide.
 */
function columnWidths(
  head: readonly string[],
  cells: readonly string[][],
  columns: number | undefined,
  breakWords: boolean,
): { widths: number[]; fits: boolean } {
  const words = (i: number): string[] => cells.flatMap((r) => r[i]!.split(WRAP_AT));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  if (columns === undefined) return { widths, fits: true };
  // Table width = text + padding per column + one border per column and one more.
  const budget = columns - head.length * (CELL_PADDING_CHARS + 1) - 1;
  const total = (): number => widths.reduce((a, b) => a + b, 0);
  const floor = head.map((h, i) => {
    const kept = breakWords ? words(i).filter((w) => NUMBER_TOKEN.test(w)) : words(i);
    return Math.min(widths[i]!, Math.max(MIN_COLUMN_CHARS, longestWord(h), ...kept.map((w) => w.length)));
  });
  while (total() > budget) {
    let i = -1;
    widths.forEach((w, j) => {
      if (w > floor[j]! && (i < 0 || w > widths[i]!)) i = j;
    });
    if (i < 0) return { widths, fits: false };
    widths[i]!--;
  }
  return { widths, fits: true };
}

/**
 * A table that fits `columns` when it can (nothing is cut off): cells wrap at spaces, then the
 * `optional` columns go in the order given (`dropped` names them), then long words break.
 */
export function fitTable(
  head: string[],
  rows: (string | number)[][],
  columns: number | undefined,
  optional: readonly string[] = [],
): { text: string; dropped: string[] } {
  let keep = head.map((_, i) => i);
  const cellsOf = (idx: number[]): string[][] => rows.map((r) => idx.map((i) => String(r[i])));
  const fitKept = (breakWords: boolean) =>
    columnWidths(
      keep.map((i) => head[i]!),
      cellsOf(keep),
      columns,
      breakWords,
    );
  let fit = fitKept(false);
  const dropped: string[] = [];
  for (const name of optional) {
    if (fit.fits) break;
    keep = keep.filter((i) => head[i] !== name);
    dropped.push(name);
    fit = fitKept(false);
  }
  // Still too wide: break long words; if even that does not fit, it is printed wider than the terminal.
  if (!fit.fits) fit = fitKept(true);
  const { widths } = fit;
  const table = new Table({
    head: keep.map((i, k) => wrapText(head[i]!, widths[k]!)),
    colWidths: widths.map((w) => w + CELL_PADDING_CHARS),
    style: { head: [], border: [] },
  });
  cellsOf(keep).forEach((r, y) =>
    table.push(r.map((c, k) => (y === 0 ? wrapText(c, widths[k]!) : { content: wrapText(c, widths[k]!), chars: NO_ROW_RULE }))),
  );
  return { text: table.toString(), dropped };
}

export function fittedTable(head: string[], rows: (string | number)[][], columns: number | undefined): string {
  return fitTable(head, rows, columns).text;
}

const num = (v: number | null | undefined, digits: number): string =>
  v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits);
const MEAN_LAT = metricKind('mean_lat')!;
const percentileHeader = (p: number) => `p${p} ${UNITS.latency}`;

/**
 * Mean ± half-width of the 95% CI, MiB/s; "±n/a" when there is no interval (fewer than 3
 * iterations, or a results.json from before intervals): never a stddev standing in for one.
 */
function bandwidth(s: SampleStats | undefined): string {
  if (!s) return '-';
  const half = typeof s.ci95High === 'number' ? num((s.ci95High - s.mean) / MIB, 1) : 'n/a';
  const outliers = s.outlierIterations?.length ? ` !${s.outlierIterations.join(',')}` : '';
  return `${num(s.mean / MIB, 1)}${NO_BREAK_SPACE}±${half}${outliers}`;
}

/** Left out, in this order, when the report does not fit the terminal otherwise. */
// p99 stays longest (the usual tail figure); then the middle percentiles go before the extreme one.
const PERCENTILE_DROP_ORDER = [90, 50, 99.9];
const REPORT_OPTIONAL_COLUMNS = [
  ...PERCENTILE_METRICS.map((k) => k.percentile!)
    .filter((p) => p !== 99)
    .sort((a, b) => (PERCENTILE_DROP_ORDER.indexOf(a) + 1 || 99) - (PERCENTILE_DROP_ORDER.indexOf(b) + 1 || 99))
    .map(percentileHeader),
  'IOPS',
  'lat mean ms',
  'cv %',
  'iter',
];

const STATUS_OPTIONAL_COLUMNS = ['entries total s', 'entry mean s', 're-run'];

/** What the report table's columns and marks mean, printed under it: only what the table shows (a mixed column, fio groups). */
export function reportLegend(o: { mixed?: boolean; groups?: boolean } = {}): string {
  return (
    `${o.mixed ? 'read/write/mixed' : 'read/write'}: bandwidth in MiB/s, mean ± half-width of its 95% confidence interval over iterations ` +
    '(±n/a: no interval, fewer than 3 iterations); cv: coefficient of variation of that bandwidth; ' +
    'latency: fio completion latency in ms, pooled over jobs and iterations' +
    (o.groups ? '; (group n): fio group n of a job file with several' : '')
  );
}
export const REPORT_LEGEND = reportLegend();
export const OUTLIER_LEGEND =
  '!n: iteration n is an outlier, far from the other iterations (its bandwidth is still in the mean; see "Numbers" in the README)';

/**
 * The report as a console table: bandwidth in MiB/s as mean ± half-width of its 95% confidence
 * interval over iterations, then "!n" for outlier iterations; cv of the bandwidth; latency
 * (completion, pooled over jobs and iterations) in ms. A legend under it says so.
 */
export function reportTable(reports: readonly EntryReport[], columns = terminalColumns()): string {
  // unified_rw_reporting=1 runs report only mixed: its column is there when some entry has it.
  const withMixed = reports.some((r) => r.mixed);
  const rows = reports.map((r) => {
    // Latency of the direction that did the I/O (read wins for mixed workloads; both are in the CSV).
    const lat = r.read ?? r.write ?? r.trim ?? r.mixed ?? null;
    const cv = lat?.bwBytesPerSec.cv;
    const iops =
      [r.read, r.write, r.trim].reduce((s, d) => s + (d ? (metricKind('iops')!.value(d) ?? 0) : 0), 0) ||
      (r.mixed ? (metricKind('iops')!.value(r.mixed) ?? 0) : 0);
    return [
      r.matrixId,
      r.fioGroup === undefined ? r.testId : `${r.testId} (group ${r.fioGroup})`,
      r.configLabel,
      r.vm ?? '-',
      r.status,
      r.iterations,
      r.read ? bandwidth(r.read.bwBytesPerSec) : '-',
      r.write ? bandwidth(r.write.bwBytesPerSec) : '-',
      ...(withMixed ? [r.mixed ? bandwidth(r.mixed.bwBytesPerSec) : '-'] : []),
      typeof cv === 'number' && r.iterations > 1 ? num(cv * 100, 1) : '-',
      num(iops, 0),
      num(lat ? MEAN_LAT.value(lat) : null, 3),
      ...PERCENTILE_METRICS.map((k) => num(lat ? k.value(lat) : null, 3)),
    ];
  });
  const head = [
    'entry',
    'test',
    'config',
    'vm',
    'status',
    'iter',
    `read ${UNITS.bandwidth}`,
    `write ${UNITS.bandwidth}`,
    ...(withMixed ? [`mixed ${UNITS.bandwidth}`] : []),
    'cv %',
    'IOPS',
    `lat mean ${UNITS.latency}`,
    ...PERCENTILE_METRICS.map((k) => percentileHeader(k.percentile!)),
  ];
  const anyOutlier = reports.some((r) => [r.read, r.write, r.mixed].some((d) => d?.bwBytesPerSec.outlierIterations?.length));
  const { text, dropped } = fitTable(head, rows, columns, REPORT_OPTIONAL_COLUMNS);
  const droppedNote = dropped.length ? [`left out to fit ${columns} columns: ${dropped.join(', ')} (the CSV report has every column)`] : [];
  const legend = reportLegend({ mixed: withMixed, groups: reports.some((r) => r.fioGroup !== undefined) });
  const notes = [legend, ...(anyOutlier ? [OUTLIER_LEGEND] : []), ...droppedNote];
  return [text, ...notes.map((n) => (columns === undefined ? n : wrapText(n, columns - 1)))].join('\n');
}

/**
 * Per-VM runs: entries assigned, passed, failed, re-run by a later run, the one running, and how
 * long entries took. Counts are the parent's, so each entry counts once and the columns add up
 * to the benchmark's passed and failed.
 */
export function progressTable(progress: BenchmarkProgress, live: ReadonlyMap<string, VmProgress>, columns = terminalColumns()): string {
  const head = [
    'run',
    'vm',
    'status',
    'assigned',
    'passed',
    'failed',
    're-run',
    'running entry',
    'entry mean s',
    'entries total s',
    'failures',
  ];
  const rows = progress.runs.map((run) => {
    const l = live.get(run.workflowId);
    const ran = (l?.outcomes ?? []).filter((o) => !o.reused && o.durationMs > 0);
    const totalMs = ran.reduce((s, o) => s + o.durationMs, 0);
    const errors = [...new Set((l?.outcomes ?? []).filter((o) => o.status === 'failed').map((o) => o.failure ?? 'other'))].join(', ');
    return [
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
    ];
  });
  return fitTable(head, rows, columns, STATUS_OPTIONAL_COLUMNS).text;
}
