import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The package version, plus the git commit this tree is at when it is a git checkout (or GCSFUSE_BENCH_COMMIT says). */
export function versionText(env: NodeJS.ProcessEnv = process.env): string {
  const pkg = JSON.parse(readFileSync(`${REPO}/package.json`, 'utf8')) as { version: string };
  const commit = env.GCSFUSE_BENCH_COMMIT || gitCommit();
  return commit ? `gcsfuse-bench ${pkg.version} (commit ${commit})` : `gcsfuse-bench ${pkg.version}`;
}

function gitCommit(): string | undefined {
  try {
    // A tarball install (the GCE startup script) has no .git: the version alone is printed then.
    return (
      execFileSync('git', ['-C', REPO, 'rev-parse', '--short=12', 'HEAD'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 5_000,
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}
