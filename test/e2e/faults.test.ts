import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, startBenchmark } from '../../src/client/benchmarks';
import type { EntryReport } from '../../src/core/report';
import type { BenchmarkRequest } from '../../src/core/spec';
import { startEmbedded, type Embedded } from '../../src/local/embedded';
import { smallRequest, tempDir, until } from '../support/harness';
import { processesMentioning } from '../support/procs';

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
    content: 'test_id,io_type,block_size,file_size,num_jobs\n' + [1, 2, 3, 4, 5, 6].map((i) => `t${i},${i % 2 ? 'read' : 'randwrite'},64k,4m,1`).join('\n') + '\n',
  };
  req.jobFile = { ...req.jobFile, content: req.jobFile.content.replace('runtime=1s', 'runtime=2s') };
  return req;
}


const fioOf = (home: string, vm: string) => processesMentioning(path.join(home, 'agents', vm)).filter((p) => p.argv[0]?.endsWith('fio'));

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
    for (let i = 1; i <= iterations; i++) expect(existsSync(path.join(root, 'results', r.vm!, `test-${r.matrixId}`, `iteration-${i}.fio.json`))).toBe(true);
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

  it('an agent SIGKILLed for good has its entries re-run on the healthy VM', async () => {
    const home = tempDir('fault-dead');
    const { handle } = await startRun(home, request('dead-agent', ['vm-1', 'vm-2']));
    await until(() => fioOf(home, 'vm-2').length > 0, 'fio on vm-2');
    process.kill(embedded!.agents.get('vm-2')!.child.pid!, 'SIGKILL');
    embedded!.agents.delete('vm-2');
    const result = await handle.result();
    expect(result).toMatchObject({ totalEntries: 6, passed: 6, failed: 0 });
    const reports = expectCompleteResults(home, 'dead-agent', 6, 2);
    const spec = JSON.parse(readFileSync(path.join(home, 'artifacts', 'dead-agent', 'jobs', 'vm-2.json'), 'utf8')) as { entries: { matrixId: number }[] };
    const finishedOnVm2 = reports.filter((r) => r.vm === 'vm-2').map((r) => r.matrixId);
    // Whatever vm-2 had not finished when it died was run by vm-1.
    for (const e of spec.entries) if (!finishedOnVm2.includes(e.matrixId)) expect(reports.find((r) => r.matrixId === e.matrixId)!.vm).toBe('vm-1');
    expect(finishedOnVm2.length).toBeLessThan(spec.entries.length);
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

  it('the Temporal server restarted on its database file finishes the run', async () => {
    const home = tempDir('fault-server');
    const { client } = await startRun(home, request('restart-server', ['vm-1', 'vm-2']));
    await until(() => fioOf(home, 'vm-1').length > 0, 'fio on vm-1');
    await embedded!.restartServer();
    // A new connection: the old one pointed at the stopped process.
    const again = await connectClient({ address: embedded!.server.address, namespace: 'default' });
    const result = await again.workflow.getHandle('restart-server').result();
    expect(result).toMatchObject({ totalEntries: 6, passed: 6, failed: 0 });
    expectCompleteResults(home, 'restart-server', 6, 2);
    await client.connection.close();
  });
});
