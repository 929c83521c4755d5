import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../support/harness';
import { run } from '../support/procs';

/**
 * The GCE startup script run for real as root in a Debian 12 (bookworm) chroot made with debootstrap
 * from Debian's mirror: it installs the packages with apt, Node and Go from tarballs checked against
 * SHA-256 pins, and writes agent.env from a stand-in metadata server on loopback. There is no internet
 * beyond package registries here, so the tarballs come from a local mirror (GCSFUSE_BENCH_DIST_MIRROR):
 * Go is the real go1.27.2 (the go command's toolchain module from the Go module proxy, repacked as
 * go.dev packs it), Node a stand-in built from this machine's node. Their SHA-256s differ from go.dev's
 * and nodejs.org's files, so the script runs with the pins replaced by the stand-ins'; with the real
 * pins it refuses them, which is checked first.
 *
 * debootstrap takes ~3 min here, so this runs only with GCSFUSE_BENCH_CHROOT_TEST=1 (as root, with
 * debootstrap installed). GCSFUSE_BENCH_CHROOT_BASE=DIR reuses a bookworm rootfs made earlier (copied).
 */
const enabled = process.env.GCSFUSE_BENCH_CHROOT_TEST === '1';
const SCRIPT = path.join(REPO, 'deploy/gce/startup-script.sh');
const versions = readFileSync(path.join(REPO, 'scripts/versions.env'), 'utf8');
const GO_VERSION = /^DEPLOY_GO_VERSION=(.+)$/m.exec(versions)![1]!;
const NODE_VERSION = /^readonly NODE_VERSION=(.+)$/m.exec(readFileSync(SCRIPT, 'utf8'))![1]!;

const home = tempDir('chroot');
const root = path.join(home, 'rootfs');
const mirrorDir = path.join(home, 'mirror');
let mirror: http.Server | undefined;
let metadata: http.Server | undefined;
let mirrorUrl = '';
let metadataUrl = '';

const sha256 = (file: string) => execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]!;
/** Async: the mirror and metadata servers answer from this process while the chroot runs. */
const chroot = async (args: string[], env: Record<string, string> = {}) => {
  const r = await run(
    'chroot',
    [
      root,
      'env',
      '-i',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'LANG=C.UTF-8',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...args,
    ],
    { timeoutMs: 900_000 },
  );
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
};

function serve(handler: http.RequestListener): Promise<[http.Server, string]> {
  return new Promise((resolve) => {
    const s = http
      .createServer(handler)
      .listen(0, '127.0.0.1', () => resolve([s, `http://127.0.0.1:${(s.address() as AddressInfo).port}`]));
  });
}

const METADATA: Record<string, string> = {
  'gcsfuse-bench-source': 'gs://src-bucket/dist/gcsfuse-bench.tgz',
  'temporal-address': 'temporal.example.internal:7233',
  'gcsfuse-bench-artifacts': 'gs://my-artifacts/runs',
};

beforeAll(async () => {
  if (!enabled) return;
  // Go: the toolchain module of the pinned release, repacked as go.dev's tarball (top folder go/).
  const modCache = execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
  execFileSync('go', ['version'], { env: { ...process.env, GOTOOLCHAIN: `go${GO_VERSION}` }, cwd: home });
  const goSrc = path.join(modCache, `golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-amd64`);
  mkdirSync(path.join(home, 'go-stage'), { recursive: true });
  cpSync(goSrc, path.join(home, 'go-stage/go'), { recursive: true });
  mkdirSync(mirrorDir, { recursive: true });
  execFileSync('tar', ['-C', path.join(home, 'go-stage'), '-czf', path.join(mirrorDir, `go${GO_VERSION}.linux-amd64.tar.gz`), 'go']);
  // Node: a stand-in with nodejs.org's layout (this machine's node binary).
  const nodeStage = path.join(home, 'node-stage', `node-v${NODE_VERSION}-linux-x64`);
  mkdirSync(path.join(nodeStage, 'bin'), { recursive: true });
  cpSync(process.execPath, path.join(nodeStage, 'bin/node'));
  execFileSync('tar', [
    '-C',
    path.join(home, 'node-stage'),
    '-cJf',
    path.join(mirrorDir, `node-v${NODE_VERSION}-linux-x64.tar.xz`),
    `node-v${NODE_VERSION}-linux-x64`,
  ]);
  [mirror, mirrorUrl] = await serve((req, res) => {
    const file = path.join(mirrorDir, path.basename(req.url ?? ''));
    if (!existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200).end(readFileSync(file));
  });
  [metadata, metadataUrl] = await serve((req, res) => {
    const key = (req.url ?? '').split('/').pop()!;
    if (req.headers['metadata-flavor'] !== 'Google') return void res.writeHead(403).end();
    if (!(key in METADATA)) return void res.writeHead(404).end();
    res.writeHead(200, { 'Metadata-Flavor': 'Google' }).end(METADATA[key]);
  });
  // The rootfs: debootstrap from Debian's mirror, or a copy of one made before.
  const base = process.env.GCSFUSE_BENCH_CHROOT_BASE;
  if (base) execFileSync('cp', ['-a', base, root]);
  else
    execFileSync('debootstrap', ['--variant=minbase', 'bookworm', root, 'http://deb.debian.org/debian'], {
      stdio: 'ignore',
      timeout: 900_000,
    });
  cpSync('/etc/resolv.conf', path.join(root, 'etc/resolv.conf'));
  mkdirSync(path.join(root, 'opt/test'), { recursive: true });
  cpSync(SCRIPT, path.join(root, 'opt/test/startup-script.sh'));
  // The same script with the pins of the stand-ins (and nothing else changed).
  const pinned = readFileSync(SCRIPT, 'utf8')
    .replace(/^readonly GO_SHA256=.*$/m, `readonly GO_SHA256=${sha256(path.join(mirrorDir, `go${GO_VERSION}.linux-amd64.tar.gz`))}`)
    .replace(
      /^readonly NODE_SHA256=.*$/m,
      `readonly NODE_SHA256=${sha256(path.join(mirrorDir, `node-v${NODE_VERSION}-linux-x64.tar.xz`))}`,
    );
  writeFileSync(path.join(root, 'opt/test/startup-script-standins.sh'), pinned, { mode: 0o755 });
}, 1_200_000);

