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

  it('plan checks every rendered job with fio --parse-only', async () => {
    const bad = file('badopt.fio', '[j]\nrw=read\nbs=BLOCK_SIZE\nno_such_fio_option=1\n');
    const r = await cli(['plan', '--test-csv', goodCsv, '--fio-job-file', bad, '--vms', 'a']);
    expect(r.code).toBe(EXIT.badInput);
    expect(r.err).toMatch(/fio rejects the rendered job of entry 1/);
  });
});
