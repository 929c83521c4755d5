import { describe, expect, it } from 'vitest';
import { OUTLIER_LEGEND, REPORT_LEGEND, fittedTable, progressTable, reportTable, terminalColumns } from '../../src/client/table';
import type { DirectionStats, EntryReport } from '../../src/core/report';
import { sampleStats } from '../../src/core/stats';
import type { BenchmarkProgress } from '../../src/workflows/types';

const MIB = 2 ** 20;

function direction(bwMiBps: number[]): DirectionStats {
  return {
    bwBytesPerSec: sampleStats(bwMiBps.map((v) => v * MIB)),
    iops: sampleStats(bwMiBps.map((v) => v * 256)),
    clatMeanNs: 1_500_000,
    clatMinNs: 1_000,
    clatMaxNs: 9_000_000,
    clatStddevNs: 10,
    clatPercentilesNs: { p50: 1_000_000, p90: 2_000_000, p99: 3_000_000, 'p99.9': 4_000_000 },
    latencySamples: 100,
  } as unknown as DirectionStats;
}

function entry(matrixId: number, read: number[] | null, write: number[] | null): EntryReport {
  return {
    matrixId,
    testId: `seq-read-with-a-long-name-${matrixId}`,
    configLabel: 'default-config-label',
    commit: 'master',
    mountArgs: '',
    params: {},
    vm: 'local-vm-1',
    status: 'passed',
    iterations: (read ?? write)!.length,
    fioVersion: 'fio-3.36',
    read: read && direction(read),
    write: write && direction(write),
  };
}

const widthOf = (text: string): number => Math.max(...text.split('\n').map((l) => l.length));
const tableLines = (text: string): string[] => text.split('\n').filter((l) => /^[┌│├└]/.test(l));

describe('console tables', () => {
  it('take the terminal width, then COLUMNS, else no limit (a pipe gets whole lines)', () => {
    expect(terminalColumns({ isTTY: true, columns: 90 }, { COLUMNS: '200' })).toBe(90);
    expect(terminalColumns({ isTTY: false }, { COLUMNS: '120' })).toBe(120);
    expect(terminalColumns({ isTTY: false }, {})).toBeUndefined();
    expect(terminalColumns({ isTTY: false }, { COLUMNS: 'wide' })).toBeUndefined();
  });

  it('fit the report into 100 and 80 columns, keep whole lines when unbounded, with no rule between rows', () => {
    const reports = [entry(1, [100, 101, 99, 100, 100, 50], null), entry(2, null, [80, 82]), entry(3, [1234.5, 1200.25], null)];
    const unbounded = reportTable(reports, undefined);
    const table = unbounded.split('\n').filter((l) => /^[┌│├└]/.test(l));
    expect(widthOf(table.join('\n'))).toBeGreaterThan(100);
    // Header, three rows, top and bottom borders and one rule under the header: no rule between rows.
    expect(table.filter((l) => l.startsWith('├'))).toHaveLength(1);
    expect(table).toHaveLength(3 + 3 + 1);
    for (const columns of [100, 80]) {
      const text = reportTable(reports, columns);
      expect(widthOf(tableLines(text).join('\n'))).toBeLessThanOrEqual(columns);
      expect(tableLines(text).filter((l) => l.startsWith('├'))).toHaveLength(1);
      // Squeezed cells wrap, they are not cut: every test id is still there, read down its column.
      const ids: string[] = [];
      for (const l of tableLines(text).slice(tableLines(text).findIndex((x) => x.startsWith('├')) + 1, -1)) {
        const [, entryCell, testCell] = l.split('│').map((c) => c.trim());
        if (entryCell) ids.push('');
        ids[ids.length - 1] += testCell ?? '';
      }
      expect(ids).toEqual(reports.map((r) => r.testId));
      expect(text).toMatch(/^left out to fit \d+ columns: p90 ms/m);
    }
  });

  it('explain the columns, and the outlier mark when one is shown', () => {
    const withOutlier = reportTable([entry(1, [100, 101, 99, 100, 100, 50], null)], undefined);
    expect(withOutlier).toMatch(/ !6/);
    expect(withOutlier.split('\n').slice(-2)).toEqual([REPORT_LEGEND, OUTLIER_LEGEND]);
    // On a terminal the legend wraps to its width too.
    const narrow = reportTable([entry(1, [100, 101, 99, 100, 100, 50], null)], 60);
    expect(
      widthOf(
        narrow
          .split('\n')
          .filter((l) => !/^[┌│├└]/.test(l))
          .join('\n'),
      ),
    ).toBeLessThanOrEqual(60);
    expect(narrow.replace(/\n/g, ' ')).toContain(OUTLIER_LEGEND);
    expect(OUTLIER_LEGEND).toMatch(/^!n: iteration n is an outlier/);
    const without = reportTable([entry(1, [100, 101], null)], undefined);
    expect(without.split('\n').at(-1)).toBe(REPORT_LEGEND);
    expect(without).not.toContain('!n');
  });

  it('fit the status table too', () => {
    const progress: BenchmarkProgress = {
      benchmarkId: 'b',
      phase: 'running',
      totalEntries: 4,
      passed: 1,
      failed: 0,
      lostVms: [],
      runs: [
        { vm: 'local-vm-1', workflowId: 'b-vm-local-vm-1', status: 'running', total: 2, passed: 1, failed: 0, rerun: 0 },
        { vm: 'local-vm-2', workflowId: 'b-vm-local-vm-2', status: 'running', total: 2, passed: 0, failed: 0, rerun: 0 },
      ],
    };
    const text = progressTable(progress, new Map(), 80);
    expect(widthOf(progressTable(progress, new Map(), undefined))).toBeGreaterThan(80);
    expect(widthOf(text)).toBeLessThanOrEqual(80);

    expect(text.split('\n').filter((l) => l.startsWith('├'))).toHaveLength(1);
  });

  it('wrap headers at spaces before squeezing cells', () => {
    const text = fittedTable(['a long header', 'x'], [['1', '2']], 30);
    expect(text.split('\n')[1]).toMatch(/│ a long header │ x │/);
    const narrow = fittedTable(['a long header', 'x'], [['1', '2']], 20);
    expect(
      narrow
        .split('\n')
        .slice(1, 3)
        .map((l) => l.split('│')[1]!.trim()),
    ).toEqual(['a long', 'header']);
    expect(widthOf(narrow)).toBeLessThanOrEqual(20);
  });
});
