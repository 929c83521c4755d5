/**
 * The export with the real @google-cloud/bigquery client (real google-auth-library request path,
 * teeny-request multipart upload, job polling) against a local fake of the BigQuery REST API,
 * over artifacts of real fio runs aggregated by the real aggregate activity. Nothing here may
 * reach Google: every outbound attempt is recorded and checked.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { aggregate, type EntryOwner } from '../../src/activities/aggregate';
import { EXPORT_FILES, buildExportRows, exportResults, replaceStatement, type BigQueryTarget } from '../../src/shared/export';
import { LocalArtifactStore } from '../../src/artifacts/local';
import { toJson } from '../../src/artifacts/store';
import { runExport } from '../../src/client/export';
import { parseMountConfigsCsv } from '../../src/core/configs';
import { InputError } from '../../src/core/errors';
import { EXPORT_COLUMNS, bigQuerySchema, toNdjson } from '../../src/core/export-rows';
import { layout } from '../../src/core/layout';
import { buildMatrix, type MatrixEntry } from '../../src/core/matrix';
import { ENTRY_METADATA_SCHEMA, type EntryMetadata } from '../../src/core/metadata';
import type { JobSpec } from '../../src/core/spec';
import { parseTestCasesCsv } from '../../src/core/testcases';
import { runFio } from '../unit/helpers/fio';
import type { EntryReport } from '../../src/core/report';
import { originalBigQueryFields } from '../support/compat';
import { watchOutbound } from '../support/fake-compute';
import { FAKE_BIGQUERY_PROJECT, FAKE_BIGQUERY_TOKEN, FakeBigQuery, type RecordedRequest } from '../support/fake-bigquery';

const PROJECT = 'bench-project';
const DATASET = 'gcsfuse_bench';
const TABLE = 'iterations';
/** The original-schema table the export derives from ours. */
const ORIGINAL = 'iterations_original';
const target = (over: Partial<BigQueryTarget> = {}): BigQueryTarget => ({ project: PROJECT, dataset: DATASET, table: TABLE, ...over });

const CONFIGS_CSV = 'commit,mount_args,label\nv3.4.0,--implicit-dirs,baseline\nv3.5.0,--implicit-dirs --enable-kernel-reader,candidate\n';
const TESTS_CSV =
  'test_id,io_type,block_size,io_depth,num_jobs,file_size,nr_files,direct\nmixed,randrw,4k,1,1,128k,1,0\nseq,read,8k,1,1,128k,1,0\n';
const ITERATIONS = 2;

let dir: string;
let store: LocalArtifactStore;
let fake: FakeBigQuery;
let outbound: ReturnType<typeof watchOutbound>;
const savedEnv: Record<string, string | undefined> = {};
/** Rows each benchmark exports. */
const expectedRows: Record<string, number> = {};

function metadataFor(benchmarkId: string, vm: string, e: MatrixEntry): EntryMetadata {
  return {
    schema: ENTRY_METADATA_SCHEMA,
    benchmarkId,
    vm,
    matrixId: e.matrixId,
    testId: e.testId,
    collectedAt: '2026-01-01T00:00:00.000Z',
    host: {
      hostname: vm,
      machineType: 'n2-standard-8',
      kernelRelease: '6.1.0-31-cloud-amd64',
      arch: 'x64',
      cpuCount: 8,
      cpuModel: 'x',
      memoryTotalBytes: 32 * 2 ** 30,
      nodeVersion: 'v20.19.0',
      fioVersion: 'fio-3.33',
    },
    gcsfuse: null,
    mount: {
      kind: 'local-dir',
      configLabel: e.config.label,
      configCommit: e.config.commit,
      mountArgs: e.config.mountArgs,
      mountArgv: e.config.mountArgv,
      mountPoint: '/tmp/m',
    },
    job: { sha256: String(e.matrixId).repeat(64).slice(0, 64), bytes: 100 },
  };
}

