import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors';
import { routeEntries, type RoutableEntry } from '../../src/core/routing';

const entry = (matrixId: number, numJobs: number): RoutableEntry => ({ matrixId, numJobs, costMs: 1_000 });

describe('routing by instance template (--single/--multi-thread-vm-type)', () => {
  it("matches a substring of the template name, as the original tool's `type in template`", () => {
    const vms = [
      { name: 'vm-s', instanceTemplate: 'kokoro-perf-instance-template-n2-standard-32-single-threaded' },
      { name: 'vm-m', instanceTemplate: 'kokoro-perf-instance-template-c4' },
    ];
    const a = routeEntries([entry(1, 1), entry(2, 8)], vms, { singleThreadTemplate: 'single-threaded', multiThreadTemplate: '-c4' });
    expect(a.get('vm-s')).toEqual([1]);
    expect(a.get('vm-m')).toEqual([2]);
  });

  it('says which substring no VM template contains', () => {
    const vms = [{ name: 'vm-m', instanceTemplate: 'tpl-multi' }];
    expect(() => routeEntries([entry(1, 1)], vms, { singleThreadTemplate: 'single', multiThreadTemplate: 'multi' })).toThrow(InputError);
    expect(() => routeEntries([entry(1, 1)], vms, { singleThreadTemplate: 'single', multiThreadTemplate: 'multi' })).toThrow(
      /--single-thread-vm-type: no VM whose instance template name contains "single" for 1 entries \(the fleet's templates: tpl-multi\)/,
    );
  });
});
