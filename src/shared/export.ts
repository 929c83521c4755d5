/**
 * Export for dashboards: one row per (entry, iteration, direction) with its reproduction context,
 * written to the artifact store as report/iterations.ndjson with report/bigquery-schema.json and,
 * when a table is given, uploaded to BigQuery so that re-exporting a run replaces its rows.
 *
 * The BigQuery upload is one atomic replace, so a re-upload never duplicates and a failure half
 * way never leaves a run half there:
 *   1. datasets.get          the dataset must exist (a clear error names it); gives its location
 *   2. tables.get / insert   the target table, created when missing (schema from EXPORT_COLUMNS,
 *                            day partitions on recorded_at, clustered by benchmark_id); an existing
 *                            table must have every export column with the same type
 *   3. tables.insert         a staging table with the same schema that expires in a day
 *   4. load job              the NDJSON into the staging table (multipart upload, WRITE_EMPTY)
 *   5. query job             MERGE target USING staging ON FALSE
 *                              WHEN NOT MATCHED BY SOURCE AND benchmark_id = @benchmark_id THEN DELETE
 *                              WHEN NOT MATCHED BY TARGET THEN INSERT (columns) VALUES (columns)
 *                            one DML statement: the run's old rows go and its new rows come in one
 *                            transaction, so readers never see the run missing or doubled. Unlike
 *                            DELETE then load, a failure between the steps cannot leave the run
 *                            without rows, and two exports of the same run at once cannot both
 *                            delete and then both append: conflicting DML on a table is queued or
 *                            fails with a concurrent-update error (retry the export), never interleaved.
 *   6. tables.delete         the staging table (it expires anyway should this step not run)
 * Rows are loaded with load jobs, never streamed, so no streaming buffer blocks the DML.
 */
import type { BigQueryOptions, Dataset, Job, Table } from '@google-cloud/bigquery';
import { randomUUID } from 'node:crypto';
import { getJson, type ArtifactStore } from '../artifacts/store';
import { InputError } from '../core/errors';
import {
  EXPORT_COLUMNS,
  bigQuerySchema,
  bigQuerySchemaJson,
  entryRows,
  parseExportIteration,
  toNdjson,
  type ExportIteration,
  type ExportRow,
} from '../core/export-rows';
import { layout } from '../core/layout';
import { iterationMetadataKey, type EntryMetadata, type IterationMetadata } from '../core/metadata';
import {
  ORIGINAL_BIGQUERY_COLUMNS,
  originalBigQueryNdjson,
  originalBigQueryRows,
  originalBigQuerySchema,
  originalTableName,
} from '../core/original-report';
import type { EntryReport } from '../core/report';
import type { ResourceSamples } from '../core/resources';
import { readJobSpecs } from './job-specs';

export interface BigQueryTarget {
  /** Project of the dataset (and, unless the client options say otherwise, where jobs run and are billed). */
  project: string;
  dataset: string;
  table: string;
  /** Location of the jobs; default the dataset's. */
  location?: string;
}

export interface ExportInput {
  benchmarkId: string;
  bigquery?: BigQueryTarget;
}

export interface ExportDeps {
  /**
   * Constructor options of the BigQuery client (apiEndpoint, projectId, credentials, authClient,
   * ...). Default: Application Default Credentials; projectId defaults to the target's project.
   */
  bigqueryOptions?: BigQueryOptions;
}

export interface BigQueryExportSummary {
  /** project.dataset.table */
  table: string;
  location: string;
  tableCreated: boolean;
  loadJobId: string | null;
  mergeJobId: string;
  /** Rows of this benchmark the MERGE deleted (an earlier export of the same run) and inserted. */
  deletedRows: number;
  insertedRows: number;
}

export interface ExportSummary {
  rows: number;
  entries: number;
  /** Passed entries are exported; failed or missing ones have no numbers. */
  skippedEntries: number;
  keys: string[];
  urls: string[];
  bigquery?: BigQueryExportSummary;
  /** The same run in the original tool's schema (compat.md), in `<table>_original` beside ours. */
  bigqueryOriginal?: BigQueryExportSummary;
}

export const EXPORT_FILES = {
  rows: 'iterations.ndjson',
  schema: 'bigquery-schema.json',
  originalRows: 'original-bigquery.ndjson',
  originalSchema: 'original-bigquery-schema.json',
} as const;

/** Staging tables expire on their own after this long, should the export die before dropping one. */
const STAGING_TTL_MS = 24 * 3600_000;
const JOB_PREFIX = 'gcsfuse_bench_export_';

