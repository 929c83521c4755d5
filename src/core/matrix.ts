import type { MountConfig } from './configs';
import { parseDurationMs, parseSizeBytes } from './params';
import type { TestCase } from './testcases';

/** One cell of configs x test cases; run `iterations` times on one VM. */
export interface MatrixEntry {
  /** 1-based, config-major: stable for the same inputs, and the folder name test-<matrixId>. */
  matrixId: number;
  testId: string;
  /** Row of the test case in the test-cases CSV. */
  testRow: number;
  config: MountConfig;
  params: Record<string, string>;
}

export function buildMatrix(configs: readonly MountConfig[], tests: readonly TestCase[]): MatrixEntry[] {
  const entries: MatrixEntry[] = [];
  for (const config of configs) {
    for (const test of tests) {
      entries.push({ matrixId: entries.length + 1, testId: test.testId, testRow: test.row, config, params: test.params });
    }
  }
  return entries;
}

/** A throughput to turn bytes into a duration when nothing says how long a job runs. */
const ASSUMED_BYTES_PER_SEC = 100 * 2 ** 20;

/** What the job template says of run time, when every job in it is time based. */
export function templateRuntimeMs(template: string): number | undefined {
  if (!/^\s*time_based\b/m.test(template)) return undefined;
  const m = /^\s*runtime\s*=\s*([0-9]+(?:us|ms|s|m|h|d)?)\s*$/m.exec(template);
  return m ? parseDurationMs(m[1]!) : undefined;
}

/**
 * Estimated milliseconds of one iteration, used only to balance VMs: a runtime column
 * wins, then a time-based template, then the bytes the job moves.
 */
export function estimateIterationMs(entry: MatrixEntry, templateMs: number | undefined): number {
  const runtime = entry.params.runtime;
  if (runtime !== undefined) return parseDurationMs(runtime)!;
  if (templateMs !== undefined) return templateMs;
  const fileBytes = parseSizeBytes(entry.params.file_size ?? '') ?? 2 ** 30;
  const files = Number(entry.params.nr_files ?? 1);
  const jobs = Number(entry.params.num_jobs ?? 1);
  return ((fileBytes * files * jobs) / ASSUMED_BYTES_PER_SEC) * 1000;
}
