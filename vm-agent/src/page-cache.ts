/** Dropping the page cache between iterations. */
import { promises as fs } from 'node:fs';
import { runCmd } from './process';

const DROP_CACHES = '/proc/sys/vm/drop_caches';

/**
 * `sync`, then drops the page cache, dentries and inodes (echo 3 > /proc/sys/vm/drop_caches), so
 * one iteration does not read what the previous one left in memory. Returns false (after a
 * warning) where that is not permitted, e.g. unprivileged or in a container with a read-only /proc/sys.
 */
export async function dropPageCache(warn: (message: string) => void = console.warn): Promise<boolean> {
  const synced = await runCmd('sync', [], { timeoutMs: 120_000 });
  if (synced.code !== 0)
    warn(`sync failed (${synced.spawnError?.message ?? (synced.stderr.trim() || `exit ${synced.code}`)}); dropping caches anyway`);
  try {
    await fs.writeFile(DROP_CACHES, '3');
    return true;
  } catch (err) {
    warn(
      `could not drop the page cache (${(err as NodeJS.ErrnoException).code ?? (err as Error).message} writing ${DROP_CACHES}): reads may be served from memory`,
    );
    return false;
  }
}
