/** `run` and `orchestrator`: check, start, follow to the end, print the report, leave results/<id>/. */
import { WorkflowFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import { statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../core/errors';
import { cancelOnSignals, connectClient, finalState, parseReconnectTimeout, startBenchmark } from '../benchmarks';
import { EXIT } from '../exit-codes';
import { buildRequest, parsePollIntervalMs } from '../request';
import { DEFAULT_RESULTS_DIR, writeResultsFolder } from '../results-folder';
import { finalStateText } from '../watch-view';
import { exitCodeAfter, follow, printReport, reportUrls } from './follow';
import { addBenchmarkOptions, addRunOptions, artifactsOf, checkOptionsOf, flagsOf, jsonOf, ORIGINAL_DEFAULTS, temporalOf } from './options';
import { hasControlChars } from '../../core/text';

/** Adds `run` and `orchestrator`; `args` (the arguments after the program name) go to run-config.json. */
export function registerRunCommands(program: Command, args: readonly string[]): void {
  addRunOptions(
    addBenchmarkOptions(
      program.command('run').description("start a benchmark and watch it to the end; takes the original tool's flags too"),
    ),
  ).action(async (_o, cmd: Command) => runAction(cmd, args));

  addRunOptions(
    addBenchmarkOptions(
      program
        .command('orchestrator')
        .description(
          "the original tool's command line (orchestrator.py) with its defaults: --timeout 7200, --poll-interval 30, --report-format original",
        ),
      ORIGINAL_DEFAULTS,
    ),
    ORIGINAL_DEFAULTS,
  ).action(async (_o, cmd: Command) => runAction(cmd, args));
}

async function runAction(cmd: Command, argv: readonly string[]): Promise<void> {
  const artifacts = artifactsOf(cmd); // checked before anything connects
  const o = cmd.opts<{
    reconnectTimeout?: string;
    pollInterval?: string;
    resultsDir?: string | false;
    autoPlot?: boolean;
    plotMetricGroup?: string;
  }>();
  const { request } = await buildRequest(await flagsOf(cmd), checkOptionsOf(cmd));
  // Refused before anything starts.
  parseReconnectTimeout(o.reconnectTimeout);
  parsePollIntervalMs(o.pollInterval);
  const resultsDir = o.resultsDir === false ? undefined : checkResultsDir(o.resultsDir ?? DEFAULT_RESULTS_DIR);
  if (o.autoPlot === false || o.plotMetricGroup !== undefined) {
    console.error('note: --no-auto-plot and --plot-metric-group are accepted and ignored: every run writes report.html with its plots');
  }
  const json = jsonOf(cmd);
  const client = await connectClient(temporalOf(cmd));
  await startBenchmark(client, request, artifacts);
  console.error(
    `started benchmark ${request.benchmarkId}${request.runName && request.runName !== request.benchmarkId ? ` (${request.runName})` : ''} (Ctrl-C cancels it)`,
  );
  // Ctrl-C or SIGTERM cancels the benchmark; the watch below then ends once the agents stopped fio.
  const signals = cancelOnSignals(client, request.benchmarkId, () => process.exit(EXIT.interrupted));
  // The results folder is written however the benchmark ended: a partial report is a report too.
  const leaveResults = async (): Promise<void> => {
    if (!resultsDir) return;
    try {
      const r = await writeResultsFolder({ dir: resultsDir, request, artifacts, argv: [...argv] });
      console.error(`results: ${r.folder}${path.sep} (${[...r.reports, r.runConfig].map((f) => path.basename(f)).join(', ')})`);
      if (!artifacts) console.error('note: no --artifacts given, so the report files were not copied into the results folder');
    } catch (err) {
      console.error(`warning: could not write the results folder under ${path.resolve(resultsDir)}: ${(err as Error).message}`);
    }
  };
  try {
    const result = await follow(cmd, request.benchmarkId, client);
    await printReport(artifacts, request.benchmarkId, json);
    await leaveResults();
    console.error(`${result.passed} passed, ${result.failed} failed; report: ${reportUrls(artifacts, result.reportKeys).join(', ')}`);
    process.exitCode = signals.interrupted ? EXIT.interrupted : exitCodeAfter(result);
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    // Cancelled (Ctrl-C, or the whole-run deadline): the partial report still goes to the results folder.
    await leaveResults();
    if (!signals.interrupted) throw err;
    console.error(finalStateText(request.benchmarkId, await finalState(client, request.benchmarkId)));
    process.exitCode = EXIT.interrupted;
  } finally {
    signals.dispose();
  }
}

function checkResultsDir(dir: string): string {
  if (dir.trim() === '' || hasControlChars(dir))
    throw new InputError(`${JSON.stringify(dir)} is not a folder name`, { flag: '--results-dir' });
  let isDir: boolean | undefined;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // Created at the end of the run.
  }
  if (isDir === false) throw new InputError(`${dir} exists and is not a folder`, { flag: '--results-dir' });
  return dir;
}
