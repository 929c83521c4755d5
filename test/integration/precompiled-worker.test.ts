import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBenchmark } from '../../src/client/benchmarks';
import { layout } from '../../src/core/layout';
import { startProcess, type ManagedProcess } from '../../src/local/processes';
import { buildPrecompiledOrchestrator } from '../../src/workers/build-js';
import { prebuiltWorkflowBundle } from '../../src/workers/workflow-bundle';
import { createAgentWorker } from '../../vm-agent/src/main';
import { REPO, smallRequest, tempDir, until } from '../support/harness';
import { startLocalTemporal } from '../support/temporal';

/**
 * The orchestrator worker precompiled by src/workers/build-js.ts runs on plain Node (no tsx): it
 * takes a real benchmark through to its report, loading the report module (a separate chunk) at
 * first use. The only orchestrator worker is that process: the histories name its build.
 */
const BUILD = 'precompiled-test';
const home = tempDir('precompiled');
const artifacts = path.join(home, 'artifacts');
const outDir = path.join(REPO, '.gcsfuse-bench', 'dist', `orchestrator-test-${process.pid}`);
let env: TestWorkflowEnvironment;
let orchestrator: ManagedProcess | undefined;
let agent: { worker: Worker; done?: Promise<void> } | undefined;

beforeAll(async () => {
  env = await startLocalTemporal();
  const entry = await buildPrecompiledOrchestrator(outDir);
  await prebuiltWorkflowBundle(); // built ahead, as scripts/setup.sh does: the process then starts in seconds
  orchestrator = startProcess({
    name: 'orchestrator',
    command: process.execPath, // plain node: no --import tsx
    args: [entry, '--artifacts', artifacts, '--temporal-address', env.address, '--namespace', 'default'],
    env: { GCSFUSE_BENCH_BUILD: BUILD },
    logDir: home,
  });
  const log = () => (existsSync(orchestrator!.logFile) ? readFileSync(orchestrator!.logFile, 'utf8') : '');
  await until(() => log().includes('orchestrator worker polling'), `the precompiled worker polling (log: ${log()})`, 90_000);
  agent = {
    worker: await createAgentWorker({
      vm: 'vm-a',
      temporal: { address: env.address, namespace: 'default' },
      artifacts,
      workDir: path.join(home, 'agent'),
    }),
  };
  agent.done = agent.worker.run();
}, 180_000);

afterAll(async () => {
  agent?.worker.shutdown();
  await agent?.done;
  await orchestrator?.stop();
  rmSync(outDir, { recursive: true, force: true });
  await env?.teardown();
});

describe('the precompiled orchestrator worker', () => {
  it('runs a benchmark to its report on plain node', async () => {
    expect(readFileSync(orchestrator!.logFile, 'utf8')).toContain(`(build ${BUILD})`);
    const handle = await startBenchmark(env.client, smallRequest('precompiled', ['vm-a'], { iterations: 1 }), artifacts);
    expect(await handle.result()).toMatchObject({ passed: 3, failed: 0, complete: true });
    for (const name of ['report.html', 'summary.json'])
      expect(existsSync(path.join(artifacts, layout.report('precompiled', name))), name).toBe(true);
    const history = await handle.fetchHistory();
    const identities = history
      .events!.filter((e) => e.workflowTaskStartedEventAttributes)
      .map((e) => e.workflowTaskStartedEventAttributes!.identity);
    expect(identities.length).toBeGreaterThan(0);
    for (const identity of identities) expect(identity).toMatch(new RegExp(`^gcsfuse-bench-orchestrator/${BUILD} \\d+@`));
  }, 180_000);
});
