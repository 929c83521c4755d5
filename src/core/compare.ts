/**
 * Comparing two sets of results: config A vs config B within a run, or run X vs run Y. Pure.
 *
 * For each matched entry and metric (metrics.ts): the baseline and candidate value, the change
 * in percent (candidate vs baseline), Welch's t-test over the logarithms of the per-iteration
 * values (two-sided p) and the interval of the change. A change is a regression only when it is
 * in the metric's bad direction, larger than the metric's threshold, and significant (p < alpha);
 * inconclusive when not significant but its interval reaches beyond the threshold.
 */
import { InputError } from './errors';
import { REPORTED_DIRECTIONS, type ReportedDirection } from './fio';
import { METRIC_KIND_NAMES, METRIC_KINDS, type Better, type MetricKind } from './metrics';
import type { DirectionStats, EntryReport } from './report';
import { logConfidenceInterval, ratioTest } from './stats';

export type { Better } from './metrics';

/** A metric of one direction, e.g. read_bw or write_p99_lat: a metrics.ts kind applied to a direction. */
export interface MetricDef {
  name: string;
  direction: ReportedDirection;
  kind: string;
  unit: string;
  better: Better;
  /** The value compared, in `unit`. */
  value(d: DirectionStats): number | null;
  /** The per-iteration values the significance test uses, in `unit`. */
  samples(d: DirectionStats): number[];
}

export { METRIC_KIND_NAMES as METRIC_KINDS };
/** Compared when --metrics is not given. */
export const DEFAULT_METRIC_KINDS: readonly string[] = ['bw', 'iops', 'p50_lat', 'p99_lat'];

const metricOf = (direction: ReportedDirection, k: MetricKind): MetricDef => ({
  name: `${direction}_${k.kind}`,
  direction,
  kind: k.kind,
  unit: k.unit,
  better: k.better,
  value: k.value,
  samples: k.samples,
});
export const METRICS: readonly MetricDef[] = REPORTED_DIRECTIONS.flatMap((direction) => METRIC_KINDS.map((k) => metricOf(direction, k)));
const METRIC_BY_NAME = new Map(METRICS.map((m) => [m.name, m]));

/** What a name in --metrics or --max-regression may be: a metric (read_bw), a kind for every direction (bw), or all. */
function expandMetricName(name: string): MetricDef[] | undefined {
  if (name === 'all') return [...METRICS];
  const one = METRIC_BY_NAME.get(name);
  if (one) return [one];
  if (METRIC_KIND_NAMES.includes(name)) return METRICS.filter((m) => m.kind === name);
  return undefined;
}

const knownNames = () =>
  `metric names are ${METRIC_KIND_NAMES.join(', ')}, each for every direction or prefixed ${REPORTED_DIRECTIONS.map((d) => `${d}_`).join('/')} (e.g. read_bw), or all`;

/** --metrics: comma-separated metric names (see expandMetricName). */
export function parseMetricList(text: string, flag = '--metrics'): string[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InputError(`no metric given; ${knownNames()}`, { flag });
  const out: string[] = [];
  for (const name of names) {
    const metrics = expandMetricName(name);
    if (!metrics) throw new InputError(`unknown metric "${name}"; ${knownNames()}`, { flag });
    for (const m of metrics) if (!out.includes(m.name)) out.push(m.name);
  }
  return out;
}

/**
 * --max-regression: comma-separated `metric=N%` (the % is optional), e.g. `read_bw=5%,p99_lat=10%`.
 * A direction-free name (bw, p99_lat) sets both directions, `all` every metric; the most specific
 * name wins whatever the order. Returns the threshold in percent of each metric named.
 */
export function parseThresholds(text: string, flag = '--max-regression'): Map<string, number> {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InputError('no threshold given; write metric=N%, e.g. read_bw=5%,p99_lat=10%', { flag });
  const specificity = (name: string) => (name === 'all' ? 0 : METRIC_BY_NAME.has(name) ? 2 : 1);
  const seen = new Set<string>();
  const parsed: { name: string; pct: number }[] = [];
  for (const item of items) {
    const m = /^([A-Za-z0-9_.]+)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*%?$/.exec(item);
    if (!m) throw new InputError(`"${item}" is not metric=N% (e.g. read_bw=5%)`, { flag });
    const [, name, value] = m;
    if (!expandMetricName(name!)) throw new InputError(`unknown metric "${name}"; ${knownNames()}`, { flag });
    if (seen.has(name!)) throw new InputError(`"${name}" is given twice`, { flag });
    seen.add(name!);
    parsed.push({ name: name!, pct: Number(value) });
  }
  const out = new Map<string, number>();
  for (const { name, pct } of parsed.sort((a, b) => specificity(a.name) - specificity(b.name))) {
    for (const metric of expandMetricName(name)!) out.set(metric.name, pct);
  }
  return out;
}

