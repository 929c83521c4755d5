/**
 * Reproducibility metadata with the real tools of this machine: fio --version, the gcsfuse binary
 * scripts/setup.sh built (when present), Go build info read from real Go binaries (checked against
 * `go version -m` when Go is installed), and a metadata server played by a local HTTP server.
 * Nothing here needs the network: the Compute Engine lookup is pointed at a fetch that fails, a
 * name that cannot resolve, or 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MountConfig } from '../../src/core/configs';
import { ENTRY_METADATA_SCHEMA } from '../../src/core/metadata';
import {
  commitOfPseudoVersion,
  createMetadataCollector,
  gceMachineInfo,
  gcsfuseMetadata,
  inspectBinary,
  parseGcsfuseVersion,
  sha256Hex,
  type MetadataFetch,
} from '../../vm-agent/src/metadata';
import { LocalDirMounter } from '../../vm-agent/src/mounter';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SETUP_GCSFUSE = path.join(ROOT, '.gcsfuse-bench/bin/gcsfuse');
const SETUP_FAKE_GCS = path.join(ROOT, '.gcsfuse-bench/bin/fake-gcs-server');
const hasGo = (() => {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** What `go version -m` says about a binary: Go version and the main module's version. */
function goVersionM(binary: string): { goVersion: string; mod: string[] } {
  const out = execFileSync('go', ['version', '-m', binary], { encoding: 'utf8' });
  const goVersion = /^\S+: (\S+)/.exec(out)![1]!;
  const mod = /^\tmod\t(.*)$/m.exec(out)![1]!.split('\t');
  return { goVersion, mod };
}

const sha256sum = (file: string) => execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];

/** A fetch that fails at once, recording what it was asked. */
function failingFetch(calls: { url: string; headers: Record<string, string> }[]): MetadataFetch {
  return async (url, init) => {
    calls.push({ url, headers: init.headers });
    throw new Error('getaddrinfo ENOTFOUND metadata.google.internal');
  };
}

const config: MountConfig = {
  label: 'fast',
  commit: 'v3.13.0',
  mountArgs: '--implicit-dirs --stat-cache-ttl 1m',
  mountArgv: ['--implicit-dirs', '--stat-cache-ttl', '1m'],
};

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'metadata-test-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('host metadata', () => {
  it('real fio --version, kernel, CPU, memory; machine type local when the metadata server fails; collected once', async () => {
    const calls: { url: string; headers: Record<string, string> }[] = [];
    const collector = createMetadataCollector({ gce: { fetch: failingFetch(calls) } });
    const host = await collector.host();
    const fio = execFileSync(process.env.FIO_BIN ?? 'fio', ['--version'], { encoding: 'utf8' }).trim();
    expect(host.fioVersion).toBe(fio);
    expect(host.fioVersion).toMatch(/^fio-\d+\.\d+/);
    expect(host.machineType).toBe('local');
    expect(host.zone).toBeUndefined();
    expect(host.kernelRelease).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    expect(host.cpuCount).toBe(os.cpus().length);
    expect(host.cpuModel.length).toBeGreaterThan(0);
    expect(host.memoryTotalBytes).toBe(os.totalmem());
    expect(host.hostname).toBe(os.hostname());
    expect(host.arch).toBe(os.arch());
    expect(host.nodeVersion).toBe(process.version);
    // It asked the metadata server the documented way.
    expect(calls.map((c) => c.url).sort()).toEqual([
      'http://metadata.google.internal/computeMetadata/v1/instance/machine-type',
      'http://metadata.google.internal/computeMetadata/v1/instance/zone',
    ]);
    for (const c of calls) expect(c.headers['Metadata-Flavor']).toBe('Google');
    // Cached: no second lookup.
    expect(await collector.host()).toBe(host);
    expect(calls).toHaveLength(2);
  });

  it('fio that cannot be run gives a null version, not an error', async () => {
    const collector = createMetadataCollector({ fioBin: path.join(dir, 'no-such-fio'), gce: { fetch: failingFetch([]) } });
    expect((await collector.host()).fioVersion).toBeNull();
  });
});

