import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportLegend, reportTable } from '../../src/client/table';
import type { MatrixEntry } from '../../src/core/matrix';
import { entryReport, entryReports, parseIteration } from '../../src/core/report';

const fixture = (name: string) => parseIteration(readFileSync(path.join(import.meta.dirname, '../fixtures/fio', name), 'utf8'));
const entry = (matrixId: number, testId: string): MatrixEntry => ({
  matrixId,
  testId,
  testRow: 1,
  config: { label: 'base', commit: 'master', mountArgs: '', mountArgv: [] },
  params: {},
});

describe('console report table from metrics.ts (real fio outputs)', () => {
  it('shows a unified_rw_reporting=1 run in a mixed column, each fio group by name, and ±n/a without an interval', () => {
    const mixed = fixture('unified-rw.json');
    const groups = fixture('two-groups.json');
    const reports = [
      entryReport(entry(1, 'mix'), 'vm-1', 'passed', [mixed, mixed]),
      ...entryReports(entry(2, 'grp'), 'vm-1', 'passed', [groups, groups, groups]),
    ];
    const text = reportTable(reports, undefined);
    const lines = text.split('\n');
    expect(lines.some((l) => l.includes('mixed MiB/s'))).toBe(true);
    for (const p of ['p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms']) expect(text).toContain(p);
    const mixRow = lines.find((l) => l.includes(' mix '))!;
    // Two iterations: no interval, and no stddev standing in for one.
    const mean = (reports[0]!.mixed!.bwBytesPerSec.mean / 2 ** 20).toFixed(1);
    expect(mixRow).toContain(`${mean}\u00a0±n/a`);
    expect(mixRow).toContain((reports[0]!.mixed!.clatPercentilesNs['p99.9']! / 1e6).toFixed(3));
    expect(text).toContain('grp (group 0)');
    expect(text).toContain('grp (group 1)');
    // Three identical iterations: an interval of half-width 0.
    const grpRow = lines.find((l) => l.includes('grp (group 1)'))!;
    expect(grpRow).toMatch(/\u00a0±0\.0/);
    // The legend names what this table shows: the mixed column and fio groups.
    expect(text.replace(/\s+/g, ' ')).toContain(reportLegend({ mixed: true, groups: true }));
  });

  it('names neither mixed nor fio groups in the legend of a table without them', () => {
    const plain = fixture('number-ios-1000.json');
    const text = reportTable([entryReport(entry(1, 'plain'), 'vm-1', 'passed', [plain])], 400);
    expect(text.replace(/\s+/g, ' ')).toContain(reportLegend());
    expect(text).not.toContain('mixed');
    expect(text).not.toContain('(group n)');
  });
});
