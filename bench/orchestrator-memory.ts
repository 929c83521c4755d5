/**
 * Orchestrator worker memory at idle — target: VmRSS < 200 MiB.
 *
 * Measured on the real worker process (`src/workers/orchestrator.ts`, as `npm run worker` and the
 * embedded stack start it, under tsx: prebuilt workflow bundle; Compute Engine, Cloud Storage and
 * the report's Plot/linkedom imported at first use), polling a real dev server, IDLE_S after it
 * reports it is polling; and the same entry precompiled to JavaScript (src/workers/build-js.ts) on
 * plain Node. Beside them, in the same run: the worker of commit 5862ccd (the real entry with
 * Cloud Storage and the report module imported at start by a preload), the worker of commit
 * 93ac02f (@google-cloud/compute imported at start and `workflowsPath`: webpack inside the worker
 * at every start, rebuilt in a child process from the same modules); and the floors:
 * Node with the tsx loader importing nothing, and bare Node.
 *
 *   npx tsx bench/orchestrator-memory.ts [--idle-s 5]
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { precompiledOrchestrator } from '../src/workers/build-js';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ORCHESTRATOR_ENTRY } from '../src/local/embedded';
import { tsxCommand } from '../src/local/processes';
import {
  BenchRun,
  flagValue,
  hasFlag,
  log,
  measureIdleProcess,
  numberFlag,
  procStatusKiB,
  removeDir,
  round2,
  scratchDir,
  sleep,
  type IdleRss,
} from './lib';
import { quietRuntime, startStack } from './temporal-support';

const SELF = fileURLToPath(import.meta.url);
const REPORT_MODULE = fileURLToPath(new URL('../src/activities/report.ts', import.meta.url));
const IDLE_S = numberFlag('idle-s', 5);

type Rss = IdleRss;

/**
 * The worker of commit 5862ccd is the real entry with Cloud Storage and the report module (Plot,
 * linkedom) imported at start: a preload that imports both, on the main thread only (the workflow
 * thread inherits --import and must not load them), written into the scratch folder.
 */
function eagerLibsPreload(dir: string): string {
  const require = createRequire(import.meta.url);
  const file = path.join(dir, 'eager-libs.mjs');
  const urls = [pathToFileURL(require.resolve('@google-cloud/storage')).href, pathToFileURL(REPORT_MODULE).href];
  writeFileSync(
    file,
    `import { isMainThread } from 'node:worker_threads';\nif (isMainThread) { ${urls.map((u) => `await import(${JSON.stringify(u)});`).join(' ')} }\n`,
  );
  return file;
}

async function idleThenReport(worker: Worker, t0: number): Promise<void> {
  const running = worker.run();
  const startMs = performance.now() - t0;
  await sleep(IDLE_S * 1000);
  const st = procStatusKiB('self');
  worker.shutdown();
  await running;
  process.stdout.write(JSON.stringify({ rssIdleKiB: st?.VmRSS, hwmKiB: st?.VmHWM, startMs }) + '\n');
  process.exit(0);
}

/** The worker as it was before: compute imported eagerly, webpack at start-up. */
async function beforeChild(): Promise<void> {
  quietRuntime();
  const address = flagValue('address')!;
  const artifacts = flagValue('artifacts')!;
  const t0 = performance.now();
  const { GceFleetResolver } = await import('../src/fleet/gce');
  const { createActivities } = await import('../src/activities');
  const { openArtifactStore } = await import('../src/artifacts');
  const { ORCHESTRATOR_TASK_QUEUE } = await import('../src/shared/names');
  const { WORKFLOWS_PATH } = await import('../src/workers/orchestrator');
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: ORCHESTRATOR_TASK_QUEUE,
    workflowsPath: WORKFLOWS_PATH,
    activities: createActivities({ store: openArtifactStore(artifacts), fleet: new GceFleetResolver({}) }),
  });
  await idleThenReport(worker, t0);
}

function runChild(flag: '--before-child', address: string, artifacts: string): Promise<Rss> {
  const c = tsxCommand(SELF, [flag, '--address', address, '--artifacts', artifacts, '--idle-s', String(IDLE_S)]);
  return new Promise((resolve, reject) =>
    execFile(c.command, c.args, (err, stdout, stderr) =>
      err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Rss),
    ),
  );
}

/** A process started by `args`, measured IDLE_S after its stdout says `ready` (or at once without). */
const measureProcess = (command: string, args: string[], ready: RegExp | null): Promise<Rss> =>
  measureIdleProcess(command, args, ready, IDLE_S);

