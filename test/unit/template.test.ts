import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTestCasesCsv } from '../../src/core/testcases';
import { checkTemplate, findPlaceholders, placeholderValues, renderTemplate } from '../../src/core/template';
import { FIO_BIN } from './helpers/fio';
import { BRACED_JOB_FILE, BRACED_TEST_CSV, SEED_JOB_FILE, SEED_TEST_CSV } from './helpers/inputs';
import { expectInputError } from './helpers/input-error';

const BUILTINS = { MOUNT_POINT: '/mnt/gcs', TEST_DATA_DIR: '/mnt/gcs/data' };

function renderRow(template: string, csv: string, index: number): string {
  const t = parseTestCasesCsv(csv, 'tests.csv')[index]!;
  return renderTemplate(template, placeholderValues(t.testId, t.params, BUILTINS), 'job.fio');
}

describe('the seed format (bare placeholders)', () => {
  it('finds each placeholder with its line', () => {
    expect(findPlaceholders(SEED_JOB_FILE, 'job.fio')).toEqual([
      { name: 'BLOCK_SIZE', line: 10, form: 'bare' },
      { name: 'IO_DEPTH', line: 11, form: 'bare' },
      { name: 'NUM_JOBS', line: 12, form: 'bare' },
      { name: 'MOUNT_POINT', line: 13, form: 'bare' },
      { name: 'FILE_SIZE', line: 15, form: 'bare' },
    ]);
  });

  it('accepts the seed job file with the seed CSV columns', () => {
    const columns = Object.keys(parseTestCasesCsv(SEED_TEST_CSV, 'tests.csv')[0]!.params);
    expect(checkTemplate(SEED_JOB_FILE, 'job.fio', columns, 'tests.csv')).toHaveLength(5);
  });

  it('renders a row into the job file, touching nothing else', () => {
    expect(renderRow(SEED_JOB_FILE, SEED_TEST_CSV, 1)).toBe(`[global]
ioengine=libaio
direct=1
time_based
runtime=60s
group_reporting

[read-test]
rw=read
bs=1m
iodepth=64
numjobs=4
directory=/mnt/gcs
filename=testfile
size=10g
`);
  });
});

describe('the second format (${...} placeholders)', () => {
  it('renders aliases (THREADS, NRFILES) and built-ins, leaving fio $keywords alone', () => {
    expect(renderRow(BRACED_JOB_FILE, BRACED_TEST_CSV, 1)).toBe(`[global]
ioengine=libaio
direct=1
verify=0
invalidate=1
time_based=1
ramp_time=10s
runtime=30s
thread=1
openfiles=1
group_reporting=1
filename_format=$jobname.$jobnum.$filenum

[Workload]
rw=randread
bs=1m
iodepth=8
numjobs=4
nrfiles=4
filesize=2g
directory=/mnt/gcs/data
`);
  });

  it('reports each braced use once, not also as a bare word', () => {
    const uses = findPlaceholders('[j]\nbs=${BS}\ndescription=BS-${BLOCK_SIZE}\n', 'job.fio');
    expect(uses).toEqual([
      { name: 'BS', line: 2, form: 'braced' },
      { name: 'BLOCK_SIZE', line: 3, form: 'braced' },
      { name: 'BS', line: 3, form: 'bare' },
    ]);
  });
});

