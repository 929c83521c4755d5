/**
 * Orchestrator worker memory at idle — target: VmRSS < 200 MiB.
 *
 * Measured on the real worker process (`src/workers/orchestrator.ts`, as `npm run worker` and the
 * embedded stack start it: prebuilt workflow bundle, Compute Engine client imported only for a MIG
 * or executor-VM fleet), polling a real dev server, 5 s after it reports it is polling. Beside it,
 * in the same run, the worker as it was before (commit 93ac02f): @google-cloud/compute imported at
 * start and `workflowsPath` (webpack bundles the workflows inside the worker at every start),
 * rebuilt in a child process from the same modules; and the floor: Node with the tsx loader,
 * importing nothing.
 *
 *   npx tsx bench/orchestrator-memory.ts [--idle-s 5]
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ORCHESTRATOR_ENTRY } from '../src/local/embedded';
import { tsxCommand } from '../src/local/processes';
import { BenchRun, flagValue, hasFlag, log, numberFlag, procStatusKiB, removeDir, round2, scratchDir, sleep } from './lib';
import { quietRuntime, startStack } from './temporal-support';

const SELF = fileURLToPath(import.meta.url);
const IDLE_S = numberFlag('idle-s', 5);

interface Rss {
  rssIdleKiB: number;
  hwmKiB: number;
  startMs: number;
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
  const running = worker.run();
  const startMs = performance.now() - t0;
  await sleep(IDLE_S * 1000);
  const st = procStatusKiB('self');
  worker.shutdown();
  await running;
  process.stdout.write(JSON.stringify({ rssIdleKiB: st?.VmRSS, hwmKiB: st?.VmHWM, startMs }) + '\n');
  process.exit(0);
}

function runBefore(address: string, artifacts: string): Promise<Rss> {
  const c = tsxCommand(SELF, ['--before-child', '--address', address, '--artifacts', artifacts, '--idle-s', String(IDLE_S)]);
  return new Promise((resolve, reject) =>
    execFile(c.command, c.args, (err, stdout, stderr) =>
      err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Rss),
    ),
  );
}

/** A process started by `args`, measured IDLE_S after its stdout says `ready` (or at once without). */
async function measureProcess(command: string, args: string[], ready: RegExp | null): Promise<Rss> {
  const t0 = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  if (ready) {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (ready.test(out)) resolve();
      });
      void exited.then((code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready: ${stderr}`)));
    });
  }
  const startMs = performance.now() - t0;
  await sleep(IDLE_S * 1000);
  const st = procStatusKiB(child.pid!);
  child.kill('SIGTERM');
  await exited;
  if (!st) throw new Error(`no /proc status of ${args.join(' ')}: ${stderr}`);
  return { rssIdleKiB: st.VmRSS!, hwmKiB: st.VmHWM!, startMs };
}

async function main(): Promise<void> {
  const run = new BenchRun('orchestrator-memory');
  run.params = { idleS: IDLE_S, entry: 'src/workers/orchestrator.ts' };
  const home = scratchDir('orch-mem');
  const stack = await startStack(home, { inProcessOrchestrator: false });
  try {
    // Node with the tsx loader, importing nothing: what every process started by `npm run worker` costs.
    const loader = tsxCommand(SELF, []).args.slice(0, 2);
    const floor = await measureProcess(process.execPath, [...loader, '-e', "console.log('ready'); setInterval(() => {}, 1000)"], /ready/);
    // The real entry; its first start builds the bundle if the code changed (not measured: warmed here).
    const entry = tsxCommand(ORCHESTRATOR_ENTRY, [
      '--artifacts',
      stack.artifacts,
      '--temporal-address',
      stack.server.address,
      '--namespace',
      'default',
    ]);
    await measureProcess(entry.command, entry.args, /polling/);
    const after = await measureProcess(entry.command, entry.args, /polling/);
    const before = await runBefore(stack.server.address, stack.artifacts);
    const mib = (k: number) => round2(k / 1024);
    const figures = {
      idle_rss_mib: mib(after.rssIdleKiB),
      peak_rss_mib: mib(after.hwmKiB),
      start_s: round2(after.startMs / 1000),
      before_idle_rss_mib: mib(before.rssIdleKiB),
      before_peak_rss_mib: mib(before.hwmKiB),
      before_start_s: round2(before.startMs / 1000),
      floor_node_tsx_rss_mib: mib(floor.rssIdleKiB),
      idle_over_floor_mib: mib(after.rssIdleKiB - floor.rssIdleKiB),
    };
    log(
      `idle RSS ${figures.idle_rss_mib} MiB (before: ${figures.before_idle_rss_mib} MiB; bare node+tsx ${figures.floor_node_tsx_rss_mib} MiB)`,
    );
    run.note(
      'after = the real entry src/workers/orchestrator.ts (second start, bundle cached); before = compute imported eagerly + workflowsPath, rebuilt in a child from the same modules',
    );
    run.finish(figures, 'orchestrator worker idle RSS < 200 MiB', [{ metric: 'idle_rss_mib', op: '<', value: 200 }]);
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