async function main(): Promise<void> {
  const run = new BenchRun('orchestrator-memory');
  run.params = { idleS: IDLE_S, entry: 'src/workers/orchestrator.ts', precompiled: 'src/workers/build-js.ts' };
  const home = scratchDir('orch-mem');
  const stack = await startStack(home, { inProcessOrchestrator: false });
  try {
    // Node with the tsx loader, importing nothing: what every process started by `npm run worker` costs; and bare Node.
    const loader = tsxCommand(SELF, []).args.slice(0, 2);
    const idleScript = "console.log('ready'); setInterval(() => {}, 1000)";
    const floor = await measureProcess(process.execPath, [...loader, '-e', idleScript], /ready/);
    const floorNode = await measureProcess(process.execPath, ['-e', idleScript], /ready/);
    // The real entry; its first start builds the bundle if the code changed (not measured: warmed here).
    const workerArgs = ['--artifacts', stack.artifacts, '--temporal-address', stack.server.address, '--namespace', 'default'];
    const entry = tsxCommand(ORCHESTRATOR_ENTRY, workerArgs);
    await measureProcess(entry.command, entry.args, /polling/);
    const after = await measureProcess(entry.command, entry.args, /polling/);
    // The same entry precompiled in this run, on plain Node (first start warms the page cache).
    const precompiled = await precompiledOrchestrator();
    await measureProcess(process.execPath, [precompiled, ...workerArgs], /polling/);
    const js = await measureProcess(process.execPath, [precompiled, ...workerArgs], /polling/);
    const eagerEntry = tsxCommand(ORCHESTRATOR_ENTRY, workerArgs);
    const eagerArgs = [...eagerEntry.args.slice(0, 2), '--import', pathToFileURL(eagerLibsPreload(home)).href, ...eagerEntry.args.slice(2)];
    const eagerLibs = await measureProcess(eagerEntry.command, eagerArgs, /polling/);
    const before = await runChild('--before-child', stack.server.address, stack.artifacts);
    const mib = (k: number) => round2(k / 1024);
    const figures = {
      idle_rss_mib: mib(after.rssIdleKiB),
      peak_rss_mib: mib(after.hwmKiB),
      start_s: round2(after.startMs / 1000),
      precompiled_idle_rss_mib: mib(js.rssIdleKiB),
      precompiled_peak_rss_mib: mib(js.hwmKiB),
      precompiled_start_s: round2(js.startMs / 1000),
      eager_libs_idle_rss_mib: mib(eagerLibs.rssIdleKiB),
      before_idle_rss_mib: mib(before.rssIdleKiB),
      before_peak_rss_mib: mib(before.hwmKiB),
      before_start_s: round2(before.startMs / 1000),
      floor_node_tsx_rss_mib: mib(floor.rssIdleKiB),
      floor_node_rss_mib: mib(floorNode.rssIdleKiB),
      idle_over_floor_mib: mib(after.rssIdleKiB - floor.rssIdleKiB),
      precompiled_over_floor_mib: mib(js.rssIdleKiB - floorNode.rssIdleKiB),
    };
    log(
      `idle RSS ${figures.idle_rss_mib} MiB under tsx, ${figures.precompiled_idle_rss_mib} MiB precompiled ` +
        `(5862ccd, storage+report eager: ${figures.eager_libs_idle_rss_mib} MiB; 93ac02f: ${figures.before_idle_rss_mib} MiB; ` +
        `floors: node+tsx ${figures.floor_node_tsx_rss_mib} MiB, node ${figures.floor_node_rss_mib} MiB)`,
    );
    run.note(
      'idle = the real entry src/workers/orchestrator.ts under tsx (second start, bundle cached); precompiled = the same entry built by src/workers/build-js.ts, on plain node; eager_libs = 5862ccd (the real entry with storage + report modules imported at start by a main-thread preload); before = 93ac02f (compute imported eagerly + workflowsPath), rebuilt in a child from the same modules',
    );
    run.finish(
      figures,
      'orchestrator worker idle RSS < 200 MiB (as run today, under tsx; and precompiled)',
      [
        { metric: 'idle_rss_mib', op: '<', value: 200 },
        { metric: 'precompiled_idle_rss_mib', op: '<', value: 200 },
      ],
      {
        idle_rss_mib: { metric: 'floor_node_tsx_rss_mib', what: 'node + tsx importing nothing' },
        precompiled_idle_rss_mib: { metric: 'floor_node_rss_mib', what: 'bare node importing nothing' },
      },
    );
  } finally {
    await stack.stop();
    removeDir(home);
  }
}

if (hasFlag('before-child')) {
  beforeChild().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