describe('matching', () => {
  const values = placeholderValues('t1', { block_size: '4k', num_jobs: '2', io_type: 'read', nr_files: '3' }, BUILTINS);

  it('fills every alias of a column and the built-ins', () => {
    expect(values).toMatchObject({
      TEST_ID: 't1',
      BLOCK_SIZE: '4k',
      BS: '4k',
      NUM_JOBS: '2',
      THREADS: '2',
      IO_TYPE: 'read',
      NR_FILES: '3',
      NRFILES: '3',
      MOUNT_POINT: '/mnt/gcs',
      TEST_DATA_DIR: '/mnt/gcs/data',
    });
    expect(values).not.toHaveProperty('IO_DEPTH');
  });

  it('replaces whole words only', () => {
    const template = [
      '[j]',
      'bs=BS',
      'x=BLOCK_SIZES',
      'x=MY_BS',
      'x=BS2',
      'x=$BS',
      'x=xBS',
      'x=BS_',
      'x=2BS',
      'x=NUM_JOBSX',
      'x=THREADS_PER_JOB',
      'directory=/data/BS/THREADS',
      'x=BS-THREADS,IO_TYPE',
    ].join('\n');
    expect(renderTemplate(template, values)).toBe(
      [
        '[j]',
        'bs=4k',
        'x=BLOCK_SIZES',
        'x=MY_BS',
        'x=BS2',
        'x=$BS',
        'x=xBS',
        'x=BS_',
        'x=2BS',
        'x=NUM_JOBSX',
        'x=THREADS_PER_JOB',
        'directory=/data/4k/2',
        'x=4k-2,read',
      ].join('\n'),
    );
    expect(findPlaceholders(template, 'job.fio').map((u) => `${u.line}:${u.name}`)).toEqual(['2:BS', '12:BS', '12:THREADS', '13:BS', '13:THREADS', '13:IO_TYPE']);
  });

  it('never touches comment lines, even with unknown placeholders in them', () => {
    const template = '; bs=BLOCK_SIZE ${NOT_A_PLACEHOLDER}\n  # numjobs=${THREADS}\n[j]\nbs=BS ; trailing\n#BS\n';
    expect(findPlaceholders(template, 'job.fio')).toEqual([{ name: 'BS', line: 4, form: 'bare' }]);
    expect(renderTemplate(template, values)).toBe('; bs=BLOCK_SIZE ${NOT_A_PLACEHOLDER}\n  # numjobs=${THREADS}\n[j]\nbs=4k ; trailing\n#BS\n');
  });

  it('never scans a substituted value again', () => {
    const v = { ...values, MOUNT_POINT: '/mnt/BLOCK_SIZE/THREADS' };
    expect(renderTemplate('[j]\ndirectory=MOUNT_POINT\nbs=${BS}', v)).toBe('[j]\ndirectory=/mnt/BLOCK_SIZE/THREADS\nbs=4k');
  });

  it('keeps CRLF line ends', () => {
    expect(renderTemplate('[j]\r\nbs=BS\r\nnumjobs=${THREADS}\r\n', values)).toBe('[j]\r\nbs=4k\r\nnumjobs=2\r\n');
  });
});

