import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBenchmark } from '../../src/client/benchmarks';
import type { EntryReport } from '../../src/core/report';
import type { JobSpec, Manifest } from '../../src/core/spec';
import { SEARCH_ATTRIBUTES } from '../../src/shared/names';
import { progressQuery, retryVmSignal } from '../../src/workflows/definitions';
import { LocalDirMounter } from '../../vm-agent/src/mounter';
import { Harness, readJson, smallRequest, until } from '../support/harness';
import { startLocalTemporal } from '../support/temporal';

/**
 * The whole-run deadline (BenchmarkRequest.runTimeoutMs, the original tool's --timeout) on a real
 * dev server with real fio: a durable timer that cancels every VM like `cancel` does and reports
 * what finished. Deadlines are generous against the work before them; nothing asserts durations.
 */
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

const art = (...parts: string[]) => path.join(h.artifacts, ...parts);

/** One fast test (1 s) and one that fio would run for 10 minutes; each VM gets one. */
function fastAndSlow(benchmarkId: string, runTimeoutMs: number) {
  return smallRequest(benchmarkId, ['vm-a', 'vm-b'], {
    iterations: 1,
    runTimeoutMs,
    testCases: {
      name: 'test-cases.csv',
      content: 'test_id,io_type,block_size,file_size,num_jobs,runtime\nfast,read,64k,4m,1,1s\nslow,read,64k,4m,1,600s\n',
    },
    jobFile: {
      name: 'jobfile.fio',
      content:
        '[global]\nioengine=psync\ntime_based=1\nruntime=${RUNTIME}\ndirectory=${TEST_DATA_DIR}\n\n[job]\nrw=${IO_TYPE}\nbs=${BLOCK_SIZE}\nsize=${FILE_SIZE}\nnumjobs=${NUM_JOBS}\n',
    },
  });
}

describe('whole-run deadline', () => {
  it('cancels every VM when it passes, stops fio and reports what finished, "timed out after N"', async () => {
    const req = fastAndSlow('deadline', 20_000);
    const handle = await startBenchmark(env.client, req, h.artifacts);
    const slowVm = readJsonWhenThere<JobSpec[]>(() =>
      ['vm-a', 'vm-b'].map((vm) => readJson<JobSpec>(art('deadline', 'jobs', `${vm}.json`))),
    );
    const specs = await slowVm;
    const slow = specs.find((s) => s.entries.some((e) => e.testId === 'slow'))!;
    await until(() => fioProcessesUnder(h.agentWorkDir(slow.vm)).length > 0, 'the slow fio to start');
    expect((await handle.query(progressQuery)).deadline).toMatch(/^\d{4}-\d\d-\d\dT/);

    const result = await handle.result();
    expect(result).toMatchObject({
      benchmarkId: 'deadline',
      totalEntries: 2,
      passed: 1,
      failed: 0,
      complete: false,
      timedOut: true,
      incompleteReason: 'timed out after 20 s',
    });
    // The agent stopped fio before the benchmark closed (children are awaited).
    expect(fioProcessesUnder(h.agentWorkDir(slow.vm))).toEqual([]);
    const slowId = slow.entries[0]!.matrixId;
    const manifest = readJson<Manifest>(art('deadline', 'results', slow.vm, 'manifest.json'));
    expect(manifest.entries[String(slowId)]).toMatchObject({ status: 'failed', error: 'cancelled' });

    // A partial report of the finished entry, naming the deadline.
    expect(readJson<{ complete: boolean; incompleteReason: string }>(art('deadline', 'report', 'summary.json'))).toMatchObject({
      complete: false,
      incompleteReason: 'timed out after 20 s',
    });
    const reports = readJson<EntryReport[]>(art('deadline', 'report', 'results.json'));
    expect(reports.find((r) => r.testId === 'fast')!.status).toBe('passed');
    expect(reports.find((r) => r.testId === 'slow')!.status).not.toBe('passed');
    expect(result.reportKeys).toContain('deadline/report/summary.json');

    const p = await handle.query(progressQuery);
    expect(p).toMatchObject({ phase: 'timed-out', incompleteReason: 'timed out after 20 s', report: { complete: false } });
    expect(p.runs.find((r) => r.vm === slow.vm)!.status).toBe('cancelled');
    const desc = await handle.describe();
    expect(desc.status.name).toBe('COMPLETED');
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status)).toBe('timed-out');
    // The VM run was cancelled, not terminated: it closed after its agent stopped fio.
    expect((await env.client.workflow.getHandle(`deadline-vm-${slow.vm}`).describe()).status.name).toBe('CANCELLED');
    // A retry after the deadline is refused, visibly (the workflow is closed: the server says so).
    await expect(handle.signal(retryVmSignal, { vm: slow.vm })).rejects.toThrow(/completed|not found/i);
  });

  it('that passes while failed entries wait for a retry closes the window: the report is complete', async () => {
    const blocked = path.join(h.home, 'vm-c-mount');
    writeFileSync(blocked, 'not a directory');
    await h.startAgent('vm-c', new LocalDirMounter(blocked));
    const req = smallRequest('deadline-window', ['vm-c'], { iterations: 1, retryWindowMs: 3_600_000, runTimeoutMs: 20_000 });
    const handle = await startBenchmark(env.client, req, h.artifacts);
    await until(async () => (await handle.query(progressQuery)).phase === 'awaiting-retry', 'the failed VM');
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 3, passed: 0, failed: 3, complete: true });
    expect(result.timedOut).toBeUndefined();
    expect(readJson<{ complete: boolean }>(art('deadline-window', 'report', 'summary.json')).complete).toBe(true);
    expect((await handle.query(progressQuery)).phase).toBe('done');
    await h.stopAgent('vm-c');
  });

  it('that does not pass leaves the run as it was', async () => {
    const handle = await startBenchmark(
      env.client,
      smallRequest('deadline-far', ['vm-a', 'vm-b'], { iterations: 1, runTimeoutMs: 3_600_000 }),
      h.artifacts,
    );
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 3, passed: 3, failed: 0, complete: true });
    expect(result.incompleteReason).toBeUndefined();
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status)).toBe('done');
  });
});

/** Retries a read until the files exist (the distribution writes them early in the run). */
async function readJsonWhenThere<T>(read: () => T): Promise<T> {
  let value: T | undefined;
  await until(() => {
    try {
      value = read();
      return true;
    } catch {
      return false;
    }
  }, 'the job specs');
  return value!;
}

/** Pids of fio processes whose job file lies under a folder. */
function fioProcessesUnder(dir: string): number[] {
  mkdirSync(dir, { recursive: true });
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
