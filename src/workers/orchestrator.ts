import type { BigQueryOptions } from '@google-cloud/bigquery';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Command } from 'commander';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createActivities } from '../activities';
import { temporalAgentPresence } from '../activities/agents';
import { openArtifactStore } from '../artifacts';
import { StaticFleetResolver, type FleetResolver } from '../fleet/fleet';
import type { ComputeClientOptions } from '../fleet/gce';
import type { FleetSpec } from '../core/spec';
import { cloudEndpointsFromEnv, computeOptions, storageOptions, type CloudEndpoints } from '../shared/cloud';
import { currentBuild, workerIdentity } from '../shared/build';
import { ORCHESTRATOR_TASK_QUEUE } from '../shared/names';
import { connectionOptions, temporalOptionsFromEnv, type TemporalOptions } from '../shared/temporal';
import { prebuiltWorkflowBundle, WORKFLOWS_ENTRY } from './workflow-bundle';

export const WORKFLOWS_PATH = WORKFLOWS_ENTRY;

/**
 * Static fleets resolved here; @google-cloud/compute (~130-175 MiB once imported) is loaded only
 * when a managed instance group or an executor VM is asked for.
 */
export class LazyGceFleetResolver implements FleetResolver {
  private readonly staticFleet = new StaticFleetResolver();
  private gce?: Promise<FleetResolver>;
  constructor(private readonly clientOptions: ComputeClientOptions = {}) {}

  describe(spec: FleetSpec) {
    if (spec.kind === 'static') return this.staticFleet.describe(spec);
    this.gce ??= import('../fleet/gce').then((m) => new m.GceFleetResolver(this.clientOptions));
    return this.gce.then((r) => r.describe(spec));
  }
}

export interface OrchestratorWorkerOptions {
  temporal: TemporalOptions;
  artifacts: string;
  cloud?: CloudEndpoints;
  fleet?: FleetResolver;
  /** BigQuery client options (tests point it at a stand-in); Application Default Credentials otherwise. */
  bigqueryOptions?: BigQueryOptions;
  /** This worker's build label (default: this process's, from GCSFUSE_BENCH_BUILD or the checkout). */
  build?: string;
}

/** The worker that runs benchmark and VM workflows and the orchestrator's activities. */
export async function createOrchestratorWorker(opts: OrchestratorWorkerOptions): Promise<Worker> {
  const connection = await NativeConnection.connect(connectionOptions(opts.temporal));
  return Worker.create({
    connection,
    namespace: opts.temporal.namespace,
    taskQueue: ORCHESTRATOR_TASK_QUEUE,
    // Names the build in the workflow histories (WorkflowTaskStarted, ActivityTaskStarted) and the queue's pollers.
    identity: workerIdentity('orchestrator', opts.build ?? currentBuild().label),
    // Bundled once per version of the workflow code, not by webpack at every start.
    workflowBundle: { codePath: await prebuiltWorkflowBundle() },
    activities: createActivities({
      store: openArtifactStore(opts.artifacts, storageOptions(opts.cloud ?? {})),
      // Static fleets pass through; Compute Engine clients are made only when a MIG or VM is asked for.
      fleet: opts.fleet ?? new LazyGceFleetResolver(computeOptions(opts.cloud ?? {})),
      bigqueryOptions: opts.bigqueryOptions,
      presence: temporalAgentPresence(connection.workflowService, opts.temporal.namespace),
    }),
  });
}

async function main(): Promise<void> {
  const cmd = new Command('orchestrator-worker')
    .description('Runs gcsfuse-bench workflows and orchestrator activities')
    .requiredOption('--artifacts <dir-or-gs-url>', 'artifact store: a local folder or gs://bucket', process.env.GCSFUSE_BENCH_ARTIFACTS)
    .option('--temporal-address <host:port>', 'Temporal frontend address (env TEMPORAL_ADDRESS)')
    .option('--namespace <ns>', 'Temporal namespace (env TEMPORAL_NAMESPACE)')
    .option('--storage-endpoint <url>', 'Cloud Storage endpoint, e.g. an emulator (env GCSFUSE_BENCH_STORAGE_ENDPOINT)')
    .option('--compute-endpoint <url>', 'Compute Engine endpoint, e.g. a test server (env GCSFUSE_BENCH_COMPUTE_ENDPOINT)')
    .parse();
  const o = cmd.opts<{ artifacts: string; temporalAddress?: string; namespace?: string } & CloudEndpoints>();
  const worker = await createOrchestratorWorker({
    temporal: temporalOptionsFromEnv(process.env, { address: o.temporalAddress, namespace: o.namespace }),
    artifacts: o.artifacts,
    cloud: cloudEndpointsFromEnv(process.env, o),
  });
  console.log(`orchestrator worker polling ${ORCHESTRATOR_TASK_QUEUE} (build ${currentBuild().label})`);
  await worker.run(); // returns after SIGINT/SIGTERM, once in-flight tasks are done
}

// Real paths: node resolves symlinks for import.meta.url but not in argv (a checkout or .gcsfuse-bench reached through a link).
if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
