import { describe, expect, it } from 'vitest';
import type { MountConfig } from '../../src/core/configs';
import { buildMatrix, estimateIterationMs, templateRuntimeMs, type MatrixEntry } from '../../src/core/matrix';
import { parseTestCasesCsv } from '../../src/core/testcases';
import { BRACED_JOB_FILE, SEED_JOB_FILE, SEED_TEST_CSV } from './helpers/inputs';

const config = (label: string): MountConfig => ({ label, commit: 'master', mountArgs: '', mountArgv: [] });

describe('buildMatrix', () => {
  const tests = parseTestCasesCsv(SEED_TEST_CSV, 'tests.csv');

  it('is configs x test cases, config-major, with 1-based matrix ids', () => {
    const [a, b] = [config('a'), config('b')];
    const m = buildMatrix([a, b], tests);
    expect(m.map((e) => [e.matrixId, e.config.label, e.testId, e.testRow])).toEqual([
      [1, 'a', '1', 1],
      [2, 'a', '2', 2],
      [3, 'a', '3', 3],
      [4, 'b', '1', 1],
      [5, 'b', '2', 2],
      [6, 'b', '3', 3],
    ]);
    expect(m[4]!.config).toBe(b);
    expect(m[4]!.params).toEqual({ test_id: '2', block_size: '1m', io_depth: '64', num_jobs: '4', file_size: '10g' });
  });

  it('is stable: the same inputs give the same ids', () => {
    expect(buildMatrix([config('a'), config('b')], tests)).toEqual(buildMatrix([config('a'), config('b')], tests));
  });

  it('is empty without configs or tests', () => {
    expect(buildMatrix([], tests)).toEqual([]);
    expect(buildMatrix([config('a')], [])).toEqual([]);
  });
});

describe('templateRuntimeMs', () => {
  it('reads the runtime of a time-based job file', () => {
    expect(templateRuntimeMs(SEED_JOB_FILE)).toBe(60_000);
    expect(templateRuntimeMs(BRACED_JOB_FILE)).toBe(30_000);
    expect(templateRuntimeMs('[j]\n  time_based\n  runtime = 2m\n')).toBe(120_000);
    expect(templateRuntimeMs('[j]\ntime_based\nruntime=90\n')).toBe(90_000);
  });

  it('says nothing when the job is not time based or the runtime is not a literal', () => {
    expect(templateRuntimeMs('[j]\nruntime=60s\n')).toBeUndefined();
    expect(templateRuntimeMs('[j]\n;time_based\nruntime=60s\n')).toBeUndefined();
    expect(templateRuntimeMs('[j]\ntime_based\n')).toBeUndefined();
    expect(templateRuntimeMs('[j]\ntime_based\nruntime=${RUNTIME}\n')).toBeUndefined();
    expect(templateRuntimeMs('[j]\ntime_based\nramp_time=10s\n')).toBeUndefined();
  });
});

describe('estimateIterationMs', () => {
  const entry = (params: Record<string, string>): MatrixEntry => ({ matrixId: 1, testId: '1', testRow: 1, config: config('a'), params });

  it('takes a runtime column first', () => {
    expect(estimateIterationMs(entry({ runtime: '45s', file_size: '1g' }), 60_000)).toBe(45_000);
  });

  it('then the runtime of a time-based template', () => {
    expect(estimateIterationMs(entry({ file_size: '1g' }), 60_000)).toBe(60_000);
  });

  it('then the bytes the job moves, at an assumed 100 MiB/s', () => {
    // 1 GiB x 2 files x 4 jobs = 8 GiB at 100 MiB/s = 81.92 s
    expect(estimateIterationMs(entry({ file_size: '1g', nr_files: '2', num_jobs: '4' }), undefined)).toBeCloseTo(81_920, 6);
    expect(estimateIterationMs(entry({ file_size: '100m' }), undefined)).toBeCloseTo(1_000, 6);
    // No file size: 1 GiB is assumed.
    expect(estimateIterationMs(entry({}), undefined)).toBeCloseTo(10_240, 6);
  });

  it('ranks bigger jobs as longer, so assignment can balance them', () => {
    const [small, big] = [entry({ file_size: '1g', num_jobs: '1' }), entry({ file_size: '10g', num_jobs: '4' })];
    expect(estimateIterationMs(big, undefined)).toBeGreaterThan(estimateIterationMs(small, undefined));
  });
});
