import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GCSFUSE_MODULE, GoInstallGcsfuseBinaries } from '../../vm-agent/src/gcsfuse-build';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where tests keep gcsfuse builds between runs (a cold build takes minutes). */
export const GCSFUSE_BUILD_CACHE = path.join(ROOT, '.gcsfuse-bench/gcsfuse-builds');
/** The binary scripts/setup.sh builds from GCSFUSE_VERSION, with its stamp file. */
const SETUP_BIN = path.join(ROOT, '.gcsfuse-bench/bin/gcsfuse');
const SETUP_STAMP = path.join(ROOT, '.gcsfuse-bench/bin/.gcsfuse.version');

function pinned(name: string): string | undefined {
  const text = readFileSync(path.join(ROOT, 'scripts/versions.env'), 'utf8');
  return new RegExp(`^${name}=(\\S+)$`, 'm').exec(text)?.[1];
}

/** GCSFUSE_VERSION from scripts/versions.env. */
export function pinnedGcsfuseVersion(): string {
  const version = pinned('GCSFUSE_VERSION');
  if (!version) throw new Error('scripts/versions.env has no GCSFUSE_VERSION');
  return version;
}

/** The Go toolchain setup builds gcsfuse with (GCSFUSE_GO_TOOLCHAIN), so test builds reuse its build cache. */
export const GCSFUSE_GO_TOOLCHAIN = process.env.GCSFUSE_GO_TOOLCHAIN ?? pinned('GCSFUSE_GO_TOOLCHAIN');

/** The gcsfuse ref the tests mount with: GCSFUSE_TEST_REF, or the pinned version. */
export const GCSFUSE_TEST_REF = process.env.GCSFUSE_TEST_REF ?? pinnedGcsfuseVersion();

/**
 * Ready-made binaries so tests do not rebuild: GCSFUSE_BIN for the test ref when set, else the one
 * scripts/setup.sh built when its stamp says it is the test ref.
 */
export function seededGcsfuse(ref = GCSFUSE_TEST_REF): Record<string, string> {
  if (process.env.GCSFUSE_BIN) return { [ref]: process.env.GCSFUSE_BIN };
  const stamp = existsSync(SETUP_STAMP) ? readFileSync(SETUP_STAMP, 'utf8').trim() : '';
  return existsSync(SETUP_BIN) && stamp === `${GCSFUSE_MODULE}@${ref}` ? { [ref]: SETUP_BIN } : {};
}

/** Binaries for tests: seeded where possible, otherwise built once into GCSFUSE_BUILD_CACHE. */
export function testGcsfuseBinaries(): GoInstallGcsfuseBinaries {
  return new GoInstallGcsfuseBinaries({
    cacheDir: GCSFUSE_BUILD_CACHE,
    seeded: seededGcsfuse(),
    goToolchain: GCSFUSE_GO_TOOLCHAIN,
    log: (m) => console.log(`[gcsfuse-test] ${m}`),
  });
}

/** Whether this machine can mount FUSE file systems; the reason when it cannot. */
export function fuseAvailability(): { ok: true } | { ok: false; reason: string } {
  if (!existsSync('/dev/fuse')) return { ok: false, reason: '/dev/fuse does not exist' };
  try {
    closeSync(openSync('/dev/fuse', 'r+'));
  } catch (err) {
    return { ok: false, reason: `/dev/fuse cannot be opened (${(err as NodeJS.ErrnoException).code})` };
  }
  return { ok: true };
}
