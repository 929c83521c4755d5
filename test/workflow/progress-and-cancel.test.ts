import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBenchmark } from '../../src/client/benchmarks';
import { EXIT, runCli } from '../../src/client/cli';
import type { EntryReport, ReportSummaryJson } from '../../src/core/report';
import type { BenchmarkRequest, Manifest } from '../../src/core/spec';
import { SEARCH_ATTRIBUTES } from '../../src/shared/names';
import { progressQuery } from '../../src/workflows/definitions';
import type { BenchmarkProgress } from '../../src/workflows/types';
import { Harness, readJson, REPO, smallRequest, until } from '../support/harness';
import { run } from '../support/procs';
import { startLocalTemporal } from '../support/temporal';

/**
 * Live counts, cancel and refusals, on a real dev server with agents running real fio:
 * the parent counts each entry as it ends; a cancel waits until the agents stopped fio and
 * leaves a partial report; the CLI says why it refuses.
 */
let env: TestWorkflowEnvironment;
let h: Harness;

beforeAll(async () => {
  env = await startLocalTemporal();
  h = new Harness(env);
  await h.startOrchestrator();
  await h.startAgent('vm-a');
});

afterAll(async () => {
  await h?.stop();
  await env?.teardown();
});

/** Runs the CLI in this process against the test server; returns its exit code, stdout and stderr. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  try {
    process.exitCode = undefined;
    const code = await runCli(['node', 'gcsfuse-bench', '--temporal-address', env.address, ...args]);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    process.exitCode = undefined;
  }
}

/** Entry 1 takes a second, the others `longRuntime`: a cancel can land while one has finished and the next runs. */
function request(id: string, longRuntime: string): BenchmarkRequest {
  const req = smallRequest(id, ['vm-a'], { iterations: 1 });
  req.testCases = {
    name: 'test-cases.csv',
    content: `test_id,io_type,block_size,file_size,num_jobs,runtime\nquick,read,64k,4m,1,1s\nslow-1,read,64k,4m,1,${longRuntime}\nslow-2,randread,4k,4m,1,${longRuntime}\n`,
  };
  req.jobFile = { ...req.jobFile, content: req.jobFile.content.replace('runtime=1s', 'runtime=${RUNTIME}') };
  return req;
}

/** fio processes whose command line names the agent's work dir (its job file lives there). */
function fioOf(vm: string): number[] {
  const dir = h.agentWorkDir(vm);
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const state = /^State:\s+(\w)/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1];
      if (state !== 'Z' && path.basename(argv[0] ?? '') === 'fio' && argv.some((a) => a.includes(dir))) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

const art = (...parts: string[]) => path.join(h.artifacts, ...parts);

