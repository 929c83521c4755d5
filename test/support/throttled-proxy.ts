import http from 'node:http';
import type net from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

export interface ThrottledProxy {
  /** e.g. http://127.0.0.1:41234: requests to it go to the target with the same path. */
  origin: string;
  /** Response body bytes sent to clients so far. */
  bytesServed(): number;
  stop(): Promise<void>;
}

/** Pieces a body is cut into so the pace stays even within a large chunk. */
const PIECE_BYTES = 16 * 1024;

/**
 * A reverse proxy to an HTTP server whose response bodies, all connections together, flow at no
 * more than `bytesPerSec` from the first byte (no burst allowance): a slow link to the bucket.
 * Request bodies (uploads) pass unthrottled.
 */
export async function startThrottledProxy(target: string, bytesPerSec: number): Promise<ThrottledProxy> {
  const to = new URL(target);
  let served = 0;
  // The time the link is busy until: each piece is sent once the previous ones have had their time.
  let busyUntilMs = 0;
  const paced = () =>
    new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
        const send = (offset: number): void => {
          if (offset >= chunk.length) return done();
          const piece = chunk.subarray(offset, offset + PIECE_BYTES);
          const at = Math.max(Date.now(), busyUntilMs);
          busyUntilMs = at + (piece.length / bytesPerSec) * 1000;
          setTimeout(() => {
            served += piece.length;
            this.push(piece);
            send(offset + piece.length);
          }, at - Date.now());
        };
        send(0);
      },
    });

  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    // The target's own Host: fake-gcs-server routes object reads (/<bucket>/<object>) by it and 404s any other.
    const upstream = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(paced()).pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502).end(`proxy: ${err.message}`);
      else res.destroy(err);
    });
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    bytesServed: () => served,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
