import { MockActivityEnvironment } from '@temporalio/testing';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../src/artifacts/local';
import { defaultMountConfig } from '../../src/core/configs';
import { layout, vmDataDir } from '../../src/core/layout';
import type { JobSpec, Manifest } from '../../src/core/spec';
import { createAgentActivities } from '../../vm-agent/src/activities';
import { childEnv } from '../../vm-agent/src/child-env';
import { runFio, type FioRunner } from '../../vm-agent/src/fio-runner';
import { LocalDirMounter } from '../../vm-agent/src/mounter';
import { createRedactor, REDACTED, secretValues } from '../../vm-agent/src/secrets';
import { tempDir } from '../support/harness';

/**
 * The agent is the last line: anyone who can start a workflow in the namespace or write to the
 * artifacts bucket can hand it a job spec and template the CLI never saw. Here they are written
 * straight to the store and the agent's own activity runs them (real fio, no CLI, no workflow).
 */
const home = tempDir('agent-policy');
const artifacts = path.join(home, 'artifacts');
const mount = path.join(home, 'mnt');
const outside = path.join(home, 'outside');
const SECRET = 'sekret-api-key-0123456789';
const store = new LocalArtifactStore(artifacts);
const VM = 'vm-1';
let n = 0;

beforeAll(() => mkdirSync(outside, { recursive: true }));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Writes a job spec and template for one entry, as an attacker with bucket access would. */
async function plant(template: string, params: Record<string, string> = {}): Promise<string> {
  const benchmarkId = `attack-${++n}`;
  const spec: JobSpec = {
    benchmarkId,
    vm: VM,
    iterations: 1,
    mount: { kind: 'local-dir' },
    fioIterationMs: 60_000,
    jobTemplatePath: 'jobfile.fio',
    entries: [{ matrixId: 1, testId: 't1', testRow: 1, config: defaultMountConfig('master', ''), params, estimatedIterationMs: 1000 }],
  };
  await store.put(layout.jobSpec(benchmarkId, VM), JSON.stringify(spec));
  await store.put(layout.jobTemplate(benchmarkId), template);
  return benchmarkId;
}

function agent(runner: FioRunner = runFio) {
  return createAgentActivities({
    vm: VM,
    store,
    mounter: new LocalDirMounter(mount),
    runFio: runner,
    workDir: path.join(home, 'work'),
    redact: createRedactor([SECRET]),
  });
}

async function runEntry(benchmarkId: string, runner?: FioRunner): Promise<unknown> {
  return new MockActivityEnvironment().run(agent(runner).runEntry, { benchmarkId, matrixId: 1, specVm: VM });
}

const manifestOf = (id: string) => JSON.parse(readFileSync(path.join(artifacts, layout.manifest(id, VM)), 'utf8')) as Manifest;

