import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openArtifactStore } from '../../src/artifacts';
import { failureMessage, isInputFailure } from '../../src/client/benchmarks';
import { buildBisectInput, registerBisectCommand, startBisect } from '../../src/client/bisect';
import { bisectLayout, maxProbesFor, type BisectRecord } from '../../src/core/bisect';
import { InputError } from '../../src/core/errors';
import type { BisectState } from '../../src/workflows/bisect-definitions';
import { createAgentWorker } from '../../vm-agent/src/main';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs';
import { startThrottledProxy, type ThrottledProxy } from '../support/throttled-proxy';
import { fuseAvailability, seededGcsfuse } from '../support/gcsfuse';
import { Harness, readJson, until } from '../support/harness';
import { startLocalTemporal } from '../support/temporal';

/**
 * Bisect on a real dev server, with real fio through real gcsfuse mounts of a fake-gcs-server
 * bucket. The stand-in gcsfuse history: a local git repository of 8 commits after a good one;
 * the agent mounts each commit with "its" gcsfuse binary (the seeded binaries, as the agent
 * takes pre-built gcsfuse per ref), which is the real gcsfuse, and from FIRST_BAD on the real
 * gcsfuse reaching the bucket through a link of SLOW_BYTES_PER_SEC: the speed changes at a known
 * commit. (Not gcsfuse's own --limit-bytes-per-sec: its token bucket starts full with 8 h / 50 =
 * 576 s worth of bytes, internal/gcsx/bucket_manager.go in v3.13.0, so a short read never meets it.)
 */
const VM = 'bisect-vm';
const COMMITS = 8;
/** Index (0-based, on the path good..bad) of the first commit whose gcsfuse reads slower. */
const FIRST_BAD = 5;
const BUCKET = 'bisect-data';
/** The bad commits' link to the bucket, far below fio's own rate so the change is certain. */
const SLOW_BYTES_PER_SEC = 2 * 2 ** 20;
const FIO_RATE = '8m';

let env: TestWorkflowEnvironment;
let h: Harness;
let gcs: FakeGcs;
/** The slow link the bad commits' gcsfuse reaches fake-gcs-server through. */
let slowLink: ThrottledProxy;
let repo: string;
let agent: { worker: Worker; done: Promise<void> } | undefined;
let good: string;
let path8: string[] = [];
const fuse = fuseAvailability();

function git(...args: string[]): string {
  return execFileSync('git', args, {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
  }).trim();
}

function commit(n: number): string {
  writeFileSync(path.join(repo, 'CHANGE'), `change ${n}\n`);
  git('add', 'CHANGE');
  git('commit', '-q', '-m', `change ${n}`);
  return git('rev-parse', 'HEAD');
}

/**
 * The gcsfuse "built" for a commit: the real binary; from FIRST_BAD on, its --custom-endpoint (the
 * emulator, from the mount spec) swapped for the slow link in front of the same emulator.
 */
