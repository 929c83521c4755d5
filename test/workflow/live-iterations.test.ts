import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveProgress, startBenchmark } from '../../src/client/benchmarks';
import { runningEntry } from '../../src/client/watch-view';
import { Harness, smallRequest } from '../support/harness';
import { startLocalTemporal } from '../support/temporal';

/**
 * The live view's bars move per fio iteration: the iteration comes from the agent's heartbeat of the
 * running entry (read with describe), with no history event per iteration. Real dev server, agent, fio.
 */
let env: TestWorkflowEnvironment;
let h: Harness;

beforeAll(async () => {
  env = await startLocalTemporal();
  h = new Harness(env);
  await h.startOrchestrator();
  await h.startAgent('vm-it');
});

afterAll(async () => {
  await h?.stop();
  await env?.teardown();
});

describe('live progress per iteration', () => {
  it("shows the running entry's iteration from the agent's heartbeat, and the bar's share within the entry", async () => {
    const req = smallRequest('live-iterations', ['vm-it'], { iterations: 3 });
    req.testCases = { name: 'test-cases.csv', content: 'test_id,io_type,block_size,file_size,num_jobs,runtime\nslow,read,64k,4m,1,3s\n' };
    req.jobFile = { ...req.jobFile, content: req.jobFile.content.replace('runtime=1s', 'runtime=${RUNTIME}') };
    // The SDK sends heartbeats at most every 80% of this: short, so a 3 s iteration shows.
    req.timeouts = { ...req.timeouts, agentHeartbeatMs: 4_000 };
    const handle = await startBenchmark(env.client, req, h.artifacts);
    const seen = new Map<number, { text: string; fraction: number }>();
    let plannedIterations: number | undefined;
    const done = handle.result();
    let finished = false;
    void done.finally(() => (finished = true));
    while (!finished) {
      const p = await liveProgress(env.client, req.benchmarkId).catch(() => undefined);
      for (const r of p?.progress.runs ?? []) {
        plannedIterations ??= p!.live.get(r.workflowId)?.iterations;
        const running = runningEntry(p!, r.workflowId);
        const at = p!.iteration?.get(r.workflowId);
        if (running && at !== undefined) seen.set(at, { text: running.text, fraction: running.fraction });
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    const result = await done;
    expect(result.passed).toBe(1);
    expect(plannedIterations).toBe(3);
    // At least one iteration after the first was seen while it ran, named and counted within the entry.
    const later = [...seen.keys()].filter((i) => i > 1);
    expect(later.length, `iterations seen: ${[...seen.keys()].join(',')}`).toBeGreaterThan(0);
    for (const i of later) {
      expect(seen.get(i)!.text).toBe(`entry 1 (iteration ${i}/3)`);
      expect(seen.get(i)!.fraction).toBeCloseTo((i - 1) / 3, 5);
    }
  }, 120_000);
});
