import type http from 'node:http';

/** One request a wire-level fake received, and what it answered. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Lower-case header names, as Node gives them. */
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Status the fake answered with. */
  status: number;
  /** The JSON body the fake answered with. */
  response: unknown;
}

/**
 * The request handler shared by the Google API fakes: reads the body, records the request,
 * asks `route` for [status, JSON body] (a thrown error becomes `onError`'s answer) and replies
 * with JSON, or with an empty 204.
 */
export function recordingJsonHandler(
  requests: RecordedRequest[],
  route: (r: RecordedRequest) => [number, unknown],
  onError: (err: Error) => [number, unknown],
): http.RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const record: RecordedRequest = {
        method: req.method ?? '',
        path: decodeURIComponent(url.pathname),
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        status: 0,
        response: undefined,
      };
      requests.push(record);
      let status: number;
      let payload: unknown;
      try {
        [status, payload] = route(record);
      } catch (err) {
        [status, payload] = onError(err as Error);
      }
      record.status = status;
      record.response = payload;
      if (status === 204) {
        res.writeHead(204);
        res.end();
        return;
      }
      const body = JSON.stringify(payload, null, 1);
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
}
