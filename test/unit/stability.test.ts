import { describe, expect, it } from 'vitest';
import { stabilityOf, wantsAnotherIteration } from '../../src/core/stability';

const gate = { maxCvPercent: 5, maxIterations: 6 };

describe('stability gate', () => {
  it('always runs the planned iterations first', () => {
    expect(wantsAnotherIteration([], 3, gate)).toBe(true);
    expect(wantsAnotherIteration([100, 300], 3, gate)).toBe(true);
    expect(wantsAnotherIteration([100, 300], 3, undefined)).toBe(true);
  });

  it('stops after the planned iterations without a gate, however noisy', () => {
    expect(wantsAnotherIteration([100, 300, 50], 3, undefined)).toBe(false);
  });

  it('adds iterations while the coefficient of variation is above the threshold', () => {
    // mean 200, sample stddev 100: CV 50%.
    expect(stabilityOf([100, 200, 300], gate)).toEqual({ stable: false, bwCvPercent: 50 });
    expect(wantsAnotherIteration([100, 200, 300], 3, gate)).toBe(true);
    expect(wantsAnotherIteration([100, 101, 99], 3, gate)).toBe(false);
    expect(stabilityOf([100, 101, 99], gate).stable).toBe(true);
  });

  it('never goes past the maximum, and then reports unstable', () => {
    const noisy = [100, 300, 100, 300, 100, 300];
    expect(wantsAnotherIteration(noisy, 3, gate)).toBe(false);
    expect(stabilityOf(noisy, gate).stable).toBe(false);
  });

  it('treats a single iteration as having no spread', () => {
    expect(stabilityOf([123], gate)).toEqual({ stable: true, bwCvPercent: 0 });
  });
});