/** Reads a benchmark's results (owners, entries, fio outputs, metadata) and builds its export rows. */
export async function buildExportRows(
  store: ArtifactStore,
  benchmarkId: string,
): Promise<{ rows: ExportRow[]; entries: number; skipped: number; reports: EntryReport[]; runTimestamps: Map<number, string | null> }> {
  const resultsKey = layout.report(benchmarkId, 'results.json');
  const reports = await getJson<EntryReport[]>(store, resultsKey);
  if (!reports)
    throw new InputError(
      `no results for benchmark "${benchmarkId}": ${store.urlOf(resultsKey)} is missing (the benchmark has not been aggregated)`,
    );
  const specs = await readJobSpecs(store, benchmarkId);
  const entries = new Map(specs.flatMap((s) => s.entries.map((e) => [e.matrixId, { entry: e, iterations: s.iterations }] as const)));
  const rows: ExportRow[] = [];
  const runTimestamps = new Map<number, string | null>();
  let exported = 0;
  for (const owner of [...reports].sort((a, b) => a.matrixId - b.matrixId)) {
    if (owner.status !== 'passed' || !owner.vm) continue;
    const found = entries.get(owner.matrixId);
    if (!found) throw new Error(`matrix entry ${owner.matrixId} is in no job spec of ${benchmarkId}`);
    // The iterations the report pooled: all of the spec's (an entry passes only with every one stored).
    const count = owner.iterations || found.iterations;
    const iterations: ExportIteration[] = [];
    for (let i = 1; i <= count; i++) {
      const key = layout.fioOutput(benchmarkId, owner.vm, owner.matrixId, i);
      const buf = await store.get(key);
      if (!buf) throw new Error(`${store.urlOf(key)} is missing although entry ${owner.matrixId} passed`);
      const it = parseExportIteration(i, buf.toString('utf8'), store.urlOf(key));
      it.resources = (await getJson<ResourceSamples>(store, layout.resources(benchmarkId, owner.vm, owner.matrixId, i)))?.summary ?? null;
      it.prefetch =
        (await getJson<IterationMetadata>(store, iterationMetadataKey(benchmarkId, owner.vm, owner.matrixId, i)))?.metadataPrefetch ?? null;
      iterations.push(it);
    }
    runTimestamps.set(
      owner.matrixId,
      iterations
        .map((it) => it.recordedAt)
        .filter((t): t is string => t !== null)
        .sort()[0] ?? null,
    );
    const metadata = (await getJson<EntryMetadata>(store, layout.entryMetadata(benchmarkId, owner.vm, owner.matrixId))) ?? null;
    rows.push(...entryRows({ benchmarkId, entry: found.entry, vm: owner.vm, iterations, metadata }));
    exported++;
  }
  return { rows, entries: exported, skipped: reports.length - exported, reports, runTimestamps };
}

/**
 * Writes report/iterations.ndjson and report/bigquery-schema.json (always; replaced on a re-export)
 * and, with `bigquery`, replaces the benchmark's rows in that table.
 */
export async function exportResults(store: ArtifactStore, deps: ExportDeps, input: ExportInput): Promise<ExportSummary> {
  const { benchmarkId } = input;
  const { rows, entries, skipped, reports, runTimestamps } = await buildExportRows(store, benchmarkId);
  const ndjson = toNdjson(rows);
  const originalNdjson = originalBigQueryNdjson(originalBigQueryRows(benchmarkId, reports, runTimestamps));
  const files: [string, string][] = [
    [EXPORT_FILES.rows, ndjson],
    [EXPORT_FILES.schema, bigQuerySchemaJson()],
    [EXPORT_FILES.originalRows, originalNdjson],
    [EXPORT_FILES.originalSchema, JSON.stringify(originalBigQuerySchema(), null, 2) + '\n'],
  ];
  const keys = files.map(([name]) => layout.report(benchmarkId, name));
  for (const [i, [, content]] of files.entries()) await store.put(keys[i]!, content);
  const summary: ExportSummary = { rows: rows.length, entries, skippedEntries: skipped, keys, urls: keys.map((k) => store.urlOf(k)) };
  if (input.bigquery) {
    summary.bigquery = await uploadToBigQuery(deps, input.bigquery, benchmarkId, ndjson, OWN_TABLE);
    // The original's table second: ours is the record; a dashboard table that does not fit must not hold it back.
    summary.bigqueryOriginal = await uploadToBigQuery(
      deps,
      { ...input.bigquery, table: originalTableName(input.bigquery.table) },
      benchmarkId,
      originalNdjson,
      ORIGINAL_TABLE,
    );
  }
  return summary;
}

