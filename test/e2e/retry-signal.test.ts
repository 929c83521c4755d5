import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startBenchmark } from '../../src/client/benchmarks';
import { startTemporalDevServer, type DevServer } from '../../src/local/temporal-dev-server';
import { WORKFLOW_TYPES } from '../../src/shared/names';
import { createOrchestratorWorker } from '../../src/workers/orchestrator';
import { progressQuery } from '../../src/workflows/definitions';
import type { BenchmarkProgress } from '../../src/workflows/types';
import { createAgentWorker } from '../../vm-agent/src/main';
import { LocalDirMounter } from '../../vm-agent/src/mounter';
import {
  bodyMatches,
  launchChromium,
  newPage,
  openUserMetadata,
  screenshot,
  sendSignalInUi,
  workflowListUrl,
  workflowPageUrl,
} from '../support/chromium';
import { REPO, smallRequest, tempDir, until } from '../support/harness';
import { quietWorkers, temporalCliPath } from '../support/temporal';

/**
 * The retryVm signal as operators send it: with the `temporal` CLI binary and from the Web UI's
 * "Send a Signal" in headless Chromium, against a dev server with its embedded UI. A VM whose
 * "mount" is a file fails every entry until the file is replaced by a folder; then a retry passes.
 */
const run = promisify(execFile);
const home = tempDir('signal');
const artifacts = path.join(home, 'artifacts');
let server: DevServer;
let client: Client;
let browser: Browser;
const workers: { worker: Worker; done: Promise<void> }[] = [];
/** VMs whose mount is blocked (a file where the folder should be) until unblock(). */
const blocked = (vm: string) => path.join(home, `${vm}-mount`);
const unblock = (vm: string) => {
  rmSync(blocked(vm));
  mkdirSync(blocked(vm));
};

beforeAll(async () => {
  quietWorkers();
  server = await startTemporalDevServer({ dir: path.join(home, 'temporal'), headless: false, persist: false });
  const temporal = { address: server.address, namespace: 'default' };
  client = await connectClient(temporal);
  workers.push({ worker: await createOrchestratorWorker({ temporal, artifacts }), done: Promise.resolve() });
  workers.push({
    worker: await createAgentWorker({ vm: 'vm-ok', temporal, artifacts, workDir: path.join(home, 'agent-ok') }),
    done: Promise.resolve(),
  });
  for (const vm of ['vm-cli', 'vm-ui']) {
    writeFileSync(blocked(vm), 'not a directory');
    workers.push({
      worker: await createAgentWorker({
        vm,
        temporal,
        artifacts,
        workDir: path.join(home, `agent-${vm}`),
        mounter: new LocalDirMounter(blocked(vm)),
      }),
      done: Promise.resolve(),
    });
  }
  for (const w of workers) w.done = w.worker.run();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const w of workers) w.worker.shutdown();
  await Promise.allSettled(workers.map((w) => w.done));
  await server?.stop();
  rmSync(home, { recursive: true, force: true });
});

/** Starts a benchmark on a healthy VM and a blocked one; returns once the blocked VM's entries failed. */
async function startWithFailedVm(benchmarkId: string, failing: string) {
  const handle = await startBenchmark(
    client,
    smallRequest(benchmarkId, ['vm-ok', failing], { iterations: 1, retryWindowMs: 30 * 60_000, runName: `${benchmarkId} run` }),
    artifacts,
  );
  await until(async () => (await handle.query(progressQuery)).phase === 'awaiting-retry', `${failing}'s entries to fail`, 120_000);
  return handle;
}

