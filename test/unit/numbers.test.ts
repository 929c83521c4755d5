import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS, parseCount, parseDuration, parsePercent } from '../../src/core/numbers';

const loc = { flag: '--x' };

describe('numbers from flags and config files', () => {
  it('takes plain decimal counts within bounds', () => {
    expect(parseCount('5', loc, { min: 1, max: 10 })).toBe(5);
    expect(parseCount(' 10 ', loc, { min: 1, max: 10 })).toBe(10);
    for (const bad of ['0x10', '1e2', '1e300', '-1', '1.5', 'Infinity', '', '+3'])
      expect(() => parseCount(bad, loc, { min: 1, max: 10_000 }), bad).toThrow(/--x: .* is not a whole number/);
    expect(() => parseCount('99999999999999999999', loc, { min: 1, max: 10_000 })).toThrow(
      /out of range: give a whole number from 1 to 10000/,
    );
    expect(() => parseCount('0', loc, { min: 1, max: 10 })).toThrow(/out of range/);
  });

  it('takes durations that timers can hold', () => {
    expect(parseDuration('30m', loc, { minMs: 1000, maxMs: MAX_TIMER_MS })).toBe(1_800_000);
    expect(() => parseDuration('25d', loc, { minMs: 1000, maxMs: MAX_TIMER_MS })).toThrow(
      /25d is out of range: give a duration from 1s to 24.8d/,
    );
    expect(() => parseDuration('1us', loc, { minMs: 1000, maxMs: MAX_TIMER_MS })).toThrow(/1us is out of range/);
    expect(() => parseDuration('1e2s', loc, { minMs: 1000, maxMs: MAX_TIMER_MS })).toThrow(/is not a duration/);
    expect(parseDuration('0', loc, { minMs: 0, maxMs: 10, allowZero: true })).toBe(0);
  });

  it('takes percentages', () => {
    expect(parsePercent('5%', loc)).toBe(5);
    expect(parsePercent('2.5', loc)).toBe(2.5);
    for (const bad of ['0x10', '1e2', '0', '-5', 'NaN']) expect(() => parsePercent(bad, loc), bad).toThrow(/--x/);
  });
});
