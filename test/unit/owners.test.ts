import { describe, expect, it } from 'vitest';
import { decodeOwners, encodeOwners, fromRanges, toRanges, type EntryOwner, type OwnerTable } from '../../src/core/owners';

/** Entries 1..n over `vms` VMs round robin, as distribute's job specs would define them. */
const specVm = (vms: number) => (id: number) => `vm-${(id - 1) % vms}`;

function random(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('owner table', () => {
  it('is a few bytes for 100,000 entries that all passed where planned (a list of objects is ~6 MB)', () => {
    const spec = specVm(1_000);
    const owners: EntryOwner[] = Array.from({ length: 100_000 }, (_, i) => ({ matrixId: i + 1, vm: spec(i + 1), status: 'passed' }));
    const table = encodeOwners(owners, spec);
    expect(table).toEqual({ ids: '1-100000', status: '100000*p', elsewhere: {} });
    expect(JSON.stringify(owners).length).toBeGreaterThan(5_000_000);
    expect(decodeOwners(table, spec)).toEqual(owners);
  });

  it('round-trips re-routed, failed and missing entries, in any input order', () => {
    const spec = specVm(3);
    const owners: EntryOwner[] = [
      { matrixId: 5, vm: 'vm-1', status: 'passed' }, // spec vm-1
      { matrixId: 1, vm: 'vm-2', status: 'passed' }, // re-routed from vm-0
      { matrixId: 2, vm: null, status: 'missing' },
      { matrixId: 3, vm: 'vm-2', status: 'failed' },
      { matrixId: 9, vm: 'vm-0', status: 'failed' }, // spec vm-2; ids need not be contiguous
    ];
    const table = encodeOwners(owners, spec);
    expect(table).toEqual({ ids: '1-3,5,9', status: 'pmfpf', elsewhere: { 'vm-2': [1], '': [2], 'vm-0': [9] } });
    expect(decodeOwners(table, spec)).toEqual([...owners].sort((a, b) => a.matrixId - b.matrixId));
  });

  it('round-trips random tables exactly', () => {
    const next = random(7);
    const statuses: EntryOwner['status'][] = ['passed', 'failed', 'missing'];
    for (let t = 0; t < 50; t++) {
      const spec = specVm(1 + Math.floor(next() * 8));
      const owners: EntryOwner[] = [];
      for (let id = 1; id <= 200; id++) {
        if (next() < 0.2) continue;
        const r = next();
        owners.push({
          matrixId: id,
          vm: r < 0.1 ? null : r < 0.3 ? `vm-${Math.floor(next() * 8)}` : spec(id),
          status: statuses[Math.floor(next() * 3)]!,
        });
      }
      expect(decodeOwners(encodeOwners(owners, spec), spec)).toEqual(owners);
    }
  });

  it.each<[string, Partial<OwnerTable>, RegExp]>([
    ['more ids than statuses', { ids: '1-3', status: 'pp' }, /3 ids but 2 statuses/],
    ['an unknown status', { ids: '1', status: 'x' }, /unknown status "x" of entry 1/],
    ['a bad range', { ids: '1-a', status: 'p' }, /bad id range "1-a"/],
    ['descending ranges', { ids: '5,3', status: 'pp' }, /not ascending at 3/],
    ['a bad run length', { ids: '1-3', status: '3*' }, /bad status string/],
  ])('refuses %s', (_, table, message) => {
    expect(() => decodeOwners({ ids: '', status: '', elsewhere: {}, ...table }, specVm(2))).toThrow(message);
  });

  it('refuses an entry that no job spec defines and no VM is named for', () => {
    expect(() => decodeOwners({ ids: '1', status: 'p', elsewhere: {} }, () => undefined)).toThrow(/entry 1 is in no job spec/);
  });

  it('ranges', () => {
    expect(toRanges([])).toBe('');
    expect(toRanges([1, 2, 3, 7, 9, 10])).toBe('1-3,7,9-10');
    expect(fromRanges('1-3,7,9-10')).toEqual([1, 2, 3, 7, 9, 10]);
    expect(fromRanges('')).toEqual([]);
  });
});
