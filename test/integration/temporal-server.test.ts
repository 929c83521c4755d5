import { Client, Connection } from '@temporalio/client';
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePortRange } from '../../src/local/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/shared/names';
import { AGENT_ENTRY, ORCHESTRATOR_ENTRY } from '../../src/local/embedded';
import { startProcess, tsxCommand, type ManagedProcess } from '../../src/local/processes';
import { REPO, tempDir, until } from '../support/harness';
import { run } from '../support/procs';

/**
 * A real Temporal server (go.temporal.io/server built by scripts/temporal-server.sh, on Debian's
 * PostgreSQL with SQL visibility), not the dev server: started fresh in a temp folder on loopback
 * ports, with an orchestrator worker and two agents as processes running real fio. The first `run`
 * on it registers the search attributes and must start at once (a real server's frontends see new
 * attributes only after a namespace-cache refresh; the CLI waits until they are usable).
 */
const SCRIPT = path.join(REPO, 'scripts/temporal-server.sh');
const CLI = path.join(REPO, 'bin/gcsfuse-bench');
/** The frontend and the server's other ports: PORT..PORT+10 (scripts/temporal-server.sh). */
const PORTS_USED = 11;

const home = tempDir('real-temporal');
const serverDir = path.join(home, 'temporal');
const artifacts = path.join(home, 'artifacts');
const logDir = path.join(home, 'logs');
let address = '';
let basePort = 0;
let client: Client | undefined;
const workers: ManagedProcess[] = [];

beforeAll(async () => {
  // PostgreSQL runs as its own user (as root here): it must be able to pass through the test's folder.
  chmodSync(home, 0o711);
  const base = (basePort = await freePortRange(PORTS_USED));
  const started = await run('bash', [SCRIPT, 'start', serverDir, String(base)], { timeoutMs: 150_000 });
  if (started.code !== 0) {
    const log = (f: string) =>
      existsSync(path.join(serverDir, f)) ? readFileSync(path.join(serverDir, f), 'utf8').slice(-3000) : '(none)';
    throw new Error(
      `scripts/temporal-server.sh start failed (${started.code}): ${started.stderr}\nserver log:\n${log('temporal-server.log')}\nschema log:\n${log('schema.log')}`,
    );
  }
  address = started.stdout.trim();
  expect(address).toBe(`127.0.0.1:${base}`);
  client = new Client({ connection: await Connection.connect({ address }), namespace: 'default' });
  const env = { TEMPORAL_ADDRESS: address, GCSFUSE_BENCH_ARTIFACTS: artifacts };
  workers.push(startProcess({ name: 'orchestrator', ...tsxCommand(ORCHESTRATOR_ENTRY, []), env, logDir }));
  for (const vm of ['vm-1', 'vm-2']) {
    workers.push(
      startProcess({
        name: `agent-${vm}`,
        ...tsxCommand(AGENT_ENTRY, ['--vm', vm, '--work-dir', path.join(home, 'agents', vm)]),
        env,
        logDir,
      }),
    );
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await client?.connection.close();
  await run('bash', [SCRIPT, 'stop', serverDir], { timeoutMs: 60_000 });
  rmSync(home, { recursive: true, force: true });
}, 120_000);

describe('a real Temporal server on PostgreSQL', () => {
  it('is the built server with SQL visibility, and starts without our search attributes (fresh)', async () => {
    const info = await client!.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBe(
      /^TEMPORAL_SERVER_VERSION=v(.+)$/m.exec(readFileSync(path.join(REPO, 'scripts/versions.env'), 'utf8'))![1],
    );
    const { customAttributes } = await client!.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const k of Object.values(SEARCH_ATTRIBUTES)) expect(Object.keys(customAttributes ?? {})).not.toContain(k.name);
    // Histories and visibility both in PostgreSQL (the dev server says sqlite).
    const cluster = await client!.workflowService.getClusterInfo({});
    expect(cluster.persistenceStore).toBe('postgres12');
    expect(cluster.visibilityStore).toBe('postgres12');
  });

  it('runs the first benchmark on the fresh server through the CLI, with searchable attributes', async () => {
    const id = 'real-server-first-run';
    const r = await run(
      CLI,
      [
        'run',
        '--benchmark-id',
        id,
        '--test-csv',
        path.join(REPO, 'examples/quick/test-cases.csv'),
        '--fio-job-file',
        path.join(REPO, 'examples/quick/jobfile.fio'),
        '--vms',
        'vm-1,vm-2',
        '--iterations',
        '1',
        '--artifacts',
        artifacts,
        // The test leaves nothing in the repository's results/.
        '--no-results-dir',
      ],
      { env: { TEMPORAL_ADDRESS: address }, timeoutMs: 300_000 },
    );
    expect(r.stderr).not.toMatch(/Failed to start Workflow/);
    expect(r.code, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);

    const result = await client!.workflow.getHandle(id).result();
    expect(result).toMatchObject({ totalEntries: 4, passed: 4, failed: 0 });
    const reports = JSON.parse(readFileSync(path.join(artifacts, id, 'report', 'results.json'), 'utf8')) as {
      status: string;
      vm: string;
    }[];
    expect(reports.map((e) => e.status)).toEqual(['passed', 'passed', 'passed', 'passed']);
    expect(new Set(reports.map((e) => e.vm))).toEqual(new Set(['vm-1', 'vm-2']));

    // The attributes were registered by that run and are set on it; SQL visibility is eventually consistent.
    const { customAttributes } = await client!.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const k of Object.values(SEARCH_ATTRIBUTES)) expect(Object.keys(customAttributes ?? {})).toContain(k.name);
    const found = async (query: string) => {
      const ids: string[] = [];
      for await (const w of client!.workflow.list({ query })) ids.push(w.workflowId);
      return ids;
    };
    await until(
      async () => (await found(`BenchmarkId = '${id}' AND BenchmarkStatus = 'done'`)).includes(id),
      'the benchmark to be found by BenchmarkId with status done',
      30_000,
    );
    expect(await found(`Fleet = 'vm-1,vm-2' AND BenchmarkId = '${id}'`)).toEqual([id]);
    expect(await found(`GcsfuseCommit = 'master' AND BenchmarkId = '${id}'`)).toEqual([id]);
  }, 330_000);
});