describe('live progress, cancel and refusals on a real Temporal server with real fio', () => {
  it('counts each entry as it ends, before the VM run finishes; status agrees with its table; retry-vm says why it refuses', async () => {
    const handle = await startBenchmark(env.client, request('live', '3s'), h.artifacts);
    let seen: BenchmarkProgress | undefined;
    await until(async () => {
      const p = await handle.query(progressQuery).catch(() => undefined);
      if (p && p.passed > 0) seen = p;
      return seen !== undefined;
    }, 'an entry to pass');
    // The same snapshot: an entry counted while the only VM run is still running.
    expect(seen!.passed).toBeGreaterThan(0);
    expect(seen!.runs).toHaveLength(1);
    expect(seen!.runs[0]).toMatchObject({ status: 'running', passed: seen!.passed });
    // The Web UI's search attribute moves too (it lags the query by at most a workflow task).
    await until(
      async () =>
        /^running: [1-3] passed, 0 failed of 3$/.test(
          String((await handle.describe()).typedSearchAttributes.get(SEARCH_ATTRIBUTES.status)),
        ),
      'BenchmarkStatus with counts',
    );

    const status = await cli(['status', 'live']);
    expect(status.code, status.err).toBe(0);
    const header = /^live: RUNNING, phase running, (\d) passed, (\d) failed of 3/.exec(status.out);
    expect(header, status.out).not.toBeNull();
    // The one row of the table (run vm status assigned passed failed ...) carries the header's counts.
    const row = status.out.split('\n').find((l) => l.includes('live-vm-vm-a'))!;
    const cells = row
      .split('│')
      .map((c) => c.trim())
      .filter(Boolean);
    expect(cells.slice(4, 6)).toEqual([header![1], header![2]]);

    // Nothing failed, so there is nothing to retry: the workflow's reason, not "Workflow Update failed".
    const refused = await cli(['retry-vm', 'live', 'vm-a']);
    expect(refused.code).toBe(EXIT.refused);
    expect(refused.err).toMatch(
      /retry-vm refused: VM "vm-a" (is still running and has no failed entries yet|has no failed entries to retry)/,
    );
    expect(refused.err).not.toMatch(/Workflow Update failed/);

    const result = await handle.result();
    expect(result).toMatchObject({ passed: 3, failed: 0, complete: true });
    expect(readJson<ReportSummaryJson>(art('live', 'report', 'summary.json'))).toMatchObject({
      complete: true,
      counts: { passed: 3, missing: 0 },
    });
    const done = await cli(['status', 'live']);
    expect(done.out).toMatch(/^live: COMPLETED, phase done, 3 passed, 0 failed of 3; report: /);
  });

  it('cancel returns once the agents stopped fio, and leaves cancelled state and a partial report', async () => {
    const handle = await startBenchmark(env.client, request('cancel-wait', '120s'), h.artifacts);
    // Entry 1 passed and entry 2's fio runs.
    await until(
      async () => (await handle.query(progressQuery)).passed === 1 && fioOf('vm-a').length > 0,
      'entry 1 to pass and entry 2 to run',
    );

    const cancelled = await cli(['cancel', 'cancel-wait']);
    expect(cancelled.code, cancelled.err).toBe(0);
    // When cancel returns, fio is gone and the workflow is closed (no polling for either).
    expect(fioOf('vm-a')).toEqual([]);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(cancelled.out).toMatch(/^cancel-wait: CANCELLED, phase cancelled, 1 passed, 0 failed of 3/);
    expect(cancelled.out).toMatch(/cancel-wait-vm-vm-a: cancelled, 1 passed/);
    expect(cancelled.out).toMatch(/partial report \(finished entries only\): cancel-wait\/report\/combined_report\.csv/);

    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    const progress = await handle.query(progressQuery);
    expect(progress).toMatchObject({ phase: 'cancelled', passed: 1, failed: 0, report: { complete: false } });
    expect(progress.runs.map((r) => r.status)).toEqual(['cancelled']);
    expect((await env.client.workflow.getHandle('cancel-wait-vm-vm-a').describe()).status.name).toBe('CANCELLED');
    expect((await handle.describe()).typedSearchAttributes.get(SEARCH_ATTRIBUTES.status)).toBe('cancelled');

    // The partial report: the finished entry with its numbers, the others without results.
    const summary = readJson<ReportSummaryJson>(art('cancel-wait', 'report', 'summary.json'));
    expect(summary).toMatchObject({
      complete: false,
      incompleteReason: 'cancelled',
      counts: { entries: 3, passed: 1, failed: 0, missing: 2 },
    });
    const reports = readJson<EntryReport[]>(art('cancel-wait', 'report', 'results.json'));
    expect(reports.map((r) => [r.matrixId, r.status])).toEqual([
      [1, 'passed'],
      [2, 'missing'],
      [3, 'missing'],
    ]);
    expect(reports[0]!.read!.bwBytesPerSec.mean).toBeGreaterThan(0);
    expect(existsSync(art('cancel-wait', 'report', 'combined_report.csv'))).toBe(true);
    // The agent recorded the entry it was running as cancelled (it got the cancellation, not a kill).
    const manifest = readJson<Manifest>(art('cancel-wait', 'results', 'vm-a', 'manifest.json'));
    expect(manifest.entries['2']).toMatchObject({ status: 'failed', error: 'cancelled' });

    // Closed: a second cancel is refused, saying so.
    const again = await cli(['cancel', 'cancel-wait']);
    expect(again.code).toBe(EXIT.refused);
    expect(again.err).toMatch(/benchmark "cancel-wait" is already closed \(CANCELLED\): nothing to cancel/);
    const missing = await cli(['cancel', 'no-such-benchmark']);
    expect(missing.code).toBe(EXIT.refused);
    expect(missing.err).toMatch(/there is no benchmark "no-such-benchmark"/);
  });

  it('run cancels the benchmark on SIGINT and exits 130 once the agents stopped fio', async () => {
    const dir = h.home;
    const csv = path.join(dir, 'sigint.csv');
    const job = path.join(dir, 'sigint.fio');
    const req = request('sigint', '120s');
    writeFileSync(csv, req.testCases.content);
    writeFileSync(job, req.jobFile.content);
    const bin = path.join(REPO, 'bin', 'gcsfuse-bench');
    let armed = false;
    let signalled = false;
    const r = await run(
      bin,
      [
        '--temporal-address',
        env.address,
        'run',
        '--benchmark-id',
        'sigint',
        '--test-csv',
        csv,
        '--fio-job-file',
        job,
        '--vms',
        'vm-a',
        '--iterations',
        '1',
        '--mount',
        'local-dir',
        '--artifacts',
        h.artifacts,
        '--no-results-dir',
      ],
      {
        cwd: REPO,
        timeoutMs: 90_000,
        onStderr: (_text, child) => {
          // Interrupted once entry 2's fio runs; a poll of /proc per stderr line is cheap.
          if (armed || !/started benchmark sigint/.test(_text)) return;
          armed = true;
          void until(() => fioOf('vm-a').length > 0, 'fio of the run').then(() => {
            signalled = true;
            child.kill('SIGINT');
          });
        },
      },
    );
    expect(r.code, r.stderr).toBe(EXIT.interrupted);
    expect(signalled).toBe(true);
    expect(fioOf('vm-a')).toEqual([]);
    expect(r.stderr).toMatch(/SIGINT: cancelling benchmark sigint; waiting for the agents to stop fio/);
    expect(r.stderr).toMatch(/sigint: CANCELLED, phase cancelled/);
    expect((await env.client.workflow.getHandle('sigint').describe()).status.name).toBe('CANCELLED');
    expect(readJson<ReportSummaryJson>(art('sigint', 'report', 'summary.json'))).toMatchObject({
      complete: false,
      incompleteReason: 'cancelled',
    });
  });
});