describe('errors', () => {
  it('an unknown ${PLACEHOLDER}, naming the file and line', () => {
    expectInputError(
      () => findPlaceholders('[j]\n; ${IGNORED}\nbs=${BLOCKSIZE}\n', 'job.fio'),
      { file: 'job.fio', line: 3 },
      'job.fio, line 3: ',
      'unknown placeholder ${BLOCKSIZE}; known placeholders are ',
      'BLOCK_SIZE',
    );
    expectInputError(() => findPlaceholders('[j]\nbs=${block_size}', 'job.fio'), { file: 'job.fio', line: 2 }, 'job.fio, line 2: ', 'unknown placeholder ${block_size}');
    expectInputError(() => findPlaceholders('[j]\nbs=${}', 'job.fio'), { file: 'job.fio', line: 2 }, 'job.fio, line 2: ', 'unknown placeholder ${}');
  });

  it('a placeholder whose column the CSV lacks, naming the line, the CSV and the column', () => {
    expectInputError(
      () => checkTemplate(SEED_JOB_FILE, 'job.fio', ['test_id', 'block_size', 'num_jobs', 'file_size'], 'tests.csv'),
      { file: 'job.fio', line: 11 },
      'job.fio, line 11: ',
      'placeholder IO_DEPTH has no value: tests.csv has no column "io_depth"',
    );
    expectInputError(
      () => checkTemplate(BRACED_JOB_FILE, 'job.fio', ['io_type', 'file_size', 'block_size', 'io_depth', 'nr_files', 'direct'], 'tests.csv'),
      { file: 'job.fio', line: 18 },
      'job.fio, line 18: ',
      'placeholder THREADS has no value: tests.csv has no column "num_jobs"',
    );
  });

  it('nothing to complain about when only built-ins and TEST_ID are used', () => {
    const uses = checkTemplate('[j]\ndirectory=MOUNT_POINT\nfilename=TEST_ID\nopendir=${TEST_DATA_DIR}\n', 'job.fio', [], 'tests.csv');
    expect(uses.map((u) => u.name)).toEqual(['MOUNT_POINT', 'TEST_ID', 'TEST_DATA_DIR']);
  });

  it('an empty file, or one without a job section', () => {
    expectInputError(() => checkTemplate(' \n\n', 'job.fio', [], 't.csv'), { file: 'job.fio' }, 'job.fio: ', 'the fio job file is empty');
    expectInputError(() => checkTemplate('bs=4k\nrw=read\n', 'job.fio', [], 't.csv'), { file: 'job.fio' }, 'job.fio: ', 'no [job] section found');
    expectInputError(() => checkTemplate('; [commented]\nbs=4k\n', 'job.fio', [], 't.csv'), { file: 'job.fio' }, 'job.fio: ', 'no [job] section found');
  });

  it('a value missing at render time, or one with a line break', () => {
    expectInputError(() => renderTemplate('[j]\nbs=4k\niodepth=IO_DEPTH\n', {}, 'job.fio'), { file: 'job.fio', line: 3 }, 'job.fio, line 3: ', 'placeholder IO_DEPTH has no value');
    expectInputError(() => renderTemplate('[j]\nbs=${BS}', { BS: '4k\nexec_prerun=id' }, 'job.fio'), { file: 'job.fio', line: 2 }, 'job.fio, line 2: ', 'value of BS contains a line break');
    expectInputError(() => renderTemplate('[j]\nbs=BS', { BS: '4k\r' }), { file: 'job file', line: 2 }, 'job file, line 2: ');
  });

  it.each(['relative/dir', '', '/mnt/a:b', '/mnt/a\nexec_prerun=id', '/mnt/my dir', '/mnt/$HOME'])('a built-in path such as %j', (p) => {
    expectInputError(() => placeholderValues('t', {}, { MOUNT_POINT: p, TEST_DATA_DIR: '/ok' }), {}, 'MOUNT_POINT ', 'must be an absolute path');
  });
});

describe('rendered job files are valid fio jobs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-template-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fio --parse-only accepts every row of both formats, and refuses a bad value', async () => {
    const files: string[] = [];
    for (const [name, template, csv] of [
      ['seed', SEED_JOB_FILE, SEED_TEST_CSV],
      ['braced', BRACED_JOB_FILE, BRACED_TEST_CSV],
    ] as const) {
      const count = parseTestCasesCsv(csv, 'tests.csv').length;
      for (let i = 0; i < count; i++) {
        const file = path.join(dir, `${name}-${i}.fio`);
        await writeFile(file, renderRow(template, csv, i));
        files.push(file);
      }
    }
    expect(files).toHaveLength(5);
    // The refusal shows that --parse-only really checks values, so its acceptance means something.
    const bad = path.join(dir, 'bad.fio');
    await writeFile(bad, '[j]\nrw=randoom\n');
    const run = promisify(execFile);
    const [good, refused] = await Promise.allSettled([run(FIO_BIN, ['--parse-only', ...files]), run(FIO_BIN, ['--parse-only', bad])]);
    expect(good.status === 'fulfilled' ? 'ok' : String(good.reason)).toBe('ok');
    expect(refused.status).toBe('rejected');
  });
});
