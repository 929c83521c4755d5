import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openArtifactStore } from '../../src/artifacts';
import { getJson } from '../../src/artifacts/store';
import { layout } from '../../src/core/layout';
import type { BenchmarkConfig } from '../../src/core/spec';
import { AGENT_ENTRY, ORCHESTRATOR_ENTRY } from '../../src/local/embedded';
import { startProcess, tsxCommand, type ManagedProcess } from '../../src/local/processes';
import { startTemporalDevServer, type DevServer } from '../../src/local/temporal-dev-server';
import { FakeCompute } from '../support/fake-compute';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs';
import { REPO, tempDir } from '../support/harness';
import { run } from '../support/procs';

/**
 * The original tool's nightly command line (kokoro_run.sh / run.sh), flag for flag, through its
 * entry point `python3 orchestrator.py`, end to end on the local stack:
 *   --executor-vm <MIG> --zone --project   the orchestrator worker resolves the group on a Compute
 *                                          API stand-in (GCSFUSE_BENCH_COMPUTE_ENDPOINT)
 *   --artifacts-bucket                     a real GCS store on fake-gcs-server (GCSFUSE_BENCH_STORAGE_ENDPOINT)
 *   --test-data-bucket                     GCSFUSE_BENCH_MOUNT=local-dir: the agents run real fio on local folders
 *   --single/--multi-thread-vm-type=...    routing by the templates the group's VMs were created from
 * with a real Temporal dev server, orchestrator worker and agent processes.
 */
const PROJECT = 'gcs-fuse-test-ml';
const ZONE = 'us-central1-c';
const MIG = 'kokoro-perf-c4-standard-192-mig';
const ARTIFACTS_BUCKET = 'kokoro-perf-artifacts-bucket';
const TEST_DATA_BUCKET = 'kokoro-regional-test-data-bucket';
const VMS = { single: 'kokoro-vm-1', multi: 'kokoro-vm-2' } as const;
const BENCHMARK_ID = 'benchmark-1760000000-read';
const REPORT_NAME = 'read_combined_report.csv';

const home = tempDir('original-cli');
const cwd = path.join(home, 'cwd');
let compute: FakeCompute;
let gcs: FakeGcs;
let server: DevServer;
const procs: ManagedProcess[] = [];

