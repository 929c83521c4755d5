import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

/** Built by scripts/setup.sh (npm run setup) from the pinned fake-gcs-server version. */
export const FAKE_GCS_SERVER_BIN =
  process.env.FAKE_GCS_SERVER_BIN ?? fileURLToPath(new URL('../../.gcsfuse-bench/bin/fake-gcs-server', import.meta.url));

export interface FakeGcs {
  /** Origin of the server, e.g. http://127.0.0.1:41234: the Storage client's `apiEndpoint`. */
  endpoint: string;
  /** JSON API base, e.g. for gcsfuse --custom-endpoint. */
  jsonApi: string;
  host: string;
  port: number;
  pid: number;
  createBucket(name: string): Promise<void>;
  /** Output of the server so far (for failure messages). */
  logs(): string;
  stop(): Promise<void>;
}

export interface FakeGcsOptions {
  /** The server binary; FAKE_GCS_SERVER_BIN by default. */
  binary?: string;
  /** 'memory' (default) or 'filesystem' with `filesystemRoot`. */
  backend?: 'memory' | 'filesystem';
  filesystemRoot?: string;
  /** Buckets created before the promise resolves. */
  buckets?: string[];
  extraArgs?: string[];
  startTimeoutMs?: number;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts fake-gcs-server as a child process on a free port and waits until it answers. */
export async function startFakeGcs(options: FakeGcsOptions = {}): Promise<FakeGcs> {
  const binary = options.binary ?? FAKE_GCS_SERVER_BIN;
  if (!existsSync(binary)) throw new Error(`fake-gcs-server not found at ${binary}: run npm run setup`);
  const host = '127.0.0.1';
  const port = await freePort(host);
  const endpoint = `http://${host}:${port}`;
  const backend = options.backend ?? 'memory';
  const args = ['-scheme', 'http', '-host', host, '-port', String(port), '-backend', backend];
  if (backend === 'filesystem') {
    if (!options.filesystemRoot) throw new Error('fake-gcs-server: the filesystem backend needs filesystemRoot');
    args.push('-filesystem-root', options.filesystemRoot);
  }
  // public-host/external-url: URLs the server hands out (media links, resumable sessions) point back here.
  args.push('-public-host', `${host}:${port}`, '-external-url', endpoint, '-log-level', 'warn', ...(options.extraArgs ?? []));

  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-64 * 1024);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`exited (code ${code}, signal ${signal})`));
    child.once('error', (err) => resolve(`failed to start: ${err.message}`));
  });
  let running = true;
  void exited.then(() => (running = false));
  // A test runner that dies without calling stop() must not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (!running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  for (;;) {
    const ok = await fetch(`${endpoint}/storage/v1/b`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (!running || Date.now() > deadline) {
      const why = running ? 'did not answer in time' : await exited;
      await stop();
      throw new Error(`fake-gcs-server on ${endpoint} ${why}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const createBucket = async (name: string): Promise<void> => {
    const res = await fetch(`${endpoint}/storage/v1/b`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    if (!res.ok) throw new Error(`fake-gcs-server: creating bucket ${name} failed: ${res.status} ${await res.text()}`);
  };
  try {
    for (const b of options.buckets ?? []) await createBucket(b);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, jsonApi: `${endpoint}/storage/v1/`, host, port, pid: child.pid!, createBucket, logs: () => output, stop };
}
