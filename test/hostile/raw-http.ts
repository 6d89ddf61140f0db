// One HTTP request with the path sent exactly as given (fetch would normalise `..`, `//` and percent-escapes)
// and any headers and body, for the hostile-input tests.
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  rawBody: Buffer;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** The whole exchange; a hang is a failure. Default 30 s. */
  timeoutMs?: number;
}

export function rawRequest(url: string, req: RawRequest): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const r = request(
      {
        hostname,
        port,
        method: req.method,
        path: req.path,
        // node sends a GET or DELETE body without framing unless told its length.
        headers: req.body
          ? { 'Content-Length': String(req.body.length), ...req.headers }
          : (req.headers ?? {}),
        // A fresh connection per request: a request the server cuts must not poison the next one.
        agent: false,
        timeout: req.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const rawBody = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: rawBody.toString('utf8'),
            rawBody,
          });
        });
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`${req.method} ${req.path}: no answer in time`)));
    r.on('error', reject);
    r.end(req.body);
  });
}
