import { describe, expect, it } from 'vitest';
import { fleetLabel } from '../../src/client/benchmarks';

describe('fleetLabel (the Fleet search attribute)', () => {
  it('names a small static fleet in full', () => {
    expect(fleetLabel({ kind: 'static', vms: ['vm-1', 'vm-2'] })).toBe('vm-1,vm-2');
  });

  it('stays under the 2 KB search attribute limit for a large static fleet', () => {
    const vms = Array.from({ length: 1000 }, (_, i) => `sim-vm-${String(i).padStart(4, '0')}`);
    const label = fleetLabel({ kind: 'static', vms });
    expect(label).toBe('static:1000 VMs (sim-vm-0000..sim-vm-0999)');
    expect(Buffer.byteLength(label)).toBeLessThanOrEqual(2048);
  });

  it('names a managed instance group by project, location and name', () => {
    expect(fleetLabel({ kind: 'instance-group', project: 'p', region: 'us-west4', group: 'mig' })).toBe('mig:p/us-west4/mig');
  });
});
