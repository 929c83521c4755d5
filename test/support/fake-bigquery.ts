/**
 * A small stand-in for the BigQuery REST API (v2), enough for the export's idempotent upload.
 *
 * It answers the calls the real @google-cloud/bigquery client makes for what the export uses
 * (observed from the client, see the recorded requests in test/integration/bigquery-export.test.ts):
 *
 *   GET    /bigquery/v2/projects/{p}/datasets/{d}                      datasets.get
 *   GET    /bigquery/v2/projects/{p}/datasets/{d}/tables/{t}           tables.get
 *   POST   /bigquery/v2/projects/{p}/datasets/{d}/tables               tables.insert
 *   DELETE /bigquery/v2/projects/{p}/datasets/{d}/tables/{t}           tables.delete
 *   POST   /upload/bigquery/v2/projects/{p}/jobs?uploadType=multipart  jobs.insert of a load job with its data
 *   POST   /bigquery/v2/projects/{p}/jobs                              jobs.insert of a query job
 *   GET    /bigquery/v2/projects/{p}/jobs/{jobId}?location=            jobs.get (the client polls it)
 *
 * Tables keep their rows in memory. Load jobs take NEWLINE_DELIMITED_JSON only and check every
 * value against the table schema as BigQuery does (unknown field, null in a REQUIRED column, a
 * value of the wrong type fail the job). Query jobs take exactly one statement shape, the export's
 * replace:
 *
 *   MERGE `p.d.target` T USING `p.d.source` S ON FALSE
 *   WHEN NOT MATCHED BY SOURCE AND T.benchmark_id = @benchmark_id THEN DELETE
 *   WHEN NOT MATCHED BY TARGET THEN INSERT (c1, c2, ...) VALUES (S.c1, S.c2, ...)
 *
 * with one named STRING parameter benchmark_id; it deletes the target's rows of that benchmark
 * and inserts every source row, in one step. Any other statement is refused with a 400, so a
 * change of what the export sends fails the test instead of passing against a lenient fake.
 *
 * Jobs run where their dataset is: a job whose location is not the dataset's fails as BigQuery's
 * do ("Not found: Dataset p:d was not found in location X"). `pollsBeforeDone` makes jobs report
 * RUNNING for that many jobs.get calls first; a job's effect happens when it becomes DONE.
 *
 * Errors have BigQuery's JSON body ({"error":{"code","message","errors":[{reason,...}],"status"}}).
 * Table types are returned with the names the API uses (INTEGER, FLOAT), whatever was sent.
 * GCE metadata server paths get a 404, so a client probing for credentials here shows up in the
 * log instead of reaching a real metadata server. Every request is recorded.
 */
import { recordingJsonHandler, type RecordedRequest } from './fake-http';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BigQueryOptions } from '@google-cloud/bigquery';

export const FAKE_BIGQUERY_TOKEN = 'fake-bigquery-token';
/** Project the client runs jobs in unless told otherwise (the export uses the target's project). */
export const FAKE_BIGQUERY_PROJECT = 'fake-bigquery-project';

export type { RecordedRequest } from './fake-http';

export interface FakeField {
  name: string;
  type: string;
  mode?: string;
  description?: string;
}

interface FakeTable {
  project: string;
  dataset: string;
  id: string;
  fields: FakeField[];
  rows: Record<string, unknown>[];
  resource: Record<string, unknown>;
}

interface FakeDataset {
  project: string;
  id: string;
  location: string;
}

interface FakeJob {
  project: string;
  id: string;
  location: string;
  resource: Record<string, unknown>;
  pollsLeft: number;
  /** Runs the job's effect when it becomes DONE; returns its error, or statistics to merge. */
  run: () => { error?: JobError; statistics?: Record<string, unknown> };
  done: boolean;
}

interface JobError {
  reason: string;
  message: string;
}

