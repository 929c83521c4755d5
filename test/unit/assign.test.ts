import { describe, expect, it } from 'vitest';
import { assignByCost, assignmentQuality } from '../../src/core/assign';

const entries = (costs: number[]) => costs.map((costMs, i) => ({ matrixId: i + 1, costMs }));
const costMap = (costs: number[]) => new Map(costs.map((c, i) => [i + 1, c]));

/** A small deterministic PRNG (mulberry32), so property checks are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The optimal makespan, by trying every assignment (small inputs only). */
function optimalMakespan(costs: number[], vms: number): number {
  let best = Infinity;
  const load = new Array<number>(vms).fill(0);
  const go = (i: number) => {
    const current = Math.max(...load);
    if (current >= best) return;
    if (i === costs.length) {
      best = current;
      return;
    }
    for (let v = 0; v < vms; v++) {
      load[v]! += costs[i]!;
      go(i + 1);
      load[v]! -= costs[i]!;
      if (load[v] === 0) break; // empty VMs are interchangeable
    }
  };
  go(0);
  return best;
}

describe('assignByCost', () => {
  it('gives the longest entries out first, each to the least loaded VM', () => {
    // LPT on the classic instance: 3,3 | then 2 -> a (5), 2 -> b (5), 2 -> a (7).
    const a = assignByCost(entries([2, 3, 2, 3, 2]), ['vm-a', 'vm-b']);
    expect([...a]).toEqual([
      ['vm-a', [1, 2, 5]],
      ['vm-b', [3, 4]],
    ]);
  });

  it('keeps a long entry alone rather than splitting by count', () => {
    // The original tool's equal split by count would give one VM the 60 min test and two short ones.
    const costs = [60, 10, 10, 10, 10, 10, 10];
    const a = assignByCost(entries(costs), ['a', 'b']);
    expect(a.get('a')).toEqual([1]);
    expect(a.get('b')).toEqual([2, 3, 4, 5, 6, 7]);
    expect(assignmentQuality(costMap(costs), a).makespanMs).toBe(60);
  });

  it('breaks ties toward the earlier VM and the lower matrix id', () => {
    const a = assignByCost(entries([5, 5, 5, 5, 5]), ['x', 'y', 'z']);
    expect([...a]).toEqual([
      ['x', [1, 4]],
      ['y', [2, 5]],
      ['z', [3]],
    ]);
  });

  it('does not depend on the order entries are given in', () => {
    const list = entries([7, 3, 9, 3, 1, 8, 8, 2, 5, 5]);
    const expected = assignByCost(list, ['a', 'b', 'c']);
    const random = rng(1);
    for (let i = 0; i < 20; i++) {
      const shuffled = [...list].sort(() => random() - 0.5);
      expect(assignByCost(shuffled, ['a', 'b', 'c'])).toEqual(expected);
    }
  });

  it('lists VMs in the order given, each with its ids ascending, and does not change its input', () => {
    const list = entries([1, 9, 4, 6]);
    const copy = structuredClone(list);
    const a = assignByCost(list, ['z', 'a', 'm']);
    expect([...a.keys()]).toEqual(['z', 'a', 'm']);
    for (const ids of a.values()) expect(ids).toEqual([...ids].sort((p, q) => p - q));
    expect(list).toEqual(copy);
  });

  it('gives idle VMs an empty list', () => {
    expect([...assignByCost(entries([4]), ['a', 'b', 'c'])]).toEqual([
      ['a', [1]],
      ['b', []],
      ['c', []],
    ]);
    expect([...assignByCost([], ['a'])]).toEqual([['a', []]]);
  });

  it('refuses an empty or repeated VM list', () => {
    expect(() => assignByCost(entries([1]), [])).toThrow('no VMs');
    expect(() => assignByCost(entries([1, 2]), ['a', 'a'])).toThrow('listed twice');
  });

  it('assigns every entry exactly once and stays within 4/3 of the optimum', () => {
    const random = rng(42);
    for (let trial = 0; trial < 150; trial++) {
      const n = 1 + Math.floor(random() * 8);
      const vms = 1 + Math.floor(random() * 3);
      const costs = Array.from({ length: n }, () => 1 + Math.floor(random() * 100));
      const names = Array.from({ length: vms }, (_, i) => `vm-${i}`);
      const a = assignByCost(entries(costs), names);
      const all = [...a.values()].flat().sort((p, q) => p - q);
      expect(all).toEqual(costs.map((_, i) => i + 1));

      const { makespanMs, lowerBoundMs } = assignmentQuality(costMap(costs), a);
      const opt = optimalMakespan(costs, vms);
      expect(lowerBoundMs).toBeLessThanOrEqual(opt);
      expect(makespanMs).toBeGreaterThanOrEqual(opt);
      // Graham's bound for LPT: makespan <= (4/3 - 1/(3m)) OPT.
      expect(makespanMs, JSON.stringify({ costs, vms })).toBeLessThanOrEqual((4 / 3 - 1 / (3 * vms)) * opt + 1e-9);
    }
  });
});

