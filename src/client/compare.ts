/**
 * `gcsfuse-bench compare`: config A vs config B within a run, or run X vs run Y, from the
 * artifact store's report/results.json; with --max-regression, a gate that exits 4 on a
 * regression and 6 when it cannot judge (nothing or only part matched, untested or
 * inconclusive gated metrics), so a renamed config cannot silently turn it off.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { openArtifactStore } from '../artifacts';
import { getJson } from '../artifacts/store';
import {
  parseAlpha,
  compareReports,
  DEFAULT_ALPHA,
  DEFAULT_METRIC_KINDS,
  parseMetricList,
  parseThresholds,
  type Comparison,
} from '../core/compare';
import { renderCompareHtml } from '../core/compare-html';
import { REPORTED_DIRECTIONS } from '../core/fio';
import { METRIC_KIND_NAMES } from '../core/metrics';
import { InputError } from '../core/errors';
import { checkSafeId } from '../core/ids';
import { layout } from '../core/layout';
import type { EntryReport } from '../core/report';
import { EXIT, exitCodeOf } from './exit-codes';

/** Exit codes of compare, beside the CLI's (0 ok, 1 failure, 2 bad input). */
/** compare's exit codes: the CLI's one mapping (exit-codes.ts), named here for scripts and tests. */
export const COMPARE_EXIT = EXIT;

export interface CompareFlags {
  artifacts?: string;
  candidateArtifacts?: string;
  baselineConfig?: string;
  candidateConfig?: string;
  metrics?: string;
  maxRegression?: string;
  alpha?: string;
  json?: boolean;
  html?: string;
}

export interface CompareIo {
  /** Where the table or JSON goes; default console.log. */
  out?: (text: string) => void;
  /** Where notes go; default console.error. */
  err?: (text: string) => void;
  /** Sets the exit code; default process.exitCode = code (what runCli returns). */
  setExitCode?: (code: number) => void;
}

async function readResults(location: string, benchmarkId: string, flag: string): Promise<EntryReport[]> {
  const reports = await getJson<EntryReport[]>(openArtifactStore(location), layout.report(benchmarkId, 'results.json'));
  if (!reports) throw new InputError(`no report for benchmark "${benchmarkId}" in ${location} (report/results.json is missing)`, { flag });
  return reports;
}

/** 4 significant digits (latencies of local runs are microseconds: 0.001234 ms), whole numbers from 1000. */
const fmt = (v: number | null) => (v === null ? '-' : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(4));
const signed = (v: number | null) => (v === null ? '-' : `${v > 0 ? '+' : ''}${v.toFixed(1)}%`);
const pValue = (p: number | null) => (p === null ? '-' : p < 0.0001 ? '<0.0001' : p.toFixed(4));
/** The change's interval: what the samples cannot tell from no change. */
const changeInterval = (low: number | null | undefined, high: number | null | undefined) =>
  typeof low === 'number' && typeof high === 'number' ? `${signed(low)} .. ${signed(high)}` : '-';

