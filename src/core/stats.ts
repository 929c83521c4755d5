/**
 * Statistics over the iterations of a matrix entry, and the tests used to compare two
 * sets of iterations. Pure and dependency-free: the Student t distribution is computed
 * from the regularized incomplete beta function (no table, any degrees of freedom,
 * including Welch's fractional ones).
 */

/** Summary of one metric over iterations. `values` keeps every iteration's value, in order. */
export interface SampleStats {
  /** Per-iteration values in iteration order: any other statistic can be recomputed from them. */
  values: number[];
  n: number;
  mean: number;
  median: number;
  /** Sample (n - 1) standard deviation; 0 for one value. */
  stddev: number;
  /** Coefficient of variation, stddev / mean; 0 when the mean is 0. */
  cv: number;
  min: number;
  max: number;
  /**
   * 95% confidence interval (see INTERVAL_METHOD): of the geometric mean on the log scale, so it
   * never leaves the metric's domain (bandwidth, IOPS and latency are positive). Null below
   * MIN_INTERVAL_ITERATIONS values or with a value <= 0; ciUnavailable says why.
   */
  ci95Low: number | null;
  ci95High: number | null;
  /** Why there is no interval (null when there is one). */
  ciUnavailable?: string | null;
  /** Geometric mean (exp of the mean logarithm), the centre of the interval; null with a value <= 0. */
  geoMean?: number | null;
  /** 1-based iterations whose value is far from the others (see OUTLIER_RULE). */
  outlierIterations: number[];
}

export const CONFIDENCE_LEVEL = 0.95;
/**
 * Fewest iterations with which an interval is computed by default: with 2, Student's t has one
 * degree of freedom (t = 12.7) and the interval says nothing.
 */
export const MIN_INTERVAL_ITERATIONS = 3;

/** What the reports say about the intervals. */
export const intervalMethod = (minValues = MIN_INTERVAL_ITERATIONS): string =>
  `${CONFIDENCE_LEVEL * 100}% confidence interval of the geometric mean: Student t interval (n-1 degrees of freedom) of the mean ` +
  'logarithm, exponentiated; on the log scale because the metrics are positive and vary by ratios, so the interval never goes ' +
  `below 0; not computed below ${minValues} iterations`;
export const INTERVAL_METHOD = intervalMethod();

export interface IntervalOptions {
  /** Fewest values with which an interval is computed; default MIN_INTERVAL_ITERATIONS, at least 2. */
  minValues?: number;
}

/** What the reports say about the outlier flag. */
export const OUTLIER_RULE =
  'an iteration is flagged when the modified z-score of the logarithm of its value, 0.6745 * (ln x - median) / MAD, exceeds 3.5 ' +
  'in absolute value (Iglewicz and Hoaglin; MAD = median absolute deviation of the logarithms; when MAD is 0 the mean absolute ' +
  'deviation * 1.2533 stands in) and its value differs from the median by more than 5%; logarithms because performance varies ' +
  'by ratios (half speed is as far as double speed); plain values if some value is 0 or negative; needs 3 or more iterations';

export interface OutlierOptions {
  /** |modified z| above this is far (Iglewicz and Hoaglin recommend 3.5). */
  zThreshold?: number;
  /** And the value must differ from the median by more than this fraction of it: nearly identical iterations are not outliers. */
  minRelativeDeviation?: number;
}

export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : NaN;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Sample (n - 1) standard deviation: iterations are a sample of the config's behaviour. */
export function sampleStddev(values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return NaN;
  if (n === 1) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (n - 1));
}

export function sampleStats(values: readonly number[], outliers: OutlierOptions = {}, interval: IntervalOptions = {}): SampleStats {
  const n = values.length;
  if (n === 0) {
    return {
      values: [],
      n: 0,
      mean: NaN,
      median: NaN,
      stddev: NaN,
      cv: NaN,
      min: NaN,
      max: NaN,
      ci95Low: null,
      ci95High: null,
      ciUnavailable: 'no values',
      geoMean: null,
      outlierIterations: [],
    };
  }
  const m = mean(values);
  const stddev = sampleStddev(values);
  const ci = logConfidenceInterval(values, CONFIDENCE_LEVEL, interval);
  return {
    values: [...values],
    n,
    mean: m,
    median: median(values),
    stddev,
    cv: m === 0 ? 0 : stddev / m,
    min: Math.min(...values),
    max: Math.max(...values),
    ci95Low: 'low' in ci ? ci.low : null,
    ci95High: 'high' in ci ? ci.high : null,
    ciUnavailable: 'reason' in ci ? ci.reason : null,
    geoMean: values.every((v) => v > 0) ? Math.exp(mean(values.map(Math.log))) : null,
    outlierIterations: outlierIndices(values, outliers).map((i) => i + 1),
  };
}

