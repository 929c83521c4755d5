import type { ArtifactStore } from '../artifacts/store';
import type { BenchmarkRequest, FleetSpec, FleetVm } from '../core/spec';
import type { FleetResolver } from '../fleet/fleet';
import { aggregate, type AggregateInput } from './aggregate';
import { distribute } from './distribute';
import { withFailureMapping } from './failures';
import { withHeartbeats } from './heartbeat';
import { writeReport, type ReportInput } from './report';

export interface OrchestratorDeps {
  store: ArtifactStore;
  fleet: FleetResolver;
}

/** The orchestrator's activities over injected ports; the workflow proxies them by type only. */
export function createActivities(deps: OrchestratorDeps) {
  return withHeartbeats(withFailureMapping({
    resolveFleet: (spec: FleetSpec) => deps.fleet.describe(spec),
    distribute: (req: BenchmarkRequest, vms: FleetVm[]) => distribute(deps.store, req, vms),
    aggregate: (input: AggregateInput) => aggregate(deps.store, input),
    report: (input: ReportInput) => writeReport(deps.store, input),
  }));
}

export type OrchestratorActivities = ReturnType<typeof createActivities>;