afterAll(async () => {
  mirror?.close();
  metadata?.close();
  rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!enabled)('startup script in a Debian 12 chroot (GCSFUSE_BENCH_CHROOT_TEST=1)', () => {
  it("refuses the mirror's tarballs with the real pins (their SHA-256 is not go.dev's or nodejs.org's)", async () => {
    const r = await chroot(['bash', '/opt/test/startup-script.sh', 'install-tools'], { GCSFUSE_BENCH_DIST_MIRROR: mirrorUrl });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /SHA-256 of http:\/\/127\.0\.0\.1:\d+\/node-v[\d.]+-linux-x64\.tar\.xz is not the pinned [0-9a-f]{64}: not installing it/,
    );
    expect(existsSync(path.join(root, `usr/local/lib/nodejs/node-v${NODE_VERSION}-linux-x64`))).toBe(false);
  }, 900_000);

  it('installs the packages, Node and the pinned Go, and that Go builds a program without fetching a toolchain', async () => {
    const r = await chroot(['bash', '/opt/test/startup-script-standins.sh', 'install-tools'], { GCSFUSE_BENCH_DIST_MIRROR: mirrorUrl });
    expect(r.status, r.stderr).toBe(0);
    for (const tool of ['fio', 'fusermount3', 'git', 'curl'])
      expect((await chroot(['sh', '-c', `command -v ${tool}`])).status, tool).toBe(0);
    expect((await chroot(['go', 'version'])).stdout).toMatch(new RegExp(`^go version go${GO_VERSION.replace(/\./g, '\\.')} linux/amd64`));
    expect((await chroot(['readlink', '/usr/local/bin/go'])).stdout.trim()).toBe(`/usr/local/lib/go${GO_VERSION}/bin/go`);
    expect((await chroot(['node', '-e', 'console.log(process.platform)'])).stdout.trim()).toBe('linux');
    // GOTOOLCHAIN=local: the installed release itself compiles (gcsfuse v3.13.0 asks for exactly this Go).
    mkdirSync(path.join(root, 'tmp/hello'), { recursive: true });
    writeFileSync(path.join(root, 'tmp/hello/go.mod'), `module hello\n\ngo ${GO_VERSION}\n`);
    writeFileSync(
      path.join(root, 'tmp/hello/main.go'),
      'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("built by the pinned go") }\n',
    );
    const build = await chroot(['sh', '-c', 'cd /tmp/hello && HOME=/root GOTOOLCHAIN=local GOFLAGS=-mod=mod go run .']);
    expect(build.stderr).toBe('');
    expect(build.stdout.trim()).toBe('built by the pinned go');
  }, 900_000);

  it('writes agent.env (0600) from the stand-in metadata server', async () => {
    const r = await chroot(['bash', '/opt/test/startup-script.sh', 'write-env', '/etc/gcsfuse-bench/agent.env'], {
      GCSFUSE_BENCH_METADATA_URL: metadataUrl,
    });
    expect(r.status, r.stderr).toBe(0);
    const file = path.join(root, 'etc/gcsfuse-bench/agent.env');
    expect(readFileSync(file, 'utf8')).toBe(
      '# Written by gcsfuse-bench deploy/gce/startup-script.sh from checked instance metadata.\n' +
        'TEMPORAL_ADDRESS=temporal.example.internal:7233\nTEMPORAL_NAMESPACE=default\nGCSFUSE_BENCH_ARTIFACTS=gs://my-artifacts/runs\nGCSFUSE_GO_TOOLCHAIN=auto\n',
    );
    expect((await chroot(['stat', '-c', '%a %U', '/etc/gcsfuse-bench/agent.env'])).stdout.trim()).toBe('600 root');
  });
});
