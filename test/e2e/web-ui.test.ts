import type { Worker } from '@temporalio/worker';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startBenchmark } from '../../src/client/benchmarks';
import { startTemporalDevServer, type DevServer } from '../../src/local/temporal-dev-server';
import { createOrchestratorWorker } from '../../src/workers/orchestrator';
import { createAgentWorker } from '../../vm-agent/src/main';
import { launchChromium } from '../support/chromium';
import { REPO, smallRequest, tempDir } from '../support/harness';
import { quietWorkers } from '../support/temporal';

/**
 * A person's view: the dev server's embedded Web UI in headless Chromium finds the run
 * by its BenchmarkId search attribute and shows its progress details.
 */
const home = tempDir('webui');
const SHOTS = path.join(REPO, '.gcsfuse-bench', 'screenshots');
let server: DevServer;
let browser: Browser;
const workers: { worker: Worker; done: Promise<void> }[] = [];

beforeAll(async () => {
  quietWorkers();
  server = await startTemporalDevServer({ dir: path.join(home, 'temporal'), headless: false, persist: false });
  const temporal = { address: server.address, namespace: 'default' };
  for (const w of [
    await createOrchestratorWorker({ temporal, artifacts: path.join(home, 'artifacts') }),
    await createAgentWorker({ vm: 'ui-vm', temporal, artifacts: path.join(home, 'artifacts'), workDir: path.join(home, 'agent') }),
  ])
    workers.push({ worker: w, done: w.run() });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const w of workers) w.worker.shutdown();
  await Promise.allSettled(workers.map((w) => w.done));
  await server?.stop();
  rmSync(home, { recursive: true, force: true });
});

/** Waits until the page's text matches, as a reader would see it. */
async function bodyMatches(page: Page, re: RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Markdown (current details) is rendered in sandboxed iframes: read every frame.
    const texts = await Promise.all(
      page.frames().map((f) =>
        f
          .locator('body')
          .innerText()
          .catch(() => ''),
      ),
    );
    const text = texts.join(' ').replace(/\s+/g, ' ');
    if (re.test(text)) return;
    if (Date.now() > deadline) throw new Error(`the page never showed ${re}; it shows: ${text.slice(0, 2500)}`);
    await page.waitForTimeout(250);
  }
}

describe('Temporal Web UI', () => {
  it('finds a benchmark by its search attribute and shows its progress', async () => {
    const client = await connectClient({ address: server.address, namespace: 'default' });
    const req = smallRequest('ui-bench-1', ['ui-vm'], { iterations: 1 });
    await (await startBenchmark(client, req, path.join(home, 'artifacts'))).result();

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const query = encodeURIComponent('BenchmarkId="ui-bench-1"');
    await page.goto(`${server.uiUrl}/namespaces/default/workflows?query=${query}`);
    // The list shows the run (the workflow id is the benchmark id) and nothing else.
    const link = page.getByRole('link', { name: /^\s*ui-bench-1\s*$/ });
    await link.first().waitFor({ timeout: 30_000 });
    expect(await link.count()).toBe(1);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'workflow-list.png') });
    await expect(page.getByText('ui-bench-1-vm-ui-vm', { exact: true }).count()).resolves.toBe(0);

    await link.first().click();
    await page.getByText('benchmarkWorkflow').first().waitFor({ timeout: 30_000 });
    // Its search attributes carry the phase the workflow reached, its memo the inputs at a glance.
    await page.getByRole('tab', { name: /Search Attributes/ }).click();
    await bodyMatches(page, /"BenchmarkStatus":\s*"done"/);
    await bodyMatches(page, /"GcsfuseCommit":\s*\[\s*"master"\s*\]/);
    await page.screenshot({ path: path.join(SHOTS, 'workflow-search-attributes.png'), fullPage: true });
    await page.getByRole('tab', { name: /Memo/ }).click();
    await bodyMatches(page, /"testCases":\s*"test-cases\.csv"/);
    await page.close();
  });

  it("shows a running benchmark's progress in its current details", async () => {
    const client = await connectClient({ address: server.address, namespace: 'default' });
    const req = smallRequest('ui-bench-2', ['ui-vm'], { iterations: 1 });
    req.testCases = { name: 'test-cases.csv', content: 'test_id,io_type,block_size,file_size,num_jobs\nslow,read,64k,4m,1\n' };
    req.jobFile = { ...req.jobFile, content: req.jobFile.content.replace('runtime=1s', 'runtime=15s') };
    const handle = await startBenchmark(client, req, path.join(home, 'artifacts'));
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${server.uiUrl}/namespaces/default/workflows/ui-bench-2`);
    await page.getByRole('tab', { name: /User Metadata/ }).click();
    await bodyMatches(page, /running.{0,10}: 0 passed, 0 failed of 1 entries on 1 VMs/);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'workflow-current-details.png'), fullPage: true });
    await page.close();
    await handle.result();
  });
});