/**
 * A finished benchmark in the artifact store, as agents and the aggregate activity leave it: job
 * specs, real fio outputs per iteration, metadata.json per entry, report/results.json. The entry
 * of `failedMatrixId` failed (no outputs), so it has no rows.
 */
async function makeBenchmark(benchmarkId: string, failedMatrixId: number): Promise<void> {
  const entries = buildMatrix(parseMountConfigsCsv(CONFIGS_CSV, 'configs.csv'), parseTestCasesCsv(TESTS_CSV, 'tests.csv'));
  const vms = ['vm-1', 'vm-2'];
  const owners: EntryOwner[] = [];
  const specs = vms.map((vm): JobSpec => ({
    benchmarkId,
    vm,
    iterations: ITERATIONS,
    mount: { kind: 'local-dir' },
    fioIterationMs: 60_000,
    jobTemplatePath: 'jobfile.fio',
    entries: [],
  }));
  const runs: Promise<void>[] = [];
  for (const e of entries) {
    const vm = vms[e.matrixId % 2]!;
    specs[e.matrixId % 2]!.entries.push({ ...e, estimatedIterationMs: 100 });
    const failed = e.matrixId === failedMatrixId;
    owners.push({ matrixId: e.matrixId, vm, status: failed ? 'failed' : 'passed' });
    if (failed) continue;
    await store.put(layout.entryMetadata(benchmarkId, vm, e.matrixId), toJson(metadataFor(benchmarkId, vm, e)));
    for (let i = 1; i <= ITERATIONS; i++) {
      const work = path.join(dir, 'fio', benchmarkId, `${e.matrixId}-${i}`);
      runs.push(
        mkdir(work, { recursive: true })
          .then(() =>
            runFio(work, 'out.json', [
              '--name=t',
              `--directory=${work}`,
              `--size=${e.params.file_size}`,
              `--bs=${e.params.block_size}`,
              `--rw=${e.params.io_type}`,
              '--ioengine=psync',
              '--group_reporting',
              '--output-format=json+',
            ]),
          )
          .then((run) => store.putOnce(layout.fioOutput(benchmarkId, vm, e.matrixId, i), run.output))
          .then(() => undefined),
      );
    }
  }
  await Promise.all(runs);
  for (const s of specs) await store.putOnce(layout.jobSpec(benchmarkId, s.vm), toJson(s));
  await aggregate(store, { benchmarkId, owners });
  // randrw entries give a read and a write row per iteration, read entries one.
  expectedRows[benchmarkId] = entries
    .filter((e) => e.matrixId !== failedMatrixId)
    .reduce((n, e) => n + ITERATIONS * (e.params.io_type === 'randrw' ? 2 : 1), 0);
}

beforeAll(async () => {
  outbound = watchOutbound();
  fake = await FakeBigQuery.start();
  // Safety net: were google-auth-library to probe the metadata server, the probe lands on the
  // fake (and fails the outbound check below) instead of leaving the machine.
  for (const key of ['GCE_METADATA_HOST', 'GCE_METADATA_IP', 'GOOGLE_APPLICATION_CREDENTIALS', 'BIGQUERY_EMULATOR_HOST'])
    savedEnv[key] = process.env[key];
  process.env.GCE_METADATA_HOST = fake.host;
  process.env.GCE_METADATA_IP = fake.host;
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
  delete process.env.BIGQUERY_EMULATOR_HOST;
  dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-bq-'));
  store = new LocalArtifactStore(path.join(dir, 'artifacts'));
  await Promise.all([makeBenchmark('bench-1', 3), makeBenchmark('bench-2', 0)]);
});