/** What docker-compose.yml runs, run here against the same server (its ports differ: PORT+4 is the frontend's HTTP port). */
describe("docker-compose.yml's commands against this server", () => {
  interface Service {
    command?: string[];
    environment?: Record<string, string>;
    healthcheck?: { test: string[] };
  }
  const compose = parse(readFileSync(path.join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, Service>;
  };
  const setupEnv = () => ({
    POSTGRES_SEEDS: '127.0.0.1',
    DB_PORT: String(basePort + 10),
    POSTGRES_USER: 'temporal',
    POSTGRES_PWD: 'temporal',
    SCHEMA_DIR: path.join(
      REPO,
      `.gcsfuse-bench/share/temporal-server-${/^TEMPORAL_SERVER_VERSION=(.+)$/m.exec(readFileSync(path.join(REPO, 'scripts/versions.env'), 'utf8'))![1]}/schema`,
    ),
    SQL_TOOL: path.join(REPO, '.gcsfuse-bench/bin/temporal-sql-tool'),
    TEMPORAL_ADDRESS: address,
    NAMESPACE: 'default',
  });
  /** A compose command whose script lives in deploy/compose (mounted at /gcsfuse-bench), run from the repo. */
  const local = (argv: string[]) => argv.map((a) => a.replace('/gcsfuse-bench/', path.join(REPO, 'deploy/compose') + '/'));

  it("the server's healthcheck passes", async () => {
    const [kind, cmd, ...args] = compose.services.temporal!.healthcheck!.test;
    expect(kind).toBe('CMD');
    const r = await run(
      cmd!,
      args.map((a) => a.replace(':7243/', `:${basePort + 4}/`)),
    );
    expect(r.code, r.stderr).toBe(0);
  });

  it('the schema step again (a second `up`) finds both databases up to date and succeeds', async () => {
    const [cmd, ...args] = local(compose.services['temporal-schema']!.command!);
    const r = await run(cmd!, args, { env: setupEnv() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/database temporal is at the schema/);
    expect(r.stdout).toMatch(/database temporal_visibility is at the schema/);
  });

  it('the namespace step again finds the namespace and succeeds', async () => {
    const [cmd, ...args] = local(compose.services['temporal-namespace']!.command!);
    const r = await run(cmd!, args, { env: setupEnv() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('temporal-setup: namespace default exists');
  });
});