describe('assignmentQuality', () => {
  it('is the busiest VM against max(total / VMs, longest entry)', () => {
    const costs = new Map([
      [1, 10],
      [2, 5],
      [3, 5],
      [4, 2],
    ]);
    expect(
      assignmentQuality(
        costs,
        new Map([
          ['a', [1]],
          ['b', [2, 3, 4]],
        ]),
      ),
    ).toEqual({ makespanMs: 12, lowerBoundMs: 11 });
    expect(
      assignmentQuality(
        costs,
        new Map([
          ['a', [1, 4]],
          ['b', [2, 3]],
        ]),
      ),
    ).toEqual({ makespanMs: 12, lowerBoundMs: 11 });
    expect(
      assignmentQuality(
        costs,
        new Map([
          ['a', [1, 2]],
          ['b', [3, 4]],
        ]),
      ),
    ).toEqual({ makespanMs: 15, lowerBoundMs: 11 });
  });

  it('is bounded by the longest entry when it dominates', () => {
    const costs = new Map([
      [1, 100],
      [2, 1],
      [3, 1],
    ]);
    expect(
      assignmentQuality(
        costs,
        new Map([
          ['a', [1]],
          ['b', [2]],
          ['c', [3]],
        ]),
      ),
    ).toEqual({ makespanMs: 100, lowerBoundMs: 100 });
  });

  it('counts idle VMs in the average', () => {
    const costs = new Map([
      [1, 6],
      [2, 6],
    ]);
    expect(
      assignmentQuality(
        costs,
        new Map([
          ['a', [1, 2]],
          ['b', []],
          ['c', []],
        ]),
      ).lowerBoundMs,
    ).toBe(6);
    expect(
      assignmentQuality(
        new Map([
          [1, 3],
          [2, 3],
          [3, 3],
        ]),
        new Map([
          ['a', [1, 2, 3]],
          ['b', []],
        ]),
      ).lowerBoundMs,
    ).toBe(4.5);
  });

  it('handles no entries and no VMs', () => {
    expect(assignmentQuality(new Map(), new Map())).toEqual({ makespanMs: 0, lowerBoundMs: 0 });
    expect(assignmentQuality(new Map([[1, 5]]), new Map())).toEqual({ makespanMs: 0, lowerBoundMs: 5 });
  });

  it('matches an LPT assignment of the seed-sized matrix to its lower bound when it can', () => {
    const costs = [60_000, 60_000, 60_000, 60_000, 60_000, 60_000];
    const a = assignByCost(entries(costs), ['a', 'b', 'c']);
    expect(assignmentQuality(costMap(costs), a)).toEqual({ makespanMs: 120_000, lowerBoundMs: 120_000 });
  });
});
