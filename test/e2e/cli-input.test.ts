import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EXIT, runCli } from '../../src/client/cli';
import { REPO, tempDir } from '../support/harness';
import { run } from '../support/procs';

/**
 * Bad input is refused before anything starts: exit code 2, a message naming the
 * file, row and column or the flag, and nothing written. Temporal points at a closed
 * port, so input that got past validation would fail differently (exit 1).
 */
const dir = tempDir('cli-input');
const artifacts = path.join(dir, 'artifacts');
const CLOSED = '127.0.0.1:1';
const file = (name: string, content: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

let goodCsv: string;
let goodJob: string;
beforeAll(() => {
  mkdirSync(artifacts, { recursive: true });
  goodCsv = file('good.csv', 'test_id,block_size,io_depth,num_jobs,file_size\n1,4k,32,1,1g\n2,1m,64,4,10g\n');
  goodJob = file(
    'good.fio',
    '[global]\nioengine=libaio\n[read-test]\nrw=read\nbs=BLOCK_SIZE\niodepth=IO_DEPTH\nnumjobs=NUM_JOBS\ndirectory=TEST_DATA_DIR\nsize=FILE_SIZE\n',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; err: string }> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const stderrSpy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
  try {
    process.exitCode = undefined;
    const code = await runCli(['node', 'gcsfuse-bench', '--temporal-address', CLOSED, ...args]);
    return { code, err: lines.join('\n') };
  } finally {
    spy.mockRestore();
    stderrSpy.mockRestore();
    process.exitCode = undefined;
  }
}

const start = (over: Record<string, string | undefined>) => {
  const flags: Record<string, string | undefined> = {
    '--test-csv': goodCsv,
    '--fio-job-file': goodJob,
    '--vms': 'vm-1,vm-2',
    '--iterations': '2',
    '--artifacts': artifacts,
    '--benchmark-id': 'bad-input',
    ...over,
  };
  return cli(['start', ...Object.entries(flags).flatMap(([k, v]) => (v === undefined ? [] : [k, v]))]);
};

const cases: [string, () => Record<string, string | undefined>, RegExp][] = [
  ['a missing test CSV', () => ({ '--test-csv': path.join(dir, 'nope.csv') }), /--test-csv, .*nope\.csv: file not found/],
  ['no test CSV flag', () => ({ '--test-csv': undefined }), /--test-csv: is required/],
  ['a missing job file', () => ({ '--fio-job-file': path.join(dir, 'nope.fio') }), /--fio-job-file, .*nope\.fio: file not found/],
  [
    'an unknown column',
    () => ({ '--test-csv': file('unknown.csv', 'test_id,block_size,colour\n1,4k,red\n') }),
    /unknown\.csv, line 1, column "colour": unknown column/,
  ],
  [
    'a row with a missing field',
    () => ({ '--test-csv': file('short.csv', 'test_id,block_size,io_depth\n1,4k,8\n2,4k\n') }),
    /short\.csv, row 2 \(line 3\): has 2 fields but the header has 3: missing "io_depth"/,
  ],
  [
    'a non-numeric io depth',
    () => ({ '--test-csv': file('depth.csv', 'test_id,block_size,io_depth,num_jobs,file_size\n1,4k,deep,1,1g\n') }),
    /depth\.csv, row 1 \(line 2\), column "io_depth": "deep" is not a whole number/,
  ],
  [
    'a bad size',
    () => ({ '--test-csv': file('size.csv', 'test_id,block_size,io_depth,num_jobs,file_size\n1,4k,1,1,1g\n2,4k,1,1,10q\n') }),
    /size\.csv, row 2 \(line 3\), column "file_size": "10q" is not a size/,
  ],
  [
    'an unknown placeholder',
    () => ({ '--fio-job-file': file('unk.fio', '[j]\nrw=read\nbs=${BLOCKSIZE}\n') }),
    /unk\.fio, line 3: unknown placeholder \$\{BLOCKSIZE\}/,
  ],
  [
    'a placeholder without a column',
    () => ({ '--fio-job-file': file('nrf.fio', '[j]\nrw=read\nnrfiles=NR_FILES\n') }),
    /nrf\.fio, line 3: placeholder NR_FILES has no value: good\.csv has no column "nr_files"/,
  ],
  ['iterations below 1', () => ({ '--iterations': '0' }), /--iterations: 0 is out of range: give a whole number from 1 to 10000/],
  ['non-numeric iterations', () => ({ '--iterations': 'many' }), /--iterations: "many" is not a whole number/],
  ['no VMs', () => ({ '--vms': '' }), /--vms: no VMs given/],
  ['an unsafe VM name', () => ({ '--vms': 'vm-1,../etc' }), /--vms: VM name "\.\.\/etc" is not allowed/],
  ['an unsafe benchmark id', () => ({ '--benchmark-id': 'a/../../b' }), /--benchmark-id: benchmark id "a\/\.\.\/\.\.\/b" is not allowed/],
  [
    'an injected fio option in a value',
    () => ({ '--test-csv': file('inject.csv', 'test_id,block_size\n1,"4k\nexec_prerun=touch /tmp/x"\n') }),
    /inject\.csv, row 1 \(line \d\), column "block_size": "4k\\nexec_prerun=touch \/tmp\/x" is not a size/,
  ],
  [
    'a malformed configs CSV',
    () => ({ '--configs-csv': file('cfg.csv', 'commit,mount_args,label\nmaster,--implicit-dirs; rm -rf /,x\n') }),
    /cfg\.csv, row 1 \(line 2\), column "mount_args": .*shell operator ";"/,
  ],
  ['a bad duration', () => ({ '--fio-timeout': 'soon' }), /--fio-timeout: "soon" is not a duration/],
  ['an empty test CSV', () => ({ '--test-csv': file('empty.csv', '') }), /empty\.csv: the file is empty/],
  [
    'a header without rows',
    () => ({ '--test-csv': file('header.csv', 'test_id,block_size\n') }),
    /header\.csv: has a header but no data rows/,
  ],
  [
    'a duplicated header column',
    () => ({ '--test-csv': file('dupcol.csv', 'test_id,bs,test_id\n1,4k,2\n') }),
    /dupcol\.csv, line 1: column "test_id" appears twice/,
  ],
  [
    'a duplicated test id',
    () => ({ '--test-csv': file('dupid.csv', 'test_id,block_size\na,4k\na,8k\n') }),
    /dupid\.csv, row 2 \(line 3\), column "test_id": test id "a" is used by row 1 already/,
  ],
  [
    'an unsafe test id',
    () => ({ '--test-csv': file('badid.csv', 'test_id,block_size\n../../etc,4k\n') }),
    /badid\.csv, row 1 \(line 2\), column "test_id": "\.\.\/\.\.\/etc" is not a valid id/,
  ],
  [
    'an unknown rw mode',
    () => ({
      '--test-csv': file('rw.csv', 'io_type,block_size\nreadd,4k\n'),
      '--fio-job-file': file('rw.fio', '[j]\nrw=${IO_TYPE}\nbs=${BS}\n'),
    }),
    /rw\.csv, row 1 \(line 2\), column "io_type": "readd" is not an fio rw mode/,
  ],
  [
    'direct other than 0 or 1',
    () => ({ '--test-csv': file('direct.csv', 'direct,block_size\n2,4k\n') }),
    /direct\.csv, row 1 \(line 2\), column "direct": "2" must be 0 or 1/,
  ],
  [
    'a zero io depth',
    () => ({ '--test-csv': file('zero.csv', 'io_depth,block_size\n0,4k\n') }),
    /zero\.csv, row 1 \(line 2\), column "io_depth": "0" is not a whole number of 1 or more/,
  ],
  [
    'an empty value',
    () => ({ '--test-csv': file('blank.csv', 'test_id,block_size\n1,\n') }),
    /blank\.csv, row 1 \(line 2\), column "block_size": is empty/,
  ],
  [
    'an unterminated quote',
    () => ({ '--test-csv': file('quote.csv', 'test_id,block_size\n1,"4k\n') }),
    /quote\.csv(, line \d+)?: malformed CSV/,
  ],
  [
    'a job file without a section',
    () => ({ '--fio-job-file': file('nosection.fio', 'rw=read\nbs=BLOCK_SIZE\n') }),
    /nosection\.fio: no \[job\] section found/,
  ],
  ['an empty job file', () => ({ '--fio-job-file': file('empty.fio', '\n') }), /empty\.fio: the fio job file is empty/],
  [
    'a configs CSV with an unknown column',
    () => ({ '--configs-csv': file('cfgcol.csv', 'commit,mount_args,label,colour\nmaster,,a,red\n') }),
    /cfgcol\.csv, line 1, column "colour": unknown column/,
  ],
  [
    'a configs CSV missing a column',
    () => ({ '--configs-csv': file('cfgmiss.csv', 'commit,label\nmaster,a\n') }),
    /cfgmiss\.csv, line 1, column "mount_args": column "mount_args" is missing/,
  ],
  [
    'a duplicated config label',
    () => ({ '--configs-csv': file('cfgdup.csv', 'commit,mount_args,label\nmaster,,a\nmaster,--implicit-dirs,a\n') }),
    /cfgdup\.csv, row 2 \(line 3\), column "label": label "a" is used by row 1 already/,
  ],
  [
    'a bad commit in a config',
    () => ({ '--configs-csv': file('cfgref.csv', 'commit,mount_args,label\nmaster;ls,,a\n') }),
    /cfgref\.csv, row 1 \(line 2\), column "commit": "master;ls" is not a git commit/,
  ],
  [
    'a shell expansion in mount args',
    () => ({ '--gcsfuse-mount-args': '--key-file=$HOME/key.json' }),
    /--gcsfuse-mount-args: mount args .* contain '\$' or '`'/,
  ],
  ['a bad --gcsfuse-commit', () => ({ '--gcsfuse-commit': '../master' }), /--gcsfuse-commit: "\.\.\/master" is not a git commit/],
  ['an unknown mount kind', () => ({ '--mount': 'nfs' }), /option '--mount <kind>' argument 'nfs' is invalid/],
  [
    'gcsfuse without a bucket',
    () => ({ '--mount': 'gcsfuse' }),
    /--bucket: --bucket \(the bucket gcsfuse mounts\) is required with --mount gcsfuse/,
  ],
  ['a VM listed twice', () => ({ '--vms': 'vm-1,vm-1' }), /--vms: VM "vm-1" is listed twice/],
  ['two fleet flags', () => ({ '--instance-group': 'mig' }), /--vms: give only one of --vms, --instance-group/],
  [
    'a group without a project',
    () => ({ '--vms': undefined, '--instance-group': 'mig', '--zone': 'z' }),
    /--project: --project is required with --instance-group/,
  ],
  [
    'a group with zone and region',
    () => ({ '--vms': undefined, '--instance-group': 'mig', '--project': 'p', '--zone': 'z', '--region': 'r' }),
    /--zone: give exactly one of --zone or --region/,
  ],
  [
    'half of template routing',
    () => ({ '--vms': undefined, '--instance-group': 'mig', '--project': 'p', '--zone': 'z', '--single-thread-vm-type': 't1' }),
    /--multi-thread-vm-type: routing by instance template needs both/,
  ],
  ['fractional iterations', () => ({ '--iterations': '1.5' }), /--iterations: "1\.5" is not a whole number/],
  [
    'inputs too large for a Temporal payload',
    () => ({
      '--test-csv': file(
        'huge.csv',
        'test_id,block_size\n' + Array.from({ length: 80_000 }, (_, i) => `test-number-${i},4k`).join('\n') + '\n',
      ),
    }),
    /--test-csv: the inputs add up to \d+\.\d MiB; at most 1\.5 MiB fit in a Temporal payload/,
  ],
  [
    'a stability limit below the iterations',
    () => ({ '--stability-cv': '5', '--stability-max-iterations': '1' }),
    /--stability-max-iterations: must be a whole number of at least --iterations \(2\), got 1/,
  ],
  [
    'a stability limit without a threshold',
    () => ({ '--stability-max-iterations': '9' }),
    /--stability-max-iterations: goes with --stability-cv/,
  ],
  [
    'an interval from 1 iteration',
    () => ({ '--ci-min-iterations': '1' }),
    /--ci-min-iterations: 1 is out of range: give a whole number from 2 to/,
  ],
  [
    'an interval minimum that is not a number',
    () => ({ '--ci-min-iterations': 'three' }),
    /--ci-min-iterations: "three" is not a whole number/,
  ],
  [
    'an unknown fio group mode',
    () => ({ '--fio-groups': 'pooled' }),
    /--fio-groups: "pooled" is not a fio group mode \(separate or merged\)/,
  ],
  [
    'a config file with an unknown key',
    () => ({ '--config': file('cfg.yaml', 'test-csv: good.csv\nthreads: 4\n') }),
    /--config, .*cfg\.yaml, line 2: unknown key "threads"/,
  ],
  // Numbers: plain decimal, within what timers and users mean.
  [
    'a 25-day fio timeout (overflows Node timers)',
    () => ({ '--fio-timeout': '25d' }),
    /--fio-timeout: 25d is out of range: give a duration from 1s to 24\.8d/,
  ],
  ['a 1 us fio timeout', () => ({ '--fio-timeout': '1us' }), /--fio-timeout: 1us is out of range/],
  ['a 20-digit iteration count', () => ({ '--iterations': '99999999999999999999' }), /--iterations: 99999999999999999999 is out of range/],
  ['a hexadecimal iteration count', () => ({ '--iterations': '0x10' }), /--iterations: "0x10" is not a whole number/],
  ['an exponent as a count', () => ({ '--iterations': '1e2' }), /--iterations: "1e2" is not a whole number/],
  ['a hexadecimal stability threshold', () => ({ '--stability-cv': '0x10' }), /--stability-cv: "0x10" is not a percentage/],
  [
    'a huge io depth',
    () => ({ '--test-csv': file('hugedepth.csv', 'test_id,block_size,io_depth\n1,4k,100000000\n') }),
    /hugedepth\.csv, row 1 \(line 2\), column "io_depth": 100000000 is more than the largest accepted value, 65536/,
  ],
  // Config files: own keys only, typed values, numbers as written.
  [
    'a config key "constructor"',
    () => ({ '--config': file('proto.yaml', 'constructor: 1\n') }),
    /--config, .*proto\.yaml, line 1: unknown key "constructor"/,
  ],
  ['a config key "toString"', () => ({ '--config': file('proto2.yaml', 'toString: x\n') }), /unknown key "toString"/],
  [
    'VM names that are null, numbers or booleans',
    () => ({ '--vms': undefined, '--config': file('vms.yaml', 'vms: [vm-1, ~, 3, true]\n') }),
    /"vms" item 2 must be a VM name \(a string\), got ~/,
  ],
  [
    'a hexadecimal count in a config file',
    () => ({ '--iterations': undefined, '--config': file('hex.yaml', 'iterations: 0x10\n') }),
    /--iterations: "0x10" is not a whole number/,
  ],
  [
    '1e300 in a config file',
    () => ({ '--iterations': undefined, '--config': file('exp.yaml', 'iterations: 1e300\n') }),
    /--iterations: "1e300" is not a whole number/,
  ],
  [
    'a key given twice in a config file',
    () => ({ '--config': file('twice.yaml', 'iterations: 1\niterations: 2\n') }),
    /--config, .*twice\.yaml(, line \d+)?: /,
  ],
  // What only the agent checked before: bucket, endpoint, mount args.
  [
    'a bucket name with a shell metacharacter',
    () => ({ '--bucket': 'Bad Bucket;rm' }),
    /--bucket: "Bad Bucket;rm" is not a Cloud Storage bucket name: only lowercase/,
  ],
  ['a bucket name with capitals', () => ({ '--bucket': 'MyBucket' }), /--bucket: "MyBucket" is not a Cloud Storage bucket name/],
  [
    '--foreground in mount args',
    () => ({ '--bucket': 'good-bucket', '--gcsfuse-mount-args': '--foreground' }),
    /--gcsfuse-mount-args: mount args of config "default": --foreground cannot be given/,
  ],
  [
    'a log file of its own in mount args',
    () => ({ '--bucket': 'good-bucket', '--gcsfuse-mount-args': '--log-file=/etc/passwd' }),
    /--log-file cannot be given/,
  ],
  [
    'a config file of the VM in mount args',
    () => ({
      '--configs-csv': file('cfgfile.csv', 'commit,mount_args,label\nmaster,--config-file /etc/shadow,a\n'),
      '--bucket': 'good-bucket',
    }),
    /cfgfile\.csv, row 1, column "mount_args": mount args of config "a": --config-file cannot be given/,
  ],
  ['an unclosed quote in mount args', () => ({ '--gcsfuse-mount-args': "--app-name 'x" }), /--gcsfuse-mount-args: .*unclosed single quote/],
  [
    'credentials in the custom endpoint',
    () => ({ '--bucket': 'good-bucket', '--gcsfuse-custom-endpoint': 'http://user:pass@127.0.0.1:4443/storage/v1/' }),
    /--gcsfuse-custom-endpoint: custom endpoint has credentials in its URL/,
  ],
  [
    'a non-Google endpoint that would receive the VM credentials',
    () => ({ '--bucket': 'good-bucket', '--gcsfuse-custom-endpoint': 'http://10.1.2.3:80/storage/v1/' }),
    /outside googleapis\.com: gcsfuse would send it the VM's credentials/,
  ],
  // Artifacts, before any connection.
  ['artifacts that are a file', () => ({ '--artifacts': goodCsv }), /--artifacts: .*good\.csv exists and is not a folder/],
  ['artifacts at /dev/null', () => ({ '--artifacts': '/dev/null' }), /--artifacts: \/dev\/null exists and is not a folder/],
  [
    'a malformed gs:// URL',
    () => ({ '--artifacts': 'gs://Bad_Bucket!/x' }),
    /--artifacts: "Bad_Bucket!" is not a Cloud Storage bucket name/,
  ],
  ['a gs:// URL with an empty folder', () => ({ '--artifacts': 'gs://good-bucket//x' }), /--artifacts: .*folder names separated by single/],
  [
    'another URL scheme',
    () => ({ '--artifacts': 's3://bucket/x' }),
    /--artifacts: "s3:\/\/bucket\/x" is neither a local folder nor a gs:\/\//,
  ],
  // The fio job policy, at the CLI: naming the file, line and option.
  [
    'exec_prerun in the job file',
    () => ({ '--fio-job-file': file('exec.fio', '[j]\nrw=read\nexec_prerun=id\ndirectory=TEST_DATA_DIR\n') }),
    /exec\.fio, line 3: option "exec_prerun=id" is refused: it runs a program on the VM/,
  ],
  [
    'an external ioengine',
    () => ({ '--fio-job-file': file('ext.fio', '[j]\nioengine=external:/tmp/x.so\ndirectory=TEST_DATA_DIR\n') }),
    /ext\.fio, line 2: .*loads a shared library/,
  ],
  [
    'a file outside the test data',
    () => ({ '--fio-job-file': file('passwd.fio', '[j]\nrw=write\nfilename=/etc/passwd\n') }),
    /passwd\.fio, line 3: option "filename=\/etc\/passwd" is refused: \/etc\/passwd is outside the VM's test-data folder/,
  ],
  [
    'the whole mount as directory',
    () => ({ '--fio-job-file': file('mnt.fio', '[j]\nrw=write\ndirectory=MOUNT_POINT\n') }),
    /mnt\.fio, line 3: .*is outside the VM's test-data folder .*use TEST_DATA_DIR/,
  ],
  [
    'include of an env file',
    () => ({ '--fio-job-file': file('inc.fio', '[j]\ninclude /etc/gcsfuse-bench/agent.env\n') }),
    /inc\.fio, line 2: "include" is refused/,
  ],
  [
    'a cgroup',
    () => ({ '--fio-job-file': file('cg.fio', '[j]\nrw=read\ncgroup=x\ndirectory=TEST_DATA_DIR\n') }),
    /cg\.fio, line 3: .*cgroups/,
  ],
  [
    'an iolog',
    () => ({ '--fio-job-file': file('iolog.fio', '[j]\nrw=read\nwrite_iolog=/tmp/log\ndirectory=TEST_DATA_DIR\n') }),
    /iolog\.fio, line 3: .*writes an I\/O log/,
  ],
  [
    'a job that fio rejects, at start too',
    () => ({ '--fio-job-file': file('fiobad.fio', '[j]\nrw=read\nbs=BLOCK_SIZE\nno_such_fio_option=1\ndirectory=TEST_DATA_DIR\n') }),
    /fiobad\.fio: fio rejects the rendered job of test "[12]" \(good\.csv row [12]\): Bad option <no_such_fio_option=1>/,
  ],
  [
    'a config file that is not YAML',
    () => ({ '--config': file('broken.yaml', 'test-csv: [unclosed\n') }),
    /--config, .*broken\.yaml(, line \d+)?: not valid YAML or JSON/,
  ],
  // The original tool's flags.
  ['a whole-run timeout of 0 s', () => ({ '--timeout': '0' }), /--timeout: 0 is out of range: give whole seconds from 1 to 2147483/],
  ['a whole-run timeout that is no number', () => ({ '--timeout': 'soon' }), /--timeout: "soon" is not a duration/],
  ['a whole-run timeout beyond what timers hold', () => ({ '--timeout': '9999999' }), /--timeout: 9999999 is out of range/],
  ['an empty run name', () => ({ '--run-name': '  ' }), /--run-name: is empty/],
  ['a run name with a control character', () => ({ '--run-name': 'nightly\u0007' }), /--run-name: "nightly\\u0007" has control characters/],
  [
    'a report name with a path',
    () => ({ '--report-name': '../combined.csv' }),
    /--report-name: report name "\.\.\/combined\.csv" is not allowed/,
  ],
  [
    'a report name taken by another report file',
    () => ({ '--report-name': 'results.json' }),
    /--report-name: "results\.json" is a report file of its own/,
  ],
  [
    'an unknown report format',
    () => ({ '--report-format': 'xml' }),
    /--report-format: "xml" is not a report format \(default or original\)/,
  ],
  [
    'a malformed artifacts bucket',
    () => ({ '--artifacts': undefined, '--artifacts-bucket': 'Bad_Bucket!' }),
    /--artifacts-bucket: "Bad_Bucket!" is not a Cloud Storage bucket name/,
  ],
  [
    '--bucket and --test-data-bucket that disagree',
    () => ({ '--bucket': 'one-bucket', '--test-data-bucket': 'other-bucket' }),
    /--test-data-bucket: --bucket one-bucket and --test-data-bucket other-bucket disagree/,
  ],
  ['a malformed test data bucket', () => ({ '--test-data-bucket': 'No_Such!' }), /--bucket: "No_Such!" is not a Cloud Storage bucket name/],
  [
    '--address and --temporal-address that disagree',
    () => ({ '--address': '127.0.0.1:2' }),
    /--address: --temporal-address 127\.0\.0\.1:1 and --address 127\.0\.0\.1:2 disagree/,
  ],
  ['an output format other than text or json', () => ({ '-o': 'yaml' }), /option '-o, --output <format>' argument 'yaml' is invalid/],
  [
    '--executor-vm without a zone',
    () => ({ '--vms': undefined, '--executor-vm': 'mig', '--project': 'p' }),
    /--zone: --zone is required with --executor-vm/,
  ],
];

describe('bad input is refused before anything starts', () => {
  for (const [what, flags, message] of cases) {
    it(`refuses ${what}`, async () => {
      const r = await start(flags());
      expect(r.err).toMatch(message);
      expect(r.code).toBe(EXIT.badInput);
      expect(readdirSync(artifacts)).toEqual([]);
    });
  }

  // Flags of `run` only (and of the original's `orchestrator`).
  const runCases: [string, string[], RegExp][] = [
    ['a poll interval of 0', ['--poll-interval', '0'], /--poll-interval: 0 is out of range: give whole seconds from 1 to 86400/],
    ['a poll interval that is no number', ['--poll-interval=often'], /--poll-interval: "often" is not a duration/],
    ['a results folder that is a file', ['--results-dir', '/dev/null'], /--results-dir: \/dev\/null exists and is not a folder/],
  ];
  for (const [what, extra, message] of runCases) {
    for (const command of ['run', 'orchestrator']) {
      it(`${command} refuses ${what}`, async () => {
        const r = await cli([
          command,
          '--test-csv',
          goodCsv,
          '--fio-job-file',
          goodJob,
          '--vms',
          'vm-1',
          '--artifacts',
          artifacts,
          '--benchmark-id',
          'bad-run',
          ...extra,
        ]);
        expect(r.err).toMatch(message);
        expect(r.code).toBe(EXIT.badInput);
        expect(readdirSync(artifacts)).toEqual([]);
      });
    }
  }

  it('--version prints the build (version, commit, dirty tree), exit 0', async () => {
    const r = await run(path.join(REPO, 'bin/gcsfuse-bench'), ['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^gcsfuse-bench \d+\.\d+\.\d+(\+[0-9a-f]+(\.dirty-[0-9a-f]+)?|\+src-[0-9a-f]+)?\n$/);
  });

  it('passes good input on to Temporal (and fails there: nothing listens), showing the checks are not blanket refusals', async () => {
    const r = await start({});
    expect(r.code).toBe(EXIT.failed);
    expect(readdirSync(artifacts)).toEqual([]);
  });

  it('exits with code 2 from a real process, the message on stderr', async () => {
    const r = await run(path.join(REPO, 'bin/gcsfuse-bench'), [
      'plan',
      '--test-csv',
      goodCsv,
      '--fio-job-file',
      goodJob,
      '--vms',
      'a',
      '--iterations',
      '-1',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--iterations: "-1" is not a whole number');
  });

  it('counts at least 60 kinds of bad input', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it('reads options from a config file, with paths relative to it, and lets flags override it', async () => {
    const cfg = file(
      'bench.yaml',
      `benchmark-id: from-file\ntest-csv: good.csv\nfio-job-file: good.fio\nvms: [vm-1, vm-2, vm-3]\niterations: 3\n`,
    );
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    try {
      const r = await cli(['--json', 'plan', '--no-fio-check', '--config', cfg, '--iterations', '2']);
      expect(r.code, r.err).toBe(EXIT.ok);
    } finally {
      spy.mockRestore();
    }
    const plan = JSON.parse(lines.join('\n')) as {
      benchmarkId: string;
      assignment: Record<string, number[]>;
      planned: { vm: string; testId: string; job: string }[];
    };
    expect(plan.benchmarkId).toBe('from-file');
    expect(Object.keys(plan.assignment)).toEqual(['vm-1', 'vm-2', 'vm-3']);
    expect(plan.planned).toHaveLength(2);
    // Each entry's job names its own VM's folder.
    for (const e of plan.planned) expect(e.job).toContain(`directory=/mnt/gcsfuse-bench/gcsfuse-bench-data/${e.vm}/${e.testId}`);
    const text: string[] = [];
    const spy2 = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void text.push(a.join(' ')));
    try {
      await cli(['plan', '--no-fio-check', '--config', cfg, '--iterations', '2']);
    } finally {
      spy2.mockRestore();
    }
    expect(text.join('\n')).toMatch(/from-file: 2 entries x 2 iterations/);
  });

  it('plan checks every rendered job with fio --parse-only', async () => {
    const bad = file('badopt.fio', '[j]\nrw=read\nbs=BLOCK_SIZE\nno_such_fio_option=1\n');
    const r = await cli(['plan', '--test-csv', goodCsv, '--fio-job-file', bad, '--vms', 'a']);
    expect(r.code).toBe(EXIT.badInput);
    expect(r.err).toMatch(
      /badopt\.fio: fio rejects the rendered job of test "[12]" \(good\.csv row [12]\): Bad option <no_such_fio_option=1>/,
    );
  });

  it('accepts a job file and CSVs that start with a UTF-8 byte-order mark', async () => {
    const bomJob = file('bom.fio', '\uFEFF[j]\nrw=read\nbs=BLOCK_SIZE\nsize=1m\ndirectory=TEST_DATA_DIR\n');
    const r = await cli(['plan', '--test-csv', goodCsv, '--fio-job-file', bomJob, '--vms', 'a']);
    expect(r.code, r.err).toBe(EXIT.ok);
  });

  it('escapes control characters it echoes back', async () => {
    const r = await start({ '--benchmark-id': 'evil\u001b[31mred' });
    expect(r.code).toBe(EXIT.badInput);
    expect(r.err).not.toContain('\u001b');
    expect(r.err).toContain('\\u001b');
  });
});