describe('machine type from the Compute Engine metadata server', () => {
  let server: http.Server;
  let host: string;
  let mode: 'gce' | 'portal' | 'hang' = 'gce';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (mode === 'hang') return; // never answers
      if (mode === 'portal') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>sign in</html>');
        return;
      }
      if (req.headers['metadata-flavor'] !== 'Google') {
        res.writeHead(403).end('Missing Metadata-Flavor:Google header.');
        return;
      }
      const answers: Record<string, string> = {
        '/computeMetadata/v1/instance/machine-type': 'projects/123456789012/machineTypes/n2-standard-4',
        '/computeMetadata/v1/instance/zone': 'projects/123456789012/zones/us-central1-a',
      };
      const body = answers[req.url ?? ''];
      if (!body) res.writeHead(404, { 'Metadata-Flavor': 'Google' }).end('not found');
      else res.writeHead(200, { 'Metadata-Flavor': 'Google', 'content-type': 'application/text' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reads machine type and zone, last path segment, over real HTTP with the default fetch', async () => {
    mode = 'gce';
    expect(await gceMachineInfo({ host })).toEqual({ machineType: 'n2-standard-4', zone: 'us-central1-a' });
    const collector = createMetadataCollector({ gce: { host } });
    const meta = await collector.host();
    expect(meta.machineType).toBe('n2-standard-4');
    expect(meta.zone).toBe('us-central1-a');
  });

  it('an answer without Metadata-Flavor: Google (a proxy or portal) is not the metadata server', async () => {
    mode = 'portal';
    expect(await gceMachineInfo({ host })).toEqual({ machineType: 'local' });
  });

  it('a server that does not answer in time gives local', async () => {
    mode = 'hang';
    expect(await gceMachineInfo({ host, timeoutMs: 300 })).toEqual({ machineType: 'local' });
  });

  it('a host name that does not resolve gives local (the default fetch checks DNS first)', async () => {
    // .invalid never resolves (RFC 6761).
    expect(await gceMachineInfo({ host: 'metadata.invalid' })).toEqual({ machineType: 'local' });
  });
});

