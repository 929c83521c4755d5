import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveProgress, startBenchmark } from '../../src/client/benchmarks';
import type { Manifest } from '../../src/core/spec';
import { layout } from '../../src/core/layout';
import { startProcess, tsxCommand, type ManagedProcess } from '../../src/local/processes';
import { currentBuild } from '../../src/shared/build';
import { createOrchestratorWorker } from '../../src/workers/orchestrator';
import { createAgentWorker } from '../../vm-agent/src/main';
import { REPO, smallRequest, tempDir, until } from '../support/harness';
import { startLocalTemporal } from '../support/temporal';

/**
 * A fleet half upgraded: the orchestrator and two agents (vm-a, vm-c) in this process run this
 * checkout's build; vm-b is a separate agent process deployed as another build
 * (GCSFUSE_BENCH_BUILD). A real benchmark runs on all three with real fio; the outcomes, the
 * manifests, the workflow histories and the CLI (`status`, `fleet`) must name both builds and
 * call the fleet mixed.
 */
const run = promisify(execFile);
const OTHER_BUILD = '9.9.9+canary-e2e';
const ID = 'fleet-builds';
const VMS = ['vm-a', 'vm-b', 'vm-c'];
const home = tempDir('fleet-builds');
const artifacts = path.join(home, 'artifacts');
const ours = currentBuild().label;
let env: TestWorkflowEnvironment;
const workers: { worker: Worker; done?: Promise<void> }[] = [];
let other: ManagedProcess | undefined;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(path.join(REPO, 'bin/gcsfuse-bench'), [...args, '--temporal-address', env.address, '-n', 'default']);
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  env = await startLocalTemporal();
  const temporal = { address: env.address, namespace: 'default' };
  workers.push({ worker: await createOrchestratorWorker({ temporal, artifacts }) });
  for (const vm of ['vm-a', 'vm-c']) {
    workers.push({ worker: await createAgentWorker({ vm, temporal, artifacts, workDir: path.join(home, 'agents', vm) }) });
  }
  for (const w of workers) w.done = w.worker.run();
  const c = tsxCommand(path.join(REPO, 'vm-agent/src/main.ts'), [
    '--vm',
    'vm-b',
    '--artifacts',
    artifacts,
    '--work-dir',
    path.join(home, 'agents', 'vm-b'),
    '--temporal-address',
    env.address,
    '--namespace',
    'default',
  ]);
  other = startProcess({ name: 'agent-vm-b', ...c, env: { GCSFUSE_BENCH_BUILD: OTHER_BUILD }, logDir: home });
  const log = () => (existsSync(other!.logFile) ? readFileSync(other!.logFile, 'utf8') : '');
  await until(() => log().includes('polling'), `the vm-b agent process polling (log: ${log()})`, 90_000);
  expect(log()).toContain(`agent vm-b polling gcsfuse-bench-agent-vm-b (build ${OTHER_BUILD})`);
}, 180_000);

afterAll(async () => {
  await other?.stop();
  for (const w of workers) w.worker.shutdown();
  await Promise.allSettled(workers.map((w) => w.done));
  await env?.teardown();
});

describe('a fleet of two builds', () => {
  it('outcomes, manifests and histories name the build that ran each entry; status and fleet name both builds and say mixed', async () => {
    expect(ours).not.toBe(OTHER_BUILD);
    const handle = await startBenchmark(env.client, smallRequest(ID, VMS, { iterations: 1 }), artifacts);
    expect(await handle.result()).toMatchObject({ passed: 3, failed: 0, complete: true });

    // Every outcome carries the build of the agent that ran it; each VM ran an entry.
    const { progress, live } = await liveProgress(env.client, ID, true);
    const outcomes = [...live.values()].flatMap((p) => p.outcomes);
    expect(outcomes.map((o) => o.vm).sort()).toEqual(VMS);
    for (const o of outcomes) expect(o.agentBuild, `entry ${o.matrixId} on ${o.vm}`).toBe(o.vm === 'vm-b' ? OTHER_BUILD : ours);
    // And so does each manifest record.
    for (const vm of VMS) {
      const manifest = JSON.parse(readFileSync(path.join(artifacts, layout.manifest(ID, vm)), 'utf8')) as Manifest;
      for (const e of Object.values(manifest.entries)) expect(e.agentBuild, vm).toBe(vm === 'vm-b' ? OTHER_BUILD : ours);
    }

    // The histories: the agent's identity on ActivityTaskStarted, the orchestrator's on WorkflowTaskStarted.
    const runOf = (vm: string) => progress.runs.find((r) => r.vm === vm)!.workflowId;
    const history = await env.client.workflow.getHandle(runOf('vm-b')).fetchHistory();
    const started = history
      .events!.filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.identity);
    expect(started.length).toBeGreaterThan(0);
    for (const identity of started)
      expect(identity).toMatch(new RegExp(`^gcsfuse-bench-agent/${OTHER_BUILD.replace(/[+.]/g, '\\$&')} vm-b \\d+@`));
    const wfTasks = history
      .events!.filter((e) => e.workflowTaskStartedEventAttributes)
      .map((e) => e.workflowTaskStartedEventAttributes!.identity);
    expect(wfTasks.length).toBeGreaterThan(0);
    for (const identity of wfTasks) expect(identity!.startsWith(`gcsfuse-bench-orchestrator/${ours} `)).toBe(true);

    // status: the fleet's builds from who polls, which builds ran the entries, and MIXED.
    const status = await cli('status', ID);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`orchestrator build: ${ours}`);
    expect(status.stdout).toContain(`agent build ${ours}: vm-a, vm-c`);
    expect(status.stdout).toContain(`agent build ${OTHER_BUILD}: vm-b`);
    expect(status.stdout).toMatch(new RegExp(`entries run by build: .*${ours.replace(/[+.]/g, '\\$&')} \\(2\\)`));
    expect(status.stdout).toContain(`${OTHER_BUILD} (1)`);
    expect(status.stdout).toContain(`MIXED FLEET: 2 builds (${ours}, ${OTHER_BUILD})`);

    // fleet: the same without a benchmark; as JSON for scripts.
    const fleet = await cli('fleet', '--benchmark', ID, '-o', 'json');
    expect(fleet.code, fleet.stderr).toBe(0);
    expect(JSON.parse(fleet.stdout)).toEqual({
      agentBuilds: [
        { build: ours, vms: ['vm-a', 'vm-c'] },
        { build: OTHER_BUILD, vms: ['vm-b'] },
      ],
      mixed: true,
      orchestrator: [ours],
      vms: [
        { builds: [ours], vm: 'vm-a' },
        { builds: [OTHER_BUILD], vm: 'vm-b' },
        { builds: [ours], vm: 'vm-c' },
      ],
    });

    // VMs that all run one build, with an orchestrator of that build: not mixed.
    const single = await cli('fleet', 'vm-a', 'vm-c');
    expect(single.stdout).toBe(`orchestrator build: ${ours}\nagent build ${ours}: vm-a, vm-c\n`);
  }, 240_000);
});
