import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import proto, { type temporal } from '@temporalio/proto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EntryReport } from '../../src/core/report';
import type { BenchmarkRequest } from '../../src/core/spec';
import { ORCHESTRATOR_TASK_QUEUE, vmGroupWorkflowId, vmWorkflowId, WORKFLOW_TYPES } from '../../src/shared/names';
import type { benchmarkWorkflow } from '../../src/workflows';
import { progressQuery } from '../../src/workflows/definitions';
import { GROUP_REPORTS } from '../../src/workflows/fanout';
import { createAgentWorker } from '../../vm-agent/src/main';
import { SIMULATED_FIO_VERSION } from '../../vm-agent/src/simulated-fio';
import { Harness, readJson, smallRequest, tempDir, until } from '../support/harness';
import { startLocalTemporal } from '../support/temporal';

/**
 * Large fleets run through group workflows (src/workflows/fanout.ts). Real server, real agents
 * with real fio, with the sizes made small through the request's `fanout` so that five VMs
 * already take the grouped path, and a VM's run continues as new after a few entries.
 */
let env: TestWorkflowEnvironment;
let h: Harness;
const VMS = ['vm-1', 'vm-2', 'vm-3', 'vm-4', 'vm-5'];
const HISTORIES = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'histories');

beforeAll(async () => {
  env = await startLocalTemporal();
  h = new Harness(env);
  await h.startOrchestrator();
  for (const vm of VMS) await h.startAgent(vm);
});

afterAll(async () => {
  await h?.stop();
  await env?.teardown();
});

/** A request over `vms` with `rows` one-second read tests, one iteration each. */
function request(id: string, vms: string[], rows: number, overrides: Partial<BenchmarkRequest> = {}): BenchmarkRequest {
  const lines = Array.from({ length: rows }, (_, i) => `read-${i + 1},read,64k,1m,1`);
  return smallRequest(id, vms, {
    testCases: { name: 'test-cases.csv', content: `test_id,io_type,block_size,file_size,num_jobs\n${lines.join('\n')}\n` },
    iterations: 1,
    // Groups of 2 VMs, continue-as-new past 25 events, entry ids read in pages of at most 6.
    fanout: { flatMaxVms: 2, vmsPerGroup: 2, vmRunEvents: 25, sharePageEntries: 6 },
    ...overrides,
  });
}

function start(req: BenchmarkRequest) {
  return env.client.workflow.start<typeof benchmarkWorkflow>(WORKFLOW_TYPES.benchmark, {
    taskQueue: ORCHESTRATOR_TASK_QUEUE,
    workflowId: req.benchmarkId,
    args: [req],
  });
}

type Event = temporal.api.history.v1.IHistoryEvent;

async function events(workflowId: string, runId?: string): Promise<Event[]> {
  const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
  return history.events ?? [];
}

/** Workflow ids of the children a workflow started. */
async function childIds(workflowId: string): Promise<string[]> {
  return (await events(workflowId)).flatMap((e) => e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId ?? []);
}

