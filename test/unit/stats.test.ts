import { describe, expect, it } from 'vitest';
import { sampleStats } from '../../src/core/stats';

describe('sampleStats', () => {
  it('is all NaN for no values', () => {
    const s = sampleStats([]);
    expect(s.n).toBe(0);
    for (const v of [s.mean, s.stddev, s.min, s.max, s.cv]) expect(v).toBeNaN();
  });

  it('has no spread for one value', () => {
    expect(sampleStats([42])).toEqual({ n: 1, mean: 42, stddev: 0, min: 42, max: 42, cv: 0 });
  });

  it('uses the sample (n - 1) standard deviation', () => {
    const s = sampleStats([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.n).toBe(8);
    expect(s.mean).toBe(5);
    expect(s.stddev).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(s.min).toBe(2);
    expect(s.max).toBe(9);
    expect(s.cv).toBeCloseTo(Math.sqrt(32 / 7) / 5, 12);
  });

  it('gives two iterations of 100 and 200 a stddev of 70.71', () => {
    const s = sampleStats([100, 200]);
    expect(s.stddev).toBeCloseTo(70.7107, 4);
    expect(s.cv).toBeCloseTo(70.7107 / 150, 6);
  });

  it('reports cv 0 when the mean is 0', () => {
    const s = sampleStats([-1, 1]);
    expect(s.mean).toBe(0);
    expect(s.stddev).toBeCloseTo(Math.SQRT2, 12);
    expect(s.cv).toBe(0);
  });

  it('does not depend on order and does not change its input', () => {
    const values = [3, 1, 2];
    expect(sampleStats(values)).toEqual(sampleStats([1, 2, 3]));
    expect(values).toEqual([3, 1, 2]);
  });
});