beforeAll(async () => {
  mkdirSync(cwd, { recursive: true });
  compute = await FakeCompute.start();
  compute.addZonalGroup(PROJECT, ZONE, MIG, [
    { name: VMS.multi, status: 'RUNNING', template: 'kokoro-perf-multi-thread-template' },
    { name: VMS.single, status: 'RUNNING', template: 'kokoro-perf-single-thread-template' },
    { name: 'kokoro-vm-3', status: 'STOPPING', template: 'kokoro-perf-multi-thread-template' },
  ]);
  gcs = await startFakeGcs({ buckets: [ARTIFACTS_BUCKET, TEST_DATA_BUCKET] });
  server = await startTemporalDevServer({ dir: path.join(home, 'temporal'), headless: true });
  const env = {
    TEMPORAL_ADDRESS: server.address,
    GCSFUSE_BENCH_ARTIFACTS: `gs://${ARTIFACTS_BUCKET}`,
    GCSFUSE_BENCH_STORAGE_ENDPOINT: gcs.endpoint,
    GCSFUSE_BENCH_COMPUTE_ENDPOINT: `http://${compute.host}`,
  };
  const logDir = path.join(home, 'logs');
  procs.push(startProcess({ name: 'orchestrator-worker', ...tsxCommand(ORCHESTRATOR_ENTRY, []), env, logDir }));
  for (const vm of Object.values(VMS)) {
    procs.push(
      startProcess({
        name: `agent-${vm}`,
        ...tsxCommand(AGENT_ENTRY, ['--vm', vm, '--work-dir', path.join(home, 'agents', vm)]),
        env,
        logDir,
      }),
    );
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await server?.stop();
  await gcs?.stop();
  await compute?.close();
  rmSync(home, { recursive: true, force: true });
});

describe("the original tool's nightly command line", () => {
  it('runs unchanged through orchestrator.py and leaves results/<id>/ with the report and run-config.json', async () => {
    const testCsv = path.join(home, 'kokoro_test_cases.csv');
    const jobFile = path.join(home, 'kokoro_fio_job.fio');
    // The original's column names and placeholders; one single-job and one multi-job test.
    writeFileSync(testCsv, 'io_type,num_jobs,file_size,block_size,io_depth,nr_files,direct\nread,1,1m,64k,1,1,0\nrandread,2,1m,4k,4,1,0\n');
    writeFileSync(
      jobFile,
      '[global]\nioengine=psync\ntime_based=1\nruntime=1s\ndirectory=${TEST_DATA_DIR}\n\n[job]\nrw=${IO_TYPE}\nbs=${BS}\nsize=${FILE_SIZE}\nnumjobs=${THREADS}\niodepth=${IO_DEPTH}\nnrfiles=${NRFILES}\ndirect=${DIRECT}\n',
    );
    // kokoro_run.sh's ORCHESTRATOR_CMD, with its values.
    const argv = [
      '--benchmark-id',
      BENCHMARK_ID,
      '--executor-vm',
      MIG,
      '--zone',
      ZONE,
      '--project',
      PROJECT,
      '--artifacts-bucket',
      ARTIFACTS_BUCKET,
      '--test-csv',
      testCsv,
      '--fio-job-file',
      jobFile,
      '--test-data-bucket',
      TEST_DATA_BUCKET,
      '--iterations',
      '2',
      '--poll-interval',
      '1',
      '--timeout',
      '14400',
      '--report-name',
      REPORT_NAME,
      '--single-thread-vm-type=single-thread',
      '--multi-thread-vm-type=multi-thread',
    ];
    const r = await run('python3', [path.join(REPO, 'bin/orchestrator.py'), ...argv], {
      cwd,
      env: { TEMPORAL_ADDRESS: server.address, GCSFUSE_BENCH_STORAGE_ENDPOINT: gcs.endpoint, GCSFUSE_BENCH_MOUNT: 'local-dir' },
      timeoutMs: 240_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`note: --mount local-dir: the agents use local folders; bucket ${TEST_DATA_BUCKET} is not mounted`);

    // The group was resolved on the Compute API (not taken as a VM), by the orchestrator worker.
    expect(compute.requests.map((q) => [q.method, q.path])).toContainEqual([
      'POST',
      `/compute/v1/projects/${PROJECT}/zones/${ZONE}/instanceGroupManagers/${MIG}/listManagedInstances`,
    ]);
    expect(compute.requests.some((q) => q.path.includes('/instances/'))).toBe(false);

    // What reached the workflow: the whole-run deadline, the report name, the original's report format.
    const store = openArtifactStore(`gs://${ARTIFACTS_BUCKET}`, { storage: { apiEndpoint: gcs.endpoint } });
    const config = (await getJson<BenchmarkConfig>(store, layout.config(BENCHMARK_ID)))!;
    expect(config).toMatchObject({
      benchmarkId: BENCHMARK_ID,
      runName: BENCHMARK_ID,
      iterations: 2,
      runTimeoutMs: 14_400_000,
      reportName: REPORT_NAME,
      reportFormat: 'original',
      fleet: { kind: 'vm', project: PROJECT, zone: ZONE, name: MIG },
      routing: { singleThreadTemplate: 'single-thread', multiThreadTemplate: 'multi-thread' },
    });
    expect(config.timeouts.fioIterationMs).toBe(30 * 60_000);

    // Single-job tests ran on the single-thread template's VM, the others on the multi-thread one.
    const folder = path.join(cwd, 'results', BENCHMARK_ID);
    const results = JSON.parse(readFileSync(path.join(folder, 'results.json'), 'utf8')) as {
      numJobs?: number;
      params?: Record<string, unknown>;
      vm: string;
      status: string;
    }[];
    expect(results.map((e) => [e.vm, e.status])).toEqual([
      [VMS.single, 'passed'],
      [VMS.multi, 'passed'],
    ]);

    // results/<id>/ in the working directory, as the original leaves it.
    const runConfig = JSON.parse(readFileSync(path.join(folder, 'run-config.json'), 'utf8')) as Record<string, unknown>;
    expect(runConfig).toMatchObject({
      benchmark_id: BENCHMARK_ID,
      num_vms: 2,
      vm_names: [VMS.single, VMS.multi],
      num_tests: 2,
      num_configs: 1,
      iterations: 2,
      artifacts_bucket: `gs://${ARTIFACTS_BUCKET}`,
      instance_group: MIG,
      zone: ZONE,
      project: PROJECT,
      arguments: ['orchestrator', ...argv],
    });
    for (const f of ['summary.json', 'report.csv', 'test-cases.csv', 'jobfile.fio']) expect(existsSync(path.join(folder, f)), f).toBe(true);
    // The combined report under --report-name, in the original's columns (--report-format original is the entry point's default).
    expect(readFileSync(path.join(folder, REPORT_NAME), 'utf8')).toMatch(
      /^Matrix ID,Test ID,Config,Commit,IOType\|Jobs\|FSize\|BS\|IOD\|NrFiles\|Direct,Read BW \(MB\/s\)/,
    );
    expect(readFileSync(path.join(folder, 'test-cases.csv'), 'utf8')).toBe(readFileSync(testCsv, 'utf8'));
    expect(readlinkSync(path.join(cwd, 'results', 'latest'))).toBe(BENCHMARK_ID);
    // Nothing half-written is left beside it.
    expect(readdirSync(path.join(cwd, 'results')).filter((n) => n.includes('.tmp-'))).toEqual([]);

    // Report locations are printed whole: gs:// URLs in the artifact store, absolute local paths.
    expect(r.stderr).toMatch(new RegExp(`report: gs://${ARTIFACTS_BUCKET}/${BENCHMARK_ID}/report/`));
    expect(r.stderr).toContain(`results: ${folder}${path.sep}`);
  }, 300_000);

  it('status -o json: sorted keys, live as an array, numbers as numbers, the run name; cancel of the finished run is refused (exit 5)', async () => {
    const bin = path.join(REPO, 'bin/gcsfuse-bench');
    const env = { TEMPORAL_ADDRESS: '' };
    const status = await run(bin, ['status', BENCHMARK_ID, '--address', server.address, '-n', 'default', '-o', 'json'], { env });
    expect(status.code, status.stderr).toBe(0);
    const parsed = JSON.parse(status.stdout) as {
      benchmarkId: string;
      runName: string;
      status: string;
      progress: Record<string, unknown>;
      live: { workflowId: string; vm: string; passed: number; total: number }[];
    };
    expect(Object.keys(parsed)).toEqual(['benchmarkId', 'builds', 'live', 'progress', 'runName', 'status']);
    expect(Object.keys(parsed.progress)).toEqual([...Object.keys(parsed.progress)].sort());
    expect(parsed).toMatchObject({ benchmarkId: BENCHMARK_ID, runName: BENCHMARK_ID, status: 'COMPLETED' });
    expect(Array.isArray(parsed.live)).toBe(true);
    expect(parsed.live.map((l) => l.vm)).toEqual([VMS.single, VMS.multi]);
    for (const l of parsed.live) {
      expect(typeof l.passed).toBe('number');
      expect(typeof l.total).toBe('number');
    }
    // Two calls print the same bytes.
    const again = await run(bin, ['--output=json', '--address', server.address, 'status', BENCHMARK_ID], { env });
    expect(again.stdout).toBe(status.stdout);

    const cancel = await run(bin, ['cancel', BENCHMARK_ID, '--address', server.address], { env });
    expect(cancel.code).toBe(5);
    expect(cancel.stderr).toContain(`benchmark "${BENCHMARK_ID}" is already closed (COMPLETED): nothing to cancel`);
  }, 120_000);
});
