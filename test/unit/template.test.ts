import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTestCasesCsv } from '../../src/core/testcases';
import { renderJob } from '../../src/core/job';
import { ALL_PLACEHOLDERS, BARE_PLACEHOLDERS, COLUMN_BY_PLACEHOLDER } from '../../src/core/params';
import { checkTemplate, findPlaceholders, placeholderValues, renderTemplate } from '../../src/core/template';
import { originalTemplateNames } from '../support/compat';
import { FIO_BIN } from './helpers/fio';
import { BRACED_JOB_FILE, BRACED_TEST_CSV, SEED_JOB_FILE, SEED_TEST_CSV } from './helpers/inputs';
import { expectInputError } from './helpers/input-error';
import { GCSFUSE_SAMPLE_JOB_FILE, ORIGINAL_STYLE_JOB_FILE, ORIGINAL_STYLE_TEST_CSV } from './helpers/original-inputs';

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

  it('reports each use once, in its form', () => {
    const uses = findPlaceholders('[j]\nbs=${BS}\ndescription=BS-${BLOCK_SIZE}-$IO_TYPE\nsize=FILE_SIZE\n', 'job.fio');
    expect(uses).toEqual([
      { name: 'BS', line: 2, form: 'braced' },
      { name: 'BLOCK_SIZE', line: 3, form: 'braced' },
      { name: 'IO_TYPE', line: 3, form: 'dollar' },
      { name: 'FILE_SIZE', line: 4, form: 'bare' },
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

  it('takes a bare word only as the whole value of an option or the first segment of a path', () => {
    const template = [
      '[j]',
      'bs=BS',
      'numjobs = THREADS',
      'rw=IO_TYPE ; inline comment',
      'directory=TEST_DATA_DIR/sub',
      'x=BLOCK_SIZES',
      'x=MY_BS',
      'x=BS2',
      'x=xBS',
      'x=BS_',
      'x=2BS',
      'x=NUM_JOBSX',
      'x=THREADS_PER_JOB',
      'directory=/data/BS/THREADS',
      'x=BS-THREADS,IO_TYPE',
      'description=DIRECT io of BS blocks with THREADS jobs',
      '[BS]',
      'BS=BS',
    ].join('\n');
    expect(renderTemplate(template, values)).toBe(
      [
        '[j]',
        'bs=4k',
        'numjobs = 2',
        'rw=read ; inline comment',
        'directory=/mnt/gcs/data/sub',
        'x=BLOCK_SIZES',
        'x=MY_BS',
        'x=BS2',
        'x=xBS',
        'x=BS_',
        'x=2BS',
        'x=NUM_JOBSX',
        'x=THREADS_PER_JOB',
        'directory=/data/BS/THREADS',
        'x=BS-THREADS,IO_TYPE',
        'description=DIRECT io of BS blocks with THREADS jobs',
        '[BS]',
        'BS=4k',
      ].join('\n'),
    );
    expect(findPlaceholders(template, 'job.fio').map((u) => `${u.line}:${u.name}`)).toEqual([
      '2:BS',
      '3:THREADS',
      '4:IO_TYPE',
      '5:TEST_DATA_DIR',
      '18:BS',
    ]);
  });

  it('does not take the gcsfuse sample names (NUMJOBS, DIR, ...) as bare words', () => {
    const template = '[j]\nnumjobs=NUMJOBS\ndirectory=DIR\nrw=READ_TYPE\n';
    expect(findPlaceholders(template, 'job.fio')).toEqual([]);
    expect(renderTemplate(template, values)).toBe(template);
  });

  it('never touches comment lines, even with unknown placeholders in them', () => {
    const template = '; bs=BLOCK_SIZE ${NOT_A_PLACEHOLDER}\n  # numjobs=${THREADS}\n[j]\nbs=BS ; trailing\n#BS\n';
    expect(findPlaceholders(template, 'job.fio')).toEqual([{ name: 'BS', line: 4, form: 'bare' }]);
    expect(renderTemplate(template, values)).toBe(
      '; bs=BLOCK_SIZE ${NOT_A_PLACEHOLDER}\n  # numjobs=${THREADS}\n[j]\nbs=4k ; trailing\n#BS\n',
    );
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
    expectInputError(
      () => findPlaceholders('[j]\nbs=${block_size}', 'job.fio'),
      { file: 'job.fio', line: 2 },
      'job.fio, line 2: ',
      'unknown placeholder ${block_size}',
    );
    expectInputError(
      () => findPlaceholders('[j]\nbs=${}', 'job.fio'),
      { file: 'job.fio', line: 2 },
      'job.fio, line 2: ',
      'unknown placeholder ${}',
    );
  });

  it('a placeholder whose column the CSV lacks, naming the line, the CSV and the column', () => {
    expectInputError(
      () => checkTemplate(SEED_JOB_FILE, 'job.fio', ['test_id', 'block_size', 'num_jobs', 'file_size'], 'tests.csv'),
      { file: 'job.fio', line: 11 },
      'job.fio, line 11: ',
      'placeholder IO_DEPTH has no value: tests.csv has no column "io_depth"',
    );
    expectInputError(
      () =>
        checkTemplate(BRACED_JOB_FILE, 'job.fio', ['io_type', 'file_size', 'block_size', 'io_depth', 'nr_files', 'direct'], 'tests.csv'),
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
    expectInputError(
      () => checkTemplate('bs=4k\nrw=read\n', 'job.fio', [], 't.csv'),
      { file: 'job.fio' },
      'job.fio: ',
      'no [job] section found',
    );
    expectInputError(
      () => checkTemplate('; [commented]\nbs=4k\n', 'job.fio', [], 't.csv'),
      { file: 'job.fio' },
      'job.fio: ',
      'no [job] section found',
    );
  });

  it('a value missing at render time, or one with a line break', () => {
    expectInputError(
      () => renderTemplate('[j]\nbs=4k\niodepth=IO_DEPTH\n', {}, 'job.fio'),
      { file: 'job.fio', line: 3 },
      'job.fio, line 3: ',
      'placeholder IO_DEPTH has no value',
    );
    expectInputError(
      () => renderTemplate('[j]\nbs=${BS}', { BS: '4k\nexec_prerun=id' }, 'job.fio'),
      { file: 'job.fio', line: 2 },
      'job.fio, line 2: ',
      'value of BS contains a line break',
    );
    expectInputError(() => renderTemplate('[j]\nbs=BS', { BS: '4k\r' }), { file: 'job file', line: 2 }, 'job file, line 2: ');
  });

  it.each(['relative/dir', '', '/mnt/a:b', '/mnt/a\nexec_prerun=id', '/mnt/my dir', '/mnt/$HOME'])('a built-in path such as %j', (p) => {
    expectInputError(
      () => placeholderValues('t', {}, { MOUNT_POINT: p, TEST_DATA_DIR: '/ok' }),
      {},
      'MOUNT_POINT ',
      'must be an absolute path',
    );
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

describe("the original tool's templates ($NAME and ${NAME}, envsubst style)", () => {
  const row = (i: number) => parseTestCasesCsv(ORIGINAL_STYLE_TEST_CSV, 'tests.csv')[i]!;

  it('substitutes every name the original substitutes, in both forms', () => {
    for (const name of originalTemplateNames()) {
      expect(ALL_PLACEHOLDERS, name).toContain(name);
      expect(BARE_PLACEHOLDERS, name).toContain(name);
    }
    const v = placeholderValues('t', row(0).params, BUILTINS);
    for (const name of originalTemplateNames()) {
      const expected = v[name];
      expect(expected, name).toBeDefined();
      expect(renderTemplate(`[j]\na=$${name}\nb=\${${name}}\nc=x-$${name}-y`, v)).toBe(
        `[j]\na=${expected}\nb=${expected}\nc=x-${expected}-y`,
      );
    }
  });

  it('renders a whole template, leaving $$, fio keywords and words in values alone', () => {
    expect(
      checkTemplate(ORIGINAL_STYLE_JOB_FILE, 'job.fio', Object.keys(row(0).params), 'tests.csv').map(
        (u) => `${u.line}:${u.form}:${u.name}`,
      ),
    ).toEqual([
      '4:dollar:DIRECT',
      '11:dollar:IO_TYPE',
      '12:braced:BS',
      '13:dollar:IO_DEPTH',
      '14:dollar:THREADS',
      '15:braced:NRFILES',
      '16:dollar:FILE_SIZE',
      '17:dollar:TEST_DATA_DIR',
    ]);
    expect(renderTemplate(ORIGINAL_STYLE_JOB_FILE, placeholderValues('seq-read', row(0).params, BUILTINS), 'job.fio'))
      .toBe(`; written for the original: envsubst '$BS $FILE_SIZE ...'
[global]
ioengine=psync
direct=0
thread=1
group_reporting=1
filename_format=$jobname.$jobnum.$filenum
description=DIRECT io on BS blocks, $$ and all

[seq]
rw=read
bs=64k
iodepth=1
numjobs=2
nrfiles=2
filesize=256k
directory=/mnt/gcs/data
`);
  });

  it('takes the longest name after $, as a shell does', () => {
    const v = placeholderValues('t', row(0).params, BUILTINS);
    expect(renderTemplate('[j]\nbs=$BS,$BS.x,$BS/y,${BS}z', v)).toBe('[j]\nbs=64k,64k.x,64k/y,64kz');
    expectInputError(
      () => renderTemplate('[j]\nbs=$BSz', v, 'job.fio'),
      { file: 'job.fio', line: 2 },
      'job.fio, line 2: ',
      'unknown placeholder $BSz',
    );
  });

  it.each([
    ['$$', 'x=$$'],
    ['$$NAME (the second $ is not a reference)', 'x=$$HOME'],
    ['fio file name keywords', 'filename_format=$jobname.$jobnum.$filenum.$clientuid'],
    ['fio expression keywords', 'size=$mb_memory\nnumjobs=$ncpus\nbs=$pagesize'],
    ['a $ before a digit, a space or the end', 'description=costs $5 or $ or $'],
  ])('leaves %s to fio', (_what, line) => {
    const template = `[j]\n${line}\n`;
    expect(findPlaceholders(template, 'job.fio')).toEqual([]);
    expect(renderTemplate(template, {})).toBe(template);
  });

  it.each([
    ['$HOME', '[j]\nrw=read\ndescription=$HOME\n', 3],
    ['$BLOCKSIZE', '[j]\nbs=$BLOCKSIZE\n', 2],
    ['$bs', '[j]\nbs=$bs\n', 2],
    ['$TEMPORAL_API_KEY', '[j]\n; $IGNORED in a comment\ndescription=x $TEMPORAL_API_KEY\n', 3],
  ])('refuses an unknown %s, naming the file and line', (name, template, line) => {
    expectInputError(
      () => findPlaceholders(template, 'job.fio'),
      { file: 'job.fio', line },
      `job.fio, line ${line}: `,
      `unknown placeholder ${name}; known placeholders are `,
      "fio's own $ keywords ($jobname",
    );
  });
});

describe("gcsfuse's own sample job files (${NUMJOBS}-style names)", () => {
  const csv = 'io_type,num_jobs,file_size,block_size,nr_files\nread,2,128k,64k,3\n';
  const t = parseTestCasesCsv(csv, 'tests.csv')[0]!;

  it('maps each name to a test parameter or the test folder', () => {
    expect(COLUMN_BY_PLACEHOLDER.get('NUMJOBS')?.column).toBe('num_jobs');
    expect(COLUMN_BY_PLACEHOLDER.get('FILESIZE')?.column).toBe('file_size');
    expect(COLUMN_BY_PLACEHOLDER.get('READ_TYPE')?.column).toBe('io_type');
    expect(COLUMN_BY_PLACEHOLDER.get('IODEPTH')?.column).toBe('io_depth');
    expect(placeholderValues('t', {}, BUILTINS).DIR).toBe('/mnt/gcs/data');
  });

  it('accepts and renders the read-cache load test style', () => {
    expect(checkTemplate(GCSFUSE_SAMPLE_JOB_FILE, 'job.fio', Object.keys(t.params), 'tests.csv').map((u) => u.name)).toEqual([
      'NRFILES',
      'NUMJOBS',
      'DIR',
      'BLOCK_SIZE',
      'FILESIZE',
      'READ_TYPE',
    ]);
    const text = renderTemplate(GCSFUSE_SAMPLE_JOB_FILE, placeholderValues(t.testId, t.params, BUILTINS), 'job.fio');
    expect(text).toContain('nrfiles=3\n');
    expect(text).toContain('numjobs=2\n');
    expect(text).toContain('directory=/mnt/gcs/data\nbs=64k\nfilesize=128k\nrw=read\n');
    expect(text).toContain('filename_format=$jobname.$jobnum.$filenum\n');
  });

  it('refuses a name whose column the CSV lacks, naming the column', () => {
    expectInputError(
      () => checkTemplate('[j]\niodepth=${IODEPTH}\n', 'job.fio', ['io_type'], 'tests.csv'),
      { file: 'job.fio', line: 2 },
      'job.fio, line 2: ',
      'placeholder IODEPTH has no value: tests.csv has no column "io_depth"',
    );
  });

  it('passes the job policy once rendered for a VM (DIR is inside its folder)', () => {
    const job = renderJob(GCSFUSE_SAMPLE_JOB_FILE, 'job.fio', { testId: t.testId, params: t.params, mountPoint: '/mnt/m', vm: 'vm-1' });
    expect(job.options.find((o) => o.name === 'directory')?.value).toBe(job.testDataDir);
  });
});

describe('original-style and gcsfuse-style jobs are valid fio jobs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-template-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fio --parse-only accepts them, $ keywords and all', async () => {
    const files: string[] = [];
    const jobs: [string, string, string][] = [
      ['original-0', ORIGINAL_STYLE_JOB_FILE, ORIGINAL_STYLE_TEST_CSV],
      ['gcsfuse-0', GCSFUSE_SAMPLE_JOB_FILE, 'io_type,num_jobs,file_size,block_size,nr_files\nrandread,2,128k,64k,3\n'],
      ['keywords', '[j]\nrw=read\nsize=$pagesize\nbs=$pagesize\nnumjobs=$ncpus\niodepth=1\ndirectory=$TEST_DATA_DIR\n', 'io_type\nread\n'],
    ];
    for (const [name, template, csv] of jobs) {
      const t = parseTestCasesCsv(csv, 'tests.csv')[0]!;
      const file = path.join(dir, `${name}.fio`);
      await writeFile(
        file,
        renderTemplate(template, placeholderValues(t.testId, t.params, { MOUNT_POINT: dir, TEST_DATA_DIR: dir }), name),
      );
      files.push(file);
    }
    const run = promisify(execFile);
    await expect(run(FIO_BIN, ['--parse-only', ...files]).then(() => 'ok')).resolves.toBe('ok');
  });
});
