import { describe, expect, it } from 'vitest';
import { parseTestCasesCsv } from '../../src/core/testcases';
import { BRACED_TEST_CSV, SEED_TEST_CSV } from './helpers/inputs';
import { catchInputError, expectInputError } from './helpers/input-error';

describe('parseTestCasesCsv', () => {
  it('reads the seed format unchanged', () => {
    expect(parseTestCasesCsv(SEED_TEST_CSV, 'tests.csv')).toEqual([
      { testId: '1', row: 1, params: { test_id: '1', block_size: '4k', io_depth: '32', num_jobs: '1', file_size: '1g' } },
      { testId: '2', row: 2, params: { test_id: '2', block_size: '1m', io_depth: '64', num_jobs: '4', file_size: '10g' } },
      { testId: '3', row: 3, params: { test_id: '3', block_size: '128k', io_depth: '16', num_jobs: '2', file_size: '5g' } },
    ]);
  });

  it('reads the second format, using the data row as the test id', () => {
    const tests = parseTestCasesCsv(BRACED_TEST_CSV, 'tests.csv');
    expect(tests).toEqual([
      {
        testId: '1',
        row: 1,
        params: { io_type: 'read', num_jobs: '1', file_size: '1m', block_size: '4k', io_depth: '1', nr_files: '1', direct: '0' },
      },
      {
        testId: '2',
        row: 2,
        params: { io_type: 'randread', num_jobs: '4', file_size: '2g', block_size: '1m', io_depth: '8', nr_files: '4', direct: '1' },
      },
    ]);
  });

  it('counts data rows, not lines, for generated test ids', () => {
    const tests = parseTestCasesCsv('# comment\nio_type,block_size\n\nread,4k\n# skip me\nwrite,1m\n', 'tests.csv');
    expect(tests.map((t) => [t.testId, t.row])).toEqual([
      ['1', 1],
      ['2', 2],
    ]);
  });

  it('accepts any header case and normalises integers', () => {
    const [t] = parseTestCasesCsv('Test_ID,IO_Depth,Direct\nseq-read,0032,1\n', 'tests.csv');
    expect(t).toEqual({ testId: 'seq-read', row: 1, params: { test_id: 'seq-read', io_depth: '32', direct: '1' } });
  });

  it('accepts a runtime column', () => {
    expect(parseTestCasesCsv('test_id,runtime\na,30s\n', 'tests.csv')[0]!.params.runtime).toBe('30s');
  });

  describe('refuses', () => {
    it('an unknown column, naming the header line and the column', () => {
      expectInputError(
        () => parseTestCasesCsv('test_id,blocksize\n1,4k\n', 'tests.csv'),
        { file: 'tests.csv', line: 1, column: 'blocksize' },
        'tests.csv, line 1, column "blocksize": ',
        'unknown column "blocksize"; known columns are test_id, io_type, block_size',
      );
    });

    it('an unknown column on a header that follows comment lines, at its real line', () => {
      expectInputError(
        () => parseTestCasesCsv('# suite\n# owner: me\ntest_id,threads\n1,4\n', 'tests.csv'),
        { file: 'tests.csv', line: 3, column: 'threads' },
        'tests.csv, line 3, column "threads": ',
      );
    });

    it('a row with a missing column', () => {
      expectInputError(
        () => parseTestCasesCsv('test_id,block_size,io_depth\n1,4k,1\n2,4k\n', 'tests.csv'),
        { file: 'tests.csv', row: 2, line: 3 },
        'tests.csv, row 2 (line 3): ',
        'missing "io_depth"',
      );
    });

    it('a non-numeric io depth', () => {
      expectInputError(
        () => parseTestCasesCsv(SEED_TEST_CSV.replace('2,1m,64', '2,1m,deep'), 'tests.csv'),
        { file: 'tests.csv', row: 2, line: 3, column: 'io_depth' },
        'tests.csv, row 2 (line 3), column "io_depth": ',
        '"deep" is not a whole number of 1 or more',
      );
    });

    it('a bad size', () => {
      expectInputError(
        () => parseTestCasesCsv(SEED_TEST_CSV.replace('3,128k,16,2,5g', '3,128k,16,2,10q'), 'tests.csv'),
        { file: 'tests.csv', row: 3, line: 4, column: 'file_size' },
        'tests.csv, row 3 (line 4), column "file_size": ',
        '"10q" is not a size',
      );
    });

    it('an empty value', () => {
      expectInputError(
        () => parseTestCasesCsv('test_id,block_size\n1,\n', 'tests.csv'),
        { file: 'tests.csv', row: 1, line: 2, column: 'block_size' },
        'tests.csv, row 1 (line 2), column "block_size": ',
        'is empty',
      );
    });

    it('an unknown rw mode and a direct that is not 0 or 1', () => {
      expectInputError(
        () => parseTestCasesCsv('io_type,direct\nrandom,1\n', 'tests.csv'),
        { file: 'tests.csv', row: 1, line: 2, column: 'io_type' },
        'tests.csv, row 1 (line 2), column "io_type": ',
        '"random" is not an fio rw mode',
      );
      expectInputError(
        () => parseTestCasesCsv('io_type,direct\nread,yes\n', 'tests.csv'),
        { file: 'tests.csv', row: 1, line: 2, column: 'direct' },
        'tests.csv, row 1 (line 2), column "direct": ',
        '"yes" must be 0 or 1',
      );
    });

    it('a duplicate test id, naming both rows', () => {
      expectInputError(
        () => parseTestCasesCsv('test_id,block_size\na,4k\nb,1m\na,8k\n', 'tests.csv'),
        { file: 'tests.csv', row: 3, line: 4, column: 'test_id' },
        'tests.csv, row 3 (line 4), column "test_id": ',
        'test id "a" is used by row 1 already',
      );
    });

    it.each(['../x', 'a/b', '..', '.x', 'a b'])('the unsafe test id %j', (id) => {
      expectInputError(
        () => parseTestCasesCsv(`test_id,block_size\nok,4k\n"${id}",4k\n`, 'tests.csv'),
        { file: 'tests.csv', row: 2, line: 3, column: 'test_id' },
        'tests.csv, row 2 (line 3), column "test_id": ',
        'is not a valid id',
      );
    });

    // Line breaks reach a value only inside quotes; the record then ends a line later.
    it.each([
      ['io_type', '"read\nexec_prerun=/bin/sh"', 3],
      ['block_size', '"4k\nexec_prerun=/bin/sh"', 3],
      ['num_jobs', '"1\n[evil]\nexec_prerun=x"', 4],
      ['file_size', '1g=2', 2],
      ['io_depth', '[global]', 2],
      ['direct', 'exec_prerun=x', 2],
      ['nr_files', '"1\rexec_postrun=x"', 3], // a lone CR counts as a line break too
      ['test_id', '"a\nexec_prerun=x"', 3],
      ['runtime', '"30s\nexec_prerun=x"', 3],
    ])('an injection attempt in %s: %j', (column, cell, line) => {
      const columns = ['test_id', 'io_type', 'block_size', 'num_jobs', 'file_size', 'io_depth', 'direct', 'nr_files', 'runtime'];
      const good: Record<string, string> = {
        test_id: 't1',
        io_type: 'read',
        block_size: '4k',
        num_jobs: '1',
        file_size: '1m',
        io_depth: '1',
        direct: '0',
        nr_files: '1',
        runtime: '10s',
      };
      const row = columns.map((c) => (c === column ? cell : good[c])).join(',');
      const err = expectInputError(
        () => parseTestCasesCsv(`${columns.join(',')}\n${row}\n`, 'tests.csv'),
        { file: 'tests.csv', row: 1, line, column },
        `tests.csv, row 1 (line ${line}), column "${column}": `,
      );
      expect(err.detail).not.toBe('is empty');
    });
  });

  it('refuses a CRLF line break inside a quoted value (csv-parse counts it as two lines)', () => {
    const err = catchInputError(() => parseTestCasesCsv('test_id,nr_files\r\nt1,"1\r\nexec_postrun=x"\r\n', 'tests.csv'));
    expect(err.location).toMatchObject({ file: 'tests.csv', row: 1, column: 'nr_files' });
    // JSON-quoted, so the message itself stays on one line.
    expect(err.detail).toBe('"1\\r\\nexec_postrun=x" is not a whole number of 1 or more');
  });

  it('trims a trailing line break inside quotes away, so it never reaches the value', () => {
    const [t] = parseTestCasesCsv('test_id,block_size\n1,"4k\n"\n', 'tests.csv');
    expect(t!.params.block_size).toBe('4k');
  });
});