function standIn(realGcsfuse: string, sha: string, slow: boolean): string {
  const dir = path.join(h.home, 'gcsfuse-by-commit', sha);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'gcsfuse');
  const swap = slow
    ? `for a do shift; [ "$a" = ${JSON.stringify(gcs.jsonApi)} ] && a=${JSON.stringify(new URL('/storage/v1/', slowLink.origin).href)}; set -- "$@" "$a"; done\n`
    : '';
  writeFileSync(file, `#!/bin/sh\n${swap}exec ${JSON.stringify(realGcsfuse)} "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

function bisectConfig(name: string): string {
  const dir = path.join(h.home, 'bisect-inputs', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'test-cases.csv'),
    'test_id,io_type,block_size,file_size,num_jobs\nseq-read,read,1m,16m,1\nseq-write,write,1m,16m,1\n',
  );
  // fio's own rate keeps the good commits' bandwidth steady; time based, so a slow read ends on time.
  writeFileSync(
    path.join(dir, 'jobfile.fio'),
    `[global]\nioengine=psync\ntime_based=1\nruntime=2s\ndirect=1\ndirectory=\${TEST_DATA_DIR}\nrate=${FIO_RATE}\n\n[job]\nrw=\${IO_TYPE}\nbs=\${BLOCK_SIZE}\nsize=\${FILE_SIZE}\nnumjobs=\${NUM_JOBS}\n`,
  );
  const file = path.join(dir, 'bisect.yaml');
  writeFileSync(
    file,
    [
      'test-csv: test-cases.csv',
      'fio-job-file: jobfile.fio',
      `vms: [${VM}]`,
      'mount: gcsfuse',
      `bucket: ${BUCKET}`,
      `gcsfuse-custom-endpoint: ${gcs.jsonApi}`,
      'gcsfuse-anonymous-access: true',
      // --enable-hns=false: the emulator does not serve the storage-control API gcsfuse asks otherwise.
      'gcsfuse-mount-args: --implicit-dirs --enable-hns=false',
      '',
    ].join('\n'),
  );
  return file;
}

beforeAll(async () => {
  if (!fuse.ok) return;
  env = await startLocalTemporal();
  h = new Harness(env);
  gcs = await startFakeGcs({ buckets: [BUCKET] });
  slowLink = await startThrottledProxy(gcs.endpoint, SLOW_BYTES_PER_SEC);
  repo = path.join(h.home, 'gcsfuse.git');
  mkdirSync(repo);
  git('init', '-q', '-b', 'master');
  good = commit(0);
  git('tag', 'v1.0.0');
  path8 = Array.from({ length: COMMITS }, (_, i) => commit(i + 1));
  git('tag', 'v1.1.0');
  const real = Object.values(seededGcsfuse())[0];
  if (!real) throw new Error('no gcsfuse built by scripts/setup.sh (.gcsfuse-bench/bin/gcsfuse): run npm run setup');
  const seeded: Record<string, string> = { [good]: standIn(real, good, false) };
  path8.forEach((sha, i) => (seeded[sha] = standIn(real, sha, i >= FIRST_BAD)));
  await h.startOrchestrator();
  const worker = await createAgentWorker({
    vm: VM,
    temporal: { address: env.address, namespace: 'default' },
    artifacts: h.artifacts,
    workDir: h.agentWorkDir(VM),
    gcsfuse: { seeded },
  });
  agent = { worker, done: worker.run() };
}, 120_000);

afterAll(async () => {
  if (agent) {
    agent.worker.shutdown();
    await agent.done;
  }
  await h?.stop();
  await slowLink?.stop();
  await gcs?.stop();
  await env?.teardown();
});

describe.skipIf(!fuse.ok)(`bisect${fuse.ok ? '' : ` (skipped: ${fuse.reason})`}`, () => {
  it('names the first commit whose gcsfuse reads slower, in about log2(N) probes, with progress in a query and the Web UI', async () => {
    const input = await buildBisectInput({
      configFile: bisectConfig('read'),
      good: 'v1.0.0',
      bad: 'v1.1.0',
      testId: 'seq-read',
      repo,
      bisectId: 'bisect-read',
      maxRegression: 'read_bw=25%',
      iterations: '3',
      addIterations: '2',
      maxIterations: '7',
      fioCheck: false,
    });
    // Each round benchmarks the one test.
    expect(input.request.testCases.content.trim().split('\n')).toHaveLength(2);
    const handle = await startBisect(env.client, input);

    // While it runs, the query shows the range narrowing and the commit being benchmarked.
    const seen: BisectState[] = [];
    await until(
      async () => {
        const s = await handle.query<BisectState>('bisect');
        seen.push(s);
        return s.phase === 'bisecting' || s.phase === 'done';
      },
      'the bisect to start probing',
      240_000,
    );
    expect(seen.some((s) => s.current !== undefined)).toBe(true);
    const probing = seen[seen.length - 1]!;
    expect(probing.commits).toBe(COMMITS);
    expect(probing.range).toMatchObject({ lastGood: good, firstBad: path8[COMMITS - 1] });

    const result = await handle.result();
    // The bad commits' reads really went over the slow link (at least a block of fio's: not just errors).
    expect(slowLink.bytesServed()).toBeGreaterThanOrEqual(2 ** 20);
    expect(result.outcome, result.reason).toBe('found');
    expect(result).toMatchObject({
      outcome: 'found',
      firstBad: path8[FIRST_BAD],
      lastGood: path8[FIRST_BAD - 1],
      commits: COMMITS,
      good: { commit: good },
      bad: { commit: path8[COMMITS - 1] },
    });
    expect(result.range).toEqual({ lastGood: path8[FIRST_BAD - 1], firstBad: path8[FIRST_BAD], remaining: 0 });
    // Halving: 8 commits take exactly log2(8) = 3 probes, besides checking the bad end.
    expect(result.maxProbes).toBe(maxProbesFor(COMMITS));
    expect(result.probes).toBe(3);
    expect(result.steps.map((s) => s.kind)).toEqual(['verify-bad', 'probe', 'probe', 'probe']);
    // Each probe judged by the gated metric, the slow ones far beyond the threshold.
    for (const s of result.steps) {
      const slow = path8.indexOf(s.commit) >= FIRST_BAD;
      expect(s.verdict, s.commit).toBe(slow ? 'bad' : 'good');
      expect(s.metrics.map((m) => m.metric)).toEqual(['read_bw']);
      if (slow) expect(s.metrics[0]!.deltaPct!).toBeLessThan(-25);
    }

    // The answer is stored, and each probe was an ordinary benchmark of that commit.
    const store = openArtifactStore(h.artifacts);
    const record = readJson<BisectRecord>(store.urlOf(bisectLayout.record('bisect-read')));
    expect(record.firstBad).toBe(path8[FIRST_BAD]);
    const probe = result.steps[1]!;
    const config = readJson<{ gcsfuseCommit: string }>(store.urlOf(`${probe.benchmarkIds[0]}/config.json`));
    expect(config.gcsfuseCommit).toBe(probe.commit);

    // The Web UI shows the answer in the workflow's current details.
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain(`first bad commit: ${path8[FIRST_BAD]}`);
  }, 600_000);

  it('refuses a test id that is not in the CSV, naming the file, and a bad commit that is not a descendant of the good one', async () => {
    const file = bisectConfig('refusals');
    await expect(
      buildBisectInput({ configFile: file, good: 'v1.0.0', bad: 'v1.1.0', testId: 'nope', repo, fioCheck: false }),
    ).rejects.toThrow(/--test-id, .*test-cases\.csv: test id "nope" is not in .*\(its tests: seq-read, seq-write\)/);
    await expect(
      buildBisectInput({ configFile: file, good: 'v1.0.0', bad: '--upload-pack=x', testId: 'seq-read', repo, fioCheck: false }),
    ).rejects.toThrow(InputError);

    // Swapped ends: the workflow's listing of the commits refuses it, and the CLI exits with bad input.
    const program = new Command().option('--temporal-address <a>').option('--namespace <ns>').option('--json').exitOverride();
    registerBisectCommand(program);
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const err = await program
        .parseAsync(
          [
            '--temporal-address',
            env.address,
            'bisect',
            '--good',
            'v1.1.0',
            '--bad',
            'v1.0.0',
            '--test-id',
            'seq-read',
            '--config',
            file,
            '--repo',
            repo,
            '--bisect-id',
            'bisect-swapped',
            '--no-fio-check',
          ],
          { from: 'user' },
        )
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(failureMessage(err)).toMatch(
        /--bad: no commit leads from v1\.1\.0 to v1\.0\.0: the bad commit must be a descendant of the good one/,
      );
      expect(isInputFailure(err)).toBe(true);
    } finally {
      log.mockRestore();
    }
  }, 120_000);
});
