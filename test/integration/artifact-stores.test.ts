import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcsArtifactStore } from '../../src/artifacts/gcs';
import { openArtifactStore } from '../../src/artifacts/index';
import { LocalArtifactStore } from '../../src/artifacts/local';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs';
import { describeArtifactStoreContract } from '../support/store-contract';

const rand = () => randomBytes(4).toString('hex');

describeArtifactStoreContract('local folder', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artifacts-'));
  return { store: new LocalArtifactStore(dir), cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
});

describe('local folder on a full disk', () => {
  it('fails the write and leaves no temporary file behind', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip('mounting a small tmpfs needs root');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artifacts-full-'));
    const { execFileSync } = await import('node:child_process');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    try {
      const store = new LocalArtifactStore(dir);
      const big = Buffer.alloc(256 * 1024, 1);
      await expect(store.put('b/results/vm/x.json', big)).rejects.toMatchObject({ code: 'ENOSPC' });
      await expect(store.putOnce('b/results/vm/y.json', big)).rejects.toMatchObject({ code: 'ENOSPC' });
      const left = await fs.readdir(path.join(dir, 'b/results/vm'));
      expect(left).toEqual([]);
    } finally {
      execFileSync('umount', [dir]);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('fake-gcs-server helper', () => {
  it('says how to get a missing binary', async () => {
    await expect(startFakeGcs({ binary: '/nonexistent/fake-gcs-server' })).rejects.toThrow(
      'fake-gcs-server not found at /nonexistent/fake-gcs-server: run npm run setup',
    );
  });

  it('serves buckets and leaves no process behind after stop', async () => {
    const server = await startFakeGcs({ buckets: ['one'] });
    await server.createBucket('two');
    const names = ((await (await fetch(`${server.jsonApi}b`)).json()) as { items: { name: string }[] }).items.map((b) => b.name);
    expect(names.sort()).toEqual(['one', 'two']);
    await expect(server.createBucket('two')).rejects.toThrow(/creating bucket two failed: 409/);
    await server.stop();
    expect(() => process.kill(server.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await expect(fetch(server.endpoint)).rejects.toThrow();
  });
});

describe('GCS artifact store on fake-gcs-server', () => {
  let gcs: FakeGcs;
  const shared = `shared-${rand()}`;
  const open = (location: string) => new GcsArtifactStore(location, { storage: { apiEndpoint: gcs.endpoint } });

  beforeAll(async () => {
    gcs = await startFakeGcs({ buckets: [shared] });
  });
  afterAll(async () => {
    await gcs?.stop();
  });

  describeArtifactStoreContract('GCS, bucket root', async () => {
    const bucket = `contract-${rand()}`;
    await gcs.createBucket(bucket);
    return { store: open(`gs://${bucket}`), cleanup: async () => {} };
  });

  describeArtifactStoreContract('GCS, nested prefix beside look-alike objects', async () => {
    const prefix = `runs/p-${rand()}`;
    // Objects just outside the prefix (the prefix itself as an object, a sibling sharing its string)
    // must never show up in the store: the contract's list('') would see them.
    const root = open(`gs://${shared}`);
    for (const k of [prefix, `${prefix}x/a/b/0`, `${prefix}x/z`]) await root.put(k, 'decoy');
    return { store: open(`gs://${shared}/${prefix}/`), cleanup: async () => {} };
  });

  it('urlOf names the bucket, the prefix and the key', () => {
    expect(open('gs://bk').urlOf('b1/config.json')).toBe('gs://bk/b1/config.json');
    expect(open('gs://bk/').urlOf('b1/config.json')).toBe('gs://bk/b1/config.json');
    expect(open('gs://bk/team/runs/').urlOf('b1/jobs/vm-1.json')).toBe('gs://bk/team/runs/b1/jobs/vm-1.json');
    expect(() => open('gs://')).toThrow(/expected gs:\/\/bucket/);
    expect(() => open('gs://bk/a/../b')).toThrow(/invalid artifact key/);
  });

  it('openArtifactStore picks the implementation from the location', () => {
    expect(openArtifactStore(`gs://${shared}/x`, { storage: { apiEndpoint: gcs.endpoint } })).toBeInstanceOf(GcsArtifactStore);
    expect(openArtifactStore(path.join(os.tmpdir(), 'never-created'))).toBeInstanceOf(LocalArtifactStore);
  });

  it('a missing bucket is reported by name, for every operation', async () => {
    const store = open('gs://no-such-bucket/runs');
    const msg = 'artifact bucket gs://no-such-bucket does not exist';
    await expect(store.get('b1/config.json')).rejects.toThrow(msg);
    await expect(store.putOnce('b1/config.json', '{}')).rejects.toThrow(msg);
    await expect(store.put('b1/config.json', '{}')).rejects.toThrow(msg);
    await expect(store.put('b1/big.json', Buffer.alloc(9 * 1024 * 1024))).rejects.toThrow(msg); // resumable path
    await expect(store.list('b1/')).rejects.toThrow(msg);
  });

  it('honours STORAGE_EMULATOR_HOST without explicit options', async () => {
    const saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
    try {
      const store = openArtifactStore(`gs://${shared}/env-${rand()}`); // the client reads the variable when built
      expect(await store.putOnce('k/small', 'via env')).toBe('created');
      await store.put('k/big', Buffer.alloc(9 * 1024 * 1024, 7)); // resumable upload path
      expect((await store.get('k/small'))?.toString()).toBe('via env');
      expect((await store.get('k/big'))?.length).toBe(9 * 1024 * 1024);
      expect(await store.list('k/')).toEqual(['k/big', 'k/small']);
    } finally {
      if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = saved;
    }
  });

  describe('through a proxy that injects transient failures', () => {
    let proxy: FlakyProxy;
    beforeAll(async () => {
      proxy = await startFlakyProxy(gcs.port);
    });
    afterAll(async () => {
      await proxy?.close();
    });
    const openViaProxy = (options: { listPageSize?: number } = {}) =>
      new GcsArtifactStore(`gs://${shared}/flaky-${rand()}`, { storage: { apiEndpoint: proxy.endpoint }, ...options });
    const uploads = /^POST \/upload\/storage\/v1\/b\/[^/]+\/o\?.*uploadType=multipart/;
    const downloads = /^GET \/(download\/)?storage\/v1\/b\/[^/]+\/o\/[^?]+\?.*alt=media/;
    const lists = /^GET \/storage\/v1\/b\/[^/]+\/o(\?|$)/;

    it('putOnce retries an upload answered 503', async () => {
      const store = openViaProxy();
      proxy.inject(uploads, 'status-503');
      expect(await store.putOnce('a/k', 'payload')).toBe('created');
      expect(proxy.count(uploads)).toBe(2);
      expect((await store.get('a/k'))?.toString()).toBe('payload');
    });

    it('putOnce whose first upload landed but whose answer was lost reports unchanged, not a conflict', async () => {
      const store = openViaProxy();
      proxy.inject(uploads, 'forward-then-503'); // the object is created, the client sees 503 and retries -> 412
      expect(await store.putOnce('a/k', 'payload')).toBe('unchanged');
      expect(proxy.count(uploads)).toBe(2);
      expect((await store.get('a/k'))?.toString()).toBe('payload');
    });

    it('put (no precondition) retries an upload whose connection was reset', async () => {
      const store = openViaProxy();
      await store.put('a/m', 'v1');
      proxy.inject(uploads, 'reset');
      await store.put('a/m', 'v2');
      expect(proxy.count(uploads)).toBe(2);
      expect((await store.get('a/m'))?.toString()).toBe('v2');
    });

    it('get retries a download answered 503', async () => {
      const store = openViaProxy();
      await store.put('a/d', 'data');
      proxy.inject(downloads, 'status-503');
      expect((await store.get('a/d'))?.toString()).toBe('data');
      expect(proxy.count(downloads)).toBe(2);
    });

    it('list follows pages and retries a page whose connection was reset', async () => {
      const store = openViaProxy({ listPageSize: 2 });
      const keys = ['r/1', 'r/2', 'r/3', 'r/4', 'r/5'];
      for (const k of keys) await store.put(k, k);
      proxy.inject(lists, 'reset');
      expect(await store.list('r/')).toEqual(keys);
      expect(proxy.count(lists)).toBe(4); // 3 pages + the retried first one
    });
  });
});

type Fault = 'status-503' | 'reset' | 'forward-then-503';
interface FlakyProxy {
  endpoint: string;
  /** The next request matching `pattern` (on "METHOD /path?query") gets `fault`; then requests pass through. */
  inject(pattern: RegExp, fault: Fault): void;
  /** Requests matching `pattern` since the last inject(). */
  count(pattern: RegExp): number;
  close(): Promise<void>;
}

/** A tiny HTTP proxy to the emulator that fails one chosen request, so retries are real. */
async function startFlakyProxy(targetPort: number): Promise<FlakyProxy> {
  let seen: string[] = [];
  let pending: { pattern: RegExp; fault: Fault } | undefined;
  const forward = (req: http.IncomingMessage, onResponse: (res: http.IncomingMessage) => void) => {
    const up = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, onResponse);
    up.on('error', () => req.socket.destroy());
    req.pipe(up);
  };
  const server = http.createServer((req, res) => {
    const line = `${req.method} ${req.url}`;
    seen.push(line);
    const fault = pending?.pattern.test(line) ? pending.fault : undefined;
    if (fault) pending = undefined;
    if (fault === 'reset') {
      req.socket.destroy();
    } else if (fault === 'status-503') {
      req.resume().on('end', () => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 503, message: 'injected by the test proxy' } }));
      });
    } else if (fault === 'forward-then-503') {
      forward(req, (up) =>
        up.resume().on('end', () => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 503, message: 'injected after forwarding' } }));
        }),
      );
    } else {
      forward(req, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    inject(pattern, fault) {
      seen = [];
      pending = { pattern, fault };
    },
    count: (pattern) => seen.filter((l) => pattern.test(l)).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
