import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../src/client/cli';
import { flagsOf, ORIGINAL_DEFAULTS } from '../../src/client/commands/options';
import { stableJson } from '../../src/client/json-output';
import { buildRequest, parsePollIntervalMs, parseSecondsOrDuration } from '../../src/client/request';
import { versionText } from '../../src/client/version';
import { benchmarkConfigOf, type BenchmarkRequest } from '../../src/core/spec';
import { InputError } from '../../src/core/errors';

const dir = mkdtempSync(path.join(os.tmpdir(), 'gcsfuse-bench-cli-flags-'));
const csv = path.join(dir, 'tests.csv');
const job = path.join(dir, 'job.fio');
writeFileSync(csv, 'test_id,block_size,io_depth,num_jobs,file_size\n1,4k,32,1,1g\n2,1m,64,4,10g\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(job, '[j]\nrw=read\nbs=${BS}\niodepth=${IO_DEPTH}\nnumjobs=${THREADS}\nsize=${FILE_SIZE}\ndirectory=${TEST_DATA_DIR}\n');

/** Parses a command line through the real option definitions and returns the request `run` would start. */
async function requestOf(
  command: 'run' | 'orchestrator' | 'start' | 'plan',
  args: string[],
): Promise<{ request: BenchmarkRequest; opts: Record<string, unknown> }> {
  const program = buildCli();
  let out: { request: BenchmarkRequest; opts: Record<string, unknown> } | undefined;
  program.commands
    .find((c) => c.name() === command)!
    .action(async (_o: unknown, cmd: Command) => {
      out = { request: (await buildRequest(await flagsOf(cmd), { fioCheck: false })).request, opts: cmd.opts() };
    });
  await program.parseAsync(['node', 'gcsfuse-bench', command, '--test-csv', csv, '--fio-job-file', job, ...args]);
  return out!;
}

const KOKORO = [
  '--benchmark-id',
  'benchmark-1760000000',
  '--executor-vm',
  'kokoro-perf-mig',
  '--zone',
  'us-central1-c',
  '--project',
  'gcs-fuse-test-ml',
  '--artifacts-bucket',
  'kokoro-perf-artifacts-bucket',
  '--test-data-bucket',
  'kokoro-regional-test-data-bucket',
  '--iterations',
  '2',
  '--poll-interval',
  '60',
  '--timeout',
  '14400',
  '--report-name',
  'read_combined_report.csv',
  '--single-thread-vm-type=single-thread',
  '--multi-thread-vm-type=multi-thread',
];

describe("the original tool's flags", () => {
  it('maps the nightly command line onto the request with the original meanings', async () => {
    const { request, opts } = await requestOf('orchestrator', KOKORO);
    expect(request).toMatchObject({
      benchmarkId: 'benchmark-1760000000',
      runName: 'benchmark-1760000000',
      iterations: 2,
      fleet: { kind: 'vm', project: 'gcs-fuse-test-ml', zone: 'us-central1-c', name: 'kokoro-perf-mig' },
      mount: { kind: 'gcsfuse', bucket: 'kokoro-regional-test-data-bucket' },
      runTimeoutMs: 14_400_000,
      reportName: 'read_combined_report.csv',
      reportFormat: 'original',
      routing: { singleThreadTemplate: 'single-thread', multiThreadTemplate: 'multi-thread' },
    });
    // --timeout is the whole run's deadline; one fio iteration keeps its own limit.
    expect(request.timeouts.fioIterationMs).toBe(30 * 60_000);
    expect(opts.pollInterval).toBe('60');
    expect(opts.artifactsBucket).toBe('kokoro-perf-artifacts-bucket');
  });

  it("orchestrator applies the original's defaults; run leaves the deadline and the report format unset", async () => {
    const orig = await requestOf('orchestrator', ['--vms', 'a']);
    expect(orig.request.runTimeoutMs).toBe(Number(ORIGINAL_DEFAULTS.runTimeout) * 1000);
    expect(orig.request).toMatchObject({ reportFormat: 'original', reportName: 'combined_report.csv' });
    expect(orig.opts.pollInterval).toBe('30');
    const ours = await requestOf('run', ['--vms', 'a']);
    expect(ours.request.runTimeoutMs).toBeUndefined();
    expect(ours.request.reportFormat).toBeUndefined();
    expect(ours.request.reportName).toBeUndefined();
    expect(ours.opts.pollInterval).toBeUndefined();
    expect(ours.request.runName).toBe(ours.request.benchmarkId);
  });

  it('takes --flag=value and --flag value alike, and durations as well as seconds', async () => {
    const a = await requestOf('run', [
      '--vms=a',
      '--timeout=3600',
      '--run-name=nightly read',
      '--report-format=original',
      '--fio-timeout=10m',
    ]);
    const b = await requestOf('run', [
      '--vms',
      'a',
      '--timeout',
      '1h',
      '--run-name',
      'nightly read',
      '--report-format',
      'original',
      '--fio-timeout',
      '10m',
    ]);
    for (const r of [a.request, b.request]) {
      expect(r).toMatchObject({ runTimeoutMs: 3_600_000, runName: 'nightly read', reportFormat: 'original' });
      expect(r.timeouts.fioIterationMs).toBe(600_000);
    }
  });

  it('--test-data-bucket is --bucket; a gs:// prefix is dropped', async () => {
    const { request } = await requestOf('run', ['--vms', 'a', '--test-data-bucket', 'gs://my-data']);
    expect(request.mount).toEqual({ kind: 'gcsfuse', bucket: 'my-data' });
  });

  it('plan accepts --artifacts-bucket', async () => {
    const { opts } = await requestOf('plan', ['--vms', 'a', '--artifacts-bucket', 'my-artifacts']);
    expect(opts.artifactsBucket).toBe('my-artifacts');
  });

  it('a config file takes timeout, run-name, report-name and report-format; flags beat it, it beats the defaults', async () => {
    const cfg = path.join(dir, 'bench.yaml');
    writeFileSync(cfg, 'timeout: 600\nrun-name: from file\nreport-name: file.csv\nreport-format: default\n');
    const fromFile = await requestOf('orchestrator', ['--vms', 'a', '--config', cfg]);
    expect(fromFile.request).toMatchObject({
      runTimeoutMs: 600_000,
      runName: 'from file',
      reportName: 'file.csv',
      reportFormat: 'default',
    });
    const flagWins = await requestOf('orchestrator', ['--vms', 'a', '--config', cfg, '--timeout', '60']);
    expect(flagWins.request.runTimeoutMs).toBe(60_000);
  });
});

describe('bad values name their flag', () => {
  const cases: [string[], string, RegExp][] = [
    [['--timeout', '0'], '--timeout', /0 is out of range: give whole seconds from 1/],
    [['--timeout', '-5'], '--timeout', /"-5" is not a duration/],
    [['--timeout', '1e4'], '--timeout', /"1e4" is not a duration/],
    [['--run-name', '  '], '--run-name', /is empty/],
    [['--run-name', 'x'.repeat(201)], '--run-name', /at most 200/],
    [['--report-name', 'a/b.csv'], '--report-name', /report name "a\/b\.csv" is not allowed/],
    [['--report-name', 'summary.json'], '--report-name', /is a report file of its own/],
    [['--report-format', 'xml'], '--report-format', /"xml" is not a report format \(default or original\)/],
    [['--bucket', 'a-bucket', '--test-data-bucket', 'b-bucket'], '--test-data-bucket', /disagree/],
  ];
  for (const [args, flag, message] of cases) {
    it(`${args.join(' ')}`.slice(0, 80), async () => {
      const err = await requestOf('run', ['--vms', 'a', ...args]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).location.flag).toBe(flag);
      expect((err as InputError).message.startsWith(`${flag}: `)).toBe(true);
      expect((err as InputError).message).toMatch(message);
    });
  }

  it('--poll-interval: seconds or a duration, 1 s to 1 day', () => {
    expect(parsePollIntervalMs(undefined)).toBeUndefined();
    expect(parsePollIntervalMs('30')).toBe(30_000);
    expect(parsePollIntervalMs('2m')).toBe(120_000);
    expect(() => parsePollIntervalMs('0')).toThrow(/--poll-interval: 0 is out of range/);
    expect(() => parsePollIntervalMs('86401')).toThrow(/--poll-interval: 86401 is out of range/);
    expect(() => parsePollIntervalMs('often')).toThrow(/--poll-interval: "often" is not a duration/);
    expect(parseSecondsOrDuration(' 7200 ', '--timeout')).toBe(7_200_000);
  });
});

