import type { ArtifactStore } from '../artifacts/store';
import type { BenchmarkRequest, FleetSpec, FleetVm } from '../core/spec';
import type { FleetResolver } from '../fleet/fleet';
import { agentLastPoll, type AgentPresence } from './agents';
import { aggregate, type AggregateInput } from './aggregate';
import { distribute, shares } from './distribute';
import { withFailureMapping } from '../shared/failures';
import { exportResults, type ExportInput } from '../shared/export';
import { withHeartbeats } from './heartbeat';
import type { BigQueryOptions } from '@google-cloud/bigquery';
import type { ReportInput } from './report';
import { suiteActivities, type WebhookResolver } from './suite';
import { bisectActivities } from './bisect';

export interface OrchestratorDeps {
  store: ArtifactStore;
  fleet: FleetResolver;
  /** BigQuery client options (an emulator or test endpoint); Application Default Credentials otherwise. */
  bigqueryOptions?: BigQueryOptions;
  /** Who polls the agents' task queues; without it lost agents are found by timers only. */
  presence?: AgentPresence;
  /** Webhook URLs by name (suite alerts); default: the worker's GCSFUSE_BENCH_WEBHOOK_<NAME> variables. */
  webhooks?: WebhookResolver;
}

/** The orchestrator's activities over injected ports; the workflow proxies them by type only. */
export function createActivities(deps: OrchestratorDeps) {
  return withHeartbeats(
    withFailureMapping({
      resolveFleet: (spec: FleetSpec) => deps.fleet.describe(spec),
      distribute: (req: BenchmarkRequest, vms: FleetVm[]) => distribute(deps.store, req, vms),
      shares: (input: { benchmarkId: string; vms: string[] }) => shares(deps.store, input),
      aggregate: (input: AggregateInput) => aggregate(deps.store, input),
      // Imported at first use: the report's chart and DOM libraries (@observablehq/plot, linkedom)
      // cost ~50 MiB that an idle worker, or one that never writes a report, should not hold.
      report: async (input: ReportInput) => (await import('./report')).writeReport(deps.store, input),
      exportResults: (input: ExportInput) => exportResults(deps.store, { bigqueryOptions: deps.bigqueryOptions }, input),
      agentLastPoll: (vm: string) => agentLastPoll(deps.presence, vm),
      ...suiteActivities(deps),
      ...bisectActivities(deps),
    }),
  );
}

export type OrchestratorActivities = ReturnType<typeof createActivities>;
