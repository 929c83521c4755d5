import { describe, expect, it } from 'vitest';
import { assignByCost } from '../../src/core/assign';
import { DEFAULT_TIMEOUTS, benchmarkConfigOf, prepareBenchmark, type BenchmarkRequest } from '../../src/core/spec';
import { placeholderValues, renderTemplate } from '../../src/core/template';
import { BRACED_JOB_FILE, BRACED_TEST_CSV, SEED_JOB_FILE, SEED_TEST_CSV } from './helpers/inputs';
import { expectInputError } from './helpers/input-error';

const CONFIGS_CSV =
  'commit,mount_args,label\nmaster,--implicit-dirs,baseline\nv2.4.0,"--implicit-dirs --kernel-list-cache-ttl-secs=-1",list-cache\n';

function request(over: Partial<BenchmarkRequest> = {}): BenchmarkRequest {
  return {
    benchmarkId: 'bench-1',
    testCases: { name: 'tests.csv', content: SEED_TEST_CSV },
    jobFile: { name: 'jobfile.fio', content: SEED_JOB_FILE },
    iterations: 3,
    fleet: { kind: 'static', vms: ['vm-1', 'vm-2'] },
    mount: { kind: 'local-dir' },
    gcsfuseCommit: 'master',
    gcsfuseMountArgs: '--implicit-dirs',
    timeouts: DEFAULT_TIMEOUTS,
    retryWindowMs: 0,
    rerouteOnAgentLoss: false,
    ...over,
  };
}

