import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MountConfig } from '../../src/core/configs';
import { InputError } from '../../src/core/errors';
import { parseFioOutput } from '../../src/core/fio';
import { checkBucketName, checkGcsfuseMountArgv, splitMountArgs } from '../../src/core/mount-args';
import type { MountSpec } from '../../src/core/spec';
import { testDataDir } from '../../src/core/layout';
import { runFio } from '../../vm-agent/src/fio-runner';
import { GoInstallGcsfuseBinaries } from '../../vm-agent/src/gcsfuse-build';
import { GcsfuseMounter, type GcsfuseMountHandle } from '../../vm-agent/src/gcsfuse-mount';
import { cleanupLeftoverMounts, findGcsfuseMounts, fuseMountAt, gcsfuseProcessesFor, parseMountInfo } from '../../vm-agent/src/mount-table';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs';
import { fuseAvailability, GCSFUSE_GO_TOOLCHAIN, GCSFUSE_TEST_REF, testGcsfuseBinaries } from '../support/gcsfuse';
import { processesMentioning, run } from '../support/procs';

const rand = () => randomBytes(4).toString('hex');
const MiB = 1024 * 1024;
type GcsfuseSpec = Extract<MountSpec, { kind: 'gcsfuse' }>;

/**
 * Flags that make gcsfuse work against fake-gcs-server. --enable-hns=false: gcsfuse otherwise asks
 * the storage-control gRPC API (GetStorageLayout) about the bucket, which the emulator does not
 * serve, and retries for minutes (a custom endpoint containing "localhost" skips it as well).
 */
const EMULATOR_ARGS = '--implicit-dirs --enable-hns=false';

function config(mountArgs = EMULATOR_ARGS, commit = GCSFUSE_TEST_REF, label = 'emu'): MountConfig {
  return { label, commit, mountArgs, mountArgv: splitMountArgs(mountArgs) };
}

describe('gcsfuse mount args and names', () => {
  const spec: GcsfuseSpec = { kind: 'gcsfuse', bucket: 'b1' };

  it('accepts flags, flag values and -o options', () => {
    expect(() =>
      checkGcsfuseMountArgv(
        splitMountArgs('--implicit-dirs --temp-dir tmp/x --stat-cache-ttl=1h -o ro,noatime --log-severity trace'),
        spec,
      ),
    ).not.toThrow();
    expect(() => checkGcsfuseMountArgv(['--custom-endpoint', 'http://h:1/storage/v1/', '--anonymous-access'], spec)).not.toThrow();
  });

  it.each([
    ['--foreground', /--foreground cannot be given/],
    ['--foreground=false', /--foreground cannot be given/],
    ['--log-file /tmp/x.log', /--log-file cannot be given/],
    ['--log-file=/tmp/x.log', /--log-file cannot be given/],
    ['--version', /--version cannot be given/],
    ['--temp-dir x /mnt', /"\/mnt" is neither a flag nor the value/],
    ['bucket', /"bucket" is neither a flag nor the value/],
    ['-- --x', /a bare "--" is not allowed/],
    ['---x', /"---x" is not a flag/],
  ])('refuses %s', (args, message) => {
    const run = () => checkGcsfuseMountArgv(splitMountArgs(args), spec, 'cfg1');
    expect(run).toThrow(InputError);
    expect(run).toThrow(message);
    expect(run).toThrow(/mount args of config "cfg1"/);
  });

  it('refuses endpoint and anonymous access given both by the mount spec and the mount args', () => {
    const full: GcsfuseSpec = { kind: 'gcsfuse', bucket: 'b1', customEndpoint: 'http://127.0.0.1:1/storage/v1/', anonymousAccess: true };
    expect(() => checkGcsfuseMountArgv(['--custom-endpoint=http://x/'], full)).toThrow(/--custom-endpoint is given twice/);
    expect(() => checkGcsfuseMountArgv(['--anonymous-access'], full)).toThrow(/--anonymous-access is given twice/);
    expect(() => checkGcsfuseMountArgv(['--bad\nflag'], full)).toThrow(/control character/);
  });

  it('checks bucket names', () => {
    for (const ok of ['abc', 'my-bucket_1', 'a.b.c', `${'a'.repeat(63)}.${'b'.repeat(63)}`]) expect(checkBucketName(ok)).toBe(ok);
    for (const bad of ['ab', 'Upper', '-x-', 'a..b', 'a b', '_', 'x/y', 'a'.repeat(64), `${'a'.repeat(64)}.b`]) {
      expect(() => checkBucketName(bad)).toThrow(InputError);
    }
  });

  it('parses mountinfo, escaped paths included', () => {
    const text = [
      '22 1 0:21 / /proc rw,nosuid - proc proc rw',
      '42 27 0:39 / /tmp/with\\040space rw,nosuid,nodev,relatime shared:1 - fuse.gcsfuse my-bucket rw,user_id=0,group_id=0',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { mountPoint: '/proc', fsType: 'proc', source: 'proc' },
      { mountPoint: '/tmp/with space', fsType: 'fuse.gcsfuse', source: 'my-bucket' },
    ]);
  });

  it('names the ref that does not exist', async () => {
    const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gcsfuse-builds-'));
    try {
      const binaries = new GoInstallGcsfuseBinaries({ cacheDir });
      const err = await binaries.binaryFor('no-such-ref').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(/^gcsfuse ref "no-such-ref" cannot be built: .*no-such-ref/s);
      await expect(binaries.binaryFor('bad ref;rm')).rejects.toThrow(/is not a git commit, tag or branch name/);
      expect(await fs.readdir(cacheDir)).toEqual([]); // no half-built leftovers
    } finally {
      await fs.rm(cacheDir, { recursive: true, force: true });
    }
  });
});

