import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_TEMPORAL_ADDRESS } from '../../src/shared/temporal';
import { REPO } from '../support/harness';

/**
 * No Docker engine or GCE here: these check that docker-compose.yml and the VM startup
 * files agree with the code (entrypoints exist, flags are accepted, variables are read).
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

describe('GCE startup script and systemd unit', () => {
  const unit = readFileSync(path.join(REPO, 'deploy/gce/gcsfuse-bench-agent.service'), 'utf8');
  const script = path.join(REPO, 'deploy/gce/startup-script.sh');

  it('the unit starts the agent entrypoint with flags it accepts, named after the VM', () => {
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(/\s+/);
    const toRepo = (p: string) => p.replace('/opt/gcsfuse-bench/', `${REPO}/`);
    const entry = exec.find((a) => a.endsWith('main.ts'))!;
    expect(existsSync(toRepo(entry))).toBe(true);
    expect(existsSync(toRepo(exec[exec.indexOf('--import') + 1]!))).toBe(true);
    expect(exec.slice(exec.indexOf('--vm'), exec.indexOf('--vm') + 2)).toEqual(['--vm', '%H']);
    const help = helpOf(path.relative(REPO, toRepo(entry)));
    for (const flag of flagsIn(exec)) expect(help).toContain(flag);
    expect(unit).toMatch(/^Restart=always$/m);
  });

  it('the script is valid bash and writes only variables the agent reads', () => {
    execFileSync('bash', ['-n', script]);
    const text = readFileSync(script, 'utf8');
    const envBlock = /cat > \/etc\/gcsfuse-bench\/agent\.env <<ENV\n([\s\S]*?)\nENV/.exec(text)![1]!;
    const written = [...envBlock.matchAll(/^(?:\$\{API_KEY:\+)?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!);
    expect(written).toEqual(expect.arrayContaining(['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'GCSFUSE_BENCH_ARTIFACTS', 'TEMPORAL_API_KEY']));
    for (const v of written) expect(envVarsRead, v).toContain(v);
  });
});