describe('prepareBenchmark', () => {
  it('prepares the seed inputs unchanged: one default config, one entry per test', () => {
    const p = prepareBenchmark(request());
    expect(p.configs).toEqual([{ label: 'default', commit: 'master', mountArgs: '--implicit-dirs', mountArgv: ['--implicit-dirs'] }]);
    expect(p.matrix.map((e) => [e.matrixId, e.testId, e.testRow, e.config.label, e.params.block_size])).toEqual([
      [1, '1', 1, 'default', '4k'],
      [2, '2', 2, 'default', '1m'],
      [3, '3', 3, 'default', '128k'],
    ]);
    // runtime=60s with time_based
    expect([...p.iterationMs]).toEqual([
      [1, 60_000],
      [2, 60_000],
      [3, 60_000],
    ]);
  });

  it('prepares the second format with a configs CSV: configs x tests, config-major', () => {
    const p = prepareBenchmark(
      request({
        testCases: { name: 'tests.csv', content: BRACED_TEST_CSV },
        jobFile: { name: 'jobfile.fio', content: BRACED_JOB_FILE },
        configs: { name: 'configs.csv', content: CONFIGS_CSV },
      }),
    );
    expect(p.configs.map((c) => [c.label, c.commit, c.mountArgv])).toEqual([
      ['baseline', 'master', ['--implicit-dirs']],
      ['list-cache', 'v2.4.0', ['--implicit-dirs', '--kernel-list-cache-ttl-secs=-1']],
    ]);
    expect(p.matrix.map((e) => `${e.matrixId}:${e.config.label}/${e.testId}`)).toEqual([
      '1:baseline/1',
      '2:baseline/2',
      '3:list-cache/1',
      '4:list-cache/2',
    ]);
    expect([...p.iterationMs.values()]).toEqual([30_000, 30_000, 30_000, 30_000]);
  });

  it('takes the seed job file with the second CSV format too (its columns fill the same placeholders)', () => {
    expect(prepareBenchmark(request({ testCases: { name: 'tests.csv', content: BRACED_TEST_CSV } })).matrix).toHaveLength(2);
  });

  it('estimates from a runtime column, else from the bytes a size-based job moves', () => {
    const sized = prepareBenchmark(
      request({
        testCases: { name: 'tests.csv', content: 'test_id,block_size,file_size,runtime\na,4k,1g,45s\nb,4k,100m,2m\n' },
        jobFile: { name: 'jobfile.fio', content: '[j]\nrw=read\nbs=BS\nsize=FILE_SIZE\ndirectory=MOUNT_POINT\n' },
      }),
    );
    expect([...sized.iterationMs.values()]).toEqual([45_000, 120_000]);
    const bytes = prepareBenchmark(
      request({
        testCases: { name: 'tests.csv', content: 'test_id,file_size,num_jobs\na,100m,1\nb,100m,4\n' },
        jobFile: { name: 'jobfile.fio', content: '[j]\nrw=read\nnumjobs=${NUM_JOBS}\nsize=${FILE_SIZE}\n' },
      }),
    );
    expect([...bytes.iterationMs.values()].map((ms) => Math.round(ms))).toEqual([1_000, 4_000]);
  });

  it('gives a matrix that can be assigned to the VMs and rendered for every entry', () => {
    const req = request({ configs: { name: 'configs.csv', content: CONFIGS_CSV } });
    const p = prepareBenchmark(req);
    const assignment = assignByCost(
      p.matrix.map((e) => ({ matrixId: e.matrixId, costMs: p.iterationMs.get(e.matrixId)! * req.iterations })),
      ['vm-1', 'vm-2'],
    );
    expect([...assignment.values()].flat().sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...assignment.values()].map((ids) => ids.length)).toEqual([3, 3]);
    for (const e of p.matrix) {
      const job = renderTemplate(
        req.jobFile.content,
        placeholderValues(e.testId, e.params, { MOUNT_POINT: '/mnt/gcs', TEST_DATA_DIR: '/mnt/gcs/d' }),
        req.jobFile.name,
      );
      expect(job).toContain(`\nbs=${e.params.block_size}\n`);
      expect(job).toContain(`\niodepth=${e.params.io_depth}\n`);
      expect(job).toContain('\ndirectory=/mnt/gcs\n');
    }
  });

  it('is pure: the same request gives the same result and is not changed', () => {
    const req = request({ configs: { name: 'configs.csv', content: CONFIGS_CSV } });
    const copy = structuredClone(req);
    expect(prepareBenchmark(req)).toEqual(prepareBenchmark(req));
    expect(req).toEqual(copy);
  });

  it('does not check VM names of a fleet it resolves later', () => {
    expect(
      prepareBenchmark(request({ fleet: { kind: 'instance-group', project: 'p', zone: 'us-west4-a', group: 'g' } })).matrix,
    ).toHaveLength(3);
  });

  describe('refuses', () => {
    it.each(['../x', 'a/b', '', '.x'])('the unsafe benchmark id %j', (id) => {
      expectInputError(
        () => prepareBenchmark(request({ benchmarkId: id })),
        { flag: '--benchmark-id' },
        '--benchmark-id: ',
        `benchmark id ${JSON.stringify(id)} is not allowed`,
      );
    });

    it.each([0, -1, 1.5, Number.NaN])('%d iterations', (n) => {
      expectInputError(
        () => prepareBenchmark(request({ iterations: n })),
        { flag: '--iterations' },
        '--iterations: ',
        `must be a whole number of 1 or more, got ${n}`,
      );
    });

    it('no VMs, a repeated VM and an unsafe VM name', () => {
      expectInputError(
        () => prepareBenchmark(request({ fleet: { kind: 'static', vms: [] } })),
        { flag: '--vms' },
        '--vms: ',
        'no VMs given',
      );
      expectInputError(
        () => prepareBenchmark(request({ fleet: { kind: 'static', vms: ['a', 'b', 'a'] } })),
        { flag: '--vms' },
        '--vms: ',
        'VM "a" is listed twice',
      );
      for (const vm of ['a/b', '../vm']) {
        expectInputError(
          () => prepareBenchmark(request({ fleet: { kind: 'static', vms: ['ok', vm] } })),
          { flag: '--vms' },
          '--vms: ',
          `VM name ${JSON.stringify(vm)} is not allowed`,
        );
      }
    });

    it('a bad test-cases CSV, naming the file the user gave', () => {
      expectInputError(
        () => prepareBenchmark(request({ testCases: { name: 'my-tests.csv', content: SEED_TEST_CSV.replace('1,4k,32', '1,4k,thirty') } })),
        { file: 'my-tests.csv', row: 1, line: 2, column: 'io_depth' },
        'my-tests.csv, row 1 (line 2), column "io_depth": ',
      );
      expectInputError(
        () => prepareBenchmark(request({ testCases: { name: 'my-tests.csv', content: 'test_id,blocksize\n1,4k\n' } })),
        { file: 'my-tests.csv', line: 1, column: 'blocksize' },
        'my-tests.csv, line 1, column "blocksize": ',
      );
      expectInputError(
        () => prepareBenchmark(request({ testCases: { name: 'my-tests.csv', content: SEED_TEST_CSV + '2,4k,1,1,1g\n' } })),
        { file: 'my-tests.csv', row: 4, line: 5, column: 'test_id' },
        'my-tests.csv, row 4 (line 5), column "test_id": ',
        'test id "2" is used by row 2 already',
      );
    });

    it('a job file with a placeholder the CSV cannot fill, naming both files', () => {
      expectInputError(
        () => prepareBenchmark(request({ jobFile: { name: 'my-job.fio', content: BRACED_JOB_FILE } })),
        { file: 'my-job.fio', line: 3 },
        'my-job.fio, line 3: ',
        'placeholder DIRECT has no value: tests.csv has no column "direct"',
      );
      expectInputError(
        () => prepareBenchmark(request({ jobFile: { name: 'my-job.fio', content: '[j]\nbs=${BLOCKSIZE}\n' } })),
        { file: 'my-job.fio', line: 2 },
        'my-job.fio, line 2: ',
        'unknown placeholder ${BLOCKSIZE}',
      );
    });

    it('a bad configs CSV, naming its file', () => {
      expectInputError(
        () => prepareBenchmark(request({ configs: { name: 'my-configs.csv', content: CONFIGS_CSV + 'master,,baseline\n' } })),
        { file: 'my-configs.csv', row: 3, line: 4, column: 'label' },
        'my-configs.csv, row 3 (line 4), column "label": ',
        'label "baseline" is used by row 1 already',
      );
    });

    it('a bad commit or mount args flag when there is no configs CSV', () => {
      expectInputError(
        () => prepareBenchmark(request({ gcsfuseCommit: '--upload-pack=x' })),
        { flag: '--gcsfuse-commit' },
        '--gcsfuse-commit: ',
      );
      expectInputError(
        () => prepareBenchmark(request({ gcsfuseMountArgs: '--a; reboot' })),
        { flag: '--gcsfuse-mount-args' },
        '--gcsfuse-mount-args: ',
        'shell operator ";"',
      );
    });
  });
});

