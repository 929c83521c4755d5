import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, startBenchmark } from '../../src/client/benchmarks';
import type { EntryReport } from '../../src/core/report';
import type { BenchmarkRequest } from '../../src/core/spec';
import { startEmbedded, type Embedded } from '../../src/local/embedded';
import { progressQuery } from '../../src/workflows/definitions';
import { REPO, smallRequest, tempDir, until } from '../support/harness';
import { processesMentioning, run } from '../support/procs';

/**
 * Faults with real processes: agents, the orchestrator worker and the Temporal server
 * are separate processes killed with real signals. Each time the run must complete with
 * every entry in the results exactly once.
 */
let embedded: Embedded | undefined;
afterEach(async () => {
  await embedded?.stop();
  embedded = undefined;
});

const TIMEOUTS = { fioIterationMs: 120_000, agentPickupMs: 8_000, agentHeartbeatMs: 6_000 };

/** 6 entries of ~2 s x 2 iterations. */
function request(id: string, vms: string[]): BenchmarkRequest {
  const req = smallRequest(id, vms, { timeouts: TIMEOUTS });
  req.testCases = {
    name: 'test-cases.csv',
    content:
      'test_id,io_type,block_size,file_size,num_jobs\n' +
      [1, 2, 3, 4, 5, 6].map((i) => `t${i},${i % 2 ? 'read' : 'randwrite'},64k,4m,1`).join('\n') +
      '\n',
  };
  req.jobFile = { ...req.jobFile, content: req.jobFile.content.replace('runtime=1s', 'runtime=2s') };
  return req;
}

const fioOf = (home: string, vm: string) => processesMentioning(path.join(home, 'agents', vm)).filter((p) => p.argv[0]?.endsWith('fio'));
/** The matrix id of the entry whose fio runs on a VM (its job file is .../test-<id>/job.fio), if one runs. */
const fioEntryOf = (home: string, vm: string): number | undefined => {
  for (const p of fioOf(home, vm))
    for (const a of p.argv) if (/test-(\d+)\/job\.fio$/.test(a)) return Number(/test-(\d+)\/job\.fio$/.exec(a)![1]);
  return undefined;
};

/** Kills an agent process with SIGKILL and waits until it and its fio are gone. */
async function killAgent(home: string, vm: string): Promise<void> {
  const agent = embedded!.agents.get(vm)!;
  process.kill(agent.child.pid!, 'SIGKILL');
  await agent.exited;
  embedded!.agents.delete(vm);
  await until(() => fioOf(home, vm).length === 0, `fio of ${vm} to die with it`, 10_000);
}

async function startRun(home: string, req: BenchmarkRequest) {
  embedded = await startEmbedded({ home, agents: req.fleet.kind === 'static' ? req.fleet.vms : [], headless: true });
  const client = await connectClient({ address: embedded.server.address, namespace: 'default' });
  const handle = await startBenchmark(client, req, embedded.artifacts);
  return { client, handle };
}

/** Every entry once in the report, passed, with all its iterations stored on the VM that ran it. */
function expectCompleteResults(home: string, id: string, entries: number, iterations: number): EntryReport[] {
  const root = path.join(home, 'artifacts', id);
  const reports = JSON.parse(readFileSync(path.join(root, 'report', 'results.json'), 'utf8')) as EntryReport[];
  expect(reports.map((r) => r.matrixId)).toEqual(Array.from({ length: entries }, (_, i) => i + 1));
  for (const r of reports) {
    expect(r).toMatchObject({ status: 'passed', iterations });
    for (let i = 1; i <= iterations; i++)
      expect(existsSync(path.join(root, 'results', r.vm!, `test-${r.matrixId}`, `iteration-${i}.fio.json`))).toBe(true);
  }
  return reports;
}

