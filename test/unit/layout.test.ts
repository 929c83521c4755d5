import { describe, expect, it } from 'vitest';
import { STORED_INPUT_NAMES, layout } from '../../src/core/layout';

describe('layout', () => {
  const id = 'bench-1';

  it('keeps the artifact layout of the original design', () => {
    expect(layout.benchmark(id)).toBe('bench-1');
    expect(layout.config(id)).toBe('bench-1/config.json');
    expect(layout.testCases(id)).toBe('bench-1/test-cases.csv');
    expect(layout.configs(id)).toBe('bench-1/configs.csv');
    expect(layout.jobTemplate(id)).toBe('bench-1/jobfile.fio');
    expect(layout.fleet(id)).toBe('bench-1/fleet.json');
    expect(layout.jobSpec(id, 'vm-1')).toBe('bench-1/jobs/vm-1.json');
    expect(layout.manifest(id, 'vm-1')).toBe('bench-1/results/vm-1/manifest.json');
    expect(layout.testDir(id, 'vm-1', 7)).toBe('bench-1/results/vm-1/test-7');
    expect(layout.report(id, 'combined_report.csv')).toBe('bench-1/report/combined_report.csv');
  });

  it('stores inputs under their fixed names', () => {
    expect(layout.testCases(id)).toBe(`${id}/${STORED_INPUT_NAMES.testCases}`);
    expect(layout.configs(id)).toBe(`${id}/${STORED_INPUT_NAMES.configs}`);
    expect(layout.jobTemplate(id)).toBe(`${id}/${STORED_INPUT_NAMES.jobFile}`);
  });

  it('puts job specs under the jobs prefix and every test file under its test folder', () => {
    expect(layout.jobSpec(id, 'vm-2').startsWith(layout.jobsPrefix(id))).toBe(true);
    const dir = layout.testDir(id, 'vm-2', 3);
    for (const key of [layout.renderedJob(id, 'vm-2', 3), layout.fioOutput(id, 'vm-2', 3, 1), layout.fioLog(id, 'vm-2', 3, 1)]) {
      expect(key.startsWith(`${dir}/`), key).toBe(true);
    }
    expect(layout.fioOutput(id, 'vm-2', 3, 2)).toBe('bench-1/results/vm-2/test-3/iteration-2.fio.json');
    expect(layout.fioLog(id, 'vm-2', 3, 2)).toBe('bench-1/results/vm-2/test-3/iteration-2.stderr.log');
  });

  it('gives different iterations, entries and VMs different keys', () => {
    const keys = new Set<string>();
    for (const vm of ['a', 'b']) for (const m of [1, 2, 12]) for (const it of [1, 2]) keys.add(layout.fioOutput(id, vm, m, it));
    expect(keys.size).toBe(12);
    // test-1 is not a prefix of test-12's folder
    expect(layout.fioOutput(id, 'a', 12, 1).startsWith(`${layout.testDir(id, 'a', 1)}/`)).toBe(false);
  });
});
