import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../support/harness';

/**
 * The GCE deployment files (deploy/gce): no GCE and no systemd as PID 1 here, so the unit is
 * checked with `systemd-analyze verify` and `security --offline`, the startup script's
 * metadata -> agent.env step is run for real against a stand-in metadata server, and the
 * capability handling of the fio wrapper is emulated with setpriv.
 */

const GCE = path.join(REPO, 'deploy/gce');
const SCRIPT = path.join(GCE, 'startup-script.sh');
const UNIT_NAME = 'gcsfuse-bench-agent.service';
const UNIT_FILE = path.join(GCE, UNIT_NAME);
const FIO_WRAPPER = path.join(GCE, 'fio-without-capabilities');
const unit = readFileSync(UNIT_FILE, 'utf8');

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const isRoot = process.getuid?.() === 0;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Environment variables the code reads: process.env.X and env.X in src and vm-agent. */
const envVarsRead = new Set(
  [...sources(path.join(REPO, 'src')), ...sources(path.join(REPO, 'vm-agent/src'))].flatMap((f) =>
    [...readFileSync(f, 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!),
  ),
);

/** `Key=value` settings of the unit's [Service] section, in order (a key may repeat). */
const serviceSettings = (() => {
  const section = /^\[Service\]\n([\s\S]*?)(?=^\[)/m.exec(unit)![1]!;
  return section
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const);
})();
const setting = (key: string) => serviceSettings.filter(([k]) => k === key).map(([, v]) => v);

function helpOf(entry: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', entry, '--help'], { cwd: REPO, encoding: 'utf8' });
}

describe('systemd unit', () => {
  it('starts the agent entrypoint with flags it accepts, named after the VM', () => {
    const exec = setting('ExecStart')[0]!.split(/\s+/);
    const toRepo = (p: string) => p.replace('/opt/gcsfuse-bench/', `${REPO}/`);
    const entry = exec.find((a) => a.endsWith('main.ts'))!;
    expect(existsSync(toRepo(entry))).toBe(true);
    expect(existsSync(toRepo(exec[exec.indexOf('--import') + 1]!))).toBe(true);
    expect(exec.slice(exec.indexOf('--vm'), exec.indexOf('--vm') + 2)).toEqual(['--vm', '%H']);
    const help = helpOf(path.relative(REPO, toRepo(entry)));
    for (const flag of exec.filter((a) => a.startsWith('--') && a !== '--import')) expect(help).toContain(flag);
    // The work dir and HOME live in the state directory the unit may write.
    const workDir = exec[exec.indexOf('--work-dir') + 1]!;
    expect(workDir.startsWith('/var/lib/gcsfuse-bench/')).toBe(true);
    expect(setting('StateDirectory')[0]!.split(' ')).toEqual(
      expect.arrayContaining(['gcsfuse-bench', 'gcsfuse-bench/work', 'gcsfuse-bench/home']),
    );
    expect(setting('Restart')).toEqual(['always']);
  });

  it('sets only environment variables the code (or go, for HOME) reads, and FIO_BIN is the capability-dropping wrapper', () => {
    const env = Object.fromEntries(setting('Environment').map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    for (const key of Object.keys(env)) if (key !== 'HOME') expect(envVarsRead, key).toContain(key);
    expect(env.HOME).toBe('/var/lib/gcsfuse-bench/home');
    expect(env.FIO_BIN).toBe('/opt/gcsfuse-bench/deploy/gce/fio-without-capabilities');
    expect(statSync(FIO_WRAPPER).mode & 0o111, 'wrapper is executable (git keeps the mode)').toBe(0o111);
    expect(setting('EnvironmentFile')).toEqual(['/etc/gcsfuse-bench/agent.env']);
  });

  it('is sandboxed as far as FUSE mounts and cache dropping allow', () => {
    const expected: Record<string, string> = {
      User: 'root',
      CapabilityBoundingSet: 'CAP_SYS_ADMIN',
      AmbientCapabilities: 'CAP_SYS_ADMIN',
      SecureBits: 'noroot noroot-locked',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ReadWritePaths: '/proc/sys/vm/drop_caches',
      InaccessiblePaths: '/etc/gcsfuse-bench',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateMounts: 'yes',
      UMask: '0077',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectKernelLogs: 'yes',
      ProtectClock: 'yes',
      ProtectControlGroups: 'yes',
      ProtectHostname: 'yes',
      ProtectProc: 'invisible',
      DevicePolicy: 'closed',
      DeviceAllow: '/dev/fuse rw',
      SystemCallFilter: '@system-service @mount',
      SystemCallErrorNumber: 'EPERM',
      SystemCallArchitectures: 'native',
      RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6 AF_NETLINK',
      RestrictNamespaces: 'yes',
      RestrictRealtime: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
    };
    for (const [key, value] of Object.entries(expected)) expect(setting(key), key).toEqual([value]);
    // Node's JIT needs memory it wrote to become executable: V8 aborts under W^X.
    expect(setting('MemoryDenyWriteExecute')).toEqual([]);
    // ProcSubset=pid would hide /proc/sys/vm/drop_caches and /proc/meminfo.
    expect(setting('ProcSubset')).toEqual([]);
  });

  describe.skipIf(!has('systemd-analyze'))('systemd-analyze (Debian package systemd; scripts/setup.sh installs it)', () => {
    let root: string;
    beforeAll(() => {
      // An alternate root: the stock units (for the targets the unit's dependencies pull in),
      // our unit, and stand-ins for the executables ExecStart names (verify checks they exist).
      root = tempDir('unit-root');
      cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
      mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
      cpSync(UNIT_FILE, path.join(root, 'etc/systemd/system', UNIT_NAME));
      const node = setting('ExecStart')[0]!.split(/\s+/)[0]!;
      mkdirSync(path.join(root, path.dirname(node)), { recursive: true });
      writeFileSync(path.join(root, node), '#!/bin/sh\n', { mode: 0o755 });
    });

    it('verify: no error and no warning (unknown keys and bad values are only warnings)', () => {
      const res = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '--man=no', UNIT_NAME], { encoding: 'utf8', timeout: 60_000 });
      expect(res.stderr).toBe('');
      expect(res.status).toBe(0);
    });

    it('verify catches a broken unit (the check is not vacuous)', () => {
      const broken = path.join(root, 'etc/systemd/system', 'broken-agent.service');
      writeFileSync(broken, unit.replace('ProtectSystem=strict', 'ProtectSystem=stricter'));
      const res = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '--man=no', 'broken-agent.service'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(res.stderr).toMatch(/ProtectSystem|protect system/i);
    });

    it('security --offline: exposure at most 3.0 ("OK"; the unhardened unit scored 9.6 "UNSAFE")', () => {
      const out = execFileSync('systemd-analyze', ['security', '--offline=true', UNIT_FILE], { encoding: 'utf8', timeout: 60_000 });
      const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(out)![1]);
      expect(score).toBeLessThanOrEqual(3.0);
    });
  });
});