afterAll(async () => {
  outbound?.stop();
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

beforeEach(() => {
  fake.clearRequests();
  fake.pollsBeforeDone = 0;
  outbound.attempts.length = 0;
});

afterEach(() => {
  // Every connection and request went to the fake, and only to its BigQuery API paths.
  const elsewhere = outbound.attempts.filter(
    (a) => a !== `http http://${fake.host}` && a !== `tcp ${fake.host}` && a !== `fetch http://${fake.host}`,
  );
  expect(elsewhere).toEqual([]);
  expect(fake.nonApiRequests()).toEqual([]);
});

const deps = () => ({ bigqueryOptions: fake.clientOptions() });
const tableRows = (table = TABLE) => fake.rows(PROJECT, DATASET, table) ?? [];
const rowsOf = (benchmarkId: string, table = TABLE) => tableRows(table).filter((r) => r.benchmark_id === benchmarkId);
const brief = (r: RecordedRequest) =>
  `${r.method} ${r.path.replace(/_staging_[0-9a-f]{32}/, '_staging_*').replace(/jobs\/gcsfuse_bench_export_[0-9a-f-]+/, 'jobs/*')}`;

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('export files in the artifact store', () => {
  it('writes report/iterations.ndjson and report/bigquery-schema.json without BigQuery', async () => {
    const summary = await exportResults(store, {}, { benchmarkId: 'bench-1' });
    expect(summary).toMatchObject({ rows: expectedRows['bench-1'], entries: 3, skippedEntries: 1 });
    expect(summary.bigquery).toBeUndefined();
    expect(summary.urls).toEqual(
      [EXPORT_FILES.rows, EXPORT_FILES.schema, EXPORT_FILES.originalRows, EXPORT_FILES.originalSchema].map((f) =>
        path.join(dir, 'artifacts', 'bench-1', 'report', f),
      ),
    );
    const ndjson = await readFile(summary.urls[0]!, 'utf8');
    const lines = ndjson
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(expectedRows['bench-1']!);
    // The rows of every passed entry, each iteration, with the metadata of the VM that ran it; none of the failed entry.
    expect(new Set(lines.map((l) => l.matrix_id))).toEqual(new Set([1, 2, 4]));
    expect(lines.every((l) => l.benchmark_id === 'bench-1' && l.machine_type === 'n2-standard-8' && typeof l.job_sha256 === 'string')).toBe(
      true,
    );
    expect(lines.find((l) => l.matrix_id === 4)).toMatchObject({
      config_label: 'candidate',
      test_id: 'seq',
      vm: 'vm-1',
      direction: 'read',
      io_type: 'read',
      block_size: '8k',
    });
    // Same bytes as the rows built from the store: nothing else goes into the file.
    expect(ndjson).toBe(toNdjson((await buildExportRows(store, 'bench-1')).rows));
    // The rows agree with results.json's per-iteration values.
    const results = JSON.parse(await readFile(path.join(dir, 'artifacts', 'bench-1', 'report', 'results.json'), 'utf8')) as {
      matrixId: number;
      read: { bwBytesPerSec: { values: number[] } };
    }[];
    for (const r of results.filter((x) => x.read)) {
      expect(lines.filter((l) => l.matrix_id === r.matrixId && l.direction === 'read').map((l) => l.bw_bytes_per_sec)).toEqual(
        r.read.bwBytesPerSec.values,
      );
    }
    expect(JSON.parse(await readFile(summary.urls[1]!, 'utf8'))).toEqual(bigQuerySchema());
    expect(fake.requests).toEqual([]);
  });

  it('refuses a benchmark that was never aggregated', async () => {
    const err = await rejection(exportResults(store, {}, { benchmarkId: 'no-such-run' }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/no results for benchmark "no-such-run".*report\/results\.json is missing/);
  });
});

describe('BigQuery upload with the real client against the fake', () => {
  beforeAll(() => {
    fake.addDataset(PROJECT, DATASET, 'US');
  });

  it('first upload creates the table and inserts every row, through staging and one MERGE', async () => {
    fake.pollsBeforeDone = 2; // the client polls jobs.get until DONE
    const summary = await exportResults(store, deps(), { benchmarkId: 'bench-1', bigquery: target() });
    const n = expectedRows['bench-1']!;
    expect(summary.bigquery).toMatchObject({
      table: `${PROJECT}.${DATASET}.${TABLE}`,
      location: 'US',
      tableCreated: true,
      deletedRows: 0,
      insertedRows: n,
    });
    expect(rowsOf('bench-1')).toHaveLength(n);
    // The table holds exactly the NDJSON rows.
    const ndjson = await readFile(summary.urls[0]!, 'utf8');
    expect(tableRows()).toEqual(
      ndjson
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    );

    // The calls, in order; the staging table is gone afterwards. The client's project (here the
    // fake's, as a billing project would be) runs the query job; the client library puts a load
    // job in the project of its destination dataset.
    const calls = fake.requests.map(brief);
    // Ours, then the same steps for the original-schema table beside it.
    const steps = (table: string) => [
      `GET /bigquery/v2/projects/${PROJECT}/datasets/${DATASET}`,
      `GET /bigquery/v2/projects/${PROJECT}/datasets/${DATASET}/tables/${table}`,
      `POST /bigquery/v2/projects/${PROJECT}/datasets/${DATASET}/tables`,
      `POST /bigquery/v2/projects/${PROJECT}/datasets/${DATASET}/tables`,
      `POST /upload/bigquery/v2/projects/${PROJECT}/jobs`,
      `GET /bigquery/v2/projects/${PROJECT}/jobs/*`,
      `GET /bigquery/v2/projects/${PROJECT}/jobs/*`,
      `POST /bigquery/v2/projects/${FAKE_BIGQUERY_PROJECT}/jobs`,
      `GET /bigquery/v2/projects/${FAKE_BIGQUERY_PROJECT}/jobs/*`,
      `GET /bigquery/v2/projects/${FAKE_BIGQUERY_PROJECT}/jobs/*`,
      `DELETE /bigquery/v2/projects/${PROJECT}/datasets/${DATASET}/tables/${table}_staging_*`,
    ];
    expect(calls).toEqual([...steps(TABLE), ...steps(ORIGINAL)]);
    expect(fake.tables(PROJECT, DATASET)).toEqual([TABLE, ORIGINAL]);
    // Only the table lookups failed (404: not there yet); every request carried the fake token.
    const statuses = [200, 404, 200, 200, 200, 200, 200, 200, 200, 200, 204];
    expect(fake.requests.map((r) => r.status)).toEqual([...statuses, ...statuses]);
    for (const r of fake.requests) expect(r.headers.authorization).toBe(`Bearer ${FAKE_BIGQUERY_TOKEN}`);
    // The outbound watch saw the client's traffic (so its check after each test means something).
    expect(outbound.attempts).toContain(`tcp ${fake.host}`);

    // The table: the export's schema (as the API names types), day partitions on recorded_at, clustered by benchmark_id.
    const created = JSON.parse(fake.requests[2]!.body) as Record<string, unknown>;
    expect(created).toMatchObject({
      tableReference: { projectId: PROJECT, datasetId: DATASET, tableId: TABLE },
      schema: { fields: bigQuerySchema() },
      timePartitioning: { type: 'DAY', field: 'recorded_at' },
      clustering: { fields: ['benchmark_id', 'config_label', 'test_id'] },
    });
    const resource = fake.tableResource(PROJECT, DATASET, TABLE)!;
    expect((resource.schema as { fields: { type: string }[] }).fields.map((f) => f.type)).toContain('INTEGER');
    // The staging table expires on its own, should the export die before dropping it.
    const staging = JSON.parse(fake.requests[3]!.body) as { expirationTime: string; schema: unknown };
    expect(staging.schema).toEqual({ fields: bigQuerySchema() });
    expect(Number(staging.expirationTime)).toBeGreaterThan(Date.now());

    // The load job: a multipart upload of the NDJSON into the new staging table, nothing else.
    const upload = fake.requests[4]!;
    expect(upload.query).toEqual({ uploadType: 'multipart' });
    expect(upload.headers['content-type']).toMatch(/^multipart\/related; boundary=/);
    expect(upload.body).toContain(ndjson);
    const jobMeta = JSON.parse(upload.body.split('\r\n')[3]!) as {
      configuration: { load: Record<string, unknown> };
      jobReference: { location?: string };
    };
    expect(jobMeta.configuration.load).toMatchObject({
      sourceFormat: 'NEWLINE_DELIMITED_JSON',
      writeDisposition: 'WRITE_EMPTY',
      createDisposition: 'CREATE_NEVER',
    });
    expect(jobMeta.jobReference.location).toBe('US');

    // The query job: the MERGE with the benchmark id as a parameter, never spliced into the SQL.
    const query = JSON.parse(fake.requests[7]!.body) as {
      configuration: { query: Record<string, unknown> };
      jobReference: { location: string };
    };
    expect(query.configuration.query.query).toMatch(
      /^MERGE `bench-project\.gcsfuse_bench\.iterations` T USING `bench-project\.gcsfuse_bench\.iterations_staging_[0-9a-f]{32}` S ON FALSE\n/,
    );
    expect(query.configuration.query.query).not.toContain('bench-1');
    expect(query.configuration.query).toMatchObject({
      useLegacySql: false,
      parameterMode: 'named',
      queryParameters: [{ name: 'benchmark_id', parameterType: { type: 'STRING' }, parameterValue: { value: 'bench-1' } }],
    });
    expect(query.jobReference.location).toBe('US');
  });

  it('a second upload of the same run replaces its rows: still N rows, not 2N', async () => {
    const before = rowsOf('bench-1');
    const n = expectedRows['bench-1']!;
    expect(before).toHaveLength(n);
    const summary = await exportResults(store, deps(), { benchmarkId: 'bench-1', bigquery: target() });
    expect(summary.bigquery).toMatchObject({ tableCreated: false, deletedRows: n, insertedRows: n });
    expect(rowsOf('bench-1')).toEqual(before);
    expect(tableRows()).toHaveLength(n);
    expect(fake.requests.map(brief)).not.toContain(`POST /bigquery/v2/projects/${PROJECT}/datasets/${DATASET}/tables/${TABLE}`);
    expect(fake.tables(PROJECT, DATASET)).toEqual([TABLE, ORIGINAL]);
  });

  it("a second run's rows are kept apart, and re-uploading either run leaves the other's alone", async () => {
    const n1 = expectedRows['bench-1']!;
    const n2 = expectedRows['bench-2']!;
    const run2 = await exportResults(store, deps(), { benchmarkId: 'bench-2', bigquery: target() });
    expect(run2.bigquery).toMatchObject({ deletedRows: 0, insertedRows: n2 });
    expect(rowsOf('bench-1')).toHaveLength(n1);
    expect(rowsOf('bench-2')).toHaveLength(n2);
    expect(tableRows()).toHaveLength(n1 + n2);
    const run1Rows = rowsOf('bench-1');
    await exportResults(store, deps(), { benchmarkId: 'bench-1', bigquery: target() });
    await exportResults(store, deps(), { benchmarkId: 'bench-2', bigquery: target() });
    expect(rowsOf('bench-1')).toEqual(run1Rows);
    expect(rowsOf('bench-2')).toHaveLength(n2);
    expect(tableRows()).toHaveLength(n1 + n2);
  });

  it("keeps the original-schema table beside ours: compat.md's fields and types, one row per report row, no duplicates on re-upload", async () => {
    const resource = fake.tableResource(PROJECT, DATASET, ORIGINAL)!;
    const fields = (resource.schema as { fields: { name: string; type: string }[] }).fields.map((f) => ({ name: f.name, type: f.type }));
    expect(fields).toEqual(originalBigQueryFields());
    expect(resource).toMatchObject({ timePartitioning: { type: 'DAY', field: 'run_timestamp' } });
    const rowsOfRun = (id: string) => (fake.rows(PROJECT, DATASET, ORIGINAL) ?? []).filter((r) => r.benchmark_id === id);
    // One row per passed entry (the failed one has none), as the original's report.
    const before = rowsOfRun('bench-1');
    expect(before.map((r) => r.matrix_id).sort()).toEqual([1, 2, 4]);
    const summary = await exportResults(store, deps(), { benchmarkId: 'bench-1', bigquery: target() });
    expect(summary.bigqueryOriginal).toMatchObject({
      table: `${PROJECT}.${DATASET}.${ORIGINAL}`,
      tableCreated: false,
      deletedRows: 3,
      insertedRows: 3,
    });
    expect(rowsOfRun('bench-1')).toEqual(before);
    // The values: the report's, in the header's units (MB/s = 10^6 bytes/s), integers as integers.
    const results = JSON.parse(await readFile(path.join(dir, 'artifacts', 'bench-1', 'report', 'results.json'), 'utf8')) as EntryReport[];
    for (const row of before) {
      const report = results.find((r) => r.matrixId === row.matrix_id)!;
      expect(row).toMatchObject({
        test_id: report.testId,
        config: report.configLabel,
        commit: report.commit,
        mount_args: report.mountArgs,
        iter: ITERATIONS,
        io_depth: 1,
        num_jobs: 1,
        num_files: 1,
        direct: 0,
      });
      expect(row.read_bw_mbs).toBeCloseTo(report.read!.bwBytesPerSec.mean / 1e6, 3);
      expect(row.read_p99_ms).toBeCloseTo(report.read!.clatPercentilesNs.p99! / 1e6, 3);
      expect(typeof row.run_timestamp).toBe('string');
    }
    expect(before.find((r) => r.matrix_id === 4)).toMatchObject({ write_bw_mbs: null, write_p50_ms: null, io_type: 'read' });
  });

  it('a failed load leaves the earlier rows of the run in place and drops the staging table', async () => {
    const before = tableRows();
    fake.failNextJob('load', 'Error while reading data: injected');
    const err = await rejection(exportResults(store, deps(), { benchmarkId: 'bench-1', bigquery: target() }));
    expect(err.message).toContain('injected');
    expect(tableRows()).toEqual(before);
    expect(fake.tables(PROJECT, DATASET)).toEqual([TABLE, ORIGINAL]);
    expect(fake.requests.map(brief)).not.toContain(`POST /bigquery/v2/projects/${PROJECT}/jobs`);
  });

  it('a failed MERGE changes nothing either', async () => {
    const before = tableRows();
    fake.failNextJob('query', 'Could not serialize access to table due to concurrent update');
    const err = await rejection(exportResults(store, deps(), { benchmarkId: 'bench-2', bigquery: target() }));
    expect(err.message).toContain('concurrent update');
    expect(tableRows()).toEqual(before);
    expect(fake.tables(PROJECT, DATASET)).toEqual([TABLE, ORIGINAL]);
  });

  it('a missing dataset gives a clear error naming it; the files are written anyway', async () => {
    await rm(path.join(dir, 'artifacts', 'bench-2', 'report', EXPORT_FILES.rows), { force: true });
    const err = await rejection(exportResults(store, deps(), { benchmarkId: 'bench-2', bigquery: target({ dataset: 'no_such_dataset' }) }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(`BigQuery dataset ${PROJECT}:no_such_dataset does not exist`);
    expect(err.message).toContain(`bq mk --dataset ${PROJECT}:no_such_dataset`);
    expect(fake.requests.map(brief)).toEqual([`GET /bigquery/v2/projects/${PROJECT}/datasets/no_such_dataset`]);
    expect(fake.tables(PROJECT, 'no_such_dataset')).toEqual([]);
    expect(await readFile(path.join(dir, 'artifacts', 'bench-2', 'report', EXPORT_FILES.rows), 'utf8')).not.toBe('');
  });

  it('runs its jobs in the dataset location, or refuses a location that is not the dataset', async () => {
    fake.addDataset(PROJECT, 'eu_results', 'EU');
    const summary = await exportResults(store, deps(), { benchmarkId: 'bench-2', bigquery: target({ dataset: 'eu_results' }) });
    expect(summary.bigquery).toMatchObject({ location: 'EU', insertedRows: expectedRows['bench-2'] });
    const jobs = fake.requests.filter((r) => r.method === 'GET' && r.path.includes('/jobs/'));
    expect(jobs.length).toBeGreaterThan(0);
    expect(jobs.every((r) => r.query.location === 'EU')).toBe(true);
    expect(fake.rows(PROJECT, 'eu_results', TABLE)).toHaveLength(expectedRows['bench-2']!);

    fake.clearRequests();
    const err = await rejection(
      exportResults(store, deps(), { benchmarkId: 'bench-2', bigquery: target({ dataset: 'eu_results', location: 'US' }) }),
    );
    expect(err.message).toContain(`Dataset ${PROJECT}:eu_results was not found in location US`);
    expect(fake.tables(PROJECT, 'eu_results')).toEqual([TABLE, ORIGINAL]);
  });

  it('refuses a table whose schema does not fit, naming what is wrong', async () => {
    fake.addTable(PROJECT, DATASET, 'old_layout', [
      ...bigQuerySchema().filter((f) => f.name !== 'lat_p999_ns' && f.name !== 'iops'),
      { name: 'iops', type: 'STRING', mode: 'NULLABLE' },
      { name: 'owner', type: 'STRING', mode: 'REQUIRED' },
    ]);
    const err = await rejection(exportResults(store, deps(), { benchmarkId: 'bench-1', bigquery: target({ table: 'old_layout' }) }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(`BigQuery table ${PROJECT}.${DATASET}.old_layout lacks the columns lat_p999_ns`);
    expect(err.message).toContain('iops is STRING, the export writes FLOAT64');
    expect(err.message).toContain('requires columns the export does not write: owner');
    expect(fake.rows(PROJECT, DATASET, 'old_layout')).toEqual([]);
    expect(fake.requests.map((r) => r.method)).toEqual(['GET', 'GET']);
  });

  it('uploads into an existing table that has the columns (and more), and a run with no rows removes its old ones', async () => {
    fake.addTable(PROJECT, DATASET, 'wider', [...bigQuerySchema(), { name: 'note', type: 'STRING', mode: 'NULLABLE' }]);
    const first = await exportResults(store, deps(), { benchmarkId: 'bench-1', bigquery: target({ table: 'wider' }) });
    expect(first.bigquery).toMatchObject({ tableCreated: false, insertedRows: expectedRows['bench-1'] });
    expect(rowsOf('bench-1', 'wider').every((r) => r.note === null)).toBe(true);

    // Every entry of the run failed on a later attempt: nothing to load, and the old rows go.
    const results = path.join(dir, 'artifacts', 'bench-1', 'report', 'results.json');
    const saved = await readFile(results, 'utf8');
    const failedAll = (JSON.parse(saved) as { status: string }[]).map((r) => ({ ...r, status: 'failed' }));
    await store.put('bench-1/report/results.json', toJson(failedAll));
    try {
      fake.clearRequests();
      const empty = await exportResults(store, deps(), { benchmarkId: 'bench-1', bigquery: target({ table: 'wider' }) });
      expect(empty).toMatchObject({ rows: 0, entries: 0, skippedEntries: 4 });
      expect(empty.bigquery).toMatchObject({ loadJobId: null, deletedRows: expectedRows['bench-1'], insertedRows: 0 });
      expect(rowsOf('bench-1', 'wider')).toEqual([]);
      expect(fake.requests.some((r) => r.path.startsWith('/upload/'))).toBe(false);
    } finally {
      await store.put('bench-1/report/results.json', saved);
    }
  });
});

describe('the fake refuses what the export does not send', () => {
  it('answers any other statement with a 400, so a changed statement fails the tests', async () => {
    const { BigQuery } = await import('@google-cloud/bigquery');
    const client = new BigQuery(fake.clientOptions());
    const err = await rejection(
      client.createQueryJob({
        query: `DELETE FROM \`${PROJECT}.${DATASET}.${TABLE}\` WHERE benchmark_id = @benchmark_id`,
        params: { benchmark_id: 'bench-1' },
        location: 'US',
      }),
    );
    expect((err as Error & { code?: number }).code).toBe(400);
    expect(err.message).toContain("only runs the export's MERGE statement");
    // The exact statement the export sends is the one the fake accepts.
    expect(replaceStatement('`a-project.d.t`', '`a-project.d.s`')).toContain(`INSERT (${EXPORT_COLUMNS.map((c) => c.name).join(', ')})`);
  });
});

describe('export command', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    // As a user runs it: no project in the client options, so everything runs in the table's project.
    return {
      out,
      err,
      io: {
        out: (t: string) => out.push(t),
        err: (t: string) => err.push(t),
        bigqueryOptions: { ...fake.clientOptions(), projectId: undefined },
      },
    };
  };

  it('exports and uploads, printing where things went', async () => {
    const { out, err, io: opts } = io();
    const artifacts = path.join(dir, 'artifacts');
    const code = await runExport(['bench-2', '--artifacts', artifacts, '--bigquery', `${PROJECT}.${DATASET}.${TABLE}`], opts);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toContain(`exported ${expectedRows['bench-2']} row(s) of 4 entries of bench-2`);
    expect(text).toContain(path.join(artifacts, 'bench-2', 'report', EXPORT_FILES.rows));
    expect(text).toContain(
      `BigQuery ${PROJECT}.${DATASET}.${TABLE} (US): ${expectedRows['bench-2']} earlier row(s) of bench-2 replaced by ${expectedRows['bench-2']}`,
    );
    expect(rowsOf('bench-2')).toHaveLength(expectedRows['bench-2']!);
    expect(fake.requests.length).toBeGreaterThan(5);
    expect(fake.requests.every((r) => r.path.includes(`/projects/${PROJECT}/`))).toBe(true);

    const json = io();
    expect(await runExport(['bench-1', '--artifacts', artifacts, '--json'], json.io)).toBe(0);
    expect(JSON.parse(json.out.join('\n'))).toMatchObject({ rows: expectedRows['bench-1'], entries: 3, skippedEntries: 1 });
  });

  it('exits 2 with the flag named for bad input, before anything is read or sent', async () => {
    const artifacts = path.join(dir, 'artifacts');
    const cases: [string[], RegExp][] = [
      [['bench-1', '--artifacts', artifacts, '--bigquery', 'not-a-table'], /--bigquery: "not-a-table" is not a BigQuery table/],
      [['bench-1', '--artifacts', artifacts, '--bigquery', 'proj.ds.t;drop'], /--bigquery: /],
      [['bench-1', '--artifacts', artifacts, '--bigquery-location', 'US'], /--bigquery-location: is only meaningful with --bigquery/],
      [
        ['bench-1', '--artifacts', artifacts, '--bigquery', `${PROJECT}.${DATASET}.${TABLE}`, '--bigquery-location', 'u s'],
        /--bigquery-location: /,
      ],
      [['../etc', '--artifacts', artifacts], /<benchmark-id>: benchmark id "..\/etc" is not allowed/],
      [['bench-1'], /--artifacts: the artifact store is required/],
      [['no-such-run', '--artifacts', artifacts], /no results for benchmark "no-such-run"/],
    ];
    const saved = process.env.GCSFUSE_BENCH_ARTIFACTS;
    delete process.env.GCSFUSE_BENCH_ARTIFACTS;
    try {
      for (const [args, message] of cases) {
        const t = io();
        expect(await runExport(args, t.io), args.join(' ')).toBe(2);
        expect(t.err.join('\n')).toMatch(message);
      }
      // commander's own errors (an unknown flag) exit 2 as well.
      const t = io();
      expect(await runExport(['bench-1', '--artifacts', artifacts, '--no-such-flag'], t.io)).toBe(2);
      expect(t.err.join('\n')).toMatch(/unknown option/);
    } finally {
      if (saved !== undefined) process.env.GCSFUSE_BENCH_ARTIFACTS = saved;
    }
    expect(fake.requests).toEqual([]);
  });
});
