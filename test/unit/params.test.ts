import { describe, expect, it } from 'vitest';
import {
  ALL_PLACEHOLDERS,
  BUILTIN_PLACEHOLDERS,
  COLUMNS,
  COLUMN_BY_NAME,
  COLUMN_BY_PLACEHOLDER,
  RW_MODES,
  checkParamValue,
  parseDurationMs,
  parseSizeBytes,
  type ParamKind,
} from '../../src/core/params';

describe('parseSizeBytes', () => {
  it.each([
    ['4k', 4096],
    ['4K', 4096],
    ['4kb', 4096],
    ['4KB', 4096],
    ['1m', 2 ** 20],
    ['10g', 10 * 2 ** 30],
    ['128k', 128 * 1024],
    ['1t', 2 ** 40],
    ['1p', 2 ** 50],
    ['512', 512],
    ['512b', 512],
    [' 4k ', 4096],
  ])('reads %j as %d bytes (kb_base=1024)', (text, bytes) => {
    expect(parseSizeBytes(text)).toBe(bytes);
  });

  // fio's default kb_base=1024 is a compatibility mode that reads IEC spellings as powers
  // of ten (checked against fio itself in fio.test.ts).
  it.each([
    ['4KiB', 4000],
    ['1kib', 1000],
    ['1MiB', 1_000_000],
    ['2GiB', 2_000_000_000],
  ])('reads the IEC spelling %j as fio does: %d bytes', (text, bytes) => {
    expect(parseSizeBytes(text)).toBe(bytes);
  });

  it.each([
    '10q',
    '',
    ' ',
    'k',
    '4.5k',
    '-4k',
    '+4k',
    '0',
    '0k',
    '4kk',
    '4 k',
    '4k\nexec_prerun=x',
    '1e3',
    '4k=1',
    '[4k]',
    '0x10',
    '4x',
    '99999999999p',
  ])('refuses %j', (text) => {
    expect(parseSizeBytes(text)).toBeUndefined();
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['60', 60_000],
    ['60s', 60_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['250us', 0.25],
    [' 30s ', 30_000],
  ])('reads %j as %d ms (bare numbers are seconds)', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['0', '0s', '1.5s', '10x', '', '-1s', 's', '30 s', '30s\nexec_prerun=x'])('refuses %j', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});

describe('checkParamValue', () => {
  const ok = (kind: ParamKind, raw: string) => {
    const r = checkParamValue(kind, raw);
    if ('problem' in r) throw new Error(`unexpected problem: ${r.problem}`);
    return r.value;
  };
  const problem = (kind: ParamKind, raw: string) => {
    const r = checkParamValue(kind, raw);
    if ('value' in r) throw new Error(`expected a problem for ${kind} ${JSON.stringify(raw)}, got value ${JSON.stringify(r.value)}`);
    return r.problem;
  };

  it('accepts and normalises good values', () => {
    expect(ok('id', 'read-4k_1.a')).toBe('read-4k_1.a');
    expect(ok('size', ' 1m ')).toBe('1m');
    expect(ok('positiveInt', '32')).toBe('32');
    expect(ok('positiveInt', '007')).toBe('7');
    expect(ok('bool01', '0')).toBe('0');
    expect(ok('bool01', '1')).toBe('1');
    expect(ok('duration', '30s')).toBe('30s');
    for (const mode of RW_MODES) expect(ok('rwMode', mode)).toBe(mode);
  });

  it('says why a value does not fit its meaning', () => {
    expect(problem('positiveInt', 'abc')).toBe('"abc" is not a whole number of 1 or more');
    expect(problem('size', '10q')).toMatch(/^"10q" is not a size/);
    expect(problem('rwMode', 'reed')).toMatch(/^"reed" is not an fio rw mode \(one of read, write, /);
    expect(problem('bool01', 'true')).toBe('"true" must be 0 or 1');
    expect(problem('duration', '1.5s')).toMatch(/^"1.5s" is not a duration/);
    expect(problem('id', '../x')).toMatch(/^"\.\.\/x" is not a valid id/);
  });

  it.each([
    ['positiveInt', ['0', '-1', '1.5', '3e2', '0x10', ' ', '99999999999999999999', '1 2']],
    ['bool01', ['2', '01', 'yes', '-0', '']],
    ['rwMode', ['READ', 'readx', 'read write', 'randrw,read', '']],
    ['id', ['a/b', '..', '.x', 'a b', '']],
  ] as [ParamKind, string[]][])('refuses bad %s values', (kind, values) => {
    for (const v of values) problem(kind, v);
  });

  // A value goes into `key=value` in a job file: a line break, '=' or '[' could add an
  // option such as exec_prerun or a whole new job section.
  const HOSTILE = [
    '4k\nexec_prerun=/bin/sh -c id',
    'read\nexec_prerun=touch /tmp/pwned',
    '1\n[evil]\nexec_prerun=x',
    '4k=1',
    'exec_prerun=x',
    '[global]',
    '1\r\nexec_postrun=x',
    '4k\0',
    '1;exec_prerun=x',
    '${BLOCK_SIZE}',
    '$(id)',
  ];
  it.each(COLUMNS.map((c) => c.kind))('lets no hostile value through as a %s', (kind) => {
    for (const raw of HOSTILE) {
      const r = checkParamValue(kind, raw);
      if ('value' in r) expect.unreachable(`${kind} accepted ${JSON.stringify(raw)} as ${JSON.stringify(r.value)}`);
    }
  });

  it('never returns a value that could break out of key=value, whatever it is given', () => {
    const pieces = ['4k', '1', 'read', '\n', '\r', '=', '[', ']', ' ', 'exec_prerun', ';', '#', '$', '{', '}', '/', '..', '0'];
    for (const kind of new Set(COLUMNS.map((c) => c.kind))) {
      for (const a of pieces)
        for (const b of pieces)
          for (const c of pieces) {
            const r = checkParamValue(kind, a + b + c);
            if ('value' in r) expect(r.value, `${kind} ${JSON.stringify(a + b + c)}`).toMatch(/^[A-Za-z0-9_.-]+$/);
          }
    }
  });
});

describe('columns and placeholders', () => {
  it('fills the aliases existing suites use', () => {
    expect(COLUMN_BY_PLACEHOLDER.get('THREADS')?.column).toBe('num_jobs');
    expect(COLUMN_BY_PLACEHOLDER.get('NUM_JOBS')?.column).toBe('num_jobs');
    expect(COLUMN_BY_PLACEHOLDER.get('BS')?.column).toBe('block_size');
    expect(COLUMN_BY_PLACEHOLDER.get('BLOCK_SIZE')?.column).toBe('block_size');
    expect(COLUMN_BY_PLACEHOLDER.get('NRFILES')?.column).toBe('nr_files');
    expect(COLUMN_BY_PLACEHOLDER.get('NR_FILES')?.column).toBe('nr_files');
    expect(COLUMN_BY_PLACEHOLDER.get('IO_TYPE')?.column).toBe('io_type');
    expect(COLUMN_BY_PLACEHOLDER.get('IO_DEPTH')?.column).toBe('io_depth');
    expect(COLUMN_BY_PLACEHOLDER.get('FILE_SIZE')?.column).toBe('file_size');
  });

  it('has the seed format columns and the second format columns', () => {
    for (const c of ['test_id', 'block_size', 'io_depth', 'num_jobs', 'file_size', 'io_type', 'nr_files', 'direct']) {
      expect(COLUMN_BY_NAME.has(c), c).toBe(true);
    }
  });

  it('knows the built-ins, and every placeholder exactly once', () => {
    expect([...BUILTIN_PLACEHOLDERS].sort()).toEqual(['MOUNT_POINT', 'TEST_DATA_DIR', 'VM_NAME']);
    expect(new Set(ALL_PLACEHOLDERS).size).toBe(ALL_PLACEHOLDERS.length);
    for (const p of ALL_PLACEHOLDERS) expect(p).toMatch(/^[A-Z][A-Z0-9_]*$/);
    for (const p of BUILTIN_PLACEHOLDERS) expect(COLUMN_BY_PLACEHOLDER.has(p)).toBe(false);
  });
});