describe('fault tolerance with real processes', () => {
  it('an agent SIGKILLed during fio and restarted finishes its entries', async () => {
    const home = tempDir('fault-agent');
    const { handle } = await startRun(home, request('kill-agent', ['vm-1', 'vm-2']));
    await until(() => fioOf(home, 'vm-1').length > 0, 'fio on vm-1');
    const victim = embedded!.agents.get('vm-1')!;
    process.kill(victim.child.pid!, 'SIGKILL');
    await victim.exited;
    // fio dies with its agent (pdeathsig): nothing keeps using the mount.
    await until(() => fioOf(home, 'vm-1').length === 0, 'orphaned fio to die', 10_000);
    embedded!.startAgent('vm-1');
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 6, passed: 6, failed: 0 });
    expectCompleteResults(home, 'kill-agent', 6, 2);
  });

  it('an agent SIGKILLed for good is found lost by asking Temporal, and its entries re-run on the healthy VM', async () => {
    const home = tempDir('fault-dead');
    // A pickup timeout far longer than the test may take: only the poller check can find the agent gone in time.
    const req = request('dead-agent', ['vm-1', 'vm-2']);
    req.timeouts = { ...TIMEOUTS, agentPickupMs: 10 * 60_000 };
    const { handle } = await startRun(home, req);
    await until(() => fioOf(home, 'vm-2').length > 0, 'fio on vm-2');
    process.kill(embedded!.agents.get('vm-2')!.child.pid!, 'SIGKILL');
    embedded!.agents.delete('vm-2');
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 6, passed: 6, failed: 0 });
    const reports = expectCompleteResults(home, 'dead-agent', 6, 2);
    const spec = JSON.parse(readFileSync(path.join(home, 'artifacts', 'dead-agent', 'jobs', 'vm-2.json'), 'utf8')) as {
      entries: { matrixId: number }[];
    };
    const finishedOnVm2 = reports.filter((r) => r.vm === 'vm-2').map((r) => r.matrixId);
    // Whatever vm-2 had not finished when it died was run by vm-1.
    for (const e of spec.entries)
      if (!finishedOnVm2.includes(e.matrixId)) expect(reports.find((r) => r.matrixId === e.matrixId)!.vm).toBe('vm-1');
    expect(finishedOnVm2.length).toBeLessThan(spec.entries.length);
    const progress = await handle.query(progressQuery);
    expect(progress.lostVms).toEqual(['vm-2']);
    expect(progress.runs.filter((r) => r.vm === 'vm-1').length).toBe(2); // its share, then vm-2's leftovers
  });

  it('an agent killed twice on the same entry and restarted each time is not lost: the entry runs there again', async () => {
    const home = tempDir('fault-restarted');
    const req = request('restarted', ['vm-1', 'vm-2']);
    req.timeouts = { ...TIMEOUTS, agentPickupMs: 10 * 60_000 };
    const { handle } = await startRun(home, req);
    let victim: number | undefined;
    await until(() => (victim = fioEntryOf(home, 'vm-1')) !== undefined, 'fio on vm-1');
    await killAgent(home, 'vm-1');
    embedded!.startAgent('vm-1');
    // Restarted, it takes the entry queued behind the killed one; the killed one comes back to it after.
    await until(() => fioEntryOf(home, 'vm-1') === victim, `entry ${victim} to run on vm-1 again`, 90_000);
    await killAgent(home, 'vm-1');
    embedded!.startAgent('vm-1');
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 6, passed: 6, failed: 0 });
    const reports = expectCompleteResults(home, 'restarted', 6, 2);
    expect(reports.find((r) => r.matrixId === victim)!.vm).toBe('vm-1');
    const progress = await handle.query(progressQuery);
    expect(progress.lostVms).toEqual([]);
    // Nothing was re-routed: one run per VM.
    expect(progress.runs.map((r) => r.workflowId).sort()).toEqual(['restarted-vm-vm-1', 'restarted-vm-vm-2']);
  });

  it('the orchestrator worker SIGKILLed mid-run and restarted finishes the run', async () => {
    const home = tempDir('fault-worker');
    const { handle } = await startRun(home, request('kill-worker', ['vm-1', 'vm-2']));
    await until(() => fioOf(home, 'vm-1').length > 0, 'fio on vm-1');
    const worker = embedded!.worker;
    process.kill(worker.child.pid!, 'SIGKILL');
    await worker.exited;
    await new Promise((r) => setTimeout(r, 2_000)); // agents keep running fio meanwhile
    embedded!.startWorker();
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 6, passed: 6, failed: 0 });
    expectCompleteResults(home, 'kill-worker', 6, 2);
  });

  it('the Temporal server down for longer than the client retries (>= 21 s), then restarted on its database file: the run finishes and watch rides it out', async () => {
    const home = tempDir('fault-watch');
    const { client } = await startRun(home, request('watch-outage', ['vm-1', 'vm-2']));
    await until(() => fioOf(home, 'vm-1').length > 0, 'fio on vm-1');
    let outage: Promise<void> | undefined;
    const watching = run(
      path.join(REPO, 'bin', 'gcsfuse-bench'),
      [
        '--temporal-address',
        embedded!.server.address,
        'watch',
        'watch-outage',
        '--reconnect-timeout',
        '3m',
        '--artifacts',
        embedded!.artifacts,
      ],
      {
        cwd: REPO,
        timeoutMs: 150_000,
        onStderr: (text) => {
          // Following it: take the server away for longer than the client's own ~21 s of retries, then back on its database.
          if (outage || !/running: \d+\/6 entries done/.test(text)) return;
          outage = (async () => {
            await embedded!.server.stop();
            await new Promise((r) => setTimeout(r, 25_000));
            await embedded!.restartServer();
          })();
        },
      },
    );
    const r = await watching;
    await outage;
    expect(r.code, r.stderr).toBe(0);
    expect(
      r.stderr.match(/lost the connection to Temporal .*; waiting up to 3 min for it to come back \(--reconnect-timeout\)/g),
    ).toHaveLength(1);
    expect(r.stderr).toMatch(/reconnected to Temporal/);
    expect(r.stderr).toMatch(/done: 6\/6 entries done \(6 passed, 0 failed\)/);
    // Before, the watch ended here with "error: Failed to get Workflow execution history".
    expect(r.stderr).not.toMatch(/^error:/m);
    expect(r.stdout.match(/│ passed │/g)).toHaveLength(6); // the report table
    expectCompleteResults(home, 'watch-outage', 6, 2);
    await client.connection.close();
  });
});
