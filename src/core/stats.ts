/** Summary statistics of a sample (per-iteration values of one metric). */
export interface SampleStats {
  n: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  /** stddev / mean; 0 when the mean is 0. */
  cv: number;
}

export function sampleStats(values: readonly number[]): SampleStats {
  const n = values.length;
  if (n === 0) return { n: 0, mean: NaN, stddev: NaN, min: NaN, max: NaN, cv: NaN };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  // Sample (n-1) standard deviation: iterations are a sample of the config's behaviour.
  const variance = n > 1 ? values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) : 0;
  const stddev = Math.sqrt(variance);
  return { n, mean, stddev, min: Math.min(...values), max: Math.max(...values), cv: mean === 0 ? 0 : stddev / mean };
}
