import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_TEMPORAL_ADDRESS } from '../../src/shared/temporal';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs';
import { REPO } from '../support/harness';
import { run } from '../support/procs';

/**
 * No Docker engine here: these check that docker-compose.yml, the Dockerfile and .dockerignore
 * agree with the code (entrypoints exist, flags are accepted, variables are read) and with the
 * Temporal server's own config template, and run what the compose steps run where a local binary
 * can: the bucket step here against fake-gcs-server; the schema, server environment, healthcheck
 * and namespace steps in temporal-server.test.ts against the locally built server. The GCE files
 * (deploy/gce) are tested in deploy-gce.test.ts.
 */

const versions = Object.fromEntries(
  readFileSync(path.join(REPO, 'scripts/versions.env'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z0-9_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
) as Record<string, string>;

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

function helpOf(entry: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', entry, '--help'], { cwd: REPO, encoding: 'utf8' });
}

/** The long flags of a command line. */
const flagsIn = (argv: string[]) => argv.filter((a) => a.startsWith('--') && a !== '--import').map((a) => a.split('=')[0]!);

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  privileged?: boolean;
  devices?: string[];
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
interface Compose {
  services: Record<string, Service>;
}
// Merge keys (`<<: *app`) as compose applies them.
const compose = parse(readFileSync(path.join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
const svc = (name: string) => compose.services[name]!;
const serverTag = versions.TEMPORAL_SERVER_VERSION!.replace(/^v/, '');

describe('docker-compose.yml', () => {
  it('has Temporal with a database, its setup steps and UI, the GCS emulator and its buckets, the orchestrator and agents', () => {
    const names = Object.keys(compose.services);
    for (const s of [
      'postgresql',
      'temporal-schema',
      'temporal',
      'temporal-namespace',
      'temporal-ui',
      'gcs',
      'gcs-buckets',
      'orchestrator',
    ])
      expect(names).toContain(s);
    expect(names.filter((n) => n.startsWith('agent-')).length).toBeGreaterThanOrEqual(2);
    expect(svc('temporal').ports).toContain(`${DEFAULT_TEMPORAL_ADDRESS.split(':')[1]}:7233`);
    expect(svc('gcs').image).toMatch(/fake-gcs-server:1\.56\.1$/);
  });

  it('runs the upstream server image at the pinned version (not the deprecated auto-setup), after its schema step', () => {
    expect(svc('temporal').image).toBe(`temporalio/server:${serverTag}`);
    for (const s of ['temporal-schema', 'temporal-namespace']) expect(svc(s).image).toBe(`temporalio/admin-tools:${serverTag}`);
    expect(JSON.stringify(compose)).not.toMatch(/auto-setup|tctl/);
    expect(svc('temporal').depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    expect(svc('temporal-schema').depends_on).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(svc('temporal-namespace').depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(svc('postgresql').healthcheck!.test).toContain('pg_isready');
  });

  it("gives the server only variables its config template reads, and its healthcheck asks the frontend's HTTP API", () => {
    const template = path.join(
      REPO,
      `.gcsfuse-bench/share/temporal-server-${versions.TEMPORAL_SERVER_VERSION}/config_template_embedded.yaml`,
    );
    expect(existsSync(template), `${template}: run scripts/temporal-server.sh install`).toBe(true);
    const read = new Set([...readFileSync(template, 'utf8').matchAll(/env "([A-Z0-9_]+)"/g)].map((m) => m[1]!));
    const env = svc('temporal').environment!;
    for (const key of Object.keys(env)) expect(read, `temporal sets ${key}`).toContain(key);
    expect(env).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql', BIND_ON_IP: '0.0.0.0' });
    // The dynamic config file is the one mounted from the repo.
    expect(env.DYNAMIC_CONFIG_FILE_PATH).toBe('/gcsfuse-bench/temporal-dynamicconfig.yaml');
    expect(svc('temporal').volumes).toContain('./deploy/compose:/gcsfuse-bench:ro');
    expect(existsSync(path.join(REPO, 'deploy/compose/temporal-dynamicconfig.yaml'))).toBe(true);
    // Same database settings for the schema step as for the server.
    for (const key of ['POSTGRES_SEEDS', 'DB_PORT', 'POSTGRES_USER', 'POSTGRES_PWD'])
      expect(svc('temporal-schema').environment![key]).toBe(env[key]);
    expect(svc('postgresql').environment).toMatchObject({ POSTGRES_USER: env.POSTGRES_USER, POSTGRES_PASSWORD: env.POSTGRES_PWD });
    expect(svc('temporal').healthcheck!.test).toEqual(['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:7243/api/v1/system-info']);
  });

  it('runs the one-shot steps from scripts in the repo, with the variables those scripts read', () => {
    const setup = readFileSync(path.join(REPO, 'deploy/compose/temporal-setup.sh'), 'utf8');
    for (const [name, step] of [
      ['temporal-schema', 'schema'],
      ['temporal-namespace', 'namespace'],
    ] as const) {
      expect(svc(name).command).toEqual(['sh', '/gcsfuse-bench/temporal-setup.sh', step]);
      for (const key of Object.keys(svc(name).environment ?? {}))
        expect(setup, `${name} sets ${key}`).toMatch(new RegExp(`\\$\\{?${key}\\b`));
    }
    expect(svc('temporal-schema').environment!.SCHEMA_DIR).toBe('/etc/temporal/schema');
    expect(svc('gcs-buckets').command!.slice(0, 3)).toEqual(['sh', 'deploy/compose/create-buckets.sh', 'http://gcs:4443']);
  });

  it('creates the artifacts bucket the workers use, and configures them with the container-side emulator endpoint', () => {
    const gcsPort = svc('gcs').command![svc('gcs').command!.indexOf('-port') + 1];
    const buckets = svc('gcs-buckets').command!.slice(3);
    for (const name of ['orchestrator', 'agent-1', 'agent-2']) {
      const env = svc(name).environment!;
      // Inside the compose network the emulator is `gcs`, not localhost (that is the container itself).
      expect(env.GCSFUSE_BENCH_STORAGE_ENDPOINT).toBe(`http://gcs:${gcsPort}`);
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(buckets).toContain(env.GCSFUSE_BENCH_ARTIFACTS!.replace(/^gs:\/\//, '').split('/')[0]);
      expect(svc(name).depends_on).toMatchObject({
        'temporal-namespace': { condition: 'service_completed_successfully' },
        'gcs-buckets': { condition: 'service_completed_successfully' },
      });
    }
  });

  it('runs entrypoints that exist, with flags they accept, and environment the code reads', () => {
    const helps = new Map<string, string>();
    for (const [name, svc] of Object.entries(compose.services)) {
      if (!svc.command || !svc.command.some((c) => c.endsWith('.ts'))) continue;
      const entry = svc.command.find((c) => c.endsWith('.ts'))!;
      expect(existsSync(path.join(REPO, entry)), `${name}: ${entry}`).toBe(true);
      if (!helps.has(entry)) helps.set(entry, helpOf(entry));
      for (const flag of flagsIn(svc.command)) expect(helps.get(entry), `${name} passes ${flag}`).toContain(flag);
      for (const key of Object.keys(svc.environment ?? {})) expect(envVarsRead, `${name} sets ${key}`).toContain(key);
      if (name.startsWith('agent-')) {
        expect(svc.privileged).toBe(true);
        expect(svc.devices).toContain('/dev/fuse');
        // Each agent's task queue comes from its --vm name, so names must differ.
        expect(svc.command).toContain(name);
      }
    }
    expect(helps.size).toBe(2);
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
  const startup = readFileSync(path.join(REPO, 'deploy/gce/startup-script.sh'), 'utf8');

  it('keeps local installs, tool builds, history and results out of the build context', () => {
    const ignored = readFileSync(path.join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.gcsfuse-bench', '.git', 'artifacts', 'results']));
  });

  it('runs npm ci unprivileged, without dev dependencies or install scripts', () => {
    const lines = dockerfile.split('\n');
    const npm = lines.findIndex((l) => /^RUN npm ci /.test(l));
    expect(lines[npm]).toMatch(/--omit=dev/);
    expect(lines[npm]).toMatch(/--ignore-scripts/);
    const lastUser = lines
      .slice(0, npm)
      .filter((l) => l.startsWith('USER '))
      .pop();
    expect(lastUser).toBe('USER node');
  });

  it('downloads Go only through a SHA-256 check, pinned in versions.env like the VM startup script', () => {
    expect(dockerfile).not.toMatch(/apt-get install[^\n]*golang-go/);
    expect(startup).not.toMatch(/apt-get install[^\n]*golang-go/);
    expect(dockerfile).toMatch(/sha256sum --check --strict/);
    expect(dockerfile).not.toMatch(/curl[^\n]*\|\s*(tar|sh|bash)/);
    expect(/^ARG GO_VERSION=(.+)$/m.exec(dockerfile)![1]).toBe(versions.DEPLOY_GO_VERSION);
    expect(/amd64\) sha=([0-9a-f]{64})/.exec(dockerfile)![1]).toBe(versions.DEPLOY_GO_SHA256_AMD64);
    expect(/arm64\) sha=([0-9a-f]{64})/.exec(dockerfile)![1]).toBe(versions.DEPLOY_GO_SHA256_ARM64);
    expect(startup).toContain(`readonly GO_VERSION=${versions.DEPLOY_GO_VERSION}\n`);
    expect(startup).toContain(`readonly GO_SHA256=${versions.DEPLOY_GO_SHA256_AMD64}\n`);
  });

  it("pins a Go that gcsfuse's go.mod accepts as is (no toolchain switch needed)", () => {
    const modCache = execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
    const mod = path.join(modCache, 'cache/download/github.com/googlecloudplatform/gcsfuse/v3/@v', `${versions.GCSFUSE_VERSION}.mod`);
    expect(existsSync(mod), `${mod}: scripts/setup.sh builds gcsfuse ${versions.GCSFUSE_VERSION}`).toBe(true);
    const needed = /^go (\d+)\.(\d+)(?:\.(\d+))?$/m
      .exec(readFileSync(mod, 'utf8'))!
      .slice(1)
      .map((n) => Number(n ?? 0));
    const pinned = versions.DEPLOY_GO_VERSION!.split('.').map(Number);
    const cmp = pinned[0]! - needed[0]! || pinned[1]! - needed[1]! || pinned[2]! - needed[2]!;
    expect(cmp, `Go ${versions.DEPLOY_GO_VERSION} vs gcsfuse's go ${needed.join('.')}`).toBeGreaterThanOrEqual(0);
  });
});

describe('the bucket step, run for real against fake-gcs-server', () => {
  let gcs: FakeGcs;
  beforeAll(async () => {
    gcs = await startFakeGcs();
  });
  afterAll(async () => {
    await gcs?.stop();
  });

  it('creates the buckets compose names, and a second run (another `up`) finds them and succeeds', async () => {
    const buckets = svc('gcs-buckets').command!.slice(3);
    const script = path.join(REPO, svc('gcs-buckets').command![1]!);
    const first = await run('sh', [script, gcs.endpoint, ...buckets]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split('\n')).toEqual(buckets.map((b) => `create-buckets: created gs://${b}`));
    const listed = (await (await fetch(`${gcs.endpoint}/storage/v1/b?project=p`)).json()) as { items: { name: string }[] };
    expect(listed.items.map((b) => b.name).sort()).toEqual([...buckets].sort());
    const again = await run('sh', [script, gcs.endpoint, ...buckets]);
    expect(again.code).toBe(0);
    expect(again.stdout.trim().split('\n')).toEqual(buckets.map((b) => `create-buckets: gs://${b} exists`));
  });

  it('fails with the reason when the emulator refuses a name', async () => {
    const r = await run('sh', [path.join(REPO, 'deploy/compose/create-buckets.sh'), gcs.endpoint, 'Not_A_Valid_Bucket!']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/creating gs:\/\/Not_A_Valid_Bucket! at http:\/\/127\.0\.0\.1:\d+ answered HTTP 4\d\d/);
  });
});