describe('the agent enforces the fio job policy on jobs the CLI never saw', () => {
  const marker = path.join(outside, 'pwned');
  const attacks: [string, string, RegExp][] = [
    [
      'exec_prerun',
      `[j]\nrw=read\nsize=64k\ndirectory=TEST_DATA_DIR\nexec_prerun=touch ${marker}\n`,
      /option "exec_prerun=touch .*" is refused: it runs a program/,
    ],
    ['an external ioengine', `[j]\nrw=read\nioengine=external:${outside}/evil.so\ndirectory=TEST_DATA_DIR\n`, /loads a shared library/],
    ['a file outside the mount', `[j]\nrw=write\nsize=4k\nfilename=${marker}\n`, /is outside the VM's test-data folder/],
    ["another VM's folder", `[j]\nrw=write\nsize=4k\ndirectory=${vmDataDir(mount, 'vm-2')}\n`, /gcsfuse-bench-data\/vm-2 is outside/],
    ['include of a file', `[j]\ninclude ${outside}/agent.env\nrw=read\n`, /"include" is refused/],
    [
      'a job name that leaves the folder',
      `[global]\ndirectory=TEST_DATA_DIR\n[../../../../outside/pwned]\nrw=write\nsize=4k\n`,
      /'\/' in a job name/,
    ],
    ['write_iolog', `[j]\nrw=read\nsize=64k\ndirectory=TEST_DATA_DIR\nwrite_iolog=${marker}\n`, /writes an I\/O log/],
    ['a cgroup', `[j]\nrw=read\nsize=64k\ndirectory=TEST_DATA_DIR\ncgroup=pwned\n`, /cgroups/],
    [
      'an environment variable',
      `[j]\nrw=read\nsize=64k\ndirectory=TEST_DATA_DIR\ndescription=\${TEMPORAL_API_KEY}\n`,
      /unknown placeholder \$\{TEMPORAL_API_KEY\}|placeholder TEMPORAL_API_KEY has no value|environment variable/,
    ],
  ];
  for (const [what, template, message] of attacks) {
    it(`refuses ${what}: the entry fails with the reason, nothing runs`, async () => {
      writeFileSync(path.join(outside, 'agent.env'), `TEMPORAL_API_KEY=${SECRET}\n`);
      const id = await plant(template);
      await expect(runEntry(id)).rejects.toThrow(message);
      expect(existsSync(marker)).toBe(false);
      expect(manifestOf(id).entries['1']).toMatchObject({ status: 'failed', error: expect.stringMatching(message) });
      // Nothing of the entry's was run: no fio output stored.
      expect(existsSync(path.join(artifacts, layout.fioOutput(id, VM, 1, 1)))).toBe(false);
    });
  }

  it('refuses a path that a symlink in the test data turns outside the folder', async () => {
    const id = await plant('[j]\nrw=write\nsize=4k\ndirectory=TEST_DATA_DIR\nfilename=link/victim\n');
    const dataDir = path.join(vmDataDir(mount, VM), 't1');
    mkdirSync(dataDir, { recursive: true });
    symlinkSync(outside, path.join(dataDir, 'link'));
    await expect(runEntry(id)).rejects.toThrow(/leads to .*outside.*outside the VM's test-data folder \(a symlink\?\)/);
    expect(existsSync(path.join(outside, 'victim'))).toBe(false);
    rmSync(path.join(dataDir, 'link'));
  });

  it("runs a good job, under the VM's own folder", async () => {
    const id = await plant('[j]\nrw=write\nbs=4k\nsize=64k\ndirectory=TEST_DATA_DIR\n');
    await expect(runEntry(id)).resolves.toMatchObject({ status: 'passed' });
    expect(readdirSync(path.join(vmDataDir(mount, VM), 't1')).length).toBeGreaterThan(0);
  });

  it('fails an entry whose fio moved no bytes in a direction its rw mode asks for', async () => {
    const id = await plant('[j]\nrw=randrw\nrwmixread=100\nbs=4k\nsize=64k\ndirectory=TEST_DATA_DIR\n');
    await expect(runEntry(id)).rejects.toThrow(/fio moved no bytes in the write direction that rw=randrw asks for/);
  });
});

describe("the agent's secrets stay out of children and of what it stores", () => {
  it("fio's environment holds none of the agent's secrets", async () => {
    process.env.GCSFUSE_BENCH_TEST_API_KEY = SECRET;
    try {
      const dir = path.join(home, 'envcheck');
      mkdirSync(dir, { recursive: true });
      // exec_prerun is refused by the policy; fio is run here directly to look at what its children see.
      const job = path.join(dir, 'env.fio');
      writeFileSync(job, `[j]\nrw=read\nsize=4k\ndirectory=${dir}\nexec_prerun=sh -c 'env > ${dir}/env.txt'\n`);
      const r = await runFio({ jobFile: job, outputFile: path.join(dir, 'out.json'), timeoutMs: 60_000, cwd: dir });
      expect(r.exitCode, r.stderr).toBe(0);
      const env = readFileSync(path.join(dir, 'env.txt'), 'utf8');
      expect(env).toMatch(/^PATH=/m);
      expect(env).not.toContain(SECRET);
      expect(env).not.toMatch(/TEMPORAL|GCSFUSE_BENCH/);
      expect(Object.keys(childEnv('fio', { PATH: '/bin', TEMPORAL_API_KEY: 'x', AWS_SECRET: 'y', LC_ALL: 'C' }))).toEqual([
        'PATH',
        'LC_ALL',
      ]);
      expect(secretValues({ TEMPORAL_API_KEY: SECRET, GOOGLE_APPLICATION_CREDENTIALS: '/etc/key.json', HOME: '/root' })).toEqual([SECRET]);
    } finally {
      delete process.env.GCSFUSE_BENCH_TEST_API_KEY;
    }
  });

  it('redacts a secret that fio printed from the stored stderr, the manifest and the error', async () => {
    const id = await plant('[j]\nrw=read\nsize=4k\ndirectory=TEST_DATA_DIR\n');
    const leaky: FioRunner = async () => ({
      exitCode: 1,
      signal: null,
      timedOut: false,
      aborted: false,
      durationMs: 1,
      stderr: `fio: bad option <TEMPORAL_API_KEY=${SECRET}>\n`,
    });
    const err = (await runEntry(id, leaky).catch((e: Error) => e)) as Error;
    expect(err.message).toContain(REDACTED);
    expect(err.message + (err.stack ?? '')).not.toContain(SECRET);
    expect(JSON.stringify(manifestOf(id))).not.toContain(SECRET);
    const stderr = readFileSync(path.join(artifacts, layout.fioLog(id, VM, 1, 1)), 'utf8');
    expect(stderr).toBe(`fio: bad option <TEMPORAL_API_KEY=${REDACTED}>\n`);
  });
});