describe('benchmarkConfigOf', () => {
  it('is the request without file contents, keeping the file names', () => {
    const req = request({ configs: { name: 'configs.csv', content: CONFIGS_CSV } });
    const c = benchmarkConfigOf(req);
    expect(c).toMatchObject({
      benchmarkId: 'bench-1',
      iterations: 3,
      fleet: { kind: 'static', vms: ['vm-1', 'vm-2'] },
      mount: { kind: 'local-dir' },
      gcsfuseCommit: 'master',
      gcsfuseMountArgs: '--implicit-dirs',
      timeouts: DEFAULT_TIMEOUTS,
      retryWindowMs: 0,
      testCasesFile: 'tests.csv',
      configsFile: 'configs.csv',
      jobFileName: 'jobfile.fio',
    });
    for (const key of ['testCases', 'configs', 'jobFile']) expect(c).not.toHaveProperty(key);
    // Every other field of the request is kept.
    for (const key of Object.keys(req).filter((k) => !['testCases', 'configs', 'jobFile'].includes(k))) {
      expect(c, key).toHaveProperty(key, req[key as keyof BenchmarkRequest]);
    }
    expect(JSON.stringify(c)).not.toContain('block_size');
    expect(JSON.stringify(c)).not.toContain('--kernel-list-cache');
  });

  it('has no configs file when none was given', () => {
    expect(benchmarkConfigOf(request()).configsFile).toBeUndefined();
  });
});