/**
 * An auth client for google-auth-library that needs no credentials and no network: it gives a
 * fixed bearer token. The BigQuery client (@google-cloud/common) always authorizes requests, even
 * against a custom apiEndpoint, and has no API-key option, so this is how a test stays offline.
 */
export class FakeBigQueryAuthClient {
  readonly calls: string[] = [];
  async getRequestHeaders(): Promise<Headers> {
    this.calls.push('getRequestHeaders');
    return new Headers({ authorization: `Bearer ${FAKE_BIGQUERY_TOKEN}` });
  }
  async getProjectId(): Promise<string> {
    this.calls.push('getProjectId');
    return FAKE_BIGQUERY_PROJECT;
  }
}

const API_TYPE: Record<string, string> = { INT64: 'INTEGER', FLOAT64: 'FLOAT', BOOL: 'BOOLEAN', STRUCT: 'RECORD' };
const apiType = (t: string) => API_TYPE[t.toUpperCase()] ?? t.toUpperCase();

export class FakeBigQuery {
  readonly requests: RecordedRequest[] = [];
  /** jobs.get calls a new job answers RUNNING before it is DONE. */
  pollsBeforeDone = 0;

  private readonly datasets = new Map<string, FakeDataset>();
  private readonly tablesByKey = new Map<string, FakeTable>();
  private readonly jobs = new Map<string, FakeJob>();
  private readonly failures: { kind: 'load' | 'query'; message: string }[] = [];
  private clock = Date.parse('2026-01-01T00:00:00Z');

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  static async start(): Promise<FakeBigQuery> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    // The handler is attached once the fake exists; nobody knows the port before listen() returns.
    const fake = new FakeBigQuery(server, (server.address() as AddressInfo).port);
    server.on('request', (req, res) => fake.handle(req, res));
    return fake;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Constructor options for the real BigQuery client: this endpoint, no credentials, no project lookup. */
  clientOptions(): BigQueryOptions & { authClient: FakeBigQueryAuthClient } {
    return {
      apiEndpoint: `http://${this.host}`,
      projectId: FAKE_BIGQUERY_PROJECT,
      authClient: new FakeBigQueryAuthClient(),
      // Errors of the fake are answers, not flakes: retrying them would only slow a test down.
      retryOptions: { autoRetry: false },
    } as BigQueryOptions & { authClient: FakeBigQueryAuthClient };
  }

  addDataset(project: string, id: string, location = 'US'): void {
    this.datasets.set(`${project}:${id}`, { project, id, location });
  }

  /** Creates a table directly (e.g. one with another schema). */
  addTable(project: string, dataset: string, id: string, fields: FakeField[]): void {
    this.createTable(project, dataset, { tableReference: { projectId: project, datasetId: dataset, tableId: id }, schema: { fields } });
  }

  /** Rows of a table (copies), or undefined when there is no such table. */
  rows(project: string, dataset: string, table: string): Record<string, unknown>[] | undefined {
    return this.tablesByKey.get(`${project}:${dataset}.${table}`)?.rows.map((r) => ({ ...r }));
  }

  /** Table ids of a dataset. */
  tables(project: string, dataset: string): string[] {
    return [...this.tablesByKey.values()].filter((t) => t.project === project && t.dataset === dataset).map((t) => t.id);
  }

  /** The table resource as tables.get returns it. */
  tableResource(project: string, dataset: string, table: string): Record<string, unknown> | undefined {
    return this.tablesByKey.get(`${project}:${dataset}.${table}`)?.resource;
  }

  /** The next job of this kind fails (DONE with errorResult) without any effect. */
  failNextJob(kind: 'load' | 'query', message: string): void {
    this.failures.push({ kind, message });
  }

  /** Requests that were not for the BigQuery API (e.g. metadata server probes). */
  nonApiRequests(): RecordedRequest[] {
    return this.requests.filter((r) => !r.path.startsWith('/bigquery/v2/') && !r.path.startsWith('/upload/bigquery/v2/'));
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------------------------ HTTP

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    recordingJsonHandler(
      this.requests,
      (r) => this.route(r),
      (err) => apiError(500, 'backendError', `fake-bigquery: ${err.message}`),
    )(req, res);
  }