describe('entry metadata', () => {
  const jobA = '[global]\nioengine=psync\ndirectory=/mnt/x\n\n[seq-read]\nrw=read\nbs=1m\nsize=64m\n';
  const jobB = jobA.replace('bs=1m', 'bs=4k');

  it('hashes the rendered job: stable, equal to sha256sum of the stored bytes, different for a different job', async () => {
    const collector = createMetadataCollector({ gce: { fetch: failingFetch([]) } });
    const handle = await new LocalDirMounter(path.join(dir, 'mnt')).mount(config, { kind: 'local-dir' });
    const base = { benchmarkId: 'b-1', vm: 'vm-1', testId: 'seq', config, mountSpec: { kind: 'local-dir' as const }, handle };
    const a1 = await collector.forEntry({ ...base, matrixId: 1, renderedJob: jobA });
    const a2 = await collector.forEntry({ ...base, matrixId: 1, renderedJob: jobA });
    const b = await collector.forEntry({ ...base, matrixId: 2, renderedJob: jobB });
    await fs.writeFile(path.join(dir, 'job.fio'), jobA);
    expect(a1.job).toEqual({ sha256: sha256sum(path.join(dir, 'job.fio')), bytes: Buffer.byteLength(jobA) });
    expect(a2.job).toEqual(a1.job);
    expect(b.job.sha256).not.toBe(a1.job.sha256);
    expect(sha256Hex(jobA)).toBe(a1.job.sha256);
    expect(sha256Hex(Buffer.from(jobA))).toBe(a1.job.sha256);
    // Non-ASCII counts as its UTF-8 bytes.
    expect((await collector.forEntry({ ...base, matrixId: 3, renderedJob: 'x=é\n' })).job.bytes).toBe(5);

    expect(a1.schema).toBe(ENTRY_METADATA_SCHEMA);
    expect(a1).toMatchObject({ benchmarkId: 'b-1', vm: 'vm-1', matrixId: 1, testId: 'seq', gcsfuse: null });
    expect(a1.mount).toEqual({
      kind: 'local-dir',
      configLabel: 'fast',
      configCommit: 'v3.13.0',
      mountArgs: '--implicit-dirs --stat-cache-ttl 1m',
      mountArgv: ['--implicit-dirs', '--stat-cache-ttl', '1m'],
      mountPoint: handle.mountPoint,
    });
    expect(a1.host).toBe(a2.host); // collected once
    expect(Date.parse(a1.collectedAt)).not.toBeNaN();
    // JSON-safe: what is stored is what is read back.
    expect(JSON.parse(JSON.stringify(a1))).toEqual(a1);
  });

  it.skipIf(!existsSync(SETUP_GCSFUSE))(
    'records gcsfuse from a gcsfuse mount handle: version output, module version, Go version, binary hash, argv',
    async () => {
      const collector = createMetadataCollector({ gce: { fetch: failingFetch([]) } });
      const argv = ['--implicit-dirs', '--foreground', '--log-file', '/tmp/x.log', 'bucket-1', '/mnt/gcs'];
      // The fields a GcsfuseMountHandle has beyond MountHandle; metadata reads them structurally.
      const handle = { mountPoint: '/mnt/gcs', unmount: async () => {}, binary: SETUP_GCSFUSE, argv, pid: 1, bucket: 'bucket-1' };
      const meta = await collector.forEntry({
        benchmarkId: 'b-1',
        vm: 'vm-1',
        matrixId: 1,
        testId: 'seq',
        config,
        mountSpec: { kind: 'gcsfuse', bucket: 'bucket-1' },
        handle,
        renderedJob: jobA,
      });
      const g = meta.gcsfuse!;
      const printed = execFileSync(SETUP_GCSFUSE, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0];
      expect(g.versionOutput).toBe(printed);
      expect(g.version).toBe(parseGcsfuseVersion(printed!).version);
      expect(g.binary).toBe(SETUP_GCSFUSE);
      expect(g.binarySha256).toBe(sha256sum(SETUP_GCSFUSE));
      expect(g.goVersion).toMatch(/^go1\.\d+/);
      expect(g.moduleVersion).toMatch(/^v\d+\.\d+\.\d+/);
      if (hasGo) {
        const m = goVersionM(SETUP_GCSFUSE);
        expect(g.goVersion).toBe(m.goVersion);
        expect(m.mod[0]).toMatch(/^github\.com\/googlecloudplatform\/gcsfuse/);
        expect(g.moduleVersion).toBe(m.mod[1]);
      }
      // A tagged build names no commit by itself; a pseudo-version does.
      expect(g.commit).toBe(commitOfPseudoVersion(g.moduleVersion!));
      expect(meta.mount).toMatchObject({ kind: 'gcsfuse', bucket: 'bucket-1', gcsfuseArgv: argv, mountPoint: '/mnt/gcs' });
      // Cached per binary.
      expect(await collector.gcsfuse(SETUP_GCSFUSE)).toBe(await collector.gcsfuse(SETUP_GCSFUSE));
    },
  );

  it('a gcsfuse binary that cannot be run or read gives nulls, not an error', async () => {
    const g = await gcsfuseMetadata(path.join(dir, 'no-such-gcsfuse'));
    expect(g).toMatchObject({ versionOutput: null, version: null, goVersion: null, moduleVersion: null, commit: null, binarySha256: null });
  });
});

