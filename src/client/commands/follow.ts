/** Following a benchmark to its end and printing its report: what `run`, `orchestrator` and `watch` share. */
import type { Command } from 'commander';
import { cloudEndpointsFromEnv, storageOptions } from '../../shared/cloud';
import { openArtifactStore } from '../../artifacts';
import type { BenchmarkResult } from '../../workflows/types';
import { exitCodeOfResult } from '../exit-codes';
import { connectClient, parseReconnectTimeout, readReport, reconnectNotices, watchBenchmark } from '../benchmarks';
import { parsePollIntervalMs } from '../request';
import { reportTable } from '../table';
import { createWatchView } from '../watch-view';
import { DEFAULT_POLL_INTERVAL_MS, print, temporalOf } from './options';

/** Runs until the benchmark ends, with progress bars on a terminal and lines otherwise, every --poll-interval. */
export async function follow(
  cmd: Command,
  benchmarkId: string,
  client?: Awaited<ReturnType<typeof connectClient>>,
): Promise<BenchmarkResult> {
  const o = cmd.opts<{ reconnectTimeout?: string; pollInterval?: string }>();
  const reconnect = reconnectNotices(parseReconnectTimeout(o.reconnectTimeout));
  const pollMs = parsePollIntervalMs(o.pollInterval) ?? DEFAULT_POLL_INTERVAL_MS;
  client ??= await connectClient(temporalOf(cmd));
  const view = createWatchView();
  let result: BenchmarkResult | undefined;
  try {
    result = await watchBenchmark(client, benchmarkId, (p) => view.update(p), pollMs, reconnect);
    return result;
  } finally {
    // With the result, the last state shown is the final one (not a stale "running" frame).
    view.stop(result);
  }
}

/** Prints the benchmark's report table (or JSON) when the artifact store is known. */
export async function printReport(artifacts: string | undefined, benchmarkId: string, json?: boolean): Promise<void> {
  if (!artifacts) return;
  const reports = await readReport(artifacts, benchmarkId);
  if (reports) print(json, reports, () => reportTable(reports));
}

/** Absolute locations (a path or gs:// URL) of a benchmark's report files in the artifact store. */
export function reportUrls(artifacts: string | undefined, keys: string[]): string[] {
  if (!artifacts) return keys;
  const store = openArtifactStore(artifacts, storageOptions(cloudEndpointsFromEnv()));
  return keys.map((k) => store.urlOf(k));
}

/** The exit code of a benchmark that ran to its end, saying first why its export failed, if it did. */
export function exitCodeAfter(result: BenchmarkResult): number {
  if (result.exportError) console.error(`export failed: ${result.exportError}`);
  return exitCodeOfResult(result);
}