  private route(r: RecordedRequest): [number, unknown] {
    if (r.path.startsWith('/computeMetadata/')) return [404, { error: { code: 404, message: 'fake-bigquery is not a metadata server' } }];
    const upload = r.path.startsWith('/upload/');
    const parts = r.path
      .split('/')
      .filter(Boolean)
      .slice(upload ? 1 : 0);
    if (parts[0] !== 'bigquery' || parts[1] !== 'v2' || parts[2] !== 'projects' || !parts[3])
      return notFound(`no such API method: ${r.method} ${r.path}`);
    const project = parts[3];
    const rest = parts.slice(4);
    if (upload) {
      if (rest.length !== 1 || rest[0] !== 'jobs' || r.method !== 'POST') return notFound(`no such upload method: ${r.method} ${r.path}`);
      if (r.query.uploadType !== 'multipart')
        return apiError(400, 'invalid', `fake-bigquery: uploadType ${r.query.uploadType} is not supported (multipart only)`);
      return this.insertUploadJob(project, r);
    }
    if (rest[0] === 'datasets' && rest[1]) {
      const dataset = rest[1];
      if (rest.length === 2) return r.method === 'GET' ? this.getDataset(project, dataset) : methodNotAllowed(r);
      if (rest[2] === 'tables' && rest.length === 3)
        return r.method === 'POST' ? this.insertTable(project, dataset, r) : methodNotAllowed(r);
      if (rest[2] === 'tables' && rest.length === 4) {
        if (r.method === 'GET') return this.getTable(project, dataset, rest[3]!);
        if (r.method === 'DELETE') return this.deleteTable(project, dataset, rest[3]!);
        return methodNotAllowed(r);
      }
    }
    if (rest[0] === 'jobs' && rest.length === 1) return r.method === 'POST' ? this.insertQueryJob(project, r) : methodNotAllowed(r);
    if (rest[0] === 'jobs' && rest.length === 2)
      return r.method === 'GET' ? this.getJob(project, rest[1]!, r.query.location) : methodNotAllowed(r);
    return notFound(`no such API method: ${r.method} ${r.path}`);
  }

  // ------------------------------------------------------------------------------ datasets and tables

  private dataset(project: string, id: string): FakeDataset | undefined {
    return this.datasets.get(`${project}:${id}`);
  }

  private getDataset(project: string, id: string): [number, unknown] {
    const ds = this.dataset(project, id);
    if (!ds) return notFound(`Not found: Dataset ${project}:${id}`);
    return [
      200,
      {
        kind: 'bigquery#dataset',
        id: `${project}:${id}`,
        datasetReference: { projectId: project, datasetId: id },
        location: ds.location,
        type: 'DEFAULT',
      },
    ];
  }

  private getTable(project: string, dataset: string, id: string): [number, unknown] {
    if (!this.dataset(project, dataset)) return notFound(`Not found: Dataset ${project}:${dataset}`);
    const t = this.tablesByKey.get(`${project}:${dataset}.${id}`);
    if (!t) return notFound(`Not found: Table ${project}:${dataset}.${id}`);
    return [200, { ...t.resource, numRows: String(t.rows.length) }];
  }

