/**
 * `gcsfuse-bench export <benchmark-id> --artifacts LOC [--bigquery project.dataset.table]`: per-iteration
 * rows for dashboards, written next to the report (report/iterations.ndjson, report/bigquery-schema.json)
 * and, with --bigquery, uploaded so that the run's rows in the table are replaced, never duplicated.
 * Runs here, directly against the artifact store and BigQuery (no workflow, no Temporal).
 */
import type { BigQueryOptions } from '@google-cloud/bigquery';
import { Command, Option } from 'commander';
import { exportResults, type BigQueryTarget, type ExportSummary } from '../shared/export';
import { openArtifactStore } from '../artifacts';
import { InputError } from '../core/errors';
import { parseBigQueryTable } from '../core/export-rows';
import { checkSafeId } from '../core/ids';
import { EXIT, exitCodeOf } from './exit-codes';

export interface ExportFlags {
  artifacts?: string;
  bigquery?: string;
  bigqueryLocation?: string;
  json?: boolean;
}

export interface ExportIo {
  /** Where the summary goes; default console.log. */
  out?: (text: string) => void;
  /** Where commander's errors go; default console.error. */
  err?: (text: string) => void;
  /** BigQuery client options (apiEndpoint, credentials...); default Application Default Credentials. */
  bigqueryOptions?: BigQueryOptions;
}

const LOCATION = /^[A-Za-z][A-Za-z0-9-]{1,63}$/;

/** Checks the flags before anything is read; a bad one is an InputError naming it. */
export function exportTargetOf(benchmarkId: string, o: ExportFlags): { artifacts: string; bigquery?: BigQueryTarget } {
  checkSafeId(benchmarkId, 'benchmark id', { flag: '<benchmark-id>' });
  if (!o.artifacts) throw new InputError('the artifact store is required (or set GCSFUSE_BENCH_ARTIFACTS)', { flag: '--artifacts' });
  if (o.bigqueryLocation !== undefined && o.bigquery === undefined) {
    throw new InputError('is only meaningful with --bigquery', { flag: '--bigquery-location' });
  }
  if (o.bigqueryLocation !== undefined && !LOCATION.test(o.bigqueryLocation)) {
    throw new InputError(`${JSON.stringify(o.bigqueryLocation)} is not a BigQuery location (e.g. US, EU, us-central1)`, {
      flag: '--bigquery-location',
    });
  }
  if (o.bigquery === undefined) return { artifacts: o.artifacts };
  const ref = parseBigQueryTable(o.bigquery, '--bigquery');
  return { artifacts: o.artifacts, bigquery: { ...ref, ...(o.bigqueryLocation ? { location: o.bigqueryLocation } : {}) } };
}

/** The summary as lines for a person. */
export function exportText(benchmarkId: string, s: ExportSummary): string {
  const lines = [
    `exported ${s.rows} row(s) of ${s.entries} entr${s.entries === 1 ? 'y' : 'ies'} of ${benchmarkId}` +
      (s.skippedEntries ? ` (${s.skippedEntries} entr${s.skippedEntries === 1 ? 'y' : 'ies'} without results left out)` : ''),
    ...s.urls.map((u) => `  ${u}`),
  ];
  if (s.bigquery) {
    const b = s.bigquery;
    lines.push(
      `BigQuery ${b.table} (${b.location}${b.tableCreated ? ', table created' : ''}): ${b.deletedRows} earlier row(s) of ${benchmarkId} replaced by ${b.insertedRows}`,
    );
  }
  return lines.join('\n');
}

/**
 * The `export` command, to register with program.addCommand(exportCommand()). Errors in flags
 * throw InputError (the CLI exits 2); commander's own errors throw (exitOverride) with a
 * commander.* code.
 */
export function exportCommand(io: ExportIo = {}): Command {
  const out = io.out ?? ((t: string) => console.log(t));
  const cmd = new Command('export');
  if (io.out || io.err) {
    const err = io.err ?? ((t: string) => console.error(t));
    cmd.configureOutput({ writeOut: (s) => out(s.trimEnd()), writeErr: (s) => err(s.trimEnd()) });
  }
  return cmd
    .description(
      'export one row per entry, iteration and direction for dashboards: report/iterations.ndjson and report/bigquery-schema.json; ' +
        "with --bigquery, replace the run's rows in that table (created when missing)",
    )
    .argument('<benchmark-id>', 'benchmark id of a run whose report was written')
    .addOption(new Option('--artifacts <dir-or-gs-url>', 'artifact store holding the run').env('GCSFUSE_BENCH_ARTIFACTS'))
    .option('--bigquery <project.dataset.table>', 'BigQuery table to upload to (the dataset must exist; Application Default Credentials)')
    .option('--bigquery-location <location>', "location of the BigQuery jobs (default: the dataset's)")
    .option('--json', 'machine-readable output')
    .showHelpAfterError()
    .exitOverride()
    .action(async (benchmarkId: string, _o: ExportFlags, c: Command) => {
      const o = c.optsWithGlobals<ExportFlags>();
      const target = exportTargetOf(benchmarkId, o);
      const summary = await exportResults(
        openArtifactStore(target.artifacts),
        { bigqueryOptions: io.bigqueryOptions },
        { benchmarkId, bigquery: target.bigquery },
      );
      out(o.json ? JSON.stringify(summary, null, 2) : exportText(benchmarkId, summary));
    });
}

/**
 * Runs export on its own (argv without node and script, e.g. ['bench-1', '--artifacts', dir]) and
 * returns the exit code, mapping errors as the CLI does: InputError and commander errors 2, others 1.
 */
export async function runExport(args: readonly string[], io: ExportIo = {}): Promise<number> {
  const err = io.err ?? ((t: string) => console.error(t));
  const cmd = exportCommand({ ...io, err });
  try {
    await cmd.parseAsync([...args], { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    return exitCodeOf(e, err);
  }
}
