/**
 * Diagnostic (no target, not recorded, not in run-all): where the orchestrator worker's idle
 * memory goes. Compares, each in a fresh process, the RSS of
 *  - "as-is": createOrchestratorWorker() (Worker.create with workflowsPath: webpack bundles the
 *    workflow code inside the worker process at start-up), and
 *  - "prebundled": the same worker given a bundle made beforehand in another process
 *    (bundleWorkflowCode -> Worker.create({ workflowBundle: { codePath } })), as Temporal's
 *    production sample does.
 * Evidence for the orchestrator-memory finding of bench/fleet-scale.ts.
 *
 *   npx tsx bench/orchestrator-memory-probe.ts
 */
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createActivities } from '../src/activities';
import { openArtifactStore } from '../src/artifacts';
import { GceFleetResolver } from '../src/fleet/gce';
import { tsxCommand } from '../src/local/processes';
import { ORCHESTRATOR_TASK_QUEUE } from '../src/shared/names';
import { createOrchestratorWorker, WORKFLOWS_PATH } from '../src/workers/orchestrator';
import { flagValue, hasFlag, log, procStatusKiB, removeDir, round2, scratchDir, sleep } from './lib';
import { quietRuntime, startStack } from './temporal-support';

const SELF = fileURLToPath(import.meta.url);

async function child(): Promise<void> {
  quietRuntime();
  const address = flagValue('address')!;
  const artifacts = flagValue('artifacts')!;
  const bundle = flagValue('bundle');
  const before = procStatusKiB('self')?.VmRSS ?? NaN;
  const t0 = performance.now();
  let worker: Worker;
  if (bundle) {
    const connection = await NativeConnection.connect({ address });
    worker = await Worker.create({
      connection,
      namespace: 'default',
      taskQueue: ORCHESTRATOR_TASK_QUEUE,
      workflowBundle: { codePath: bundle },
      activities: createActivities({ store: openArtifactStore(artifacts), fleet: new GceFleetResolver({}) }),
    });
  } else {
    worker = await createOrchestratorWorker({ temporal: { address, namespace: 'default' }, artifacts });
  }
  const createMs = performance.now() - t0;
  const running = worker.run();
  await sleep(5_000);
  const st = procStatusKiB('self');
  worker.shutdown();
  await running;
  process.stdout.write(JSON.stringify({ rssBeforeKiB: before, rssIdleKiB: st?.VmRSS, hwmKiB: st?.VmHWM, createMs }) + '\n');
  process.exit(0);
}

function runChild(args: string[]): Promise<{ rssBeforeKiB: number; rssIdleKiB: number; hwmKiB: number; createMs: number }> {
  const c = tsxCommand(SELF, ['--child', ...args]);
  return new Promise((resolve, reject) =>
    execFile(c.command, c.args, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout.trim().split('\n').pop()!)))),
  );
}

async function main(): Promise<void> {
  const home = scratchDir('orch-mem');
  const stack = await startStack(home, { inProcessOrchestrator: false });
  try {
    const common = ['--address', stack.server.address, '--artifacts', stack.artifacts];
    const asIs = await runChild(common);
    // The bundle is made here, in this process, as a build step would.
    const code = (await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH })).code;
    const bundlePath = path.join(home, 'workflow-bundle.js');
    writeFileSync(bundlePath, code);
    const pre = await runChild([...common, '--bundle', bundlePath]);
    const mib = (k: number) => round2(k / 1024);
    for (const [name, r] of [['as-is (workflowsPath)', asIs], ['prebundled (workflowBundle)', pre]] as const) {
      const out = { type: 'probe', worker: name, rss_idle_mib: mib(r.rssIdleKiB), rss_peak_mib: mib(r.hwmKiB), rss_before_create_mib: mib(r.rssBeforeKiB), create_s: round2(r.createMs / 1000) };
      log(JSON.stringify(out));
      process.stdout.write(JSON.stringify(out) + '\n');
    }
  } finally {
    await stack.stop();
    removeDir(home);
  }
}

if (hasFlag('child')) {
  child().catch((err) => {
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
