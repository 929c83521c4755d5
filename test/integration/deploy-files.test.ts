import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_TEMPORAL_ADDRESS } from '../../src/shared/temporal';
import { REPO } from '../support/harness';

/**
 * No Docker engine here: these check that docker-compose.yml, the Dockerfile and .dockerignore
 * agree with the code (entrypoints exist, flags are accepted, variables are read). The GCE files
 * (deploy/gce) are tested in deploy-gce.test.ts.
 */

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

interface Compose {
  services: Record<string, { command?: string[]; environment?: Record<string, string>; privileged?: boolean; devices?: string[]; ports?: string[]; image?: string }>;
}
const compose = parse(readFileSync(path.join(REPO, 'docker-compose.yml'), 'utf8')) as Compose;

describe('docker-compose.yml', () => {
  it('has Temporal with a database and its UI, the GCS emulator, the orchestrator and agents', () => {
    const names = Object.keys(compose.services);
    for (const s of ['postgresql', 'temporal', 'temporal-ui', 'gcs', 'orchestrator']) expect(names).toContain(s);
    expect(names.filter((n) => n.startsWith('agent-')).length).toBeGreaterThanOrEqual(2);
    expect(compose.services.temporal!.ports).toContain(`${DEFAULT_TEMPORAL_ADDRESS.split(':')[1]}:7233`);
    expect(compose.services.gcs!.image).toMatch(/fake-gcs-server:1\.56\.1$/);
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
    const lastUser = lines.slice(0, npm).filter((l) => l.startsWith('USER ')).pop();
    expect(lastUser).toBe('USER node');
  });

  it('downloads Go only through a SHA-256 check, pinned like the VM startup script', () => {
    expect(dockerfile).not.toMatch(/apt-get install[^\n]*golang-go/);
    expect(dockerfile).toMatch(/sha256sum --check --strict/);
    expect(dockerfile).not.toMatch(/curl[^\n]*\|\s*(tar|sh|bash)/);
    const version = /^ARG GO_VERSION=(.+)$/m.exec(dockerfile)![1];
    expect(startup).toContain(`readonly GO_VERSION=${version}`);
    const amd64 = /amd64\) sha=([0-9a-f]{64})/.exec(dockerfile)![1];
    expect(startup).toContain(`readonly GO_SHA256=${amd64}`);
  });
});
