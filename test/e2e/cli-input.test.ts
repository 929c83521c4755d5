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
  goodJob = file('good.fio', '[global]\nioengine=libaio\n[read-test]\nrw=read\nbs=BLOCK_SIZE\niodepth=IO_DEPTH\nnumjobs=NUM_JOBS\ndirectory=MOUNT_POINT\nsize=FILE_SIZE\n');
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
  ['an unknown column', () => ({ '--test-csv': file('unknown.csv', 'test_id,block_size,colour\n1,4k,red\n') }), /unknown\.csv, line 1, column "colour": unknown column/],
  ['a row with a missing field', () => ({ '--test-csv': file('short.csv', 'test_id,block_size,io_depth\n1,4k,8\n2,4k\n') }), /short\.csv, row 2 \(line 3\): has 2 fields but the header has 3: missing "io_depth"/],
  ['a non-numeric io depth', () => ({ '--test-csv': file('depth.csv', 'test_id,block_size,io_depth,num_jobs,file_size\n1,4k,deep,1,1g\n') }), /depth\.csv, row 1 \(line 2\), column "io_depth": "deep" is not a whole number/],
  ['a bad size', () => ({ '--test-csv': file('size.csv', 'test_id,block_size,io_depth,num_jobs,file_size\n1,4k,1,1,1g\n2,4k,1,1,10q\n') }), /size\.csv, row 2 \(line 3\), column "file_size": "10q" is not a size/],
  ['an unknown placeholder', () => ({ '--fio-job-file': file('unk.fio', '[j]\nrw=read\nbs=${BLOCKSIZE}\n') }), /unk\.fio, line 3: unknown placeholder \$\{BLOCKSIZE\}/],
  ['a placeholder without a column', () => ({ '--fio-job-file': file('nrf.fio', '[j]\nrw=read\nnrfiles=NR_FILES\n') }), /nrf\.fio, line 3: placeholder NR_FILES has no value: good\.csv has no column "nr_files"/],
  ['iterations below 1', () => ({ '--iterations': '0' }), /--iterations: must be a whole number of 1 or more, got 0/],
  ['non-numeric iterations', () => ({ '--iterations': 'many' }), /--iterations: "many" is not a whole number/],
  ['no VMs', () => ({ '--vms': '' }), /--vms: no VMs given/],
  ['an unsafe VM name', () => ({ '--vms': 'vm-1,../etc' }), /--vms: VM name "\.\.\/etc" is not allowed/],
  ['an unsafe benchmark id', () => ({ '--benchmark-id': 'a/../../b' }), /--benchmark-id: benchmark id "a\/\.\.\/\.\.\/b" is not allowed/],
  ['an injected fio option in a value', () => ({ '--test-csv': file('inject.csv', 'test_id,block_size\n1,"4k\nexec_prerun=touch /tmp/x"\n') }), /inject\.csv, row 1 \(line \d\), column "block_size": "4k\\nexec_prerun=touch \/tmp\/x" is not a size/],
  ['a malformed configs CSV', () => ({ '--configs-csv': file('cfg.csv', 'commit,mount_args,label\nmaster,--implicit-dirs; rm -rf /,x\n') }), /cfg\.csv, row 1 \(line 2\), column "mount_args": .*shell operator ";"/],
  ['a bad duration', () => ({ '--fio-timeout': 'soon' }), /--fio-timeout: "soon" is not a duration/],
  ['an empty test CSV', () => ({ '--test-csv': file('empty.csv', '') }), /empty\.csv: the file is empty/],
  ['a header without rows', () => ({ '--test-csv': file('header.csv', 'test_id,block_size\n') }), /header\.csv: has a header but no data rows/],
  ['a duplicated header column', () => ({ '--test-csv': file('dupcol.csv', 'test_id,bs,test_id\n1,4k,2\n') }), /dupcol\.csv, line 1: column "test_id" appears twice/],
  ['a duplicated test id', () => ({ '--test-csv': file('dupid.csv', 'test_id,block_size\na,4k\na,8k\n') }), /dupid\.csv, row 2 \(line 3\), column "test_id": test id "a" is used by row 1 already/],
  ['an unsafe test id', () => ({ '--test-csv': file('badid.csv', 'test_id,block_size\n../../etc,4k\n') }), /badid\.csv, row 1 \(line 2\), column "test_id": "\.\.\/\.\.\/etc" is not a valid id/],
  ['an unknown rw mode', () => ({ '--test-csv': file('rw.csv', 'io_type,block_size\nreadd,4k\n'), '--fio-job-file': file('rw.fio', '[j]\nrw=${IO_TYPE}\nbs=${BS}\n') }), /rw\.csv, row 1 \(line 2\), column "io_type": "readd" is not an fio rw mode/],
  ['direct other than 0 or 1', () => ({ '--test-csv': file('direct.csv', 'direct,block_size\n2,4k\n') }), /direct\.csv, row 1 \(line 2\), column "direct": "2" must be 0 or 1/],
  ['a zero io depth', () => ({ '--test-csv': file('zero.csv', 'io_depth,block_size\n0,4k\n') }), /zero\.csv, row 1 \(line 2\), column "io_depth": "0" is not a whole number of 1 or more/],
  ['an empty value', () => ({ '--test-csv': file('blank.csv', 'test_id,block_size\n1,\n') }), /blank\.csv, row 1 \(line 2\), column "block_size": is empty/],
  ['an unterminated quote', () => ({ '--test-csv': file('quote.csv', 'test_id,block_size\n1,"4k\n') }), /quote\.csv(, line \d+)?: malformed CSV/],
  ['a job file without a section', () => ({ '--fio-job-file': file('nosection.fio', 'rw=read\nbs=BLOCK_SIZE\n') }), /nosection\.fio: no \[job\] section found/],
  ['an empty job file', () => ({ '--fio-job-file': file('empty.fio', '\n') }), /empty\.fio: the fio job file is empty/],
  ['a configs CSV with an unknown column', () => ({ '--configs-csv': file('cfgcol.csv', 'commit,mount_args,label,colour\nmaster,,a,red\n') }), /cfgcol\.csv, line 1, column "colour": unknown column/],
  ['a configs CSV missing a column', () => ({ '--configs-csv': file('cfgmiss.csv', 'commit,label\nmaster,a\n') }), /cfgmiss\.csv, line 1, column "mount_args": column "mount_args" is missing/],
  ['a duplicated config label', () => ({ '--configs-csv': file('cfgdup.csv', 'commit,mount_args,label\nmaster,,a\nmaster,--implicit-dirs,a\n') }), /cfgdup\.csv, row 2 \(line 3\), column "label": label "a" is used by row 1 already/],
  ['a bad commit in a config', () => ({ '--configs-csv': file('cfgref.csv', 'commit,mount_args,label\nmaster;ls,,a\n') }), /cfgref\.csv, row 1 \(line 2\), column "commit": "master;ls" is not a git commit/],
  ['a shell expansion in mount args', () => ({ '--gcsfuse-mount-args': '--key-file=$HOME/key.json' }), /--gcsfuse-mount-args: mount args .* contain '\$' or '`'/],
  ['a bad --gcsfuse-commit', () => ({ '--gcsfuse-commit': '../master' }), /--gcsfuse-commit: "\.\.\/master" is not a git commit/],
  ['an unknown mount kind', () => ({ '--mount': 'nfs' }), /option '--mount <kind>' argument 'nfs' is invalid/],
  ['gcsfuse without a bucket', () => ({ '--mount': 'gcsfuse' }), /--bucket: --bucket \(the bucket gcsfuse mounts\) is required with --mount gcsfuse/],
  ['a VM listed twice', () => ({ '--vms': 'vm-1,vm-1' }), /--vms: VM "vm-1" is listed twice/],
  ['two fleet flags', () => ({ '--instance-group': 'mig' }), /--vms: give only one of --vms, --instance-group/],
  ['a group without a project', () => ({ '--vms': undefined, '--instance-group': 'mig', '--zone': 'z' }), /--project: --project is required with --instance-group/],
  ['a group with zone and region', () => ({ '--vms': undefined, '--instance-group': 'mig', '--project': 'p', '--zone': 'z', '--region': 'r' }), /--zone: give exactly one of --zone or --region/],
  ['half of template routing', () => ({ '--vms': undefined, '--instance-group': 'mig', '--project': 'p', '--zone': 'z', '--single-thread-vm-type': 't1' }), /--multi-thread-vm-type: routing by instance template needs both/],
  ['fractional iterations', () => ({ '--iterations': '1.5' }), /--iterations: "1\.5" is not a whole number/],
  ['inputs too large for a Temporal payload', () => ({ '--test-csv': file('huge.csv', 'test_id,block_size\n' + Array.from({ length: 80_000 }, (_, i) => `test-number-${i},4k`).join('\n') + '\n') }), /--test-csv: the inputs add up to \d+\.\d MiB; at most 1\.5 MiB fit in a Temporal payload/],
  ['a stability limit below the iterations', () => ({ '--stability-cv': '5', '--stability-max-iterations': '1' }), /--stability-max-iterations: must be a whole number of at least --iterations \(2\), got 1/],
  ['a stability limit without a threshold', () => ({ '--stability-max-iterations': '9' }), /--stability-max-iterations: goes with --stability-cv/],
  ['a config file with an unknown key', () => ({ '--config': file('cfg.yaml', 'test-csv: good.csv\nthreads: 4\n') }), /--config, .*cfg\.yaml: unknown key "threads"/],
  ['a config file that is not YAML', () => ({ '--config': file('broken.yaml', 'test-csv: [unclosed\n') }), /--config, .*broken\.yaml(, line \d+)?: not valid YAML or JSON/],
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

  it('passes good input on to Temporal (and fails there: nothing listens), showing the checks are not blanket refusals', async () => {
    const r = await start({});
    expect(r.code).toBe(EXIT.failed);
    expect(readdirSync(artifacts)).toEqual([]);
  });

  it('exits with code 2 from a real process, the message on stderr', async () => {
    const r = await run(path.join(REPO, 'bin/gcsfuse-bench'), ['plan', '--test-csv', goodCsv, '--fio-job-file', goodJob, '--vms', 'a', '--iterations', '-1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--iterations: must be a whole number of 1 or more, got -1');
  });

  it('counts at least 30 kinds of bad input', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it('reads options from a config file, with paths relative to it, and lets flags override it', async () => {
    const cfg = file('bench.yaml', `benchmark-id: from-file\ntest-csv: good.csv\nfio-job-file: good.fio\nvms: [vm-1, vm-2, vm-3]\niterations: 3\n`);
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    try {
      const r = await cli(['--json', 'plan', '--no-fio-check', '--config', cfg, '--iterations', '2']);
      expect(r.code, r.err).toBe(EXIT.ok);
    } finally {
      spy.mockRestore();
    }
    const plan = JSON.parse(lines.join('\n')) as { benchmarkId: string; assignment: Record<string, number[]>; entries: unknown[] };
    expect(plan.benchmarkId).toBe('from-file');
    expect(Object.keys(plan.assignment)).toEqual(['vm-1', 'vm-2', 'vm-3']);
    expect(plan.entries).toHaveLength(2);
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
    expect(r.err).toMatch(/fio rejects the rendered job of entry 1/);
  });
});