  private insertTable(project: string, dataset: string, r: RecordedRequest): [number, unknown] {
    const body = JSON.parse(r.body) as Record<string, unknown>;
    const ref = body.tableReference as { projectId?: string; datasetId?: string; tableId?: string } | undefined;
    if (!ref?.tableId || ref.projectId !== project || ref.datasetId !== dataset)
      return apiError(400, 'invalid', 'fake-bigquery: tableReference does not match the URL');
    if (!this.dataset(project, dataset)) return notFound(`Not found: Dataset ${project}:${dataset}`);
    if (this.tablesByKey.has(`${project}:${dataset}.${ref.tableId}`))
      return apiError(409, 'duplicate', `Already Exists: Table ${project}:${dataset}.${ref.tableId}`);
    const fields = (body.schema as { fields?: FakeField[] } | undefined)?.fields;
    if (!fields?.length) return apiError(400, 'invalid', 'fake-bigquery: a table needs a schema');
    for (const f of fields) {
      if (!['STRING', 'INTEGER', 'FLOAT', 'TIMESTAMP', 'BOOLEAN'].includes(apiType(f.type)))
        return apiError(400, 'invalid', `fake-bigquery: type ${f.type} of ${f.name} is not supported`);
      if (f.mode && !['REQUIRED', 'NULLABLE'].includes(f.mode))
        return apiError(400, 'invalid', `fake-bigquery: mode ${f.mode} of ${f.name} is not supported`);
    }
    const partitioning = body.timePartitioning as { field?: string } | undefined;
    if (partitioning?.field && !fields.some((f) => f.name === partitioning.field && apiType(f.type) === 'TIMESTAMP')) {
      return apiError(
        400,
        'invalid',
        `The field specified for time partitioning can only be of type TIMESTAMP, DATE or DATETIME. The type found is: ${partitioning.field}.`,
      );
    }
    const clustering = (body.clustering as { fields?: string[] } | undefined)?.fields ?? [];
    for (const c of clustering)
      if (!fields.some((f) => f.name === c))
        return apiError(400, 'invalid', `The field specified for clustering cannot be found in the schema. Invalid field: ${c}.`);
    return [200, this.createTable(project, dataset, body)];
  }

  private createTable(project: string, dataset: string, body: Record<string, unknown>): Record<string, unknown> {
    const ref = body.tableReference as { tableId: string };
    const fields = ((body.schema as { fields: FakeField[] }).fields ?? []).map((f) => ({
      ...f,
      type: apiType(f.type),
      mode: f.mode ?? 'NULLABLE',
    }));
    const now = String(this.clock++);
    const resource: Record<string, unknown> = {
      ...body,
      kind: 'bigquery#table',
      id: `${project}:${dataset}.${ref.tableId}`,
      selfLink: `https://bigquery.googleapis.com/bigquery/v2/projects/${project}/datasets/${dataset}/tables/${ref.tableId}`,
      tableReference: { projectId: project, datasetId: dataset, tableId: ref.tableId },
      schema: { fields },
      type: 'TABLE',
      location: this.dataset(project, dataset)?.location ?? 'US',
      creationTime: now,
      lastModifiedTime: now,
    };
    this.tablesByKey.set(`${project}:${dataset}.${ref.tableId}`, { project, dataset, id: ref.tableId, fields, rows: [], resource });
    return resource;
  }

  private deleteTable(project: string, dataset: string, id: string): [number, unknown] {
    if (!this.dataset(project, dataset)) return notFound(`Not found: Dataset ${project}:${dataset}`);
    if (!this.tablesByKey.delete(`${project}:${dataset}.${id}`)) return notFound(`Not found: Table ${project}:${dataset}.${id}`);
    return [204, undefined];
  }

  // ------------------------------------------------------------------------------ jobs