/** `temporal workflow signal ...` exactly as the README gives it; resolves to its exit code and output. */
async function temporalSignal(workflowId: string, input: string): Promise<{ code: number; out: string }> {
  const args = [
    'workflow',
    'signal',
    '--address',
    server.address,
    '--namespace',
    'default',
    '--workflow-id',
    workflowId,
    '--name',
    'retryVm',
    '--input',
    input,
  ];
  try {
    const { stdout, stderr } = await run(temporalCliPath(), args);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The workflow's current details, as the Web UI reads them (the SDK's metadata query). */
async function currentDetails(workflowId: string): Promise<string> {
  const meta = await client.workflow.getHandle(workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return meta.currentDetails ?? '';
}

async function statusText(benchmarkId: string): Promise<string> {
  const { stdout } = await run(path.join(REPO, 'bin', 'gcsfuse-bench'), ['status', benchmarkId, '--temporal-address', server.address]);
  return stdout;
}

describe('retryVm signal', () => {
  it('through the temporal CLI: a bad signal is refused visibly, a good one retries the failed VM and it passes', async () => {
    const handle = await startWithFailedVm('sig-cli', 'vm-cli');
    const failed = (await handle.query(progressQuery)).failed;
    expect(failed).toBeGreaterThan(0);

    // Delivered (a signal has no answer) but refused: the progress, the current details and status say why.
    expect((await temporalSignal('sig-cli', '{"vm":"vm-nope"}')).code).toBe(0);
    await until(async () => (await handle.query(progressQuery)).lastRetry !== undefined, 'the refusal to be recorded');
    const refused = (await handle.query(progressQuery)).lastRetry!;
    expect(refused).toMatchObject({
      via: 'signal',
      vm: 'vm-nope',
      accepted: false,
      reason: 'VM "vm-nope" has no run in this benchmark (VMs: vm-ok, vm-cli)',
    });
    expect(await currentDetails('sig-cli')).toContain('retryVm signal refused');
    expect(await currentDetails('sig-cli')).toContain('VM "vm-nope" has no run in this benchmark');
    expect(await statusText('sig-cli')).toMatch(/retryVm signal refused \([^)]+\): VM "vm-nope" has no run in this benchmark/);

    // Malformed inputs name what is expected.
    await temporalSignal('sig-cli', '"vm-cli"');
    await until(
      async () => (await handle.query(progressQuery)).lastRetry?.reason?.startsWith('expected {"vm"') === true,
      'a bare string refused',
    );
    await temporalSignal('sig-cli', '{"VM":"vm-cli"}');
    await until(
      async () => /unknown field "VM"/.test((await handle.query(progressQuery)).lastRetry?.reason ?? ''),
      'a misspelt field refused',
    );
    // A VM with nothing failed: the same reason the update gives.
    await temporalSignal('sig-cli', '{"vm":"vm-ok"}');
    await until(
      async () => (await handle.query(progressQuery)).lastRetry?.reason === 'VM "vm-ok" has no failed entries to retry',
      'a VM without failures refused',
    );
    expect((await handle.query(progressQuery)).phase).toBe('awaiting-retry');

    unblock('vm-cli');
    expect((await temporalSignal('sig-cli', '{"vm":"vm-cli"}')).code).toBe(0);
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 3, passed: 3, failed: 0, complete: true });
    const p: BenchmarkProgress = await handle.query(progressQuery);
    expect(p.lastRetry).toMatchObject({ via: 'signal', vm: 'vm-cli', accepted: true, retried: failed });
    expect(p.runs.map((r) => r.workflowId)).toContain('sig-cli-vm-vm-cli-retry-1');
    expect(await currentDetails('sig-cli')).toMatch(/^\*\*done\*\*: 3 passed, 0 failed of 3 entries on 2 VMs/);
  });

  it('from the Web UI: Send a Signal on the benchmark page, a refusal shows in its current details, a retry makes it pass', async () => {
    const handle = await startWithFailedVm('sig-ui', 'vm-ui');
    const { page, consoleErrors } = await newPage(browser);
    await page.goto(workflowPageUrl(server.uiUrl!, 'sig-ui'));
    await page.getByText(WORKFLOW_TYPES.benchmark).first().waitFor({ timeout: 30_000 });

    await sendSignalInUi(page, 'retryVm', '{"vm": "vm-typo"}');
    await until(async () => (await handle.query(progressQuery)).lastRetry !== undefined, 'the signal to arrive');
    await openUserMetadata(page);
    // The UI reads current details when the page loads (and on "R"): reload to see the latest. Its markdown curls quotes.
    await bodyMatches(page, /retryVm signal refused \([^)]+\): VM .vm-typo. has no run in this benchmark/, 30_000, () =>
      page.reload().then(() => openUserMetadata(page)),
    );
    await screenshot(page, 'retry-signal-refused');

    unblock('vm-ui');
    await sendSignalInUi(page, 'retryVm', '{"vm": "vm-ui"}');
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 3, passed: 3, failed: 0 });
    await page.reload();
    await openUserMetadata(page);
    await bodyMatches(page, /\bdone\b: 3 passed, 0 failed of 3 entries on 2 VMs/);
    await bodyMatches(page, /retryVm signal \([^)]+\): \d+ failed entries of vm-ui queued again/);
    // Its event history has both signals, as sent.
    expect(
      (await handle.fetchHistory()).events?.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'retryVm'),
    ).toHaveLength(2);
    await screenshot(page, 'retry-signal-accepted');
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it("a finished benchmark's page shows its summary, details and outcome; the list filter shows benchmarks only", async () => {
    const { page, consoleErrors } = await newPage(browser);
    await page.goto(workflowPageUrl(server.uiUrl!, 'sig-ui'));
    await openUserMetadata(page);
    await bodyMatches(page, /Benchmark sig-ui \(sig-ui run\): 3 entries × 1 iterations on 2 VMs \(vm-ok, vm-ui\), gcsfuse master/);
    await bodyMatches(page, /matrix: 3 tests \(test-cases\.csv\) × 1 configs = 3 entries, 1 iterations each/);
    await bodyMatches(page, /artifacts: \S+artifacts/);
    await bodyMatches(page, /report: \S+sig-ui\/report\/\S+/);
    await screenshot(page, 'benchmark-user-metadata');
    // The memo names the default config without a stray space.
    await page.getByRole('tab', { name: /Memo/ }).click();
    await bodyMatches(page, /"configs":\s*"default \(master\)"/);
    expect(consoleErrors).toEqual([]);

    // A VM's run has its own summary.
    await page.goto(workflowPageUrl(server.uiUrl!, 'sig-ui-vm-vm-ui-retry-1'));
    await openUserMetadata(page);
    await bodyMatches(page, /VM vm-ui of benchmark sig-ui: \d+ entries \(run 2: retried or re-routed\)/);

    // Unfiltered, the list holds the VM runs beside the benchmarks; the documented filter leaves the benchmarks.
    await page.goto(workflowListUrl(server.uiUrl!, 'WorkflowId STARTS_WITH "sig-"'));
    await page
      .getByRole('link', { name: /^\s*sig-ui-vm-vm-ok\s*$/ })
      .first()
      .waitFor({ timeout: 30_000 });
    await page.goto(workflowListUrl(server.uiUrl!, `WorkflowType = "${WORKFLOW_TYPES.benchmark}"`));
    await page
      .getByRole('link', { name: /^\s*sig-ui\s*$/ })
      .first()
      .waitFor({ timeout: 30_000 });
    await expect(page.getByRole('link', { name: /^\s*sig-cli\s*$/ }).count()).resolves.toBe(1);
    await expect(page.getByRole('link', { name: /-vm-/ }).count()).resolves.toBe(0);
    await screenshot(page, 'benchmarks-only-list');
    expect(consoleErrors).toEqual([]);
    await page.close();
  });
});
