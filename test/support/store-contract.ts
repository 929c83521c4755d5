import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WriteConflictError, type ArtifactStore } from '../../src/artifacts/store';

export interface StoreUnderTest {
  store: ArtifactStore;
  cleanup(): Promise<void>;
}

/** The behaviour every ArtifactStore must have; each test gets a fresh, empty store. */
export function describeArtifactStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`ArtifactStore contract: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: ArtifactStore;
    beforeEach(async () => {
      sut = await makeStore();
      store = sut.store;
    });
    afterEach(async () => {
      await sut.cleanup();
    });

    it('get of a missing key is undefined', async () => {
      expect(await store.get('nope/missing.json')).toBeUndefined();
    });

    it('putOnce creates, accepts the same bytes again, and refuses different bytes', async () => {
      expect(await store.putOnce('b1/jobs/vm-1.json', '{"a":1}\n')).toBe('created');
      expect(await store.putOnce('b1/jobs/vm-1.json', Buffer.from('{"a":1}\n'))).toBe('unchanged');
      const conflict = await store.putOnce('b1/jobs/vm-1.json', '{"a":2}\n').catch((e: unknown) => e);
      expect(conflict).toBeInstanceOf(WriteConflictError);
      expect((conflict as WriteConflictError).key).toBe('b1/jobs/vm-1.json');
      expect((conflict as WriteConflictError).message).toContain(store.urlOf('b1/jobs/vm-1.json'));
      expect((await store.get('b1/jobs/vm-1.json'))?.toString()).toBe('{"a":1}\n');
    });

    it('two concurrent putOnce with different bytes: exactly one wins', async () => {
      const results = await Promise.allSettled([store.putOnce('race/k', 'left'), store.putOnce('race/k', 'right')]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(won[0]!.value).toBe('created');
      expect(lost).toHaveLength(1);
      expect(lost[0]!.reason).toBeInstanceOf(WriteConflictError);
      const winner = results[0]!.status === 'fulfilled' ? 'left' : 'right';
      expect((await store.get('race/k'))?.toString()).toBe(winner);
    });

    it('put creates and replaces', async () => {
      await store.put('b1/results/vm-1/manifest.json', 'v1');
      expect((await store.get('b1/results/vm-1/manifest.json'))?.toString()).toBe('v1');
      await store.put('b1/results/vm-1/manifest.json', 'version 2, longer');
      expect((await store.get('b1/results/vm-1/manifest.json'))?.toString()).toBe('version 2, longer');
      expect(await store.list('b1/results/')).toEqual(['b1/results/vm-1/manifest.json']);
    });

    it('list returns exactly the keys under a prefix, sorted', async () => {
      // Written out of order, with a sibling prefix (a/bc) that shares the string a/b.
      for (const k of ['a/bc/3', 'z', 'a/b/x/2', 'a/c', 'a/b/1', 'a/b/0']) await store.put(k, k);
      expect(await store.list('a/b/')).toEqual(['a/b/0', 'a/b/1', 'a/b/x/2']);
      expect(await store.list('a/bc/')).toEqual(['a/bc/3']);
      expect(await store.list('a/b')).toEqual(['a/b/0', 'a/b/1', 'a/b/x/2', 'a/bc/3']); // a string prefix
      expect(await store.list('a/')).toEqual(['a/b/0', 'a/b/1', 'a/b/x/2', 'a/bc/3', 'a/c']);
      expect(await store.list('')).toEqual(['a/b/0', 'a/b/1', 'a/b/x/2', 'a/bc/3', 'a/c', 'z']);
      expect(await store.list('nothing/')).toEqual([]);
    });

    it('binary content round-trips byte for byte', async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i)); // every byte value, incl. NUL and invalid UTF-8
      expect(await store.putOnce('bin/all-bytes', bytes)).toBe('created');
      expect((await store.get('bin/all-bytes'))?.equals(bytes)).toBe(true);
      expect(await store.putOnce('bin/all-bytes', Buffer.from(bytes))).toBe('unchanged');
      await store.put('bin/empty', Buffer.alloc(0));
      expect(await store.get('bin/empty')).toEqual(Buffer.alloc(0));
    });

    it('a ~8 MiB object round-trips, and putOnce guards it like a small one', async () => {
      const big = randomBytes(8 * 1024 * 1024 + 123); // above the GCS single-request threshold, odd length
      expect(await store.putOnce('big/out.fio.json', big)).toBe('created');
      expect((await store.get('big/out.fio.json'))?.equals(big)).toBe(true);
      expect(await store.putOnce('big/out.fio.json', big)).toBe('unchanged');
      const other = Buffer.from(big);
      other[other.length - 1] = other[other.length - 1]! ^ 0xff; // differs in the last byte only
      await expect(store.putOnce('big/out.fio.json', other)).rejects.toBeInstanceOf(WriteConflictError);
      expect((await store.get('big/out.fio.json'))?.equals(big)).toBe(true);
    });

    it.each(['../x', '/abs', 'a//b', 'a/./b', 'a/', ''])('rejects the invalid key %j', async (key) => {
      expect(() => store.urlOf(key)).toThrow(/invalid artifact key/);
      await expect(store.get(key)).rejects.toThrow(/invalid artifact key/);
      await expect(store.put(key, 'x')).rejects.toThrow(/invalid artifact key/);
      await expect(store.putOnce(key, 'x')).rejects.toThrow(/invalid artifact key/);
      expect(await store.list('')).toEqual([]); // nothing was written anywhere
    });
  });
}