/** The comparison as a console table, with a header line and notes. */
export function comparisonTable(c: Comparison): string {
  const side = (s: Comparison['baseline']) => `${s.benchmarkId}${s.config ? ` [${s.config}]` : ''}`;
  const byConfig = c.matchedBy === 'test_id+config';
  const table = new Table({
    head: [
      'test',
      ...(byConfig ? ['config'] : []),
      'metric',
      'baseline',
      'candidate',
      'change',
      `${Math.round((1 - c.alpha) * 100)}% interval`,
      'p',
      'n',
      'threshold',
      'verdict',
    ],
    style: { head: [], border: [] },
  });
  for (const r of c.rows) {
    table.push([
      r.testId,
      ...(byConfig ? [r.baselineConfig] : []),
      `${r.metric} (${r.unit}, ${r.better} is better)`,
      fmt(r.baseline),
      fmt(r.candidate),
      signed(r.deltaPct),
      changeInterval(r.changeLowPct, r.changeHighPct),
      pValue(r.p),
      `${r.baselineN}/${r.candidateN}`,
      r.thresholdPct === null ? '-' : `${r.thresholdPct}%`,
      r.verdict === 'regression' ? 'REGRESSION' : r.verdict,
    ]);
  }
  const lines = [
    `baseline ${side(c.baseline)} vs candidate ${side(c.candidate)}; matched by ${byConfig ? 'test id and config' : 'test id'}; ` +
      `Welch's t-test over the logarithms of the iterations' values, alpha ${c.alpha}`,
    c.rows.length ? table.toString() : '(no metric to compare)',
  ];
  if (c.unmatched.baselineOnly.length) lines.push(`only in the baseline: ${c.unmatched.baselineOnly.join(', ')}`);
  if (c.unmatched.candidateOnly.length) lines.push(`only in the candidate: ${c.unmatched.candidateOnly.join(', ')}`);
  for (const s of c.skipped) lines.push(`not compared: ${s.key} (${s.reason})`);
  for (const n of c.notes ?? []) lines.push(`note: ${n}`);
  if (Object.keys(c.thresholds).length) {
    lines.push(c.regressions ? `${c.regressions} regression(s) beyond the thresholds` : 'no regression beyond the thresholds');
    if (c.gateIncomplete?.length) lines.push(`the gate cannot vouch for the candidate: ${c.gateIncomplete.join('; ')}`);
  }
  return lines.join('\n');
}

/** Writes the comparison page whole or not at all: a temporary file beside it, renamed over it. */
async function writeHtml(file: string, c: Comparison): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, renderCompareHtml(c));
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new InputError(`cannot write the comparison page: ${(e as Error).message}`, { flag: '--html' });
  }
}

/** Runs a comparison from flags; returns it and the exit code it calls for. */
export async function runComparison(
  baselineId: string,
  candidateId: string | undefined,
  o: CompareFlags,
): Promise<{ comparison: Comparison; exitCode: number }> {
  checkSafeId(baselineId, 'benchmark id', { flag: '<baseline-id>' });
  if (candidateId !== undefined) checkSafeId(candidateId, 'benchmark id', { flag: '<candidate-id>' });
  if (!o.artifacts) throw new InputError('the artifact store is required (or set GCSFUSE_BENCH_ARTIFACTS)', { flag: '--artifacts' });
  if ((o.baselineConfig === undefined) !== (o.candidateConfig === undefined)) {
    throw new InputError('give both --baseline-config and --candidate-config, or neither', {
      flag: o.baselineConfig === undefined ? '--baseline-config' : '--candidate-config',
    });
  }
  if (candidateId === undefined && o.baselineConfig === undefined) {
    throw new InputError(
      'give a second benchmark id to compare two runs, or --baseline-config and --candidate-config to compare two configs of one run',
      { flag: '<candidate-id>' },
    );
  }
  // Flags are checked before anything is read.
  const alpha = parseAlpha(o.alpha);
  const thresholds = o.maxRegression !== undefined ? parseThresholds(o.maxRegression) : undefined;
  const metrics = o.metrics !== undefined ? parseMetricList(o.metrics) : undefined;
  const candidateLocation = o.candidateArtifacts ?? o.artifacts;
  const baseReports = await readResults(o.artifacts, baselineId, '--artifacts');
  const candReports =
    candidateId === undefined && candidateLocation === o.artifacts
      ? baseReports
      : await readResults(candidateLocation, candidateId ?? baselineId, o.candidateArtifacts ? '--candidate-artifacts' : '--artifacts');
  const comparison = compareReports(
    { benchmarkId: baselineId, config: o.baselineConfig, reports: baseReports },
    { benchmarkId: candidateId ?? baselineId, config: o.candidateConfig, reports: candReports },
    { alpha, thresholds, metrics },
  );
  // A regression wins; a gate that could not judge everything fails on its own code.
  const exitCode =
    comparison.regressions > 0
      ? COMPARE_EXIT.regression
      : comparison.gateIncomplete?.length
        ? COMPARE_EXIT.gateIncomplete
        : COMPARE_EXIT.ok;
  return { comparison, exitCode };
}

