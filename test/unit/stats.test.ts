import { describe, expect, it } from 'vitest';
import {
  confidenceInterval,
  lnGamma,
  median,
  modifiedZScores,
  outlierIndices,
  outlierScores,
  pooledMoments,
  regularizedIncompleteBeta,
  sampleStats,
  sampleStddev,
  studentTCdf,
  studentTQuantile,
  studentTTwoSidedP,
  welchTTest,
} from '../../src/core/stats';

// The arithmetic of the statistics, on numbers whose answers are known. The same functions
// on real fio results are tested in stats-fio.test.ts.

describe('sampleStats', () => {
  it('is all NaN for no values', () => {
    const s = sampleStats([]);
    expect(s.n).toBe(0);
    expect(s.values).toEqual([]);
    for (const v of [s.mean, s.median, s.stddev, s.min, s.max, s.cv]) expect(v).toBeNaN();
    expect([s.ci95Low, s.ci95High, s.outlierIterations]).toEqual([null, null, []]);
  });

  it('has no spread and no confidence interval for one value', () => {
    expect(sampleStats([42])).toEqual({
      values: [42],
      n: 1,
      mean: 42,
      median: 42,
      stddev: 0,
      cv: 0,
      min: 42,
      max: 42,
      ci95Low: null,
      ci95High: null,
      ciUnavailable: '1 iteration: an interval needs 3 or more',
      geoMean: 42,
      outlierIterations: [],
    });
  });

  it('uses the sample (n - 1) standard deviation', () => {
    const s = sampleStats([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.n).toBe(8);
    expect(s.mean).toBe(5);
    expect(s.median).toBe(4.5);
    expect(s.stddev).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(s.min).toBe(2);
    expect(s.max).toBe(9);
    expect(s.cv).toBeCloseTo(Math.sqrt(32 / 7) / 5, 12);
  });

  it('gives two iterations of 100 and 200 a stddev of 70.71 and no interval (not available, with the reason)', () => {
    const s = sampleStats([100, 200]);
    expect(s.stddev).toBeCloseTo(70.7107, 4);
    expect(s.cv).toBeCloseTo(70.7107 / 150, 6);
    // On the raw scale it would be 150 ± 12.706 * 50, below zero: with 2 values nothing can be said.
    expect([s.ci95Low, s.ci95High]).toEqual([null, null]);
    expect(s.ciUnavailable).toBe('2 iterations: an interval needs 3 or more');
  });

  it('gives two iterations an interval when asked, on the log scale: around the geometric mean, never below 0', () => {
    const s = sampleStats([100, 200], {}, { minValues: 2 });
    // ln values 4.6052, 5.2983: mean 4.9517, sd 0.4901, se 0.3466; t(0.975, 1) = 12.7062.
    const half = 12.7062 * (Math.LN2 / Math.SQRT2 / Math.SQRT2);
    expect(s.geoMean).toBeCloseTo(Math.sqrt(100 * 200), 9);
    expect(s.ci95Low!).toBeCloseTo(Math.sqrt(20000) * Math.exp(-half), 3);
    expect(s.ci95High!).toBeCloseTo(Math.sqrt(20000) * Math.exp(half), -1);
    expect(s.ci95Low!).toBeGreaterThan(0);
    expect(s.ciUnavailable).toBeNull();
  });

  it('gives three or more positive values a log-scale t interval that contains the geometric mean and stays positive', () => {
    const values = [680, 20, 1350]; // a spread like the demo's, where the raw-scale interval went negative
    const s = sampleStats(values);
    const logs = values.map(Math.log);
    const m = logs.reduce((a, b) => a + b, 0) / 3;
    const sd = Math.sqrt(logs.reduce((a, v) => a + (v - m) ** 2, 0) / 2);
    const t = 4.30265273; // t(0.975, 2)
    expect(s.ci95Low! / Math.exp(m - (t * sd) / Math.sqrt(3))).toBeCloseTo(1, 7);
    expect(s.ci95High! / Math.exp(m + (t * sd) / Math.sqrt(3))).toBeCloseTo(1, 7);
    expect(s.ci95Low!).toBeGreaterThan(0);
    expect(s.ci95Low!).toBeLessThan(s.geoMean!);
    expect(s.ci95High!).toBeGreaterThan(s.geoMean!);
  });

  it('gives no interval when a value is 0 or negative (no logarithm)', () => {
    expect(sampleStats([0, 5, 6]).ciUnavailable).toBe('a value is 0 or negative: no interval on the log scale');
    expect(sampleStats([0, 5, 6]).ci95Low).toBeNull();
  });

  it('reports cv 0 when the mean is 0', () => {
    const s = sampleStats([-1, 1]);
    expect(s.mean).toBe(0);
    expect(s.stddev).toBeCloseTo(Math.SQRT2, 12);
    expect(s.cv).toBe(0);
  });

  it('keeps the values in iteration order and does not change its input', () => {
    const values = [3, 1, 2];
    const s = sampleStats(values);
    expect(s.values).toEqual([3, 1, 2]);
    expect(s.values).not.toBe(values);
    expect({ ...s, values: [] }).toEqual({ ...sampleStats([1, 2, 3]), values: [] });
    expect(values).toEqual([3, 1, 2]);
  });

  it('numbers outlier iterations from 1, as iteration-<n>.fio.json', () => {
    expect(sampleStats([100, 101, 99, 100, 10]).outlierIterations).toEqual([5]);
    expect(sampleStats([10, 100, 101, 99, 100]).outlierIterations).toEqual([1]);
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the two middle values', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('Student t distribution', () => {
  it('has the textbook two-sided 95% quantiles', () => {
    const table: [number, number][] = [
      [1, 12.7062],
      [2, 4.3027],
      [3, 3.1824],
      [4, 2.7764],
      [5, 2.5706],
      [9, 2.2622],
      [10, 2.2281],
      [20, 2.086],
      [30, 2.0423],
      [120, 1.9799],
    ];
    for (const [df, t] of table) expect(studentTQuantile(0.975, df), `df ${df}`).toBeCloseTo(t, 3);
    // Large df: the normal distribution's 1.95996.
    expect(studentTQuantile(0.975, 1e7)).toBeCloseTo(1.95996, 4);
  });

  it('has other quantiles of the table too, and is symmetric', () => {
    expect(studentTQuantile(0.95, 5)).toBeCloseTo(2.015, 3);
    expect(studentTQuantile(0.995, 10)).toBeCloseTo(3.169, 3);
    expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.7764, 3);
    expect(studentTQuantile(0.5, 3)).toBe(0);
    expect(studentTQuantile(0, 3)).toBeNaN();
    expect(studentTQuantile(0.9, 0)).toBeNaN();
  });

  it('has a CDF that agrees with integrating the density numerically (fractional df too)', () => {
    const density = (x: number, df: number) =>
      Math.exp(lnGamma((df + 1) / 2) - lnGamma(df / 2) - 0.5 * Math.log(df * Math.PI) - ((df + 1) / 2) * Math.log(1 + (x * x) / df));
    for (const df of [1, 2.5, 7.3, 24.99]) {
      for (const t of [0.3, 1, 2.2, 4]) {
        // Simpson's rule from 0 to t, plus the half below 0.
        const steps = 2000;
        const h = t / steps;
        let sum = density(0, df) + density(t, df);
        for (let i = 1; i < steps; i++) sum += (i % 2 ? 4 : 2) * density(i * h, df);
        expect(studentTCdf(t, df), `df ${df} t ${t}`).toBeCloseTo(0.5 + (sum * h) / 3, 9);
        expect(studentTCdf(-t, df)).toBeCloseTo(1 - studentTCdf(t, df), 12);
        expect(studentTTwoSidedP(t, df)).toBeCloseTo(2 * (1 - studentTCdf(t, df)), 12);
      }
    }
  });

  it('inverts its CDF', () => {
    for (const df of [1, 3, 12.5, 40])
      for (const p of [0.6, 0.9, 0.975, 0.999]) expect(studentTCdf(studentTQuantile(p, df), df)).toBeCloseTo(p, 10);
  });

  it('rests on a correct ln Γ and incomplete beta', () => {
    expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(lnGamma(10)).toBeCloseTo(Math.log(362880), 10);
    expect(lnGamma(1)).toBeCloseTo(0, 12);
    // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(a, b) = 1 - I_(1-x)(b, a).
    expect(regularizedIncompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
    expect(regularizedIncompleteBeta(0.7, 3, 1)).toBeCloseTo(0.343, 12);
    expect(regularizedIncompleteBeta(0.2, 2.5, 4)).toBeCloseTo(1 - regularizedIncompleteBeta(0.8, 4, 2.5), 12);
  });
});

describe('confidenceInterval', () => {
  it('is mean ± t(0.975, n-1) * s / sqrt(n)', () => {
    const ci = confidenceInterval([10, 12, 14, 16, 18])!;
    const half = (2.7764 * sampleStddev([10, 12, 14, 16, 18])) / Math.sqrt(5);
    expect(ci.low).toBeCloseTo(14 - half, 3);
    expect(ci.high).toBeCloseTo(14 + half, 3);
    expect(ci.halfWidth).toBeCloseTo(half, 3);
  });

  it('is undefined with fewer than 2 values, and a point with no spread', () => {
    expect(confidenceInterval([5])).toBeUndefined();
    expect(confidenceInterval([5, 5, 5])).toEqual({ low: 5, high: 5, halfWidth: 0 });
  });

  it('is wider at a higher level', () => {
    const v = [1, 2, 3, 4];
    expect(confidenceInterval(v, 0.99)!.halfWidth).toBeGreaterThan(confidenceInterval(v, 0.95)!.halfWidth);
  });
});

describe('outliers', () => {
  it('are values whose modified z-score (of the logarithms) exceeds 3.5', () => {
    const values = [100, 102, 98, 101, 99, 60];
    const z = modifiedZScores(values);
    // median 99.5, MAD 1.5: z of 60 = 0.6745 * -39.5 / 1.5.
    expect(z[5]).toBeCloseTo((0.6745 * -39.5) / 1.5, 10);
    expect(outlierScores(values)).toEqual(modifiedZScores(values.map(Math.log)));
    expect(outlierIndices(values)).toEqual([5]);
  });

  it('judge ratios: a throttled run among widely spread fast ones is flagged, as is one far faster', () => {
    // Fast runs on a busy machine spread over a factor of 4; the throttled one is 450 times slower.
    const values = [400, 1200, 2, 900, 1500];
    expect(Math.abs(modifiedZScores(values)[2]!)).toBeLessThan(3.5); // on plain values the spread hides it
    expect(outlierIndices(values)).toEqual([2]);
    expect(outlierIndices([400, 1200, 900 * 450, 900, 1500])).toEqual([2]);
  });

  it('judge plain values when one is 0 or negative', () => {
    const values = [0, 100, 101, 99, 100];
    expect(outlierScores(values)).toEqual(modifiedZScores(values));
    expect(outlierIndices(values)).toEqual([0]);
  });

  it('need 3 or more values', () => {
    expect(outlierIndices([1, 1000])).toEqual([]);
    expect(outlierIndices([100, 101, 10])).toEqual([2]);
  });

  it('fall back to the mean absolute deviation when more than half the values are equal', () => {
    const values = [50, 50, 50, 50, 20];
    expect(median(values.map((v) => Math.abs(v - 50)))).toBe(0);
    expect(modifiedZScores(values)[4]).toBeCloseTo(-30 / (1.253314 * 6), 10);
    expect(outlierIndices(values)).toEqual([4]);
    expect(outlierIndices([7, 7, 7, 7])).toEqual([]);
    // With 3 values, two of them equal, the fallback z-score is 2.39 whatever the third: not flagged.
    expect(outlierIndices([1, 1, 1000])).toEqual([]);
  });

  it('are not flagged for differences within 5% of the median, however tight the others', () => {
    const values = [1000, 1000.1, 999.9, 1000, 1030];
    expect(Math.abs(modifiedZScores(values)[4]!)).toBeGreaterThan(3.5);
    expect(outlierIndices(values)).toEqual([]);
    expect(outlierIndices(values, { minRelativeDeviation: 0.01 })).toEqual([4]);
    expect(outlierIndices([100, 102, 98, 101, 99, 60], { zThreshold: 100 })).toEqual([]);
  });
});

describe('pooledMoments', () => {
  const moments = (v: number[]) => ({ count: v.length, mean: v.reduce((s, x) => s + x, 0) / v.length, stddev: sampleStddev(v) });

  it('equals the moments of all values together (parallel-axis formula)', () => {
    const parts = [[1, 2, 3], [10, 20], [5], [7, 7, 8, 100]];
    const pooled = pooledMoments(parts.map(moments));
    const all = parts.flat();
    expect(pooled.count).toBe(all.length);
    expect(pooled.mean).toBeCloseTo(moments(all).mean, 12);
    expect(pooled.stddev).toBeCloseTo(sampleStddev(all), 12);
    // Not the average of the parts' stddevs.
    expect(pooled.stddev).not.toBeCloseTo(parts.map((p) => sampleStddev(p)).reduce((s, x) => s + x) / parts.length, 1);
  });

  it('ignores empty parts and is empty for none', () => {
    expect(pooledMoments([])).toEqual({ count: 0, mean: 0, stddev: 0 });
    expect(pooledMoments([{ count: 0, mean: 0, stddev: 0 }, moments([4])])).toEqual({ count: 1, mean: 4, stddev: 0 });
  });
});

describe("Welch's t-test", () => {
  it('gives the published result of a textbook example (R: t = -2.4554, df = 24.989, p = 0.02138)', () => {
    const a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
    const b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
    const r = welchTTest(a, b)!;
    expect(r.t).toBeCloseTo(-2.4554, 3);
    expect(r.df).toBeCloseTo(24.989, 2);
    expect(r.p).toBeCloseTo(0.02138, 4);
  });

  it('is symmetric, and p is 1 for identical samples', () => {
    const a = [1, 2, 3, 4];
    const b = [2, 4, 6, 9];
    expect(welchTTest(b, a)!.t).toBeCloseTo(-welchTTest(a, b)!.t, 12);
    expect(welchTTest(b, a)!.p).toBeCloseTo(welchTTest(a, b)!.p, 12);
    expect(welchTTest(a, [...a])!.p).toBeCloseTo(1, 12);
  });

  it('needs 2 values a side; two sides without spread are equal (p 1) or certainly different (p 0)', () => {
    expect(welchTTest([1], [1, 2])).toBeUndefined();
    expect(welchTTest([3, 3], [3, 3, 3])).toMatchObject({ t: 0, p: 1 });
    expect(welchTTest([3, 3], [4, 4])).toMatchObject({ p: 0 });
    // One side without spread: df from the other side alone.
    expect(welchTTest([3, 3, 3], [1, 2, 3, 4])!.df).toBeCloseTo(3, 12);
  });
});
