import { currentBuild, readBuild } from '../shared/build';

/** `gcsfuse-bench --version`: the build label (package version, commit, dirty tree; or GCSFUSE_BENCH_BUILD). */
export function versionText(env?: NodeJS.ProcessEnv): string {
  return `gcsfuse-bench ${(env ? readBuild({ env }) : currentBuild()).label}`;
}
