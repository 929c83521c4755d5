import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGit } from '../../src/activities/git';
import { resolveGcsfuseRef } from '../../src/activities/suite';
import { InputError } from '../../src/core/errors';
import { tempDir } from '../support/harness';

/** Repository URLs come from workflow inputs: git must not run commands, read the user's config or prompt. Real git. */
describe('hardened git', () => {
  const opts = { timeoutMs: 30_000, maxBufferBytes: 1 << 20, location: { flag: '--repo' } };

  it('refuses the ext:: transport, which would run a command, as an input error', async () => {
    const dir = tempDir('git-ext');
    const marker = path.join(dir, 'ran');
    const err = await runGit(['ls-remote', `ext::sh -c touch% ${marker}`], 'git ls-remote', opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/transport 'ext' not allowed/);
    expect(existsSync(marker)).toBe(false);
  });

  it("ignores the worker user's git config (an insteadOf rewrite or an ext allow would otherwise apply)", async () => {
    const home = tempDir('git-home');
    writeFileSync(path.join(home, '.gitconfig'), '[protocol "ext"]\n\tallow = always\n');
    const before = process.env.HOME;
    process.env.HOME = home;
    try {
      const err = await runGit(['ls-remote', 'ext::sh -c true'], 'git ls-remote', opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
    } finally {
      process.env.HOME = before;
    }
  });

  it('resolves a tag of a local repository over file://, and names the flag when the repository does not exist', async () => {
    const repo = tempDir('git-repo');
    mkdirSync(repo, { recursive: true });
    const git = (...a: string[]) =>
      execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { encoding: 'utf8' }).trim();
    git('init', '-q');
    git('commit', '-q', '--allow-empty', '-m', 'one');
    git('tag', 'v3.1.0');
    const sha = git('rev-parse', 'HEAD');
    expect(await resolveGcsfuseRef(`file://${repo}`, { kind: 'tag', pattern: 'v3.*' })).toEqual({ ref: 'v3.1.0', commit: sha });
    const missing = await resolveGcsfuseRef(`file://${repo}-missing`, { kind: 'tag', pattern: 'v3.*' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(InputError);
    expect((missing as Error).message).toContain('--gcsfuse-repo');
  });
});