/**
 * `inconclusive`: not significant, but the interval of the change still reaches beyond the
 * metric's threshold in its bad direction: the samples are too small (or too noisy) to tell
 * whether it regressed by more than allowed.
 */
export type Verdict = 'regression' | 'worse' | 'better' | 'no significant change' | 'inconclusive' | 'not tested';

export interface MetricComparison {
  testId: string;
  baselineConfig: string;
  candidateConfig: string;
  metric: string;
  unit: string;
  better: Better;
  baseline: number | null;
  candidate: number | null;
  baselineN: number;
  candidateN: number;
  /** 95% interval of each side's value (stats.ts logConfidenceInterval over its iterations); null below 3 iterations. */
  baselineInterval?: [number, number] | null;
  candidateInterval?: [number, number] | null;
  /** (candidate - baseline) / baseline, in percent; null when the baseline is 0 or missing. */
  deltaPct: number | null;
  /** Welch's t-test over the per-iteration values (of their logarithms): two-sided p; null with fewer than 2 iterations on a side. */
  p: number | null;
  /**
   * (1 - alpha) confidence interval of the change in percent (candidate vs baseline, ratio of
   * geometric means); null when not tested. A change inside it cannot be told from no change.
   */
  changeLowPct?: number | null;
  changeHighPct?: number | null;
  /** Welch's t; null when not tested or infinite (both sides without spread, different means: p = 0). */
  t: number | null;
  df: number | null;
  significant: boolean;
  /** Largest change in the bad direction allowed, in percent; null when the metric has no threshold. */
  thresholdPct: number | null;
  verdict: Verdict;
}

export interface CompareSide {
  benchmarkId: string;
  /** Only this config's entries; matched to the other side by test id alone. */
  config?: string;
  reports: readonly EntryReport[];
}

export interface CompareOptions {
  /** Significance level; default 0.05. */
  alpha?: number;
  /** Regression thresholds in percent by metric name (parseThresholds). */
  thresholds?: ReadonlyMap<string, number>;
  /** Metric names to compare (parseMetricList); default DEFAULT_METRIC_KINDS plus every metric with a threshold. */
  metrics?: readonly string[];
}

export interface Comparison {
  baseline: { benchmarkId: string; config: string | null };
  candidate: { benchmarkId: string; config: string | null };
  /** How entries were matched: by test id (two configs) or by test id and config label (two runs). */
  matchedBy: 'test_id' | 'test_id+config';
  alpha: number;
  thresholds: Record<string, number>;
  rows: MetricComparison[];
  /** Keys (test id, or test id @ config) found on one side only. */
  unmatched: { baselineOnly: string[]; candidateOnly: string[] };
  /** Matched entries that could not be compared (an entry that did not pass). */
  skipped: { key: string; reason: string }[];
  regressions: number;
  /** Metrics with a threshold that could not be tested (fewer than 2 iterations on a side): the gate cannot judge them. */
  untestedGated: number;
  /** Gated metrics whose verdict is inconclusive (samples too small to detect the threshold). */
  inconclusiveGated?: number;
  /**
   * With thresholds: why the gate cannot vouch for the candidate although nothing regressed
   * (nothing or only part matched, untested or inconclusive gated metrics); empty when it can.
   */
  gateIncomplete?: string[];
  /** Notes on how comparable the two sides are: different VMs or machine types, too few iterations. */
  notes?: string[];
}

export const DEFAULT_ALPHA = 0.05;

/** `--alpha` as given (default DEFAULT_ALPHA): a number strictly between 0 and 1. */
export function parseAlpha(text: string | undefined): number {
  if (text === undefined) return DEFAULT_ALPHA;
  const alpha = Number(text);
  if (!/^[0-9.eE+-]+$/.test(text.trim()) || !(alpha > 0 && alpha < 1))
    throw new InputError(`must be a number between 0 and 1, got "${text}"`, { flag: '--alpha' });
  return alpha;
}

