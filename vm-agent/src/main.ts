import { NativeConnection, Worker } from '@temporalio/worker';
import { Command } from 'commander';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openArtifactStore } from '../../src/artifacts';
import { checkSafeId } from '../../src/core/ids';
import { currentBuild, workerIdentity } from '../../src/shared/build';
import { agentTaskQueue } from '../../src/shared/names';
import { cloudEndpointsFromEnv, storageOptions, type CloudEndpoints } from '../../src/shared/cloud';
import { connectionOptions, temporalOptionsFromEnv, type TemporalOptions } from '../../src/shared/temporal';
import { createAgentActivities } from './activities';
import { runFio, stopLeftoverFio } from './fio-runner';
import { GoInstallGcsfuseBinaries } from './gcsfuse-build';
import { GcsfuseMounter } from './gcsfuse-mount';
import { cleanupLeftoverMounts } from './mount-table';
import { LocalDirMounter, SpecMounter, type Mounter } from './mounter';
import { simulatedFio } from './simulated-fio';

export interface AgentOptions {
  vm: string;
  temporal: TemporalOptions;
  artifacts: string;
  workDir: string;
  mounter?: Mounter;
  cloud?: CloudEndpoints;
  gcsfuse?: {
    /** Ready-made gcsfuse binaries by ref (e.g. the one scripts/setup.sh built), used without building. */
    seeded?: Record<string, string>;
    /** GOTOOLCHAIN for building gcsfuse refs (default: what each ref's go.mod asks for). */
    goToolchain?: string;
  };
  /** fio options allowed past the job policy on this VM (the operator's escape hatch; never from a workflow). */
  allowFioOptions?: string[];
  /** Sleep instead of running fio (orchestration benchmarks only; outputs say "simulated"). */
  simulateFio?: boolean;
  /** This agent's build label (default: this process's, from GCSFUSE_BENCH_BUILD or the checkout). */
  build?: string;
}

/** A VM's agent: a Temporal worker on the VM's own task queue, running one entry at a time. */
export async function createAgentWorker(opts: AgentOptions): Promise<Worker> {
  checkSafeId(opts.vm, 'VM name', { flag: '--vm' });
  await fs.mkdir(opts.workDir, { recursive: true });
  if (await stopLeftoverFio(path.join(opts.workDir, 'fio.pid'))) console.warn('stopped an fio left running by a previous agent');
  for (const m of await cleanupLeftoverMounts(opts.workDir)) console.warn(`unmounted a gcsfuse mount left by a previous agent: ${m}`);
  const build = opts.build ?? currentBuild().label;
  const connection = await NativeConnection.connect(connectionOptions(opts.temporal));
  return Worker.create({
    connection,
    namespace: opts.temporal.namespace,
    taskQueue: agentTaskQueue(opts.vm),
    // Names the build: the server records it on each task this agent takes, and lists it among the queue's pollers.
    identity: workerIdentity('agent', build, { vm: opts.vm }),
    activities: createAgentActivities({
      vm: opts.vm,
      store: openArtifactStore(opts.artifacts, storageOptions(opts.cloud ?? {})),
      mounter:
        opts.mounter ??
        new SpecMounter({
          'local-dir': new LocalDirMounter(path.join(opts.workDir, 'mnt')),
          gcsfuse: new GcsfuseMounter({
            mountPoint: path.join(opts.workDir, 'gcsfuse-mnt'),
            scratchDir: path.join(opts.workDir, 'gcsfuse-scratch'),
            // Built once per ref and kept across agent restarts.
            binaries: new GoInstallGcsfuseBinaries({ cacheDir: path.join(opts.workDir, 'gcsfuse-builds'), ...opts.gcsfuse }),
          }),
        }),
      runFio: opts.simulateFio ? simulatedFio : runFio,
      workDir: opts.workDir,
      allowFioOptions: new Set(opts.allowFioOptions ?? []),
      fioParseCheck: !opts.simulateFio,
      outputCheck: !opts.simulateFio,
      build,
    }),
    // One entry at a time: concurrent fio jobs on one VM would measure each other.
    maxConcurrentActivityTaskExecutions: 1,
    // Cancellation reaches an activity only with a heartbeat's reply: keep heartbeats frequent
    // so a cancelled benchmark stops fio within seconds, not 80% of the heartbeat timeout.
    maxHeartbeatThrottleInterval: '3s',
  });
}

async function main(): Promise<void> {
  const cmd = new Command('vm-agent')
    .description('Runs gcsfuse-bench entries with fio on this VM')
    .option('--vm <name>', 'VM name; the task queue is derived from it (default: host name)', process.env.GCSFUSE_BENCH_VM ?? os.hostname())
    .requiredOption('--artifacts <dir-or-gs-url>', 'artifact store: a local folder or gs://bucket', process.env.GCSFUSE_BENCH_ARTIFACTS)
    .option('--work-dir <dir>', 'local scratch folder', process.env.GCSFUSE_BENCH_WORK_DIR)
    .option('--temporal-address <host:port>', 'Temporal frontend address (env TEMPORAL_ADDRESS)')
    .option('--namespace <ns>', 'Temporal namespace (env TEMPORAL_NAMESPACE)')
    .option('--storage-endpoint <url>', 'Cloud Storage endpoint, e.g. an emulator (env GCSFUSE_BENCH_STORAGE_ENDPOINT)')
    .option('--gcsfuse-binary <ref=path...>', 'use a ready-made gcsfuse binary for a ref instead of building it')
    .option(
      '--gcsfuse-go-toolchain <version>',
      'GOTOOLCHAIN for building gcsfuse (env GCSFUSE_GO_TOOLCHAIN)',
      process.env.GCSFUSE_GO_TOOLCHAIN,
    )
    .option(
      '--allow-fio-option <names...>',
      'let jobs use these fio options the job policy refuses (e.g. write_bw_log); applies to this VM only',
    )
    .option('--simulate-fio', "SIMULATION MODE: sleep for each job's runtime instead of running fio (for benchmarking the orchestration)")
    .parse();
  const o = cmd.opts<{
    vm: string;
    artifacts: string;
    workDir?: string;
    temporalAddress?: string;
    namespace?: string;
    simulateFio?: boolean;
    storageEndpoint?: string;
    gcsfuseBinary?: string[];
    gcsfuseGoToolchain?: string;
    allowFioOption?: string[];
  }>();
  const worker = await createAgentWorker({
    vm: o.vm,
    temporal: temporalOptionsFromEnv(process.env, { address: o.temporalAddress, namespace: o.namespace }),
    artifacts: o.artifacts,
    workDir: o.workDir ?? path.join(os.tmpdir(), 'gcsfuse-bench-agent', o.vm),
    simulateFio: o.simulateFio,
    allowFioOptions: o.allowFioOption,
    gcsfuse: {
      seeded: Object.fromEntries(
        (o.gcsfuseBinary ?? []).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      ),
      goToolchain: o.gcsfuseGoToolchain,
    },
    cloud: cloudEndpointsFromEnv(process.env, { storageEndpoint: o.storageEndpoint }),
  });
  if (o.simulateFio) console.warn('SIMULATION MODE: fio is not run; results are zeros labelled "simulated"');
  if (o.allowFioOption?.length) console.warn(`fio job policy relaxed on this VM for: ${o.allowFioOption.join(', ')}`);
  console.log(`agent ${o.vm} polling ${agentTaskQueue(o.vm)} (build ${currentBuild().label})`);
  await worker.run();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
