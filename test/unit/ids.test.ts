import { describe, expect, it } from 'vitest';
import { checkSafeId, isSafeId } from '../../src/core/ids';
import { expectInputError } from './helpers/input-error';

describe('isSafeId', () => {
  it.each(['a', 'Z', '1', 'run-2024.01_x', 'vm-1', 'a.b', 'x'.repeat(100)])('accepts %j', (id) => {
    expect(isSafeId(id)).toBe(true);
  });

  it.each([
    '',
    '../x',
    'a/b',
    '..',
    'a..b',
    'x..',
    '.hidden',
    '-x',
    '_x',
    'x'.repeat(101),
    'a b',
    'a\n',
    '\na',
    'a;b',
    'a$b',
    'a\\b',
    'a:b',
    'ä',
    'a*',
    'a?b',
    '%2e%2e',
  ])('refuses %j', (id) => {
    expect(isSafeId(id)).toBe(false);
  });
});

describe('checkSafeId', () => {
  it('returns a safe id unchanged', () => {
    expect(checkSafeId('bench-1', 'benchmark id')).toBe('bench-1');
  });

  it('names what it checked, the value and where it came from', () => {
    expectInputError(
      () => checkSafeId('../x', 'label', { file: 'configs.csv', row: 2, line: 3, column: 'label' }),
      { file: 'configs.csv', row: 2, line: 3, column: 'label' },
      'configs.csv, row 2 (line 3), column "label": ',
      'label "../x" is not allowed',
    );
    expectInputError(() => checkSafeId('a/b', 'VM name', { flag: '--vms' }), { flag: '--vms' }, '--vms: ', 'VM name "a/b"');
  });
});