// ---------------------------------------------------------------- Student t distribution

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7: about 15 significant digits). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b), for 0 <= x <= 1 and a, b > 0. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(T <= t) for Student's t with df degrees of freedom (df > 0, not necessarily whole). */
export function studentTCdf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** Two-sided p-value of a t statistic: P(|T| >= |t|). */
export function studentTTwoSidedP(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/**
 * Quantiles already computed, by p and whole df: every interval of a run asks for the same few
 * (95% at n - 1 iterations), and each costs ~200 evaluations of the incomplete beta function.
 * Fractional df (Welch) are not kept, so the cache stays small.
 */
const QUANTILES = new Map<string, number>();
const MAX_CACHED_DF = 10_000;

/** The t with P(T <= t) = p (0 < p < 1), by bisection on the CDF: accurate to ~1e-12. */
export function studentTQuantile(p: number, df: number): number {
  if (!Number.isInteger(df) || df > MAX_CACHED_DF) return tQuantile(p, df);
  const key = `${p}/${df}`;
  let q = QUANTILES.get(key);
  if (q === undefined) QUANTILES.set(key, (q = tQuantile(p, df)));
  return q;
}

function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return NaN;
  if (p === 0.5) return 0;
  if (p < 0.5) return -tQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
    if (hi > 1e12) return Infinity;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Confidence interval of the mean (Student t, n - 1 df) on the values' own scale; undefined with fewer than 2 values. */
export function confidenceInterval(
  values: readonly number[],
  level = CONFIDENCE_LEVEL,
): { low: number; high: number; halfWidth: number } | undefined {
  const n = values.length;
  if (n < 2) return undefined;
  const m = mean(values);
  const halfWidth = (studentTQuantile(1 - (1 - level) / 2, n - 1) * sampleStddev(values)) / Math.sqrt(n);
  return { low: m - halfWidth, high: m + halfWidth, halfWidth };
}

/**
 * Confidence interval of the geometric mean (INTERVAL_METHOD): the Student t interval of the mean
 * logarithm, exponentiated. Inside (0, infinity) whatever the spread; identical values give a
 * zero-width interval. Or why there is none: too few values, or a value <= 0 (no logarithm).
 */
export function logConfidenceInterval(
  values: readonly number[],
  level = CONFIDENCE_LEVEL,
  o: IntervalOptions = {},
): { low: number; high: number } | { reason: string } {
  const minValues = Math.max(2, o.minValues ?? MIN_INTERVAL_ITERATIONS);
  const n = values.length;
  if (n < minValues) return { reason: `${n} iteration${n === 1 ? '' : 's'}: an interval needs ${minValues} or more` };
  if (!values.every((v) => v > 0 && Number.isFinite(v))) return { reason: 'a value is 0 or negative: no interval on the log scale' };
  const ci = confidenceInterval(values.map(Math.log), level)!;
  return { low: Math.exp(ci.low), high: Math.exp(ci.high) };
}

// ---------------------------------------------------------------- outliers

/**
 * Modified z-scores 0.6745 (x - median) / MAD (Iglewicz and Hoaglin, 1993). When more than half the
 * values are equal MAD is 0; then the mean absolute deviation from the median, times 1.253314
 * (which makes it estimate the standard deviation of a normal sample, as 1.4826 * MAD does), stands in.
 * All zero when every value is the same.
 */
export function modifiedZScores(values: readonly number[]): number[] {
  const med = median(values);
  const deviations = values.map((v) => Math.abs(v - med));
  const mad = median(deviations);
  if (mad > 0) return values.map((v) => (0.6745 * (v - med)) / mad);
  const meanAd = mean(deviations);
  if (!(meanAd > 0)) return values.map(() => 0);
  return values.map((v) => (v - med) / (1.253314 * meanAd));
}

/**
 * The scores OUTLIER_RULE judges: modified z-scores of the logarithms when every value is positive
 * (bandwidth, IOPS and latency vary by ratios, and a noisy machine spreads fast runs over a wide
 * range while a throttled run is orders of magnitude off), of the values otherwise.
 */
export function outlierScores(values: readonly number[]): number[] {
  return modifiedZScores(values.every((v) => v > 0) ? values.map(Math.log) : values);
}

/** 0-based indices of values far from the others, by OUTLIER_RULE. Needs 3 or more values. */
export function outlierIndices(values: readonly number[], o: OutlierOptions = {}): number[] {
  const zThreshold = o.zThreshold ?? 3.5;
  const minRelative = o.minRelativeDeviation ?? 0.05;
  if (values.length < 3) return [];
  const med = median(values);
  const z = outlierScores(values);
  const out: number[] = [];
  values.forEach((v, i) => {
    if (Math.abs(z[i]!) > zThreshold && Math.abs(v - med) > minRelative * Math.abs(med)) out.push(i);
  });
  return out;
}

// ---------------------------------------------------------------- pooling and testing

/** Count, mean and sample standard deviation of a part of a sample (fio's N, mean, stddev). */
export interface Moments {
  count: number;
  mean: number;
  /** Sample (n - 1) standard deviation, as fio reports it. */
  stddev: number;
}

/**
 * The moments of the union of parts, exactly (parallel-axis theorem): the sum of squared
 * deviations of the union is each part's (n_i - 1) s_i^2 plus n_i (m_i - m)^2. This is how fio
 * itself pools stddev across jobs (group_reporting) and across clients; averaging stddevs is wrong.
 */
export function pooledMoments(parts: readonly Moments[]): Moments {
  const used = parts.filter((p) => p.count > 0);
  const count = used.reduce((s, p) => s + p.count, 0);
  if (count === 0) return { count: 0, mean: 0, stddev: 0 };
  const m = used.reduce((s, p) => s + p.count * p.mean, 0) / count;
  const ss = used.reduce((s, p) => s + (p.count - 1) * p.stddev ** 2 + p.count * (p.mean - m) ** 2, 0);
  return { count, mean: m, stddev: count > 1 ? Math.sqrt(ss / (count - 1)) : 0 };
}

export interface WelchResult {
  t: number;
  df: number;
  /** Two-sided p-value. */
  p: number;
}

export interface RatioTest extends WelchResult {
  /**
   * Confidence interval (1 - alpha) of candidate / baseline - 1, in percent: from Welch's
   * interval of the difference of mean logarithms, exponentiated (never below -100%).
   */
  changeLowPct: number;
  changeHighPct: number;
  /** On which scale the test ran: log when every value is positive, else the values'. */
  scale: 'log' | 'linear';
}

/**
 * Welch's test of baseline vs candidate on the log scale (changes are ratios; the interval of the
 * change cannot leave its domain), with the (1 - alpha) interval of the relative change. On the
 * values' own scale, relative to the baseline mean, if some value is 0 or negative. Undefined
 * with fewer than 2 values on a side.
 */
export function ratioTest(baseline: readonly number[], candidate: readonly number[], alpha: number): RatioTest | undefined {
  const positive = [...baseline, ...candidate].every((v) => v > 0);
  const [b, c] = positive ? [baseline.map(Math.log), candidate.map(Math.log)] : [baseline, candidate];
  const test = welchTTest(c, b);
  if (!test) return undefined;
  const diff = mean(c) - mean(b);
  const se = Math.sqrt(sampleStddev(c) ** 2 / c.length + sampleStddev(b) ** 2 / b.length);
  const half = se === 0 ? 0 : studentTQuantile(1 - alpha / 2, test.df) * se;
  const toPct = positive ? (d: number) => (Math.exp(d) - 1) * 100 : (d: number) => (d / Math.abs(mean(baseline))) * 100;
  return { ...test, changeLowPct: toPct(diff - half), changeHighPct: toPct(diff + half), scale: positive ? 'log' : 'linear' };
}

/**
 * Welch's unequal-variances t-test of mean(a) vs mean(b); undefined when either side has fewer
 * than 2 values (no variance to judge by). Two sides with no spread at all: p = 1 if the means
 * are equal, 0 if they differ.
 */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult | undefined {
  if (a.length < 2 || b.length < 2) return undefined;
  const [ma, mb] = [mean(a), mean(b)];
  const va = sampleStddev(a) ** 2 / a.length;
  const vb = sampleStddev(b) ** 2 / b.length;
  const se2 = va + vb;
  if (se2 === 0) {
    return ma === mb
      ? { t: 0, df: a.length + b.length - 2, p: 1 }
      : { t: ma > mb ? Infinity : -Infinity, df: a.length + b.length - 2, p: 0 };
  }
  const t = (ma - mb) / Math.sqrt(se2);
  const df = se2 ** 2 / ((va > 0 ? va ** 2 / (a.length - 1) : 0) + (vb > 0 ? vb ** 2 / (b.length - 1) : 0));
  return { t, df, p: studentTTwoSidedP(t, df) };
}
