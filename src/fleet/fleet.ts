import type { FleetSpec, FleetVm } from '../core/spec';

/** Turns a fleet description into the VMs to run on. */
export interface FleetResolver {
  /** The VMs, sorted by name, with what is known of each (instance template, zone). */
  describe(spec: FleetSpec): Promise<FleetVm[]>;
}

/** The fleet given by name (local agents, or VMs listed with --vms). */
export class StaticFleetResolver implements FleetResolver {
  async resolve(spec: FleetSpec): Promise<string[]> {
    if (spec.kind !== 'static') {
      throw new Error(`this orchestrator worker has no Compute Engine access configured, so it cannot resolve a ${spec.kind} fleet`);
    }
    return [...spec.vms];
  }

  async describe(spec: FleetSpec): Promise<FleetVm[]> {
    return (await this.resolve(spec)).map((name) => ({ name }));
  }
}