function selectSide(side: CompareSide, flag: string): EntryReport[] {
  if (side.config === undefined) return [...side.reports];
  const selected = side.reports.filter((r) => r.configLabel === side.config);
  if (selected.length === 0) {
    const labels = [...new Set(side.reports.map((r) => r.configLabel))].join(', ') || 'none';
    throw new InputError(`benchmark "${side.benchmarkId}" has no config "${side.config}" (its configs: ${labels})`, { flag });
  }
  return selected;
}

/** An entry's key: its test (and config, matching two runs), and its fio group when the job file has several. */
function keyed(reports: readonly EntryReport[], byConfig: boolean): Map<string, EntryReport> {
  return new Map(
    reports.map((r) => [`${r.testId}${r.fioGroup !== undefined ? ` group ${r.fioGroup}` : ''}${byConfig ? ` @ ${r.configLabel}` : ''}`, r]),
  );
}

export function verdictOf(
  c: Pick<MetricComparison, 'deltaPct' | 'p' | 'better' | 'thresholdPct'> &
    Partial<Pick<MetricComparison, 'changeLowPct' | 'changeHighPct'>>,
  alpha: number,
): { significant: boolean; verdict: Verdict } {
  const significant = c.p !== null && c.p < alpha;
  const worse = c.deltaPct !== null && (c.better === 'higher' ? c.deltaPct < 0 : c.deltaPct > 0);
  if (c.thresholdPct !== null && worse && significant && Math.abs(c.deltaPct!) > c.thresholdPct)
    return { significant, verdict: 'regression' };
  if (c.p === null) return { significant, verdict: 'not tested' };
  if (!significant || c.deltaPct === null || c.deltaPct === 0) {
    // The worst change the interval allows, in the bad direction: beyond the threshold, nothing is shown.
    const worstPct = c.better === 'higher' ? -(c.changeLowPct ?? -Infinity) : (c.changeHighPct ?? Infinity);
    if (c.thresholdPct !== null && worstPct > c.thresholdPct) return { significant, verdict: 'inconclusive' };
    return { significant, verdict: 'no significant change' };
  }
  return { significant, verdict: worse ? 'worse' : 'better' };
}

const sideInterval = (samples: readonly number[]): [number, number] | null => {
  const ci = logConfidenceInterval(samples);
  return 'low' in ci ? [ci.low, ci.high] : null;
};

const distinct = (values: readonly (string | null | undefined)[]) => [...new Set(values.filter((v): v is string => !!v))].sort();

