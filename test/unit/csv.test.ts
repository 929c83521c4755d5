import { describe, expect, it } from 'vitest';
import { parseCsvTable } from '../../src/core/csv';
import { expectInputError } from './helpers/input-error';

describe('parseCsvTable', () => {
  it('keys values by lower-cased, trimmed header names and trims values', () => {
    const t = parseCsvTable('Test_ID , Block_Size\n 1 , 4k \n', 'tests.csv');
    expect(t.header).toEqual(['test_id', 'block_size']);
    expect(t.headerLine).toBe(1);
    expect(t.records).toEqual([{ row: 1, line: 2, values: { test_id: '1', block_size: '4k' } }]);
  });

  it('counts rows after the header and lines in the file, skipping comments and blank lines', () => {
    const text = '# my suite\n\na,b\n# first group\n1,2\n\n3,4\n';
    const t = parseCsvTable(text, 'tests.csv');
    expect(t.headerLine).toBe(3);
    expect(t.records.map((r) => [r.row, r.line, r.values.a])).toEqual([
      [1, 5, '1'],
      [2, 7, '3'],
    ]);
  });

  it('keeps a # inside a value (only whole-line comments are comments)', () => {
    expect(parseCsvTable('a,b\n1,x#y\n', 'f.csv').records[0]!.values.b).toBe('x#y');
  });

  it('reads quoted fields with commas and line breaks; the line is where the record ends', () => {
    const t = parseCsvTable('a,b\n1,"--x=1,2"\n"two\nlines",3\n4,5\n', 'f.csv');
    expect(t.records.map((r) => [r.row, r.line, r.values.a, r.values.b])).toEqual([
      [1, 2, '1', '--x=1,2'],
      [2, 4, 'two\nlines', '3'],
      [3, 5, '4', '5'],
    ]);
  });

  it('accepts a byte-order mark and CRLF line ends', () => {
    const t = parseCsvTable('\uFEFFa,b\r\n1,2\r\n3,4', 'f.csv');
    expect(t.header).toEqual(['a', 'b']);
    expect(t.records.map((r) => r.values)).toEqual([
      { a: '1', b: '2' },
      { a: '3', b: '4' },
    ]);
  });

  describe('refuses', () => {
    it('an empty file, or one with only comments', () => {
      expectInputError(() => parseCsvTable('', 'tests.csv'), { file: 'tests.csv' }, 'tests.csv: ', 'the file is empty');
      expectInputError(() => parseCsvTable('# nothing\n\n', 'tests.csv'), { file: 'tests.csv' }, 'tests.csv: ', 'the file is empty');
    });

    it('a header without data rows', () => {
      expectInputError(
        () => parseCsvTable('a,b\n# none yet\n', 'tests.csv'),
        { file: 'tests.csv' },
        'tests.csv: ',
        'has a header but no data rows',
      );
    });

    it('an empty or repeated header field, naming the header line', () => {
      expectInputError(
        () => parseCsvTable('a,,c\n1,2,3\n', 'f.csv'),
        { file: 'f.csv', line: 1 },
        'f.csv, line 1: ',
        'header field 2 is empty',
      );
      expectInputError(
        () => parseCsvTable('# c\n\na,A\n1,2\n', 'f.csv'),
        { file: 'f.csv', line: 3 },
        'f.csv, line 3: ',
        'column "a" appears twice in the header',
      );
    });

    it('a row with missing fields, naming the row, its line and the missing columns', () => {
      expectInputError(
        () => parseCsvTable('a,b,c\n1,2,3\n4\n', 'tests.csv'),
        { file: 'tests.csv', row: 2, line: 3 },
        'tests.csv, row 2 (line 3): ',
        'has 1 fields but the header has 3: missing "b", "c"',
      );
    });

    it('a row with extra fields', () => {
      expectInputError(
        () => parseCsvTable('a,b\n1,2,3\n', 'f.csv'),
        { file: 'f.csv', row: 1, line: 2 },
        'f.csv, row 1 (line 2): ',
        'has 3 fields but the header has 2',
      );
    });

    it('malformed quoting, naming the line', () => {
      expectInputError(() => parseCsvTable('a,b\n1,"2\n', 'f.csv'), { file: 'f.csv', line: 2 }, 'f.csv, line 2: ', 'malformed CSV');
      expectInputError(() => parseCsvTable('a,b\n1,2\n3,"4"x\n', 'f.csv'), { file: 'f.csv', line: 3 }, 'f.csv, line 3: ', 'malformed CSV');
    });
  });
});