  private newJob(project: string, body: Record<string, unknown>, kind: 'LOAD' | 'QUERY', run: FakeJob['run']): [number, unknown] {
    const ref = (body.jobReference ?? {}) as { projectId?: string; jobId?: string; location?: string };
    if (!ref.jobId) return apiError(400, 'invalid', 'fake-bigquery: jobReference.jobId is required');
    if (ref.projectId !== project) return apiError(400, 'invalid', 'fake-bigquery: jobReference.projectId does not match the URL');
    if (this.jobs.has(`${project}:${ref.jobId}`))
      return apiError(409, 'duplicate', `Already Exists: Job ${project}:${ref.location ?? 'US'}.${ref.jobId}`);
    const location = ref.location ?? 'US';
    const failure = this.failures.findIndex((f) => f.kind === kind.toLowerCase());
    const injected = failure >= 0 ? this.failures.splice(failure, 1)[0] : undefined;
    const job: FakeJob = {
      project,
      id: ref.jobId,
      location,
      pollsLeft: this.pollsBeforeDone,
      run: injected ? () => ({ error: { reason: 'backendError', message: injected.message } }) : run,
      done: false,
      resource: {
        kind: 'bigquery#job',
        id: `${project}:${location}.${ref.jobId}`,
        selfLink: `https://bigquery.googleapis.com/bigquery/v2/projects/${project}/jobs/${ref.jobId}?location=${location}`,
        user_email: 'fake@example.com',
        configuration: { ...(body.configuration as object), jobType: kind },
        jobReference: { projectId: project, jobId: ref.jobId, location },
        statistics: { creationTime: String(this.clock++) },
        status: { state: 'PENDING' },
      },
    };
    this.jobs.set(`${project}:${ref.jobId}`, job);
    this.advance(job, false);
    return [200, job.resource];
  }

  /** Moves a job on: RUNNING while polls are left, then DONE with its effect applied. */
  private advance(job: FakeJob, polled: boolean): void {
    if (job.done) return;
    if (polled) job.pollsLeft--;
    if (job.pollsLeft > 0) {
      job.resource.status = { state: 'RUNNING' };
      return;
    }
    const outcome = job.run();
    job.done = true;
    const stats = job.resource.statistics as Record<string, unknown>;
    stats.startTime = String(this.clock++);
    stats.endTime = String(this.clock++);
    if (outcome.error) {
      const e = { ...outcome.error, location: '' };
      job.resource.status = { state: 'DONE', errorResult: e, errors: [e] };
    } else {
      Object.assign(stats, outcome.statistics);
      job.resource.status = { state: 'DONE' };
    }
  }

  private getJob(project: string, jobId: string, location: string | undefined): [number, unknown] {
    const job = this.jobs.get(`${project}:${jobId}`);
    if (!job || (location !== undefined && location.toUpperCase() !== job.location.toUpperCase())) {
      return notFound(`Not found: Job ${project}:${location ?? 'US'}.${jobId}`);
    }
    this.advance(job, true);
    return [200, job.resource];
  }

  /** The dataset a job addresses, checked to be in the job's location. */
  private datasetForJob(project: string, dataset: string, location: string): FakeDataset | [number, unknown] {
    const ds = this.dataset(project, dataset);
    if (!ds) return notFound(`Not found: Dataset ${project}:${dataset}`);
    if (ds.location.toUpperCase() !== location.toUpperCase())
      return notFound(`Not found: Dataset ${project}:${dataset} was not found in location ${location}`);
    return ds;
  }