describe('startup script: static checks', () => {
  it('is valid bash, and so is the fio wrapper (sh)', () => {
    execFileSync('bash', ['-n', SCRIPT]);
    execFileSync('sh', ['-n', FIO_WRAPPER]);
  });

  it.skipIf(!has('shellcheck'))('passes shellcheck (Debian package shellcheck; scripts/setup.sh installs it)', () => {
    const res = spawnSync('shellcheck', [SCRIPT, FIO_WRAPPER], { encoding: 'utf8' });
    expect(res.stdout + res.stderr).toBe('');
    expect(res.status).toBe(0);
  });

  it('pins Node >= 20.19 and Go >= 1.21 with SHA-256 checks, and downloads nothing unverified', () => {
    const text = readFileSync(SCRIPT, 'utf8');
    const node = /^readonly NODE_VERSION=(\d+)\.(\d+)\.(\d+)$/m.exec(text)!;
    expect(Number(node[1]) > 20 || (Number(node[1]) === 20 && Number(node[2]) >= 19)).toBe(true);
    expect(text).toMatch(/^readonly NODE_SHA256=[0-9a-f]{64}$/m);
    const go = /^readonly GO_VERSION=1\.(\d+)\.\d+$/m.exec(text)!;
    expect(Number(go[1])).toBeGreaterThanOrEqual(21);
    expect(text).toMatch(/^readonly GO_SHA256=[0-9a-f]{64}$/m);
    // Two curls: the metadata server (no proxy), and download_verified (https only, then sha256sum -c).
    const curls = text.split('\n').filter((l) => /(^|[\s(])curl -/.test(l) && !l.trim().startsWith('#'));
    expect(curls.length).toBe(2);
    expect(curls[0]).toMatch(/curl -sS --noproxy '\*'/);
    expect(curls[1]).toMatch(/curl -fsSL --proto "\$proto"/);
    const verified = /^download_verified\(\) \{\n([\s\S]*?)^\}/m.exec(text)![1]!;
    // https only, unless a mirror (GCSFUSE_BENCH_DIST_MIRROR, e.g. on loopback) was set; the SHA-256 check applies either way.
    expect(verified).toMatch(/^ {2}local [^\n]*proto='=https'$/m);
    expect(verified).toMatch(/^ {2}\[ -z "\$DIST_MIRROR" \] \|\| proto='=http,https'$/m);
    expect(verified).toMatch(/curl[\s\S]*sha256sum --check --strict/);
    expect(text.match(/download_verified "/g)?.length).toBe(1); // install_tarball, used for Node and Go
    expect(text).not.toMatch(/curl[^\n]*\|\s*(tar|sh|bash)/);
    // npm ci never as root: only through as_build_user, without install scripts.
    const npm = text.split('\n').filter((l) => /\bnpm ci --/.test(l) && !l.trim().startsWith('#'));
    expect(npm.length).toBe(1);
    expect(npm[0]).toMatch(/as_build_user .* npm ci --omit=dev --ignore-scripts/);
    // useradd refuses a GECOS comment with ':' (found running install_source as root with stand-ins).
    expect(/--comment '([^']*)'/.exec(text)![1]).not.toContain(':');
  });

  it('--ignore-scripts is safe: the only production packages with install scripts are the three the script explains', () => {
    const lock = JSON.parse(readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean; dev?: boolean }>;
    };
    const withScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript && !p.dev)
      .map(([name]) => name.replace(/^.*node_modules\//, ''))
      .sort();
    expect(withScripts).toEqual(['@swc/core', 'esbuild', 'protobufjs']);
  });
});

// ---------------------------------------------------------------------------------------------
// The metadata -> agent.env step, run for real
// ---------------------------------------------------------------------------------------------

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('startup script: metadata -> agent.env', () => {
  const PREFIX = '/computeMetadata/v1/instance/attributes/';
  let attrs: Record<string, string | Buffer> = {};
  let forbid = false;
  const requests: { path: string; flavor: string | undefined }[] = [];
  let server: http.Server;
  let url: string;
  let home: string;
  let fakeBin: string;

  beforeAll(async () => {
    // Stand-in for the GCE metadata server: attributes by key, and the Metadata-Flavor check.
    server = http.createServer((req, res) => {
      const flavor = req.headers['metadata-flavor'] as string | undefined;
      requests.push({ path: req.url ?? '', flavor });
      if (flavor !== 'Google' || forbid) {
        res.writeHead(403).end('Missing Metadata-Flavor:Google header.');
        return;
      }
      const key = req.url?.startsWith(PREFIX) ? decodeURIComponent(req.url.slice(PREFIX.length)) : undefined;
      const value = key !== undefined ? attrs[key] : undefined;
      if (value === undefined) {
        res.writeHead(404, { 'Content-Type': 'text/html' }).end('404 page not found');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/text', 'Metadata-Flavor': 'Google' }).end(value);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PREFIX.slice(0, -1)}`;
    home = tempDir('startup');
    // Stand-in for gcloud: prints the secret in $FAKE_SECRET_FILE for exactly the expected call.
    fakeBin = path.join(home, 'bin');
    mkdirSync(fakeBin);
    writeFileSync(
      path.join(fakeBin, 'gcloud'),
      '#!/bin/sh\n[ "$1 $2 $3 $4" = "secrets versions access latest" ] && [ "$5" = "--secret=$FAKE_SECRET_ID" ] || { echo "fake gcloud: unexpected call: $*" >&2; exit 2; }\ncat "$FAKE_SECRET_FILE"\n',
      { mode: 0o755 },
    );
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const GOOD = {
    'gcsfuse-bench-source': 'gs://my-artifacts/dist/gcsfuse-bench.tgz',
    'temporal-address': 'temporal.bench.internal:7233',
    'gcsfuse-bench-artifacts': 'gs://my-artifacts/runs/2024',
  };
  const API_KEY = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJlLXBhcnQtX3dpdGgtLWRhc2hlcw';

  let n = 0;
  /** Runs `startup-script.sh write-env <dir>/agent.env` (the script's own code) with these attributes. */
  async function writeEnv(
    values: Record<string, string | Buffer>,
    secret?: { id: string; value: string | Buffer },
    before?: string,
  ): Promise<RunResult & { dir: string; file: string }> {
    attrs = values;
    const dir = path.join(home, `run-${++n}`);
    mkdirSync(dir);
    const file = path.join(dir, 'agent.env');
    if (before !== undefined) writeFileSync(file, before, { mode: 0o600 });
    const secretFile = path.join(home, `secret-${n}`);
    if (secret) writeFileSync(secretFile, secret.value);
    const res = await new Promise<RunResult>((resolve) => {
      execFile(
        'bash',
        [SCRIPT, 'write-env', file],
        {
          env: {
            PATH: `${fakeBin}:${process.env.PATH}`,
            GCSFUSE_BENCH_METADATA_URL: url,
            FAKE_SECRET_ID: secret?.id ?? '',
            FAKE_SECRET_FILE: secretFile,
          },
          encoding: 'utf8',
          timeout: 60_000,
        },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
      );
    });
    return { ...res, dir, file };
  }

  it('writes exactly the expected agent.env (0600) from good values, and only agent.env', async () => {
    const r = await writeEnv(
      { ...GOOD, 'temporal-namespace': 'bench-ns.a1b2c', 'temporal-api-key-secret': 'temporal-api-key' },
      { id: 'temporal-api-key', value: `${API_KEY}\n` },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(r.file, 'utf8')).toBe(
      [
        '# Written by gcsfuse-bench deploy/gce/startup-script.sh from checked instance metadata.',
        'TEMPORAL_ADDRESS=temporal.bench.internal:7233',
        'TEMPORAL_NAMESPACE=bench-ns.a1b2c',
        'GCSFUSE_BENCH_ARTIFACTS=gs://my-artifacts/runs/2024',
        'GCSFUSE_GO_TOOLCHAIN=auto',
        `TEMPORAL_API_KEY=${API_KEY}`,
        '',
      ].join('\n'),
    );
    expect(statSync(r.file).mode & 0o777).toBe(0o600);
    expect(readdirSync(r.dir)).toEqual(['agent.env']);
    // Every request carried the header the real metadata server insists on.
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((q) => q.flavor === 'Google')).toBe(true);
  });

  it('defaults the namespace, writes no API key without a secret, takes an IPv6 address, replaces an old file', async () => {
    const r = await writeEnv(
      { ...GOOD, 'temporal-address': '[fd00::7]:7233', 'gcsfuse-bench-artifacts': 'gs://my-artifacts' },
      undefined,
      'OLD=1\n',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(r.file, 'utf8')).toBe(
      [
        '# Written by gcsfuse-bench deploy/gce/startup-script.sh from checked instance metadata.',
        'TEMPORAL_ADDRESS=[fd00::7]:7233',
        'TEMPORAL_NAMESPACE=default',
        'GCSFUSE_BENCH_ARTIFACTS=gs://my-artifacts',
        'GCSFUSE_GO_TOOLCHAIN=auto',
        '',
      ].join('\n'),
    );
    expect(readdirSync(r.dir)).toEqual(['agent.env']);
  });

  it('writes only variables the agent reads, and every variable the agent needs from it', async () => {
    const r = await writeEnv({ ...GOOD, 'temporal-api-key-secret': 'k' }, { id: 'k', value: API_KEY });
    expect(r.code).toBe(0);
    const written = readFileSync(r.file, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.slice(0, l.indexOf('=')));
    expect(written.sort()).toEqual([
      'GCSFUSE_BENCH_ARTIFACTS',
      'GCSFUSE_GO_TOOLCHAIN',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_API_KEY',
      'TEMPORAL_NAMESPACE',
    ]);
    for (const v of written) expect(envVarsRead, v).toContain(v);
    // main.ts documents these variables for the agent's options.
    const main = readFileSync(path.join(REPO, 'vm-agent/src/main.ts'), 'utf8');
    for (const v of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'GCSFUSE_BENCH_ARTIFACTS', 'GCSFUSE_GO_TOOLCHAIN'])
      expect(main).toContain(v);
  });

  const PREVIOUS = 'TEMPORAL_ADDRESS=previous:7233\n';
  const hostile: [string, Record<string, string | Buffer>, RegExp, { id: string; value: string | Buffer }?][] = [
    [
      'a newline plus EVIL=1 in the address',
      { ...GOOD, 'temporal-address': 'temporal:7233\nEVIL=1' },
      /temporal-address refused: .*newline/,
    ],
    [
      'a trailing newline (would survive `$(...)` trimming silently)',
      { ...GOOD, 'temporal-address': 'temporal:7233\n' },
      /temporal-address refused: .*newline/,
    ],
    [
      'a carriage return',
      { ...GOOD, 'gcsfuse-bench-artifacts': 'gs://my-artifacts\rEVIL=1' },
      /gcsfuse-bench-artifacts refused: .*control character/,
    ],
    ['double quotes', { ...GOOD, 'gcsfuse-bench-artifacts': 'gs://my-artifacts" EVIL="1' }, /gcsfuse-bench-artifacts refused: .*quote/],
    ['single quotes', { ...GOOD, 'temporal-namespace': "ns'EVIL=1'" }, /temporal-namespace refused: .*quote/],
    ['a command substitution', { ...GOOD, 'temporal-namespace': '$(touch PWNED)' }, /temporal-namespace refused: .*'\$'/],
    ['backticks', { ...GOOD, 'temporal-namespace': '`touch PWNED`' }, /temporal-namespace refused: .*backtick/],
    ['a NUL byte', { ...GOOD, 'temporal-address': Buffer.from('temporal:7233\0EVIL=1') }, /temporal-address refused: .*NUL/],
    ['non-ASCII', { ...GOOD, 'temporal-namespace': 'naméspace' }, /temporal-namespace refused: .*non-ASCII/],
    ['a newline in the secret name', { ...GOOD, 'temporal-api-key-secret': 'key\nEVIL=1' }, /temporal-api-key-secret refused: .*newline/],
    [
      'a newline plus EVIL=1 in the API key',
      { ...GOOD, 'temporal-api-key-secret': 'k' },
      /secret k refused: .*newline/,
      { id: 'k', value: `${API_KEY}\nEVIL=1\n` },
    ],
    ['a quote in the API key', { ...GOOD, 'temporal-api-key-secret': 'k' }, /secret k refused: .*quote/, { id: 'k', value: `${API_KEY}"` }],
    [
      'a source that is not a gs:// tarball',
      { ...GOOD, 'gcsfuse-bench-source': 'https://evil.example/x.tgz' },
      /gcsfuse-bench-source refused: not a valid gs-tarball/,
    ],
    ['.. in the artifacts prefix', { ...GOOD, 'gcsfuse-bench-artifacts': 'gs://my-artifacts/../other' }, /gcsfuse-bench-artifacts refused/],
    ['a port out of range', { ...GOOD, 'temporal-address': 'temporal:70000' }, /temporal-address refused: not a valid address/],
    ['an address without a port', { ...GOOD, 'temporal-address': 'temporal' }, /temporal-address refused: not a valid address/],
    ['a bad source checksum', { ...GOOD, 'gcsfuse-bench-source-sha256': 'abc' }, /gcsfuse-bench-source-sha256 refused/],
    [
      'a missing required value',
      { 'gcsfuse-bench-source': GOOD['gcsfuse-bench-source'], 'temporal-address': GOOD['temporal-address'] },
      /gcsfuse-bench-artifacts is missing/,
    ],
  ];

  it.each(hostile)('refuses %s with a clear message and writes nothing', async (_name, values, message, secret) => {
    const r = await writeEnv(values, secret, PREVIOUS);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^gcsfuse-bench startup: /);
    expect(r.stderr).toMatch(message);
    // The value is not echoed (it may be hostile or a secret), nothing ran, nothing was written.
    expect(r.stderr).not.toContain('EVIL');
    expect(r.stderr).not.toContain(API_KEY);
    expect(existsSync(path.join(REPO, 'PWNED')) || existsSync(path.join(r.dir, 'PWNED'))).toBe(false);
    expect(readFileSync(r.file, 'utf8')).toBe(PREVIOUS);
    expect(readdirSync(r.dir)).toEqual(['agent.env']);
  });

  it('refuses and writes nothing when there was no agent.env before either', async () => {
    const r = await writeEnv({ ...GOOD, 'temporal-address': 'temporal:7233\nEVIL=1' });
    expect(r.code).not.toBe(0);
    expect(readdirSync(r.dir)).toEqual([]);
  });

  it('fails with the HTTP status when the metadata server refuses, and writes nothing', async () => {
    forbid = true;
    try {
      const r = await writeEnv(GOOD, undefined, PREVIOUS);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/metadata server answered HTTP 403 for attribute gcsfuse-bench-source/);
      expect(readFileSync(r.file, 'utf8')).toBe(PREVIOUS);
    } finally {
      forbid = false;
    }
  });

  it('treats a URL that serves no attributes as missing required values', async () => {
    const saved = url;
    url = url.replace('/computeMetadata', '/nowhere');
    try {
      const r = await writeEnv(GOOD);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/gcsfuse-bench-source is missing/);
    } finally {
      url = saved;
    }
  });
});

// ---------------------------------------------------------------------------------------------
// fio without capabilities
// ---------------------------------------------------------------------------------------------

describe.skipIf(!isRoot || !has('setpriv'))("fio wrapper under the unit's capability settings (emulated with setpriv)", () => {
  const capsOf = (status: string) =>
    Object.fromEntries([...status.matchAll(/^(Cap\w+):\s+([0-9a-f]+)$/gm)].map((m) => [m[1]!, BigInt(`0x${m[2]}`)]));
  const CAP_SYS_ADMIN = 1n << 21n;
  // What the unit sets up for the agent: uid 0, SecureBits=noroot, CAP_SYS_ADMIN bounding + ambient, NoNewPrivileges.
  const asAgent = [
    '--securebits=+noroot,+noroot_locked',
    '--bounding-set=-all,+sys_admin',
    '--inh-caps=-all,+sys_admin',
    '--ambient-caps=+sys_admin',
    '--no-new-privs',
    '--',
  ];

  it('the agent keeps CAP_SYS_ADMIN; fio started through FIO_BIN has no capability at all', () => {
    const dir = tempDir('fio-wrapper');
    // The wrapper as installed, with fio replaced by a program that reports its own capabilities.
    const fakeFio = path.join(dir, 'fio');
    writeFileSync(fakeFio, '#!/bin/sh\ngrep ^Cap /proc/self/status\n', { mode: 0o755 });
    const wrapper = path.join(dir, 'fio-without-capabilities');
    writeFileSync(wrapper, readFileSync(FIO_WRAPPER, 'utf8').replace(' /usr/bin/fio ', ` ${fakeFio} `));
    chmodSync(wrapper, 0o755);
    const agent = capsOf(execFileSync('setpriv', [...asAgent, 'grep', '^Cap', '/proc/self/status'], { encoding: 'utf8' }));
    expect(agent.CapEff).toBe(CAP_SYS_ADMIN);
    expect(agent.CapAmb).toBe(CAP_SYS_ADMIN);
    // As the agent runs fio: setpriv --pdeathsig ... -- $FIO_BIN args.
    const fio = capsOf(
      execFileSync('setpriv', [...asAgent, 'setpriv', '--pdeathsig', 'SIGKILL', '--', wrapper, '--version'], { encoding: 'utf8' }),
    );
    expect(fio.CapEff).toBe(0n);
    expect(fio.CapPrm).toBe(0n);
    expect(fio.CapAmb).toBe(0n);
    expect(fio.CapInh).toBe(0n);
  });

  it.skipIf(!existsSync('/usr/bin/fio'))('runs the real fio', () => {
    const out = execFileSync('setpriv', [...asAgent, FIO_WRAPPER, '--version'], { encoding: 'utf8' });
    expect(out).toMatch(/^fio-\d/);
  });
});