describe('gcsfuse versions and Go build info', () => {
  it('parses gcsfuse --version as release builds and go-install builds print it', () => {
    expect(parseGcsfuseVersion('gcsfuse version 2.4.0 (Go version go1.22.4)')).toEqual({ version: '2.4.0', goVersion: 'go1.22.4' });
    expect(parseGcsfuseVersion('gcsfuse version unknown (Go version go1.27.3)')).toEqual({ version: 'unknown', goVersion: 'go1.27.3' });
    expect(parseGcsfuseVersion('gcsfuse version 0.41.6')).toEqual({ version: '0.41.6', goVersion: null });
    expect(parseGcsfuseVersion('something else')).toEqual({ version: null, goVersion: null });
  });

  it('finds the commit of every pseudo-version form, none in a tag', () => {
    expect(commitOfPseudoVersion('v0.0.0-20191109021931-daa7c04131f5')).toBe('daa7c04131f5');
    expect(commitOfPseudoVersion('v3.4.1-0.20250101120000-0123456789ab')).toBe('0123456789ab');
    expect(commitOfPseudoVersion('v3.5.0-rc.1.0.20250101120000-0123456789ab')).toBe('0123456789ab');
    expect(commitOfPseudoVersion('v2.0.0-20250101120000-0123456789ab+incompatible')).toBe('0123456789ab');
    expect(commitOfPseudoVersion('v3.13.0')).toBeNull();
    expect(commitOfPseudoVersion('(devel)')).toBeNull();
  });

  it.skipIf(!existsSync(SETUP_FAKE_GCS))('reads the build info of another Go binary (fake-gcs-server) as go version -m does', async () => {
    const { sha256, buildInfo } = await inspectBinary(SETUP_FAKE_GCS);
    expect(sha256).toBe(sha256sum(SETUP_FAKE_GCS));
    expect(buildInfo).not.toBeNull();
    expect(buildInfo!.path).toMatch(/fake-gcs-server/);
    if (hasGo) {
      const m = goVersionM(SETUP_FAKE_GCS);
      expect(buildInfo!.goVersion).toBe(m.goVersion);
      expect(buildInfo!.mainModule).toEqual({ path: m.mod[0], version: m.mod[1] });
    }
  });

  it('finds build info that straddles two read chunks (Go 1.18+ layout: inline strings, uvarint lengths, sentinels)', async () => {
    const modinfo =
      'path\tgithub.com/googlecloudplatform/gcsfuse/v3\n' +
      'mod\tgithub.com/googlecloudplatform/gcsfuse/v3\t(devel)\t\n' +
      'build\t-ldflags=-X main.version=1\n' +
      'build\tvcs.revision=0123456789abcdef0123456789abcdef01234567\n' +
      'build\tvcs.modified=true\n';
    const sentinel = Buffer.alloc(16, 0x30);
    const mod = Buffer.concat([sentinel, Buffer.from(modinfo), sentinel]);
    const uvarint = (n: number) => {
      const out: number[] = [];
      while (n >= 0x80) {
        out.push((n & 0x7f) | 0x80);
        n = Math.floor(n / 128);
      }
      out.push(n);
      return Buffer.from(out);
    };
    const header = Buffer.alloc(32);
    Buffer.from('\xff Go buildinf:', 'latin1').copy(header);
    header[14] = 8; // pointer size
    header[15] = 2; // inline strings
    const blob = Buffer.concat([header, uvarint(8), Buffer.from('go1.22.9'), uvarint(mod.length), mod]);
    const at = 1024 * 1024 - 7; // the magic crosses the first 1 MiB chunk's end
    const file = path.join(dir, 'synthetic-go.bin');
    await fs.writeFile(file, Buffer.concat([Buffer.alloc(at, 0x41), blob, Buffer.alloc(4096, 0x42)]));
    const { buildInfo } = await inspectBinary(file);
    expect(buildInfo).toEqual({
      goVersion: 'go1.22.9',
      path: 'github.com/googlecloudplatform/gcsfuse/v3',
      mainModule: { path: 'github.com/googlecloudplatform/gcsfuse/v3', version: '(devel)' },
      settings: { '-ldflags': '-X main.version=1', 'vcs.revision': '0123456789abcdef0123456789abcdef01234567', 'vcs.modified': 'true' },
    });
    const g = await gcsfuseMetadata(file);
    expect(g).toMatchObject({
      versionOutput: null,
      goVersion: 'go1.22.9',
      moduleVersion: '(devel)',
      commit: '0123456789abcdef0123456789abcdef01234567',
      modified: true,
    });
  });

  it('a file that is not a Go binary has no build info', async () => {
    const file = path.join(dir, 'not-go.bin');
    await fs.writeFile(file, Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(3 * 1024 * 1024, 0x41)]));
    const { sha256, buildInfo } = await inspectBinary(file);
    expect(buildInfo).toBeNull();
    expect(sha256).toBe(sha256sum(file));
  });
});