describe('output for scripts', () => {
  it('stableJson sorts keys at every level, whatever order they were built in', () => {
    const a = stableJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 'x' }, u: undefined });
    const b = stableJson({ a: { c: 'x', d: [{ y: 2, z: 1 }] }, b: 1 });
    expect(a).toBe(b);
    expect(a).toBe('{\n  "a": {\n    "c": "x",\n    "d": [\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}');
  });

  it('the version names the package version and, in a git checkout, the commit', () => {
    expect(versionText({ GCSFUSE_BENCH_COMMIT: 'abc123' })).toBe('gcsfuse-bench 0.1.0+abc123');
    expect(versionText({})).toMatch(/^gcsfuse-bench 0\.1\.0(\+[0-9a-f]{12}(\.dirty-[0-9a-f]{12})?|\+src-[0-9a-f]{12})$/);
  });
});

describe('--ci-min-iterations and --fio-groups', () => {
  it('reach the request and config.json of run, start, plan and orchestrator; the defaults leave them unset', async () => {
    for (const command of ['run', 'start', 'plan', 'orchestrator'] as const) {
      const asked = await requestOf(command, ['--vms', 'a', '--ci-min-iterations', '2', '--fio-groups', 'merged']);
      expect(asked.request).toMatchObject({ ciMinIterations: 2, fioGroups: 'merged' });
      expect(benchmarkConfigOf(asked.request)).toMatchObject({ ciMinIterations: 2, fioGroups: 'merged' });
      // Unset when not asked (or asked for the default), so an earlier run's config.json still matches on resume.
      for (const args of [[], ['--ci-min-iterations', '3', '--fio-groups', 'separate']]) {
        const plain = (await requestOf(command, ['--vms', 'a', ...args])).request;
        expect(plain.ciMinIterations).toBeUndefined();
        expect(plain.fioGroups).toBeUndefined();
      }
    }
  });
});