const fuse = fuseAvailability();

describe.skipIf(!fuse.ok)(`real gcsfuse ${GCSFUSE_TEST_REF} on fake-gcs-server${fuse.ok ? '' : ` (skipped: ${fuse.reason})`}`, () => {
  let gcs: FakeGcs;
  let work: string;
  let binaries: GoInstallGcsfuseBinaries;
  let spec: GcsfuseSpec;
  const handles: GcsfuseMountHandle[] = [];
  const warnings: string[] = [];

  const newMounter = (name: string) =>
    new GcsfuseMounter({ binaries, mountPoint: path.join(work, name, 'mnt'), warn: (m) => warnings.push(m), mountTimeoutMs: 60_000 });
  const track = (h: GcsfuseMountHandle) => (handles.push(h), h);
  const objects = async (bucket: string, prefix = '') => {
    const res = await fetch(`${gcs.jsonApi}b/${bucket}/o?prefix=${encodeURIComponent(prefix)}`);
    expect(res.ok).toBe(true);
    return (((await res.json()) as { items?: { name: string; size: string }[] }).items ?? []).map((o) => ({
      name: o.name,
      size: Number(o.size),
    }));
  };
  const expectNothingLeft = async (mountPoint: string) => {
    expect(await fuseMountAt(mountPoint)).toBeUndefined();
    expect(gcsfuseProcessesFor(mountPoint)).toEqual([]);
    expect(processesMentioning(mountPoint)).toEqual([]);
  };

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'gcsfuse-it-'));
    gcs = await startFakeGcs();
    const bucket = `bench-data-${rand()}`;
    await gcs.createBucket(bucket);
    spec = { kind: 'gcsfuse', bucket, customEndpoint: gcs.jsonApi, anonymousAccess: true };
    binaries = testGcsfuseBinaries();
    // Seeded from scripts/setup.sh, cached from an earlier run, or built now (minutes, once).
    const build = await binaries.build(GCSFUSE_TEST_REF);
    console.log(
      `gcsfuse ${build.version}: ${build.source} ${build.binary}${build.buildMs ? ` (built in ${Math.round(build.buildMs / 1000)} s)` : ''}`,
    );
  }, 30 * 60_000);

  afterEach(async () => {
    // Whatever a test left, even after a failed expectation: unmount, stop gcsfuse, never a hung mount.
    for (const h of handles.splice(0)) await h.unmount().catch((e: Error) => warnings.push(e.message));
    if (work) await cleanupLeftoverMounts(work, { warn: (m) => warnings.push(m) });
  });

  afterAll(async () => {
    if (work) {
      await cleanupLeftoverMounts(work);
      if ((await findGcsfuseMounts(work)).length === 0) await fs.rm(work, { recursive: true, force: true });
    }
    await gcs?.stop();
  });

  it('mounts the bucket, runs fio on it, and unmounts leaving nothing behind', async () => {
    const mounter = newMounter('fio');
    const logDir = path.join(work, 'fio', 'logs');
    const handle = track(await mounter.mount(config(), spec, logDir));

    expect(await fuseMountAt(handle.mountPoint)).toEqual({ mountPoint: handle.mountPoint, fsType: 'fuse.gcsfuse', source: spec.bucket });
    expect(handle.argv).toEqual([
      '--implicit-dirs',
      '--enable-hns=false',
      '--custom-endpoint',
      gcs.jsonApi,
      '--anonymous-access',
      '--foreground',
      '--log-file',
      path.join(logDir, 'gcsfuse-1.log'),
      '--log-severity',
      'info',
      spec.bucket,
      handle.mountPoint,
    ]);
    expect(handle.cachesDropped.beforeMount).toBe(true); // root here

    const dataDir = testDataDir(handle.mountPoint, 'vm-1', 'seq-1');
    await fs.mkdir(dataDir, { recursive: true });
    expect(await handle.listDir(dataDir)).toEqual([]);
    const jobFile = path.join(logDir, 'job.fio');
    const outputFile = path.join(logDir, 'iteration-1.fio.json');
    await fs.writeFile(
      jobFile,
      [
        '[global]',
        'ioengine=psync',
        'bs=1m',
        'size=4m',
        'filename=data.bin',
        `directory=${dataDir}`,
        '',
        '[write]',
        'rw=write',
        '',
        '[read]',
        'stonewall',
        'rw=read',
        '',
      ].join('\n'),
    );
    const fio = await runFio({ jobFile, outputFile, timeoutMs: 90_000 });
    expect(fio.stderr).toBe('');
    expect(fio.exitCode).toBe(0);
    const result = parseFioOutput(await fs.readFile(outputFile, 'utf8'));
    expect(result.errorCount).toBe(0);
    expect(result.write.ioBytes).toBe(4 * MiB);
    expect(result.read.ioBytes).toBe(4 * MiB);

    // What fio wrote is in the bucket.
    expect(await objects(spec.bucket, 'gcsfuse-bench-data/vm-1/seq-1/')).toContainEqual({
      name: 'gcsfuse-bench-data/vm-1/seq-1/data.bin',
      size: 4 * MiB,
    });

    await handle.unmount();
    expect(handle.unmountResult).toBe('unmounted');
    expect(handle.cachesDropped.afterUnmount).toBe(true);
    await expectNothingLeft(handle.mountPoint);
    expect(await fs.readdir(handle.mountPoint)).toEqual([]); // the local folder under the mount is untouched
    await handle.unmount(); // a second unmount is a no-op

    const log = await fs.readFile(handle.logFile, 'utf8');
    expect(log.length).toBeGreaterThan(0);
    expect(log).toContain('File system has been successfully mounted.');
    expect(existsSync(handle.outputFile)).toBe(true);
  });

  it('remounts per iteration: two mounts in a row both work and see the same bucket', async () => {
    const mounter = newMounter('remount');
    const logDir = path.join(work, 'remount', 'logs');
    const payload = randomBytes(256 * 1024);

    const first = track(await mounter.mount(config(), spec, logDir));
    await fs.mkdir(testDataDir(first.mountPoint, 'vm-1', 'again'), { recursive: true });
    await fs.writeFile(path.join(testDataDir(first.mountPoint, 'vm-1', 'again'), 'file.bin'), payload);
    await first.unmount();
    await expectNothingLeft(first.mountPoint);

    const second = track(await mounter.mount(config(), spec, logDir));
    expect(second.mountPoint).toBe(first.mountPoint); // the rendered job names it: it must not change
    expect(second.logFile).toBe(path.join(logDir, 'gcsfuse-2.log'));
    expect(second.pid).not.toBe(first.pid);
    expect(await second.listDir(testDataDir(second.mountPoint, 'vm-1', 'again'))).toEqual(['file.bin']);
    expect((await fs.readFile(path.join(testDataDir(second.mountPoint, 'vm-1', 'again'), 'file.bin'))).equals(payload)).toBe(true);
    await second.unmount();
    await expectNothingLeft(second.mountPoint);
    expect((await fs.stat(first.logFile)).size).toBeGreaterThan(0);
    expect((await fs.stat(second.logFile)).size).toBeGreaterThan(0);
  });

  it('fails clearly for a bucket that does not exist, and cleans up', async () => {
    const mounter = newMounter('nobucket');
    const logDir = path.join(work, 'nobucket', 'logs');
    const missing = `no-such-bucket-${rand()}`;
    const err = (await mounter.mount(config(), { ...spec, bucket: missing }, logDir).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(`gcsfuse could not mount bucket "${missing}"`);
    expect(err.message).toMatch(/bucket doesn't exist|404/);
    const mountPoint = path.join(work, 'nobucket', 'mnt');
    await expectNothingLeft(mountPoint);
    expect(await fs.readdir(mountPoint)).toEqual([]);
    // The log is kept for the post-mortem.
    expect((await fs.stat(path.join(logDir, 'gcsfuse-1.log'))).size).toBeGreaterThan(0);
    // And the mounter is usable again afterwards.
    const ok = track(await mounter.mount(config(), spec, logDir));
    await ok.unmount();
    await expectNothingLeft(ok.mountPoint);
  });

  it('fails clearly for a gcsfuse ref that does not exist, mounting nothing', async () => {
    const mounter = newMounter('noref');
    const err = (await mounter
      .mount(config(EMULATOR_ARGS, 'no-such-ref'), spec, path.join(work, 'noref', 'logs'))
      .catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/^gcsfuse ref "no-such-ref" cannot be built: /);
    expect(await fuseMountAt(path.join(work, 'noref', 'mnt'))).toBeUndefined();
  });

  it('refuses mount args with flags it owns before starting anything', async () => {
    const mounter = newMounter('owned');
    await expect(mounter.mount(config('--foreground'), spec, path.join(work, 'owned', 'logs'))).rejects.toThrow(
      /--foreground cannot be given/,
    );
    expect(existsSync(path.join(work, 'owned'))).toBe(false);
  });

  it('detaches a busy mount lazily and still stops gcsfuse', async () => {
    const mounter = newMounter('busy');
    const handle = track(await mounter.mount(config(), spec, path.join(work, 'busy', 'logs')));
    const file = path.join(handle.mountPoint, `busy-${rand()}.txt`);
    await fs.writeFile(file, 'held open');
    const open = await fs.open(file, 'r'); // keeps the mount busy: fusermount3 -u fails with EBUSY
    const unmounting = handle.unmount();
    const deadline = Date.now() + 30_000;
    while ((await fuseMountAt(handle.mountPoint)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await fuseMountAt(handle.mountPoint)).toBeUndefined(); // detached
    await open.close(); // the last reference goes; gcsfuse's connection closes and it exits
    await unmounting;
    expect(handle.unmountResult).toBe('lazy');
    await expectNothingLeft(handle.mountPoint);
    expect(warnings.some((w) => w.includes('detaching it lazily'))).toBe(true);
  });

  it('cleans up a mount an earlier agent left behind, and a new mount replaces a stale one', async () => {
    const logDir = path.join(work, 'leftover', 'logs');
    const stale = await newMounter('leftover').mount(config(), spec, logDir); // never unmounted: the "agent died"
    expect(await findGcsfuseMounts(work)).toContainEqual({ mountPoint: stale.mountPoint, fsType: 'fuse.gcsfuse', source: spec.bucket });
    expect(gcsfuseProcessesFor(stale.mountPoint)).toEqual([stale.pid]);
    expect(await cleanupLeftoverMounts(work)).toEqual([stale.mountPoint]);
    await expectNothingLeft(stale.mountPoint);

    // A restarted agent's new mounter finds something mounted at its mount point and replaces it.
    const leftover = await newMounter('leftover').mount(config(), spec, logDir);
    const restarted = newMounter('leftover');
    const fresh = track(await restarted.mount(config(), spec, logDir));
    expect(gcsfuseProcessesFor(fresh.mountPoint)).toEqual([fresh.pid]);
    expect(gcsfuseProcessesFor(fresh.mountPoint)).not.toContain(leftover.pid);
    await fresh.unmount();
    await expectNothingLeft(fresh.mountPoint);
  });

  it(
    'builds a ref once for concurrent requests and reuses the build',
    async () => {
      const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gcsfuse-builds-'));
      try {
        const builder = new GoInstallGcsfuseBinaries({ cacheDir, goToolchain: GCSFUSE_GO_TOOLCHAIN });
        const [a, b] = await Promise.all([builder.build(GCSFUSE_TEST_REF), builder.build(GCSFUSE_TEST_REF)]);
        expect(builder.buildsStarted).toBe(1);
        expect(a).toBe(b);
        expect(a.source).toBe('built');
        expect(a.binary).toBe(path.join(cacheDir, GCSFUSE_TEST_REF, 'gcsfuse'));
        expect(JSON.parse(await fs.readFile(path.join(cacheDir, GCSFUSE_TEST_REF, 'build.json'), 'utf8'))).toMatchObject({
          ref: GCSFUSE_TEST_REF,
          version: GCSFUSE_TEST_REF,
          goVersion: expect.stringMatching(/^go1\./),
        });
        // The version is stamped into the binary, as gcsfuse's release build does.
        expect((await run(a.binary, ['--version'])).stdout).toContain(`gcsfuse version ${GCSFUSE_TEST_REF} `);
        console.log(
          `built gcsfuse ${GCSFUSE_TEST_REF} with ${a.goVersion} in ${Math.round(a.buildMs! / 1000)} s (Go build cache warm or not)`,
        );
        expect(await builder.binaryFor(GCSFUSE_TEST_REF)).toBe(a.binary);
        expect(builder.buildsStarted).toBe(1);
        // Another agent process on the same VM finds it built.
        const later = new GoInstallGcsfuseBinaries({ cacheDir });
        expect(await later.build(GCSFUSE_TEST_REF)).toMatchObject({ source: 'cached', binary: a.binary });
        expect(later.buildsStarted).toBe(0);
        expect((await fs.readdir(cacheDir)).sort()).toEqual([GCSFUSE_TEST_REF]); // no temporary build folders left
      } finally {
        await fs.rm(cacheDir, { recursive: true, force: true });
      }
    },
    30 * 60_000,
  );
});