/**
 * The `compare` command, to register with program.addCommand(compareCommand()). Errors in flags
 * throw InputError (the CLI exits 2); commander's own errors throw (exitOverride) with a
 * commander.* code. A regression sets exit code 4.
 */
export function compareCommand(io: CompareIo = {}): Command {
  const out = io.out ?? ((t: string) => console.log(t));
  const err = io.err ?? ((t: string) => console.error(t));
  const setExitCode = io.setExitCode ?? ((code: number) => void (process.exitCode = code));
  const cmd = new Command('compare');
  // Commander's own messages (help, errors) go where the caller's output goes.
  if (io.out || io.err) cmd.configureOutput({ writeOut: (s) => out(s.trimEnd()), writeErr: (s) => err(s.trimEnd()) });
  return cmd
    .description(
      'compare two configs of a run, or two runs, metric by metric; with --max-regression, exit 4 on a regression, 6 when the gate cannot judge',
    )
    .argument('<baseline-id>', 'benchmark id of the baseline run')
    .argument('[candidate-id]', 'benchmark id of the candidate run (omit to compare two configs of the baseline run)')
    .addOption(new Option('--artifacts <dir-or-gs-url>', 'artifact store holding the runs').env('GCSFUSE_BENCH_ARTIFACTS'))
    .option('--candidate-artifacts <dir-or-gs-url>', "artifact store of the candidate run, when not the baseline's")
    .option('--baseline-config <label>', 'config of the baseline run to compare (entries then match by test id)')
    .option('--candidate-config <label>', 'config of the candidate run to compare')
    .option(
      '--metrics <list>',
      `metrics to show, comma-separated: ${METRIC_KIND_NAMES.join(', ')}, optionally prefixed ${REPORTED_DIRECTIONS.map((d) => `${d}_`).join('/')}, or all (default ${DEFAULT_METRIC_KINDS.join(',')})`,
    )
    .option(
      '--max-regression <list>',
      'regression gate, comma-separated metric=N% (e.g. read_bw=5%,p99_lat=10%; a name without read_/write_ sets both, all sets every metric): ' +
        'exit 4 when a metric changes in its bad direction by more than N% and significantly (p < alpha); ' +
        'exit 6 when the gate cannot judge: nothing or only part matched between the runs, or a gated metric is untested or inconclusive',
    )
    .option('--alpha <p>', `significance level of Welch's t-test (default ${DEFAULT_ALPHA})`)
    .option('--json', 'machine-readable output')
    .option('--html <file>', 'also write the comparison as one offline HTML page (tables, change charts, notes) to <file>')
    .showHelpAfterError()
    .exitOverride()
    .action(async (baselineId: string, candidateId: string | undefined, _o: CompareFlags, cmd: Command) => {
      const o = cmd.optsWithGlobals<CompareFlags>();
      if (o.html !== undefined && !o.html.trim()) throw new InputError('needs a file name', { flag: '--html' });
      const { comparison, exitCode } = await runComparison(baselineId, candidateId, o);
      if (o.html) await writeHtml(o.html, comparison);
      if (o.json) out(JSON.stringify(comparison, null, 2));
      else out(comparisonTable(comparison));
      if (o.json && comparison.gateIncomplete?.length)
        err(`warning: the gate cannot vouch for the candidate: ${comparison.gateIncomplete.join('; ')}`);
      setExitCode(exitCode);
    });
}

/**
 * Runs compare on its own (argv without node and script, e.g. ['run-a', 'run-b', '--artifacts', dir])
 * and returns the exit code, mapping errors as the CLI does: InputError and commander errors 2, others 1.
 */
export async function runCompare(args: readonly string[], io: CompareIo = {}): Promise<number> {
  let code: number = COMPARE_EXIT.ok;
  const err = io.err ?? ((t: string) => console.error(t));
  const cmd = compareCommand({ ...io, err, setExitCode: (c) => (code = c) });
  try {
    await cmd.parseAsync([...args], { from: 'user' });
    return code;
  } catch (e) {
    return exitCodeOf(e, err);
  }
}
