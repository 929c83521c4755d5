import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildsSectionText, entriesByBuild } from '../../src/client/commands/fleet';
import {
  buildLabel,
  buildsOfPollers,
  checkBuildLabel,
  fleetBuilds,
  fleetBuildsText,
  parseWorkerIdentity,
  readBuild,
  sourceHashOf,
  UNKNOWN_BUILD,
  workerIdentity,
} from '../../src/shared/build';
import type { EntryOutcome } from '../../src/workflows/types';
import { tempDir } from '../support/harness';

/** A small checkout: package.json, agent and orchestrator sources, and a doc outside the code paths. */
function tree(): string {
  const dir = tempDir('build');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'x', version: '1.2.3' }));
  mkdirSync(path.join(dir, 'src/shared'), { recursive: true });
  mkdirSync(path.join(dir, 'vm-agent/src'), { recursive: true });
  writeFileSync(path.join(dir, 'src/shared/a.ts'), 'export const a = 1;\n');
  writeFileSync(path.join(dir, 'vm-agent/src/main.ts'), 'export const m = 1;\n');
  writeFileSync(path.join(dir, 'README.md'), 'docs\n');
  return dir;
}

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-C', dir, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();

describe('build labels', () => {
  it('name the version with the commit, a dirty tree with its source hash, no git with the source hash', () => {
    expect(buildLabel({ version: '1.2.3', commit: 'abc123def456' })).toBe('1.2.3+abc123def456');
    expect(buildLabel({ version: '1.2.3', commit: 'abc123def456', dirty: false, sourceHash: 'ff' })).toBe('1.2.3+abc123def456');
    expect(buildLabel({ version: '1.2.3', commit: 'abc123def456', dirty: true, sourceHash: '0123456789ab' })).toBe(
      '1.2.3+abc123def456.dirty-0123456789ab',
    );
    expect(buildLabel({ version: '1.2.3', sourceHash: '0123456789ab' })).toBe('1.2.3+src-0123456789ab');
    expect(buildLabel({ version: '1.2.3' })).toBe('1.2.3');
    expect(buildLabel({ version: '1.2.3', commit: 'abc', override: 'canary-7' })).toBe('canary-7');
  });

  it('refuse a GCSFUSE_BENCH_BUILD that cannot sit in a worker identity', () => {
    expect(checkBuildLabel('2.0.0+deadbeef')).toBe('2.0.0+deadbeef');
    for (const bad of ['two words', 'tab\there', 'new\nline', 'x'.repeat(129), '']) {
      expect(() => checkBuildLabel(bad), JSON.stringify(bad)).toThrow(/GCSFUSE_BENCH_BUILD=.*one word of printable characters/);
    }
    expect(() => readBuild({ env: { GCSFUSE_BENCH_BUILD: 'a b' }, repo: tree() })).toThrow(/one word/);
  });
});

describe('readBuild on a real checkout and a tarball-like tree', () => {
  it('without git: the version and a hash of the sources, which follows their content', () => {
    const dir = tree();
    const b = readBuild({ env: {}, repo: dir });
    expect(b).toMatchObject({ version: '1.2.3', commit: undefined, dirty: undefined });
    expect(b.label).toBe(`1.2.3+src-${sourceHashOf(dir)}`);
    expect(b.label).toMatch(/^1\.2\.3\+src-[0-9a-f]{12}$/);
    writeFileSync(path.join(dir, 'README.md'), 'other docs\n');
    expect(readBuild({ env: {}, repo: dir }).label).toBe(b.label); // not code
    writeFileSync(path.join(dir, 'vm-agent/src/main.ts'), 'export const m = 2;\n');
    expect(readBuild({ env: {}, repo: dir }).label).not.toBe(b.label);
  });

  it('in a git checkout: the commit; with changed code, dirty and the hash of that code', () => {
    const dir = tree();
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-qm', 'one');
    const commit = git(dir, 'rev-parse', '--short=12', 'HEAD');
    expect(readBuild({ env: {}, repo: dir })).toMatchObject({ commit, dirty: false, label: `1.2.3+${commit}` });
    writeFileSync(path.join(dir, 'README.md'), 'edited docs\n');
    writeFileSync(path.join(dir, 'src/new-untracked.ts'), 'export {};\n');
    expect(readBuild({ env: {}, repo: dir }).label).toBe(`1.2.3+${commit}`); // neither is a change to tracked code
    writeFileSync(path.join(dir, 'src/shared/a.ts'), 'export const a = 2;\n');
    const dirty = readBuild({ env: {}, repo: dir });
    expect(dirty).toMatchObject({ commit, dirty: true });
    expect(dirty.label).toBe(`1.2.3+${commit}.dirty-${sourceHashOf(dir)}`);
    writeFileSync(path.join(dir, 'src/shared/a.ts'), 'export const a = 3;\n');
    expect(readBuild({ env: {}, repo: dir }).label).not.toBe(dirty.label); // two different edits, two builds
  });

  it('GCSFUSE_BENCH_BUILD wins; GCSFUSE_BENCH_COMMIT names the commit without asking git', () => {
    const dir = tree();
    expect(readBuild({ env: { GCSFUSE_BENCH_BUILD: ' 9.9.9+canary ' }, repo: dir })).toMatchObject({
      override: '9.9.9+canary',
      label: '9.9.9+canary',
    });
    const asked: string[][] = [];
    const b = readBuild({ env: { GCSFUSE_BENCH_COMMIT: 'feedface' }, repo: dir, git: (args) => (asked.push(args), undefined) });
    expect(b.label).toBe('1.2.3+feedface');
    expect(asked).toEqual([]);
  });
});

