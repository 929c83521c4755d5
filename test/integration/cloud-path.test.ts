import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openArtifactStore } from '../../src/artifacts';
import { getJson } from '../../src/artifacts/store';
import { connectClient, startBenchmark } from '../../src/client/benchmarks';
import { layout } from '../../src/core/layout';
import type { EntryReport } from '../../src/core/report';
import type { JobSpec } from '../../src/core/spec';
import { storageOptions } from '../../src/shared/cloud';
import { createOrchestratorWorker } from '../../src/workers/orchestrator';
import { createAgentWorker } from '../../vm-agent/src/main';
import { FakeBigQuery } from '../support/fake-bigquery';
import { FakeCompute } from '../support/fake-compute';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs';
import { fuseAvailability, GCSFUSE_TEST_REF, seededGcsfuse } from '../support/gcsfuse';
import { smallRequest, tempDir } from '../support/harness';
import { startLocalTemporal } from '../support/temporal';

/**
 * The cloud path end to end on this machine: artifacts in a GCS emulator, the fleet from a
 * managed instance group served by a Compute API stand-in that the real client library
 * talks to over REST, routing by instance template, real Temporal and real fio agents.
 */
let env: TestWorkflowEnvironment;
let gcs: FakeGcs;
let compute: FakeCompute;
let bigquery: FakeBigQuery;
const workers: { worker: Worker; done: Promise<void> }[] = [];
const home = tempDir('cloud');
const ARTIFACTS = 'gs://bench-artifacts/runs';

beforeAll(async () => {
  [env, gcs, compute, bigquery] = await Promise.all([
    startLocalTemporal(),
    startFakeGcs({ buckets: ['bench-artifacts'] }),
    FakeCompute.start(),
    FakeBigQuery.start(),
  ]);
  bigquery.addDataset('bench-proj', 'perf');
  compute.addZonalGroup('proj', 'us-west4-a', 'bench-mig', [
    { name: 'vm-single-1', status: 'RUNNING', template: 'tpl-single' },
    { name: 'vm-multi-1', status: 'RUNNING', template: 'tpl-multi' },
    { name: 'vm-multi-2', status: 'RUNNING', template: 'tpl-multi' },
    { name: 'vm-stopped', status: 'TERMINATED', template: 'tpl-multi' },
  ]);
  const temporal = { address: env.address, namespace: 'default' };
  const cloud = { storageEndpoint: gcs.endpoint, computeEndpoint: `http://${compute.host}` };
  const start = (w: Worker) => workers.push({ worker: w, done: w.run() });
  start(await createOrchestratorWorker({ temporal, artifacts: ARTIFACTS, cloud, bigqueryOptions: bigquery.clientOptions() }));
  for (const vm of ['vm-single-1', 'vm-multi-1', 'vm-multi-2']) {
    // Agents mount what the job asks: a local folder, or the bucket with real gcsfuse (the pinned build).
    start(
      await createAgentWorker({
        vm,
        temporal,
        artifacts: ARTIFACTS,
        cloud,
        workDir: `${home}/${vm}`,
        gcsfuse: { seeded: seededGcsfuse() },
      }),
    );
  }
});

afterAll(async () => {
  for (const w of workers) w.worker.shutdown();
  await Promise.allSettled(workers.map((w) => w.done));
  await Promise.allSettled([env?.teardown(), gcs?.stop(), compute?.close(), bigquery?.close()]);
});