// ---------------------------------------------------------------- BigQuery

const codeOf = (err: unknown): number | undefined => (err as { code?: unknown }).code as number | undefined;

/** BigQuery's type names as its API returns them (INTEGER, FLOAT) mapped to the standard SQL ones. */
const STANDARD_TYPE: Record<string, string> = { INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL' };
const standardType = (t: string | undefined) => STANDARD_TYPE[(t ?? '').toUpperCase()] ?? (t ?? '').toUpperCase();

/** Why an existing table cannot take the export, or undefined when every column is there with its type. */
export function schemaProblem(
  tableName: string,
  fields: readonly { name?: string; type?: string; mode?: string }[],
  columns: readonly { name: string; type: string }[] = EXPORT_COLUMNS,
  schemaFile: string = EXPORT_FILES.schema,
): string | undefined {
  const have = new Map(fields.map((f) => [f.name ?? '', f]));
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const c of columns) {
    const f = have.get(c.name);
    if (!f) missing.push(c.name);
    else if (standardType(f.type) !== standardType(c.type)) wrong.push(`${c.name} is ${f.type}, the export writes ${c.type}`);
  }
  const extraRequired = fields.filter((f) => f.mode === 'REQUIRED' && !columns.some((c) => c.name === f.name)).map((f) => f.name);
  if (!missing.length && !wrong.length && !extraRequired.length) return undefined;
  const parts = [
    missing.length ? `lacks the columns ${missing.join(', ')}` : '',
    wrong.length ? `has ${wrong.join('; ')}` : '',
    extraRequired.length ? `requires columns the export does not write: ${extraRequired.join(', ')}` : '',
  ].filter(Boolean);
  return `BigQuery table ${tableName} ${parts.join(', ')} (its schema must match report/${schemaFile}; add the columns or export to a new table)`;
}

async function awaitJob(job: Job): Promise<Record<string, unknown>> {
  const [metadata] = (await job.promise()) as [Record<string, unknown>];
  return metadata;
}

/** Loads NDJSON into a table with a multipart upload and waits for the load job. */
function loadNdjson(table: Table, ndjson: string): Promise<Job> {
  return new Promise<Job>((resolve, reject) => {
    const stream = table.createWriteStream({
      sourceFormat: 'NEWLINE_DELIMITED_JSON',
      // The staging table is new and empty: anything else there is not ours.
      writeDisposition: 'WRITE_EMPTY',
      createDisposition: 'CREATE_NEVER',
      jobPrefix: JOB_PREFIX,
    });
    stream.on('error', reject);
    // Emitted once the load job is DONE without error (a failed job destroys the stream).
    stream.on('complete', (job: Job) => resolve(job));
    stream.end(ndjson);
  });
}

const quoted = (project: string, dataset: string, table: string) => `\`${project}.${dataset}.${table}\``;

/** The MERGE that replaces a benchmark's rows in `target` with all rows of `staging`, atomically. */
export function replaceStatement(target: string, staging: string, columns: readonly { name: string }[] = EXPORT_COLUMNS): string {
  const names = columns.map((c) => c.name);
  return [
    `MERGE ${target} T USING ${staging} S ON FALSE`,
    'WHEN NOT MATCHED BY SOURCE AND T.benchmark_id = @benchmark_id THEN DELETE',
    `WHEN NOT MATCHED BY TARGET THEN INSERT (${names.join(', ')}) VALUES (${names.map((n) => `S.${n}`).join(', ')})`,
  ].join('\n');
}

/** What differs between our table and the original-schema one. */
interface TableKind {
  columns: readonly { name: string; type: string }[];
  schema: () => { name: string; type: string; mode: string; description?: string }[];
  schemaFile: string;
  description: string;
  partitionField: string;
  clustering: string[];
}

const OWN_TABLE: TableKind = {
  columns: EXPORT_COLUMNS,
  schema: bigQuerySchema,
  schemaFile: EXPORT_FILES.schema,
  description: 'gcsfuse-bench: fio results, one row per matrix entry, iteration and direction (see report/bigquery-schema.json)',
  partitionField: 'recorded_at',
  clustering: ['benchmark_id', 'config_label', 'test_id'],
};

const ORIGINAL_TABLE: TableKind = {
  columns: ORIGINAL_BIGQUERY_COLUMNS,
  schema: originalBigQuerySchema,
  schemaFile: EXPORT_FILES.originalSchema,
  description:
    "gcsfuse-bench: fio results in the original tool's table schema, one row per report row (see report/original-bigquery-schema.json)",
  partitionField: 'run_timestamp',
  clustering: ['benchmark_id', 'config', 'test_id'],
};