describe('worker identities', () => {
  it('carry role, build, VM and pid@host, and parse back', () => {
    const agent = workerIdentity('agent', '0.1.0+abc', { vm: 'vm-1', pid: 42, host: 'h' });
    expect(agent).toBe('gcsfuse-bench-agent/0.1.0+abc vm-1 42@h');
    expect(parseWorkerIdentity(agent)).toEqual({ role: 'agent', build: '0.1.0+abc', vm: 'vm-1', where: '42@h' });
    const orch = workerIdentity('orchestrator', '0.1.0+abc.dirty-12', { pid: 7, host: 'h' });
    expect(parseWorkerIdentity(orch)).toEqual({ role: 'orchestrator', build: '0.1.0+abc.dirty-12', where: '7@h' });
    expect(parseWorkerIdentity('4242@old-host')).toBeUndefined(); // the SDK's default: an agent older than this
  });
});

describe('fleet builds', () => {
  const id = (build: string, vm: string) => workerIdentity('agent', build, { vm, pid: 1, host: 'h' });

  it("list a queue's builds once each, the latest poll first, and an old identity as unknown", () => {
    expect(
      buildsOfPollers([
        { identity: id('A', 'vm-1'), lastAccessMs: 100 },
        { identity: id('B', 'vm-1'), lastAccessMs: 300 },
        { identity: id('A', 'vm-1'), lastAccessMs: 200 },
        { identity: '9@host', lastAccessMs: null },
      ]),
    ).toEqual(['B', 'A', UNKNOWN_BUILD]);
  });

  it('one build everywhere is not mixed', () => {
    const f = fleetBuilds(
      [
        { vm: 'vm-1', builds: ['A'] },
        { vm: 'vm-2', builds: ['A'] },
      ],
      ['A'],
    );
    expect(f).toMatchObject({ mixed: false, agentBuilds: [{ build: 'A', vms: ['vm-1', 'vm-2'] }] });
    expect(fleetBuildsText(f)).toBe('orchestrator build: A\nagent build A: vm-1, vm-2');
  });

  it('two agent builds, or agents on another build than the orchestrator, are a mixed fleet', () => {
    const f = fleetBuilds(
      [
        { vm: 'vm-1', builds: ['A'] },
        { vm: 'vm-2', builds: ['B'] },
        { vm: 'vm-3', builds: ['A'] },
        { vm: 'vm-4', builds: [] },
      ],
      ['A'],
    );
    expect(f.mixed).toBe(true);
    expect(fleetBuildsText(f)).toBe(
      [
        'orchestrator build: A',
        'agent build A: vm-1, vm-3',
        'agent build B: vm-2',
        'no agent polling: vm-4',
        'MIXED FLEET: 2 builds (A, B)',
      ].join('\n'),
    );
    expect(fleetBuilds([{ vm: 'vm-1', builds: ['B'] }], ['A']).mixed).toBe(true);
    expect(fleetBuildsText(fleetBuilds([], []))).toBe('orchestrator build: no orchestrator worker polling');
  });

  it('status counts the entries each build ran, and calls a benchmark run on two builds mixed even when the fleet is one now', () => {
    const o = (matrixId: number, agentBuild?: string): EntryOutcome =>
      ({ matrixId, vm: 'vm', status: 'passed', iterationsDone: 1, durationMs: 1, reused: false, agentBuild }) as EntryOutcome;
    const ran = entriesByBuild([o(1, 'A'), o(2, 'B'), o(3, 'A'), o(4)]);
    expect(ran).toEqual([
      { build: 'A', entries: 2 },
      { build: 'B', entries: 1 },
    ]);
    const now = fleetBuilds([{ vm: 'vm', builds: ['A'] }], ['A']);
    expect(buildsSectionText(now, ran)).toBe(
      "orchestrator build: A\nagent build A: vm\nentries run by build: A (2), B (1)\nMIXED FLEET: this benchmark's entries ran on 2 agent builds",
    );
    expect(buildsSectionText(now, [{ build: 'A', entries: 2 }])).toBe(
      'orchestrator build: A\nagent build A: vm\nentries run by build: A (2)',
    );
  });
});
