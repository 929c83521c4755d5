import { describe, expect, it } from 'vitest';
import { INPUT_ERROR_TYPE, InputError, formatLocation } from '../../src/core/errors';

describe('formatLocation', () => {
  it('is empty when nothing is known', () => {
    expect(formatLocation({})).toBe('');
  });

  it('names file, row with its line, and column, in that order', () => {
    expect(formatLocation({ file: 'tests.csv', row: 2, line: 3, column: 'io_depth' })).toBe(
      'tests.csv, row 2 (line 3), column "io_depth": ',
    );
  });

  it('shows a row or a line alone', () => {
    expect(formatLocation({ file: 'tests.csv', row: 4 })).toBe('tests.csv, row 4: ');
    expect(formatLocation({ file: 'job.fio', line: 7 })).toBe('job.fio, line 7: ');
  });

  it('puts a flag first', () => {
    expect(formatLocation({ flag: '--iterations' })).toBe('--iterations: ');
    expect(formatLocation({ flag: '--test-csv', file: 'tests.csv', line: 1, column: 'x' })).toBe(
      '--test-csv, tests.csv, line 1, column "x": ',
    );
  });

  it('keeps row 0 and line 0 (numbers, not truthiness)', () => {
    expect(formatLocation({ row: 0, line: 0 })).toBe('row 0 (line 0): ');
  });
});

describe('InputError', () => {
  it('is an Error whose message is the location followed by the detail', () => {
    const err = new InputError('is empty', { file: 'tests.csv', row: 1, line: 2, column: 'block_size' });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('InputError');
    expect(err.detail).toBe('is empty');
    expect(err.location).toEqual({ file: 'tests.csv', row: 1, line: 2, column: 'block_size' });
    expect(err.message).toBe('tests.csv, row 1 (line 2), column "block_size": is empty');
  });

  it('has an empty location by default', () => {
    const err = new InputError('bad');
    expect(err.location).toEqual({});
    expect(err.message).toBe('bad');
  });

  it('has the failure type the activities use for it', () => {
    expect(INPUT_ERROR_TYPE).toBe(new InputError('x').name);
  });
});
