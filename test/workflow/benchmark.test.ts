import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { parseFioOutput } from '../../src/core/fio';
import type { EntryMetadata } from '../../src/core/metadata';
import type { ResourceSamples } from '../../src/core/resources';
import type { EntryReport } from '../../src/core/report';
import type { JobSpec, Manifest } from '../../src/core/spec';
import { ORCHESTRATOR_TASK_QUEUE, SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from '../../src/shared/names';
import { startBenchmark } from '../../src/client/benchmarks';
import { progressQuery, retryVmUpdate } from '../../src/workflows/definitions';
import type { benchmarkWorkflow } from '../../src/workflows';
import type { BenchmarkRequest } from '../../src/core/spec';
import { LocalDirMounter } from '../../vm-agent/src/mounter';
import { Harness, readJson, smallRequest, until } from '../support/harness';
import { startLocalTemporal } from '../support/temporal';

let env: TestWorkflowEnvironment;
let h: Harness;

beforeAll(async () => {
  env = await startLocalTemporal();
  h = new Harness(env);
  await h.startOrchestrator();
  await h.startAgent('vm-a');
  await h.startAgent('vm-b');
});

afterAll(async () => {
  await h?.stop();
  await env?.teardown();
});

function start(req: BenchmarkRequest) {
  return env.client.workflow.start<typeof benchmarkWorkflow>(WORKFLOW_TYPES.benchmark, {
    taskQueue: ORCHESTRATOR_TASK_QUEUE,
    workflowId: req.benchmarkId,
    args: [req],
  });
}

const art = (...parts: string[]) => path.join(h.artifacts, ...parts);

describe('benchmark workflow on a real Temporal server with real fio', () => {
  it('distributes, runs every entry once per iteration, aggregates and reports', async () => {
    const req = smallRequest('happy', ['vm-a', 'vm-b']);
    const handle = await start(req);
    const result = await handle.result();
    expect(result).toMatchObject({ benchmarkId: 'happy', totalEntries: 3, passed: 3, failed: 0 });

    // Inputs stored verbatim, job specs written once per VM, entries split without overlap.
    expect(readFileSync(art('happy', 'test-cases.csv'), 'utf8')).toBe(req.testCases.content);
    expect(readFileSync(art('happy', 'jobfile.fio'), 'utf8')).toBe(req.jobFile.content);
    expect(readJson<{ iterations: number }>(art('happy', 'config.json')).iterations).toBe(2);
    const specs = ['vm-a', 'vm-b'].map((vm) => readJson<JobSpec>(art('happy', 'jobs', `${vm}.json`)));
    const ids = specs.flatMap((s) => s.entries.map((e) => e.matrixId)).sort();
    expect(ids).toEqual([1, 2, 3]);
    expect(specs.every((s) => s.entries.length > 0)).toBe(true);

    const reports = readJson<EntryReport[]>(art('happy', 'report', 'results.json'));
    for (const spec of specs) {
      const manifest = readJson<Manifest>(art('happy', 'results', spec.vm, 'manifest.json'));
      for (const entry of spec.entries) {
        expect(manifest.entries[String(entry.matrixId)]).toMatchObject({ status: 'passed', iterationsDone: 2, iterations: 2 });
        const dir = art('happy', 'results', spec.vm, `test-${entry.matrixId}`);
        const rendered = readFileSync(path.join(dir, 'job.fio'), 'utf8');
        expect(rendered).toContain(`rw=${entry.params.io_type}`);
        // Reproducibility: versions and the hash of exactly the job that ran; resources sampled while fio ran.
        const meta = readJson<EntryMetadata>(path.join(dir, 'metadata.json'));
        expect(meta.job.sha256).toBe(createHash('sha256').update(rendered).digest('hex'));
        expect(meta.host.fioVersion).toMatch(/^fio-\d/);
        const samples = readJson<ResourceSamples>(path.join(dir, 'iteration-1.resources.json'));
        expect(samples.samples.length).toBeGreaterThan(0);
        expect(samples.summary.systemCpuPercent.avg).toBeGreaterThan(0);
        expect(samples.summary.gcsfuseRssBytes.peak).toBeNull();
        expect(rendered).not.toContain('${');
        // The report's bandwidth is the mean of the stored fio outputs' bw_bytes.
        const outputs = [1, 2].map((i) => parseFioOutput(readFileSync(path.join(dir, `iteration-${i}.fio.json`), 'utf8')));
        const dirName = entry.params.io_type!.includes('read') ? 'read' : 'write';
        const expected = (outputs[0]![dirName].bwBytesPerSec + outputs[1]![dirName].bwBytesPerSec) / 2;
        const report = reports.find((r) => r.matrixId === entry.matrixId)!;
        expect(report.vm).toBe(spec.vm);
        expect(report[dirName]!.bwBytesPerSec.mean).toBeCloseTo(expected, 6);
        expect(report[dirName]!.bwBytesPerSec.mean).toBeGreaterThan(0);
      }
    }
    const csv = readFileSync(art('happy', 'report', 'combined_report.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv).toHaveLength(4);
    expect(csv[0]).toContain('read_bw_MiBps_mean');
    expect(csv[0]).toContain('write_lat_p99_ms');

    const progress = await handle.query(progressQuery);
    expect(progress).toMatchObject({ phase: 'done', totalEntries: 3, passed: 3, failed: 0 });
    expect(progress.runs.map((r) => r.workflowId).sort()).toEqual(['happy-vm-vm-a', 'happy-vm-vm-b']);
  });

  it('makes runs findable by search attribute, with progress in the search attribute and memo', async () => {
    const req = smallRequest('searchable', ['vm-a'], { iterations: 1 });
    const handle = await startBenchmark(env.client, req, h.artifacts);
    await handle.result();
    const found: { workflowId: string; status: unknown; memo?: Record<string, unknown> }[] = [];
    await until(
      async () => {
        found.length = 0;
        for await (const w of env.client.workflow.list({ query: 'BenchmarkId = "searchable" AND BenchmarkStatus = "done"' })) found.push(w);
        return found.length === 1;
      },
      'visibility to index the run',
      20_000,
    );
    expect(found[0]!.workflowId).toBe('searchable');
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.fleet)).toBe('vm-a');
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.gcsfuseCommit)).toEqual(['master']);
    expect(await desc.memo).toMatchObject({ testCases: 'test-cases.csv', iterations: 1, mount: 'local-dir' });
  });

  it('writes one report per mount config when asked, with resource columns', async () => {
    const req = smallRequest('per-config', ['vm-a', 'vm-b'], {
      iterations: 1,
      separateConfigs: true,
      configs: {
        name: 'configs.csv',
        content: 'commit,mount_args,label\nmaster,--implicit-dirs,base\nmaster,--implicit-dirs --stat-cache-max-size-mb=-1,cached\n',
      },
    });
    const result = await (await start(req)).result();
    expect(result).toMatchObject({ totalEntries: 6, passed: 6 });
    for (const label of ['base', 'cached']) {
      const rows = readFileSync(art('per-config', 'report', `${label}.csv`), 'utf8')
        .trim()
        .split('\n');
      expect(rows).toHaveLength(4);
      expect(rows.slice(1).every((r) => r.includes(`,${label},`))).toBe(true);
    }
    const header = readFileSync(art('per-config', 'report', 'combined_report.csv'), 'utf8').split('\n')[0]!;
    expect(header).toContain('system_cpu_percent_avg');
    expect(header).toContain('page_cache_MiB_peak');
    // A local folder has no gcsfuse process, so no gcsfuse columns (rather than empty ones).
    expect(header).not.toContain('gcsfuse_rss');
    expect(existsSync(art('per-config', 'report', 'report.html'))).toBe(true);
  });

  it('with a stability gate, runs extra iterations until bandwidth settles or the limit, and says which', async () => {
    // A threshold no real run meets: every entry runs to the limit and is marked unstable.
    const strict = smallRequest('gate-strict', ['vm-a', 'vm-b'], { iterations: 2, stability: { maxCvPercent: 1e-9, maxIterations: 3 } });
    expect(await (await start(strict)).result()).toMatchObject({ passed: 3, failed: 0 });
    const strictReports = readJson<EntryReport[]>(art('gate-strict', 'report', 'results.json'));
    for (const r of strictReports) {
      expect(r).toMatchObject({ iterations: 3, stability: { stable: false } });
      expect(r.stability!.bw_cv_pct).toBeGreaterThan(0);
      expect(existsSync(art('gate-strict', 'results', r.vm!, `test-${r.matrixId}`, 'iteration-3.fio.json'))).toBe(true);
    }
    // A threshold every run meets: the planned iterations only.
    const loose = smallRequest('gate-loose', ['vm-a', 'vm-b'], { iterations: 2, stability: { maxCvPercent: 1000, maxIterations: 3 } });
    expect(await (await start(loose)).result()).toMatchObject({ passed: 3, failed: 0 });
    const looseReports = readJson<EntryReport[]>(art('gate-loose', 'report', 'results.json'));
    for (const r of looseReports) expect(r).toMatchObject({ iterations: 2, stability: { stable: true } });
    const header = readFileSync(art('gate-strict', 'report', 'combined_report.csv'), 'utf8').split('\n')[0]!;
    expect(header).toContain(',stable,stability_bw_cv_pct');
  });

  it('never copies credentials from the environment into artifacts or Temporal histories', async () => {
    const secrets = {
      GOOGLE_APPLICATION_CREDENTIALS: '/secret/sa-key-MARKER1.json',
      TEMPORAL_API_KEY: 'MARKER2-api-key',
      GCSFUSE_BENCH_TEST_TOKEN: 'MARKER3',
    };
    Object.assign(process.env, secrets);
    try {
      const handle = await startBenchmark(env.client, smallRequest('no-secrets', ['vm-a'], { iterations: 1 }), h.artifacts);
      await handle.result();
      const histories = [
        JSON.stringify(await handle.fetchHistory()),
        JSON.stringify(await env.client.workflow.getHandle('no-secrets-vm-vm-a').fetchHistory()),
      ];
      const files = listFiles(art('no-secrets')).map((f) => readFileSync(f, 'utf8'));
      expect(files.length).toBeGreaterThan(5);
      for (const text of [...histories, ...files])
        for (const marker of ['MARKER1', 'MARKER2', 'MARKER3']) expect(text).not.toContain(marker);
    } finally {
      for (const k of Object.keys(secrets)) delete process.env[k];
    }
  });

  it('resumes the same id with the same inputs without re-running anything', async () => {
    const output = art('happy', 'results', 'vm-a', 'test-1', 'iteration-1.fio.json');
    const vmOf1 = existsSync(output) ? 'vm-a' : 'vm-b';
    const file = art('happy', 'results', vmOf1, 'test-1', 'iteration-1.fio.json');
    const before = statSync(file).mtimeMs;
    const result = await (await start(smallRequest('happy', ['vm-a', 'vm-b']))).result();
    expect(result).toMatchObject({ passed: 3, failed: 0 });
    expect(statSync(file).mtimeMs).toBe(before);
  });

  it('refuses the same id with different inputs and writes nothing', async () => {
    const req = smallRequest('happy', ['vm-a', 'vm-b']);
    req.testCases = { ...req.testCases, content: req.testCases.content.replace('64k', '128k') };
    const before = readFileSync(art('happy', 'test-cases.csv'), 'utf8');
    const err = await (await start(req)).result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(causes(err)).toMatch(/already exists with different inputs/);
    expect(readFileSync(art('happy', 'test-cases.csv'), 'utf8')).toBe(before);
  });

  it('re-runs the entries of a VM whose agent never shows up on the healthy VMs', async () => {
    const req = smallRequest('ghost', ['vm-a', 'ghost-vm'], {
      timeouts: { fioIterationMs: 60_000, agentPickupMs: 3_000, agentHeartbeatMs: 20_000 },
    });
    const handle = await start(req);
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 3, passed: 3, failed: 0 });
    const moved = readJson<JobSpec>(art('ghost', 'jobs', 'ghost-vm.json')).entries.map((e) => e.matrixId);
    expect(moved.length).toBeGreaterThan(0);
    const reports = readJson<EntryReport[]>(art('ghost', 'report', 'results.json'));
    for (const id of moved) expect(reports.find((r) => r.matrixId === id)).toMatchObject({ status: 'passed', vm: 'vm-a' });
    const runs = (await handle.query(progressQuery)).runs;
    // The ghost's entries count where they passed: its run shows them as re-run elsewhere, not failed.
    expect(runs.find((r) => r.vm === 'ghost-vm')).toMatchObject({ status: 'completed', passed: 0, failed: 0, rerun: moved.length });
    expect(runs.reduce((s, r) => s + r.passed, 0)).toBe(3);
    // vm-a ran its own share, then the moved entries in a second run: never two runs at once on one VM.
    expect(runs.filter((r) => r.vm === 'vm-a').map((r) => r.workflowId)).toEqual(['ghost-vm-vm-a', 'ghost-vm-vm-a-retry-1']);
  });

  it("with re-routing off, a lost agent's entries stay failed", async () => {
    const req = smallRequest('ghost-stay', ['vm-a', 'ghost-vm'], {
      timeouts: { fioIterationMs: 60_000, agentPickupMs: 3_000, agentHeartbeatMs: 20_000 },
      rerouteOnAgentLoss: false,
    });
    const result = await (await start(req)).result();
    const lostEntries = readJson<JobSpec>(art('ghost-stay', 'jobs', 'ghost-vm.json')).entries;
    expect(result).toMatchObject({ totalEntries: 3, failed: lostEntries.length, passed: 3 - lostEntries.length });
    const reports = readJson<EntryReport[]>(art('ghost-stay', 'report', 'results.json'));
    for (const e of lostEntries) expect(reports.find((r) => r.matrixId === e.matrixId)!.status).toBe('failed');
  });

  it("retries a failed VM's entries on request, on the same VM", async () => {
    // vm-c's "mount" is a path occupied by a file: a real failure until the file is removed.
    const blocked = path.join(h.home, 'vm-c-mount');
    writeFileSync(blocked, 'not a directory');
    await h.startAgent('vm-c', new LocalDirMounter(blocked));
    const req = smallRequest('retry', ['vm-a', 'vm-c'], { retryWindowMs: 120_000 });
    const handle = await start(req);
    await until(async () => (await handle.query(progressQuery)).phase === 'awaiting-retry', 'the failed VM');
    const p = await handle.query(progressQuery);
    const failedOnC = readJson<JobSpec>(art('retry', 'jobs', 'vm-c.json')).entries.length;
    expect(p.failed).toBe(failedOnC);
    const rejected = (vm: string) => handle.executeUpdate(retryVmUpdate, { args: [{ vm }] }).then(() => 'accepted', causes);
    expect(await rejected('no-such-vm')).toMatch(/VM "no-such-vm" has no run in this benchmark/);
    expect(await rejected('vm-a')).toMatch(/VM "vm-a" has no failed entries/);

    rmSync(blocked);
    mkdirSync(blocked);
    const r = await handle.executeUpdate(retryVmUpdate, { args: [{ vm: 'vm-c' }] });
    expect(r).toMatchObject({ retried: failedOnC, onto: 'vm-c', workflowId: 'retry-vm-vm-c-retry-1' });
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 3, passed: 3, failed: 0 });
    const reports = readJson<EntryReport[]>(art('retry', 'report', 'results.json'));
    expect(reports.map((x) => x.status)).toEqual(['passed', 'passed', 'passed']);
    await h.stopAgent('vm-c');
  });

  it('retries a failed VM onto a healthy one', async () => {
    const blocked = path.join(h.home, 'vm-d-mount');
    writeFileSync(blocked, 'not a directory');
    await h.startAgent('vm-d', new LocalDirMounter(blocked));
    const handle = await start(smallRequest('onto', ['vm-a', 'vm-d'], { retryWindowMs: 120_000 }));
    await until(async () => (await handle.query(progressQuery)).phase === 'awaiting-retry', 'the failed VM');
    const moved = readJson<JobSpec>(art('onto', 'jobs', 'vm-d.json')).entries.map((e) => e.matrixId);
    const r = await handle.executeUpdate(retryVmUpdate, { args: [{ vm: 'vm-d', onto: 'vm-b' }] });
    expect(r.onto).toBe('vm-b');
    const result = await handle.result();
    expect(result).toMatchObject({ passed: 3, failed: 0 });
    const reports = readJson<EntryReport[]>(art('onto', 'report', 'results.json'));
    for (const id of moved) {
      expect(reports.find((x) => x.matrixId === id)!.vm).toBe('vm-b');
      // Results of a moved entry live under the VM that ran it; the failed VM has none.
      expect(existsSync(art('onto', 'results', 'vm-b', `test-${id}`, 'iteration-2.fio.json'))).toBe(true);
      expect(existsSync(art('onto', 'results', 'vm-d', `test-${id}`, 'iteration-1.fio.json'))).toBe(false);
    }
    await h.stopAgent('vm-d');
  });

  it('cancelling the benchmark stops fio on the agent', async () => {
    const req = smallRequest('cancel', ['vm-a'], { iterations: 1 });
    req.jobFile = { ...req.jobFile, content: req.jobFile.content.replace('runtime=1s', 'runtime=120s') };
    const handle = await start(req);
    const fioRunning = () => fioProcessesUnder(h.agentWorkDir('vm-a')).length > 0;
    await until(fioRunning, 'fio to start');
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    await until(() => !fioRunning(), 'fio to stop', 15_000);
    const manifest = readJson<Manifest>(art('cancel', 'results', 'vm-a', 'manifest.json'));
    const entry = Object.values(manifest.entries)[0]!;
    expect(entry).toMatchObject({ status: 'failed', error: 'cancelled' });
  });
});

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? listFiles(path.join(dir, d.name)) : [path.join(dir, d.name)],
  );
}

/** Messages of an error and its causes, outermost first. */
function causes(err: unknown): string {
  const out: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) out.push(String(e.message));
  return out.join(' <- ');
}

/** Pids of fio processes whose job file lies under a folder. */
function fioProcessesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (path.basename(argv[0] ?? '') === 'fio' && argv.some((a) => a.startsWith(dir))) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