  private insertUploadJob(project: string, r: RecordedRequest): [number, unknown] {
    const boundary = /boundary=("?)([^";]+)\1/.exec(String(r.headers['content-type'] ?? ''))?.[2];
    if (!/^multipart\/related\b/.test(String(r.headers['content-type'] ?? '')) || !boundary) {
      return apiError(400, 'invalid', 'fake-bigquery: a multipart upload needs Content-Type multipart/related with a boundary');
    }
    const parts = parseMultipart(r.body, boundary);
    if (parts.length !== 2 || !/^application\/json/i.test(parts[0]!.headers['content-type'] ?? '')) {
      return apiError(400, 'invalid', 'fake-bigquery: expected two parts, JSON metadata then the data');
    }
    const body = JSON.parse(parts[0]!.body) as Record<string, unknown>;
    const data = parts[1]!.body;
    const load = (body.configuration as { load?: Record<string, unknown> } | undefined)?.load;
    if (!load) return apiError(400, 'invalid', 'fake-bigquery: an upload must be a load job');
    if (load.sourceFormat !== 'NEWLINE_DELIMITED_JSON')
      return apiError(400, 'invalid', `fake-bigquery: sourceFormat ${String(load.sourceFormat)} is not supported`);
    const dest = load.destinationTable as { projectId?: string; datasetId?: string; tableId?: string } | undefined;
    if (!dest?.projectId || !dest.datasetId || !dest.tableId)
      return apiError(400, 'invalid', 'fake-bigquery: load.destinationTable is required');
    const location = (body.jobReference as { location?: string } | undefined)?.location ?? 'US';
    const ds = this.datasetForJob(dest.projectId, dest.datasetId, location);
    if (Array.isArray(ds)) return ds;
    const tableKey = `${dest.projectId}:${dest.datasetId}.${dest.tableId}`;
    const write = (load.writeDisposition as string | undefined) ?? 'WRITE_APPEND';
    const create = (load.createDisposition as string | undefined) ?? 'CREATE_IF_NEEDED';
    if (!['WRITE_APPEND', 'WRITE_EMPTY', 'WRITE_TRUNCATE'].includes(write))
      return apiError(400, 'invalid', `fake-bigquery: writeDisposition ${write}`);
    if (create !== 'CREATE_NEVER') return apiError(400, 'invalid', 'fake-bigquery: only createDisposition CREATE_NEVER is supported');
    return this.newJob(project, body, 'LOAD', () => {
      const table = this.tablesByKey.get(tableKey);
      if (!table) return { error: { reason: 'notFound', message: `Not found: Table ${tableKey}` } };
      if (write === 'WRITE_EMPTY' && table.rows.length)
        return { error: { reason: 'duplicate', message: `Already Exists: Table ${tableKey}` } };
      const parsed = parseNdjson(data, table.fields);
      if ('error' in parsed) return { error: { reason: 'invalid', message: parsed.error } };
      if (write === 'WRITE_TRUNCATE') table.rows.length = 0;
      table.rows.push(...parsed.rows);
      return {
        statistics: {
          load: {
            inputFiles: '1',
            inputFileBytes: String(Buffer.byteLength(data)),
            outputRows: String(parsed.rows.length),
            badRecords: '0',
          },
        },
      };
    });
  }

  private insertQueryJob(project: string, r: RecordedRequest): [number, unknown] {
    const body = JSON.parse(r.body) as Record<string, unknown>;
    const q = (body.configuration as { query?: Record<string, unknown> } | undefined)?.query;
    if (!q || typeof q.query !== 'string')
      return apiError(400, 'invalid', 'fake-bigquery: only query jobs are inserted here (loads go to /upload)');
    if (q.useLegacySql !== false) return apiError(400, 'invalid', 'fake-bigquery: only GoogleSQL (useLegacySql: false) is supported');
    const m = MERGE_RE.exec(q.query);
    if (!m) return invalidQuery(`fake-bigquery only runs the export's MERGE statement; got: ${q.query}`);
    const [, tProject, tDataset, tTable, sProject, sDataset, sTable, insertList, valuesList] = m as unknown as string[];
    const params = (q.queryParameters ?? []) as { name?: string; parameterType?: { type?: string }; parameterValue?: { value?: string } }[];
    if (q.parameterMode !== 'NAMED' && q.parameterMode !== 'named')
      return invalidQuery('fake-bigquery: the MERGE takes a named parameter @benchmark_id');
    if (
      params.length !== 1 ||
      params[0]!.name !== 'benchmark_id' ||
      params[0]!.parameterType?.type !== 'STRING' ||
      typeof params[0]!.parameterValue?.value !== 'string'
    ) {
      return invalidQuery(`fake-bigquery: expected exactly one STRING parameter benchmark_id, got ${JSON.stringify(params)}`);
    }
    const benchmarkId = params[0]!.parameterValue.value;
    const location = (body.jobReference as { location?: string } | undefined)?.location ?? 'US';
    for (const [p, d] of [
      [tProject!, tDataset!],
      [sProject!, sDataset!],
    ] as const) {
      const ds = this.datasetForJob(p, d, location);
      if (Array.isArray(ds)) return ds;
    }
    const targetKey = `${tProject}:${tDataset}.${tTable}`;
    const sourceKey = `${sProject}:${sDataset}.${sTable}`;
    const target = this.tablesByKey.get(targetKey);
    const source = this.tablesByKey.get(sourceKey);
    if (!target) return notFound(`Not found: Table ${targetKey} was not found in location ${location}`);
    if (!source) return notFound(`Not found: Table ${sourceKey} was not found in location ${location}`);
    const columns = splitList(insertList!);
    const values = splitList(valuesList!);
    if (columns.length !== values.length) return invalidQuery('Inserted row has wrong column count');
    for (let i = 0; i < columns.length; i++) {
      if (values[i] !== `S.${columns[i]}`)
        return invalidQuery(
          `fake-bigquery: VALUES must list S.<column> in the order of the INSERT list; position ${i + 1} is ${values[i]}`,
        );
      if (!target.fields.some((f) => f.name === columns[i]))
        return invalidQuery(`Column ${columns[i]} is not present in table ${targetKey}`);
      if (!source.fields.some((f) => f.name === columns[i])) return invalidQuery(`Unrecognized name: ${columns[i]}`);
    }
    if (new Set(columns).size !== columns.length) return invalidQuery('fake-bigquery: a column is listed twice');
    const omittedRequired = target.fields.filter((f) => f.mode === 'REQUIRED' && !columns.includes(f.name));
    if (omittedRequired.length) return invalidQuery(`Required field ${omittedRequired[0]!.name} cannot be null`);
    if (!target.fields.some((f) => f.name === 'benchmark_id')) return invalidQuery('Unrecognized name: benchmark_id');
    return this.newJob(project, body, 'QUERY', () => {
      // Tables may have changed (or gone) between insert and run.
      const t = this.tablesByKey.get(targetKey);
      const s = this.tablesByKey.get(sourceKey);
      if (!t || !s) return { error: { reason: 'notFound', message: `Not found: Table ${!t ? targetKey : sourceKey}` } };
      const kept = t.rows.filter((row) => row.benchmark_id !== benchmarkId);
      const deleted = t.rows.length - kept.length;
      const inserted = s.rows.map((row) =>
        Object.fromEntries(t.fields.map((f) => [f.name, columns.includes(f.name) ? (row[f.name] ?? null) : null])),
      );
      t.rows.splice(0, t.rows.length, ...kept, ...inserted);
      const affected = String(deleted + inserted.length);
      return {
        statistics: {
          query: {
            statementType: 'MERGE',
            numDmlAffectedRows: affected,
            dmlStats: { insertedRowCount: String(inserted.length), deletedRowCount: String(deleted), updatedRowCount: '0' },
          },
          numDmlAffectedRows: affected,
        },
      };
    });
  }
}

