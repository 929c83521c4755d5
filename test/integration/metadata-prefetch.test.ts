import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ITERATION_METADATA_SCHEMA, iterationMetadataKey } from '../../src/core/metadata';
import { iterationMetadata, prefetchMetadata } from '../../vm-agent/src/metadata';

describe('metadata prefetch (the original ls -R, timed) on a real folder tree', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-prefetch-'));
    // 3 levels: 5 files and 1 symlink in 3 subfolders, and an empty subfolder.
    await mkdir(path.join(dir, 'a', 'b', 'c'), { recursive: true });
    await mkdir(path.join(dir, 'empty'));
    for (const f of ['top.0', 'a/one.0', 'a/one.1', 'a/b/two.0', 'a/b/c/three.0']) await writeFile(path.join(dir, f), 'x');
    // Counted, never followed: it leads out of the tree.
    await symlink(os.tmpdir(), path.join(dir, 'a', 'b', 'out'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists every level, counting files and folders, and times it', async () => {
    const p = await prefetchMetadata(dir);
    expect(p).toMatchObject({ dir, files: 6, dirs: 4 });
    expect(p.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(p.elapsedMs)).toBe(true);
  });

  it('an empty folder: nothing listed', async () => {
    expect(await prefetchMetadata(path.join(dir, 'empty'))).toMatchObject({ files: 0, dirs: 0 });
  });

  it('a folder that is not there fails with its path', async () => {
    await expect(prefetchMetadata(path.join(dir, 'missing'))).rejects.toThrow(/missing/);
  });

  it('is stored per iteration next to the fio output', async () => {
    const p = await prefetchMetadata(dir);
    expect(iterationMetadata(3, p)).toEqual({ schema: ITERATION_METADATA_SCHEMA, iteration: 3, metadataPrefetch: p });
    expect(iterationMetadataKey('b1', 'vm-1', 7, 3)).toBe('b1/results/vm-1/test-7/iteration-3.metadata.json');
  });
});