export function compareReports(baseline: CompareSide, candidate: CompareSide, options: CompareOptions = {}): Comparison {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  if (!(alpha > 0 && alpha < 1)) throw new InputError(`must be between 0 and 1, got ${alpha}`, { flag: '--alpha' });
  if ((baseline.config === undefined) !== (candidate.config === undefined)) {
    throw new InputError('give both --baseline-config and --candidate-config, or neither', {
      flag: baseline.config === undefined ? '--baseline-config' : '--candidate-config',
    });
  }
  const thresholds = options.thresholds ?? new Map<string, number>();
  const wanted = new Set(options.metrics ?? METRICS.filter((m) => DEFAULT_METRIC_KINDS.includes(m.kind)).map((m) => m.name));
  for (const name of thresholds.keys()) wanted.add(name);
  const metrics = METRICS.filter((m) => wanted.has(m.name));

  const byConfig = baseline.config === undefined;
  const base = keyed(selectSide(baseline, '--baseline-config'), byConfig);
  const cand = keyed(selectSide(candidate, '--candidate-config'), byConfig);
  const rows: MetricComparison[] = [];
  const skipped: Comparison['skipped'] = [];
  const gateIncomplete: string[] = [];
  const gated = (m: MetricDef) => thresholds.has(m.name);
  const pairs: [EntryReport, EntryReport][] = [];
  for (const [key, b] of base) {
    const c = cand.get(key);
    if (!c) continue;
    if (b.status !== 'passed' || c.status !== 'passed') {
      skipped.push({ key, reason: `baseline ${b.status}, candidate ${c.status}` });
      continue;
    }
    pairs.push([b, c]);
    for (const m of metrics) {
      const bd = b[m.direction];
      const cd = c[m.direction];
      if (!bd || !cd) {
        // A gated metric one side has and the other lacks cannot be judged.
        if (gated(m) && (bd || cd)) gateIncomplete.push(`${key}: ${m.name} only in the ${bd ? 'baseline' : 'candidate'}`);
        continue; // the workload has no I/O in this direction
      }
      const bv = m.value(bd);
      const cv = m.value(cd);
      const [bs, cs] = [m.samples(bd), m.samples(cd)];
      const test = ratioTest(bs, cs, alpha);
      const deltaPct = bv !== null && cv !== null && bv !== 0 ? ((cv - bv) / Math.abs(bv)) * 100 : null;
      const thresholdPct = thresholds.get(m.name) ?? null;
      const p = test && Number.isFinite(test.p) ? test.p : null;
      const changeLowPct = test && p !== null ? test.changeLowPct : null;
      const changeHighPct = test && p !== null ? test.changeHighPct : null;
      const { significant, verdict } = verdictOf({ deltaPct, p, better: m.better, thresholdPct, changeLowPct, changeHighPct }, alpha);
      rows.push({
        testId: b.testId,
        baselineConfig: b.configLabel,
        candidateConfig: c.configLabel,
        metric: m.name,
        unit: m.unit,
        better: m.better,
        baseline: bv,
        candidate: cv,
        baselineN: bs.length,
        candidateN: cs.length,
        baselineInterval: sideInterval(bs),
        candidateInterval: sideInterval(cs),
        deltaPct,
        p,
        changeLowPct,
        changeHighPct,
        t: test && Number.isFinite(test.t) ? test.t : null,
        df: test?.df ?? null,
        significant,
        thresholdPct,
        verdict,
      });
    }
  }
  const unmatched = {
    baselineOnly: [...base.keys()].filter((k) => !cand.has(k)),
    candidateOnly: [...cand.keys()].filter((k) => !base.has(k)),
  };
  const untestedGated = rows.filter((r) => r.thresholdPct !== null && r.p === null).length;
  const inconclusiveGated = rows.filter((r) => r.thresholdPct !== null && r.verdict === 'inconclusive').length;
  if (thresholds.size > 0) {
    if (!rows.some((r) => r.thresholdPct !== null))
      gateIncomplete.unshift('no gated metric was compared: nothing matched between the two runs');
    if (unmatched.baselineOnly.length) gateIncomplete.push(`only in the baseline: ${unmatched.baselineOnly.join(', ')}`);
    if (unmatched.candidateOnly.length) gateIncomplete.push(`only in the candidate: ${unmatched.candidateOnly.join(', ')}`);
    for (const s of skipped) gateIncomplete.push(`not compared: ${s.key} (${s.reason})`);
    if (untestedGated) gateIncomplete.push(`${untestedGated} gated metric(s) could not be tested (fewer than 2 iterations on a side)`);
    if (inconclusiveGated)
      gateIncomplete.push(
        `${inconclusiveGated} gated metric(s) inconclusive: too few or too noisy iterations to detect a change of the threshold`,
      );
  }
  const notes: string[] = [];
  const vms = [distinct(pairs.map(([b]) => b.vm)), distinct(pairs.map(([, c]) => c.vm))];
  const differentVm = pairs.filter(([b, c]) => b.vm !== c.vm).length;
  if (differentVm)
    notes.push(
      `${differentVm} of ${pairs.length} compared entries ran on different VMs (baseline ${vms[0]!.join(', ') || '-'}; candidate ${vms[1]!.join(', ') || '-'}): differences may be the machines'`,
    );
  const types = [distinct(pairs.map(([b]) => b.machineType)), distinct(pairs.map(([, c]) => c.machineType))];
  if (pairs.some(([b, c]) => b.machineType && c.machineType && b.machineType !== c.machineType)) {
    notes.push(
      `baseline and candidate ran on different machine types (baseline ${types[0]!.join(', ')}; candidate ${types[1]!.join(', ')})`,
    );
  }
  const fewest = Math.min(...rows.flatMap((r) => [r.baselineN, r.candidateN]));
  if (rows.length && fewest < 3)
    notes.push(
      `some metrics have only ${fewest} iteration(s) on a side: too few to show any but very large changes (see the change intervals)`,
    );
  return {
    baseline: { benchmarkId: baseline.benchmarkId, config: baseline.config ?? null },
    candidate: { benchmarkId: candidate.benchmarkId, config: candidate.config ?? null },
    matchedBy: byConfig ? 'test_id+config' : 'test_id',
    alpha,
    thresholds: Object.fromEntries(thresholds),
    rows,
    unmatched,
    skipped,
    regressions: rows.filter((r) => r.verdict === 'regression').length,
    untestedGated,
    inconclusiveGated,
    gateIncomplete,
    notes,
  };
}