describe('cloud path: GCS artifacts, a managed instance group, routing by template', () => {
  it('runs on the RUNNING VMs of the group, single-job tests on one template and the rest on the other', async () => {
    const req = smallRequest('cloud-1', [], {
      bigquery: { project: 'bench-proj', dataset: 'perf', table: 'iterations' },
      fleet: { kind: 'instance-group', project: 'proj', zone: 'us-west4-a', group: 'bench-mig' },
      routing: { singleThreadTemplate: 'tpl-single', multiThreadTemplate: 'tpl-multi' },
    });
    req.testCases = {
      name: 'tests.csv',
      content:
        'test_id,io_type,block_size,file_size,num_jobs\ns1,read,64k,4m,1\ns2,randread,4k,4m,1\nm1,read,64k,4m,2\nm2,randwrite,4k,4m,3\nm3,write,64k,4m,2\n',
    };
    process.env.GCSFUSE_BENCH_STORAGE_ENDPOINT = gcs.endpoint; // the CLI side reads the same store
    try {
      const client = await connectClient({ address: env.address, namespace: 'default' });
      const result = await (await startBenchmark(client, req, ARTIFACTS)).result();
      // 5 entries x 2 iterations, one row per direction with I/O (randrw has none here: one each).
      expect(result).toMatchObject({ totalEntries: 5, passed: 5, failed: 0, exportedRows: 10 });
      expect(result.exportError).toBeUndefined();
      const rows = bigquery.rows('bench-proj', 'perf', 'iterations')!;
      expect(rows).toHaveLength(10);
      expect(new Set(rows.map((r) => r.benchmark_id))).toEqual(new Set(['cloud-1']));
    } finally {
      delete process.env.GCSFUSE_BENCH_STORAGE_ENDPOINT;
    }

    const store = openArtifactStore(ARTIFACTS, storageOptions({ storageEndpoint: gcs.endpoint }));
    const keys = await store.list('cloud-1/jobs/');
    expect(keys).toEqual(['cloud-1/jobs/vm-multi-1.json', 'cloud-1/jobs/vm-multi-2.json', 'cloud-1/jobs/vm-single-1.json']);
    const single = (await getJson<JobSpec>(store, layout.jobSpec('cloud-1', 'vm-single-1')))!;
    expect(single.entries.map((e) => e.testId).sort()).toEqual(['s1', 's2']);
    for (const vm of ['vm-multi-1', 'vm-multi-2']) {
      const spec = (await getJson<JobSpec>(store, layout.jobSpec('cloud-1', vm)))!;
      expect(spec.entries.every((e) => Number(e.params.num_jobs) > 1)).toBe(true);
    }
    const reports = (await getJson<EntryReport[]>(store, layout.report('cloud-1', 'results.json')))!;
    expect(reports.map((r) => [r.testId, r.status])).toEqual([
      ['s1', 'passed'],
      ['s2', 'passed'],
      ['m1', 'passed'],
      ['m2', 'passed'],
      ['m3', 'passed'],
    ]);
    expect(await store.get(layout.fioOutput('cloud-1', 'vm-single-1', 1, 2))).toBeDefined();
    expect(await store.get(layout.report('cloud-1', 'combined_report.csv'))).toBeDefined();

    // The orchestrator asked the Compute API for the group, in the right project and zone.
    expect(
      compute.requests.some(
        (r) =>
          r.method === 'POST' && r.path.includes('/projects/proj/zones/us-west4-a/instanceGroupManagers/bench-mig/listManagedInstances'),
      ),
    ).toBe(true);
  });

  it('benchmarks through a real gcsfuse mount of an emulator bucket', async (ctx) => {
    const fuse = fuseAvailability();
    if (!fuse.ok) ctx.skip(fuse.reason);
    await gcs.createBucket('bench-data');
    const req = smallRequest('cloud-fuse', ['vm-multi-1', 'vm-multi-2'], {
      iterations: 2,
      mount: { kind: 'gcsfuse', bucket: 'bench-data', customEndpoint: gcs.jsonApi, anonymousAccess: true },
      configs: {
        name: 'configs.csv',
        content: `commit,mount_args,label\n${GCSFUSE_TEST_REF},--implicit-dirs --enable-hns=false,implicit\n`,
      },
    });
    req.testCases = { name: 'tests.csv', content: 'test_id,io_type,block_size,file_size,num_jobs\nw,write,256k,2m,1\nr,read,256k,2m,1\n' };
    // Time based (2 s) so the resource monitor samples gcsfuse while fio runs.
    req.jobFile = { ...req.jobFile, content: req.jobFile.content.replace('runtime=1s', 'runtime=2s') };
    const client = await connectClient({ address: env.address, namespace: 'default' });
    const result = await (await startBenchmark(client, req, undefined)).result();
    expect(result).toMatchObject({ totalEntries: 2, passed: 2, failed: 0 });

    const store = openArtifactStore(ARTIFACTS, storageOptions({ storageEndpoint: gcs.endpoint }));
    const reports = (await getJson<EntryReport[]>(store, layout.report('cloud-fuse', 'results.json')))!;
    const w = reports.find((r) => r.testId === 'w')!;
    expect(w.write!.bwBytesPerSec.mean).toBeGreaterThan(0);
    // fio's files went through gcsfuse into the data bucket, under TEST_DATA_DIR.
    const data = openArtifactStore('gs://bench-data', storageOptions({ storageEndpoint: gcs.endpoint }));
    expect((await data.list(`gcsfuse-bench-data/${w.vm}/w/`)).length).toBeGreaterThan(0);
    // gcsfuse's log of each iteration is kept beside fio's output.
    const results = await store.list(`cloud-fuse/results/${w.vm}/test-${w.matrixId}/`);
    expect(results.some((k) => /iteration-1\.gcsfuse-\d+\.log$/.test(k))).toBe(true);
    expect(String(await store.get(results.find((k) => /iteration-1\.gcsfuse-\d+\.log$/.test(k))!))).toMatch(/mount/i);
    // gcsfuse's own CPU and memory were sampled while fio ran.
    expect((w as EntryReport & { resources: { gcsfuse_rss_MiB: { peak: number } } }).resources.gcsfuse_rss_MiB.peak).toBeGreaterThan(1);
    const rendered = String(await store.get(layout.renderedJob('cloud-fuse', w.vm!, w.matrixId)));
    expect(rendered).toContain(`directory=${home}/${w.vm}/gcsfuse-mnt/gcsfuse-bench-data/${w.vm}/w`);
  });

  it('three agents mounting one bucket with real gcsfuse run the same write and read tests at once, each under its own folder', async (ctx) => {
    const fuse = fuseAvailability();
    if (!fuse.ok) ctx.skip(fuse.reason);
    await gcs.createBucket('shared-data');
    const vms = ['vm-single-1', 'vm-multi-1', 'vm-multi-2'];
    // Three configs of the same tests: every test id runs on every VM at the same time.
    const configs = ['a', 'b', 'c'].map((l) => `${GCSFUSE_TEST_REF},--implicit-dirs --enable-hns=false --app-name=${l},${l}`).join('\n');
    const req = smallRequest('fleet-shared', vms, {
      iterations: 1,
      mount: { kind: 'gcsfuse', bucket: 'shared-data', customEndpoint: gcs.jsonApi, anonymousAccess: true },
      configs: { name: 'configs.csv', content: `commit,mount_args,label\n${configs}\n` },
      testCases: { name: 'tests.csv', content: 'test_id,io_type,block_size,file_size,num_jobs\nw,write,1m,4m,2\nr,read,256k,2m,2\n' },
      // Write-heavy: two jobs per VM writing whole files and fsyncing them; the read test lays its files out first.
      jobFile: {
        name: 'jobfile.fio',
        content:
          '[global]\nioengine=psync\ndirectory=${TEST_DATA_DIR}\n\n[job]\nrw=${IO_TYPE}\nbs=${BLOCK_SIZE}\nsize=${FILE_SIZE}\nnumjobs=${NUM_JOBS}\nend_fsync=1\n',
      },
    });
    const client = await connectClient({ address: env.address, namespace: 'default' });
    const result = await (await startBenchmark(client, req, undefined)).result();
    expect(result).toMatchObject({ totalEntries: 6, passed: 6, failed: 0 });

    const store = openArtifactStore(ARTIFACTS, storageOptions({ storageEndpoint: gcs.endpoint }));
    const reports = (await getJson<EntryReport[]>(store, layout.report('fleet-shared', 'results.json')))!;
    // Every VM ran both tests, so the same test ids ran on several VMs sharing the bucket.
    expect(new Set(reports.map((r) => r.vm))).toEqual(new Set(vms));
    for (const r of reports) expect((r.testId === 'w' ? r.write : r.read)!.bwBytesPerSec.mean, `${r.testId} on ${r.vm}`).toBeGreaterThan(0);
    const data = openArtifactStore('gs://shared-data', storageOptions({ storageEndpoint: gcs.endpoint }));
    const objects = await data.list('gcsfuse-bench-data/');
    const owners = new Set(reports.map((r) => r.vm));
    for (const vm of owners) {
      expect(
        objects.some((k) => k.startsWith(`gcsfuse-bench-data/${vm}/w/`)),
        `${vm}`,
      ).toBe(true);
      expect(
        objects.some((k) => k.startsWith(`gcsfuse-bench-data/${vm}/r/`)),
        `${vm}`,
      ).toBe(true);
    }
    // Nothing outside the VMs' own folders.
    expect(objects.filter((k) => !k.endsWith('/')).filter((k) => !vms.some((vm) => k.startsWith(`gcsfuse-bench-data/${vm}/`)))).toEqual([]);
  });

  it('a group that does not exist fails the benchmark with a message naming it', async () => {
    const req = smallRequest('cloud-2', [], {
      fleet: { kind: 'instance-group', project: 'proj', zone: 'us-west4-a', group: 'no-such-mig' },
    });
    const client = await connectClient({ address: env.address, namespace: 'default' });
    const err = await (await startBenchmark(client, req, undefined)).result().catch((e: unknown) => e as Error);
    const messages: string[] = [];
    for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) messages.push(String(e.message));
    expect(messages.join(' | ')).toMatch(/instance group "no-such-mig" not found in project proj zone us-west4-a/);
  });
});
