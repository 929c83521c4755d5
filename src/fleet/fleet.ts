import type { FleetSpec } from '../core/spec';

/** Turns a fleet description into the names of the VMs to run on. */
export interface FleetResolver {
  resolve(spec: FleetSpec): Promise<string[]>;
}

/** The fleet given by name (local agents, or VMs listed with --vms). */
export class StaticFleetResolver implements FleetResolver {
  async resolve(spec: FleetSpec): Promise<string[]> {
    if (spec.kind !== 'static') {
      throw new Error(`this orchestrator worker has no Compute Engine access configured, so it cannot resolve a ${spec.kind} fleet`);
    }
    return [...spec.vms];
  }
}
