import { describe, expect, it } from 'vitest';
import { sharePages } from '../../src/core/share-pages';
import {
  batchDue,
  DIRECT_RUNS_MAX,
  FLAT_MAX_VMS,
  FLAT_REPORTS,
  fanoutBudget,
  flatVmReports,
  groupVms,
  TEMPORAL_LIMITS,
  VM_REPORTS_PER_RUN,
  VMS_PER_GROUP,
} from '../../src/workflows/fanout';

const names = (n: number) => Array.from({ length: n }, (_, i) => `vm-${i}`);

describe('groupVms', () => {
  it('runs fleets up to FLAT_MAX_VMS flat (no groups)', () => {
    expect(groupVms(names(1))).toEqual([]);
    expect(groupVms(names(FLAT_MAX_VMS))).toEqual([]);
    expect(groupVms(names(FLAT_MAX_VMS + 1))).toHaveLength(2);
  });

  it.each([65, 100, 1_000, 1_001, 10_000])(
    'splits %i VMs into groups of at most VMS_PER_GROUP, sizes within one, every VM once in order',
    (n) => {
      const groups = groupVms(names(n));
      expect(groups).toHaveLength(Math.ceil(n / VMS_PER_GROUP));
      const sizes = groups.map((g) => g.length);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(VMS_PER_GROUP);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(groups.flat()).toEqual(names(n));
    },
  );

  it('takes the overrides a test passes', () => {
    expect(groupVms(names(5), { flatMaxVms: 2, vmsPerGroup: 2 })).toEqual([['vm-0', 'vm-1'], ['vm-2', 'vm-3'], ['vm-4']]);
    expect(groupVms(names(5), { flatMaxVms: 5 })).toEqual([]);
  });
});

describe('sharePages', () => {
  it('pages VMs by their entries, a VM with more than a page on its own, every VM once in order', () => {
    const vms = [5, 3, 10, 1, 1, 4].map((entries, i) => ({ vm: `vm-${i}`, entries }));
    expect(sharePages(vms, 8)).toEqual([['vm-0', 'vm-1'], ['vm-2'], ['vm-3', 'vm-4', 'vm-5']]);
    expect(sharePages([], 8)).toEqual([]);
    expect(sharePages(vms).flat()).toEqual(vms.map((v) => v.vm));
    expect(sharePages(vms)).toHaveLength(1);
  });
});

describe('batchDue', () => {
  /** Feeds outcomes one at a time, as a run finishes entries, and counts the batches sent. */
  function simulate(total: number, maxBatches: number): { batches: number; sizes: number[]; left: number } {
    let unsent = 0;
    let sent = 0;
    const sizes: number[] = [];
    for (let i = 0; i < total; i++) {
      unsent++;
      if (batchDue(unsent, total, sent, maxBatches)) {
        sizes.push(unsent);
        sent++;
        unsent = 0;
      }
    }
    return { batches: sent, sizes, left: unsent };
  }

  it.each([
    [1, 4],
    [3, 4],
    [4, 4],
    [10, 4],
    [100, 4],
    [101, 8],
    [1_000, 333],
  ])('%i outcomes in at most %i batches; what is left is less than one batch', (total, maxBatches) => {
    const r = simulate(total, maxBatches);
    expect(r.batches).toBeLessThanOrEqual(maxBatches);
    expect(r.sizes.reduce((a, b) => a + b, 0) + r.left).toBe(total);
    expect(r.left).toBeLessThan(Math.max(1, Math.ceil(total / maxBatches)));
  });

  it('reports every outcome on its own when the budget covers them (counts move per entry)', () => {
    expect(simulate(10, 10).sizes).toEqual(Array(10).fill(1));
    expect(simulate(3, 333).sizes).toEqual([1, 1, 1]);
  });

  it('sends nothing once the budget is spent', () => {
    expect(batchDue(50, 100, 4, 4)).toBe(false);
    expect(batchDue(0, 100, 0, 4)).toBe(false);
  });
});

describe('flatVmReports', () => {
  it('keeps a flat benchmark under FLAT_REPORTS reports in all, but each VM at least VM_REPORTS_PER_RUN', () => {
    expect(flatVmReports(1)).toBe(FLAT_REPORTS);
    expect(flatVmReports(10) * 10).toBeLessThanOrEqual(FLAT_REPORTS);
    expect(flatVmReports(FLAT_MAX_VMS) * FLAT_MAX_VMS).toBeLessThanOrEqual(FLAT_REPORTS);
    expect(flatVmReports(10_000)).toBe(VM_REPORTS_PER_RUN);
  });
});

describe('fanoutBudget: every workflow under Temporal limits by construction', () => {
  const sizes: [number, number][] = [
    [1, 1],
    [8, 100],
    [FLAT_MAX_VMS, 100],
    [FLAT_MAX_VMS, 1_000],
    [FLAT_MAX_VMS + 1, 100],
    [1_000, 10],
    [1_000, 100],
    [10_000, 100],
    [10_000, 1_000],
  ];
  it.each(sizes)('%i VMs x %i entries', (vms, entries) => {
    const b = fanoutBudget(vms, entries);
    for (const events of [b.benchmarkEvents, b.groupEvents, b.vmRunEvents]) expect(events).toBeLessThan(TEMPORAL_LIMITS.historyEventsWarn);
    expect(b.benchmarkPendingChildren).toBeLessThanOrEqual(TEMPORAL_LIMITS.pendingChildren);
    expect(b.groupPendingChildren).toBeLessThanOrEqual(TEMPORAL_LIMITS.pendingChildren);
    expect(b.vmPendingActivities).toBeLessThanOrEqual(TEMPORAL_LIMITS.pendingActivities);
  });

  it('at 10,000 VMs x 100 entries: 157 groups of 64, histories of a few thousand events', () => {
    const b = fanoutBudget(10_000, 100);
    expect(b).toMatchObject({ groups: 157, vmsPerGroup: 64, benchmarkPendingChildren: 157 + DIRECT_RUNS_MAX });
    expect(b.vmRunsPerVm).toBeGreaterThanOrEqual(1);
  });

  it('would pass the limit flat: the one-child-per-VM design at 10,000 VMs is what the groups replace', () => {
    const flat = fanoutBudget(10_000, 100, { flatMaxVms: 10_000 });
    expect(flat.benchmarkPendingChildren).toBeGreaterThan(TEMPORAL_LIMITS.pendingChildren);
    expect(flat.benchmarkEvents).toBeGreaterThan(TEMPORAL_LIMITS.historyEventsWarn);
  });

  it('splits a long share over several VM runs (continue-as-new)', () => {
    expect(fanoutBudget(10, 1_000).vmRunsPerVm).toBeGreaterThan(1);
    expect(fanoutBudget(10, 1_000, { vmRunEvents: 100_000 }).vmRunEvents).toBeGreaterThan(TEMPORAL_LIMITS.historyEventsWarn);
  });
});