/** The export's replace statement; identifiers are backquoted project.dataset.table paths. */
const TABLE_PATH = '`([a-z0-9.:-]+)\\.([A-Za-z0-9_]+)\\.([A-Za-z0-9_-]+)`';
const MERGE_RE = new RegExp(
  '^\\s*MERGE\\s+' +
    TABLE_PATH +
    '\\s+T\\s+USING\\s+' +
    TABLE_PATH +
    '\\s+S\\s+ON\\s+FALSE\\s+' +
    'WHEN\\s+NOT\\s+MATCHED\\s+BY\\s+SOURCE\\s+AND\\s+T\\.benchmark_id\\s*=\\s*@benchmark_id\\s+THEN\\s+DELETE\\s+' +
    'WHEN\\s+NOT\\s+MATCHED\\s+BY\\s+TARGET\\s+THEN\\s+INSERT\\s*\\(([^()]*)\\)\\s*VALUES\\s*\\(([^()]*)\\)\\s*;?\\s*$',
);

const splitList = (text: string) => text.split(',').map((s) => s.trim());

function parseMultipart(body: string, boundary: string): { headers: Record<string, string>; body: string }[] {
  const delimiter = `--${boundary}`;
  const end = body.indexOf(`${delimiter}--`);
  const sections = (end >= 0 ? body.slice(0, end) : body).split(delimiter).slice(1);
  return sections.map((section) => {
    const s = section.replace(/^\r\n/, '').replace(/\r\n$/, '');
    const split = s.indexOf('\r\n\r\n');
    const head = split >= 0 ? s.slice(0, split) : '';
    const headers = Object.fromEntries(
      head
        .split('\r\n')
        .filter(Boolean)
        .map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    return { headers, body: split >= 0 ? s.slice(split + 4) : s };
  });
}

/** NDJSON rows checked against a schema as a BigQuery load job does (no bad records allowed). */
function parseNdjson(data: string, fields: FakeField[]): { rows: Record<string, unknown>[] } | { error: string } {
  const rows: Record<string, unknown>[] = [];
  const byName = new Map(fields.map((f) => [f.name, f]));
  let position = 0;
  for (const line of data.split('\n')) {
    const start = position;
    position += Buffer.byteLength(line) + 1;
    if (line.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      return {
        error: `Error while reading data, error message: JSON table encountered too many errors, giving up. Rows: ${rows.length + 1}; errors: 1. JSON parsing error in row starting at position ${start}: Parser terminated before end of string`,
      };
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
      return { error: `JSON parsing error in row starting at position ${start}: not an object` };
    const row: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      const f = byName.get(k);
      if (!f)
        return {
          error: `Error while reading data, error message: JSON parsing error in row starting at position ${start}: No such field: ${k}.`,
        };
      const problem = typeProblem(f, v);
      if (problem)
        return { error: `Error while reading data, error message: JSON parsing error in row starting at position ${start}: ${problem}` };
      row[k] = v;
    }
    for (const f of fields) {
      if (!(f.name in row)) row[f.name] = null;
      if (f.mode === 'REQUIRED' && row[f.name] === null) {
        return {
          error: `Error while reading data, error message: JSON parsing error in row starting at position ${start}: Only optional fields can be set to NULL. Field: ${f.name}; Value: NULL`,
        };
      }
    }
    rows.push(row);
  }
  return { rows };
}

function typeProblem(f: FakeField, v: unknown): string | undefined {
  if (v === null) return undefined;
  const bad = `Could not convert value '${JSON.stringify(v)}' to ${f.type}. Field: ${f.name}`;
  switch (apiType(f.type)) {
    case 'STRING':
      return typeof v === 'string' ? undefined : bad;
    case 'INTEGER':
      return (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v)) ? undefined : bad;
    case 'FLOAT':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : bad;
    case 'TIMESTAMP':
      return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}[ Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2}| UTC)?$/.test(v)
        ? undefined
        : bad;
    default:
      return `fake-bigquery: type ${f.type} is not supported`;
  }
}

/** BigQuery's error body: code, message, an `errors` list with domain and reason, and a status. */
function apiError(code: number, reason: string, message: string): [number, unknown] {
  const status =
    { 400: 'INVALID_ARGUMENT', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 409: 'ALREADY_EXISTS', 500: 'INTERNAL' }[code] ?? 'UNKNOWN';
  return [code, { error: { code, message, errors: [{ message, domain: 'global', reason }], status } }];
}

const notFound = (message: string) => apiError(404, 'notFound', message);
const invalidQuery = (message: string) => apiError(400, 'invalidQuery', message);
const methodNotAllowed = (r: RecordedRequest) =>
  apiError(405, 'httpMethodNotAllowed', `HTTP method ${r.method} is not supported by this URL`);
