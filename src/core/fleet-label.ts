import type { FleetSpec } from './spec';

/** The fleet in a few words: the Fleet search attribute, the memo and a suite run's child. */
export function fleetLabel(f: FleetSpec): string {
  switch (f.kind) {
    case 'static': {
      // A search attribute value is limited to 2 KB: name the VMs only while they fit.
      const all = f.vms.join(',');
      return all.length <= 2000 ? all : `static:${f.vms.length} VMs (${f.vms[0]}..${f.vms[f.vms.length - 1]})`;
    }
    case 'instance-group':
      return `mig:${f.project}/${f.zone ?? f.region}/${f.group}`;
    case 'vm':
      return `vm:${f.project}/${f.zone}/${f.name}`;
  }
}
