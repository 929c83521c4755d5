import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../src/core/errors';
import { isInside, pathsOfJob, type FioOption } from '../../src/core/fio-policy';

/**
 * Paths on the VM, checked before any file operation: lexically first (no '..' out of the
 * root), then by their real location, since a FUSE mount can hold symlinks (gcsfuse shows
 * objects with a symlink target as symlinks) that point anywhere on the VM.
 */

/** Creates `dir` only after checking it lies inside `root`, then checks where it really is. */
export async function makeDirInside(root: string, dir: string): Promise<void> {
  if (!isInside(root, dir)) throw new InputError(`${dir} is outside ${root}`);
  await fs.mkdir(dir, { recursive: true });
  const [realRoot, realDir] = await Promise.all([fs.realpath(root), fs.realpath(dir)]);
  if (!isInside(realRoot, realDir)) throw new InputError(`${dir} leads outside ${root} (to ${realDir}): a symlink in the test data?`);
}

/** The deepest part of `p` that exists, resolved through symlinks, with the rest appended. */
async function realLocation(p: string): Promise<string> {
  let existing = p;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(await fs.realpath(existing), ...rest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || existing === path.dirname(existing)) throw err;
      rest.unshift(path.basename(existing));
      existing = path.dirname(existing);
    }
  }
}

/** Every path of a job, resolved through symlinks, must stay inside the VM's test-data folder. */
export async function checkRealPathsInside(
  root: string,
  options: readonly FioOption[],
  cwd: string,
  allow?: ReadonlySet<string>,
): Promise<void> {
  const realRoot = await fs.realpath(root);
  for (const { option, path: p } of pathsOfJob(options, cwd, allow)) {
    const real = await realLocation(p);
    if (!isInside(realRoot, real)) {
      throw new InputError(
        `option "${option.name}=${option.value ?? ''}" is refused: ${p} leads to ${real}, outside the VM's test-data folder (a symlink?)`,
        option.line !== undefined ? { line: option.line } : {},
      );
    }
  }
}