async function ensureTable(dataset: Dataset, name: string, kind: TableKind): Promise<{ table: Table; created: boolean }> {
  const schema = kind.schema();
  const table = dataset.table(name);
  const tableName = `${dataset.projectId}.${dataset.id}.${name}`;
  let fields: { name?: string; type?: string; mode?: string }[] | undefined;
  let created = false;
  try {
    const [meta] = await table.getMetadata();
    fields = (meta as { schema?: { fields?: typeof fields } }).schema?.fields ?? [];
  } catch (err) {
    if (codeOf(err) !== 404) throw err;
  }
  if (fields === undefined) {
    try {
      await dataset.createTable(name, {
        schema: { fields: schema },
        description: kind.description,
        timePartitioning: { type: 'DAY', field: kind.partitionField },
        clustering: { fields: kind.clustering },
      });
      created = true;
      fields = schema;
    } catch (err) {
      // Another export created it meanwhile: use that one, if its schema fits.
      if (codeOf(err) !== 409) throw err;
      const [meta] = await table.getMetadata();
      fields = (meta as { schema?: { fields?: typeof fields } }).schema?.fields ?? [];
    }
  }
  const problem = schemaProblem(tableName, fields, kind.columns, kind.schemaFile);
  if (problem) throw new InputError(problem, { flag: '--bigquery' });
  return { table, created };
}

async function uploadToBigQuery(
  deps: ExportDeps,
  target: BigQueryTarget,
  benchmarkId: string,
  ndjson: string,
  kind: TableKind,
): Promise<BigQueryExportSummary> {
  // Imported when a table is given: the orchestrator worker stays lean otherwise.
  const { BigQuery } = await import('@google-cloud/bigquery');
  const client = new BigQuery({ ...deps.bigqueryOptions, projectId: deps.bigqueryOptions?.projectId ?? target.project });
  const datasetName = `${target.project}:${target.dataset}`;
  let dataset = client.dataset(target.dataset, { projectId: target.project });
  let location: string;
  try {
    const [meta] = await dataset.getMetadata();
    location = target.location ?? (meta as { location?: string }).location ?? 'US';
  } catch (err) {
    if (codeOf(err) === 404) {
      throw new InputError(
        `BigQuery dataset ${datasetName} does not exist (or is not visible to these credentials); create it first, e.g. bq mk --dataset ${datasetName}`,
        { flag: '--bigquery' },
      );
    }
    throw err;
  }
  // Every job of the export runs where the dataset is.
  dataset = client.dataset(target.dataset, { projectId: target.project, location });
  const schema = kind.schema();
  const { created } = await ensureTable(dataset, target.table, kind);

  const stagingName = `${target.table}_staging_${randomUUID().replace(/-/g, '')}`.slice(0, 1024);
  await dataset.createTable(stagingName, {
    schema: { fields: schema },
    description: `gcsfuse-bench: staging rows of ${benchmarkId} for ${target.table}; dropped after the merge`,
    expirationTime: String(Date.now() + STAGING_TTL_MS),
  });
  try {
    const staging = dataset.table(stagingName);
    // No rows (no entry passed): the empty staging table makes the MERGE remove the run's old rows.
    const loadJob = ndjson ? await loadNdjson(staging, ndjson) : null;
    const [mergeJob] = await client.createQueryJob({
      query: replaceStatement(
        quoted(target.project, target.dataset, target.table),
        quoted(target.project, target.dataset, stagingName),
        kind.columns,
      ),
      params: { benchmark_id: benchmarkId },
      location,
      jobPrefix: JOB_PREFIX,
    });
    const done = await awaitJob(mergeJob);
    const dml = ((done.statistics as { query?: { dmlStats?: Record<string, string | number> } } | undefined)?.query?.dmlStats ??
      {}) as Record<string, string | number>;
    return {
      table: `${target.project}.${target.dataset}.${target.table}`,
      location,
      tableCreated: created,
      loadJobId: loadJob?.id ?? null,
      mergeJobId: mergeJob.id!,
      deletedRows: Number(dml.deletedRowCount ?? 0),
      insertedRows: Number(dml.insertedRowCount ?? 0),
    };
  } finally {
    await dataset
      .table(stagingName)
      .delete({ ignoreNotFound: true })
      .catch(() => undefined); // it expires on its own
  }
}