describe('a large fleet runs through group workflows', () => {
  it('runs every entry once: the benchmark starts groups, groups start the VM runs, long shares continue as new', async () => {
    const req = request('groups', VMS, 20);
    const handle = await start(req);
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 20, passed: 20, failed: 0, complete: true });

    // 5 VMs in groups of at most 2: the benchmark's only children are the 3 groups.
    const groups = [0, 1, 2].map((g) => vmGroupWorkflowId('groups', g));
    expect((await childIds('groups')).sort()).toEqual(groups);
    const byGroup = await Promise.all(groups.map((g) => childIds(g)));
    expect(byGroup.flat().sort()).toEqual(VMS.map((vm) => vmWorkflowId('groups', vm, 0)));
    expect(byGroup.map((ids) => ids.length)).toEqual([2, 2, 1]);

    // 20 entries in pages of at most 6: the distribution's ids came one VM (4 entries) per page.
    const pages = (await events('groups')).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'shares');
    expect(pages).toHaveLength(5);

    // Outcomes came up in batches: at most GROUP_REPORTS per group, far fewer than one per entry.
    const relayed = (await events('groups')).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'groupOutcomes');
    expect(relayed.length).toBeGreaterThan(0);
    expect(relayed.length).toBeLessThanOrEqual(groups.length * GROUP_REPORTS);

    // Each VM ran 4 entries; past 25 events a run continues as new, so each VM's share took several runs.
    const vmRuns = new Map<string, { runId: string; status: string }[]>();
    for (const vm of VMS) {
      const id = vmWorkflowId('groups', vm, 0);
      const runs: { runId: string; status: string }[] = [];
      await until(
        async () => {
          runs.length = 0;
          for await (const w of env.client.workflow.list({ query: `WorkflowId = "${id}"` }))
            runs.push({ runId: w.runId, status: w.status.name });
          return runs.some((r) => r.status === 'COMPLETED');
        },
        `visibility to list the runs of ${id}`,
        20_000,
      );
      expect(runs.map((r) => r.status)).toContain('CONTINUED_AS_NEW');
      vmRuns.set(vm, runs);
    }
    if (process.env.GCSFUSE_BENCH_RECORD_HISTORIES) {
      // New replay fixtures (test/workflow/replay.test.ts) after a deliberate change of the workflows.
      const record = async (name: string, workflowId: string, runId?: string) => {
        const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
        writeFileSync(path.join(HISTORIES, `replay-groups-${name}.binpb`), proto.temporal.api.history.v1.History.encode(history).finish());
      };
      await record('benchmark', 'groups');
      await record('group-0', groups[0]!);
      const vm1 = vmRuns.get('vm-1')!;
      await record('vm-1-continued', vmWorkflowId('groups', 'vm-1', 0), vm1.find((r) => r.status === 'CONTINUED_AS_NEW')!.runId);
      await record('vm-1-last', vmWorkflowId('groups', 'vm-1', 0), vm1.find((r) => r.status === 'COMPLETED')!.runId);
    }

    // The parent knows every run and every entry, as in a flat benchmark.
    const progress = await handle.query(progressQuery);
    expect(progress.runs.map((r) => r.workflowId).sort()).toEqual(VMS.map((vm) => vmWorkflowId('groups', vm, 0)));
    expect(progress.runs.every((r) => r.status === 'completed' && r.passed === 4 && r.failed === 0)).toBe(true);
    const reports = readJson<EntryReport[]>(`${h.artifacts}/groups/report/results.json`);
    expect(reports.map((r) => r.matrixId).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(reports.every((r) => r.status === 'passed')).toBe(true);
  });

  it("re-routes a lost agent's entries when its group ends: direct runs on the healthy VMs", async () => {
    // vm-6 has no agent: it never picks up work and never polled, so it is lost after one pickup window.
    const vms = ['vm-1', 'vm-2', 'vm-3', 'vm-6'];
    const req = request('lost', vms, 8, { timeouts: { ...smallRequest('x', []).timeouts, agentPickupMs: 3_000 } });
    const result = await (await start(req)).result();
    expect(result).toMatchObject({ totalEntries: 8, passed: 8, failed: 0 });
    const progress = await env.client.workflow.getHandle('lost').query(progressQuery);
    expect(progress.lostVms).toEqual(['vm-6']);
    const lostRun = progress.runs.find((r) => r.vm === 'vm-6')!;
    // Its 2 entries count in the runs that re-ran them.
    expect(lostRun).toMatchObject({ workflowId: vmWorkflowId('lost', 'vm-6', 0), passed: 0, failed: 0, rerun: 2 });
    // Its entries ran again outside the groups, as the benchmark's own children.
    const direct = (await childIds('lost')).filter((id) => !id.includes('-group-'));
    expect(direct.length).toBeGreaterThan(0);
    expect(direct.every((id) => /-retry-1$/.test(id))).toBe(true);
    expect(progress.runs.filter((r) => direct.includes(r.workflowId)).reduce((n, r) => n + r.passed, 0)).toBe(2);
  });

  it('cancels through the groups: every VM run ends before the benchmark does, and a partial report is written', async () => {
    const req = request('cancel-groups', VMS, 10, {
      jobFile: {
        name: 'jobfile.fio',
        content:
          '[global]\nioengine=psync\ntime_based=1\nruntime=20s\ndirectory=${TEST_DATA_DIR}\n\n[job]\nrw=${IO_TYPE}\nbs=${BLOCK_SIZE}\nsize=${FILE_SIZE}\nnumjobs=${NUM_JOBS}\n',
      },
    });
    const handle = await start(req);
    const vmRuns = VMS.map((vm) => vmWorkflowId('cancel-groups', vm, 0));
    await until(
      async () => {
        for (const id of vmRuns) {
          try {
            if ((await env.client.workflow.getHandle(id).describe()).status.name !== 'RUNNING') return false;
          } catch {
            return false;
          }
        }
        return true;
      },
      'every VM run to start',
      30_000,
    );
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const closedAt = (await handle.describe()).closeTime!.getTime();
    for (const id of vmRuns) {
      const d = await env.client.workflow.getHandle(id).describe();
      expect(d.status.name).toBe('CANCELLED');
      expect(d.closeTime!.getTime()).toBeLessThanOrEqual(closedAt);
    }
    const progress = await handle.query(progressQuery);
    expect(progress).toMatchObject({ phase: 'cancelled', report: { complete: false } });
    expect(progress.runs.every((r) => r.status === 'cancelled')).toBe(true);
  });

  it('SIMULATION MODE (what the fleet benchmarks use) passes its entries: its zero-byte outputs are not refused as unusable', async () => {
    const worker = await createAgentWorker({
      vm: 'sim-1',
      temporal: { address: env.address, namespace: 'default' },
      artifacts: h.artifacts,
      workDir: tempDir('sim-agent'),
      simulateFio: true,
    });
    const running = worker.run();
    try {
      const result = await (await start(request('simulated', ['sim-1'], 2, { fanout: {} }))).result();
      expect(result).toMatchObject({ totalEntries: 2, passed: 2, failed: 0 });
      // The stored output says it is simulated, so no report can take it for a measurement.
      const output = readJson<{ 'fio version': string }>(`${h.artifacts}/simulated/results/sim-1/test-1/iteration-1.fio.json`);
      expect(output['fio version']).toBe(SIMULATED_FIO_VERSION);
    } finally {
      worker.shutdown();
      await running;
    }
  });
});
