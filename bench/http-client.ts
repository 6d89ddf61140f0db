// The one HTTP client every registry gets: node:http over a keep-alive agent, request bodies streamed from
// the blob file with large reads, response bodies counted or collected. Nothing here hashes or copies blobs.
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';

/** Large reads keep the client's per-chunk overhead far below the servers'. */
const fileReadSize = 4 * 1024 * 1024;

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface FileRange {
  file: string;
  /** Inclusive byte offsets, as fs.createReadStream takes them. */
  start: number;
  end: number;
}

export class BenchClient {
  readonly base: string;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  constructor(base: string) {
    this.base = base;
  }

  url(pathOrUrl: string): URL {
    return new URL(pathOrUrl, this.base);
  }

  /** A request with an in-memory body (or none); the response body is collected. */
  request(
    method: string,
    target: string | URL,
    headers: http.OutgoingHttpHeaders = {},
    body?: Buffer,
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      const req = this.start(method, target, {
        ...headers,
        'content-length': String(body?.length ?? 0),
      });
      req.once('error', reject);
      req.once('response', (res) => collect(res).then(resolve, reject));
      req.end(body);
    });
  }

  /**
   * A request whose body streams from a byte range of a file; the (small) response body is collected.
   * `sentAt` (performance.now()) is when the last body byte was handed to the socket: what the server does
   * after that (flush, fsync, rename) is the gap between it and the response.
   */
  async upload(
    method: string,
    target: string | URL,
    range: FileRange,
    headers: http.OutgoingHttpHeaders = {},
  ): Promise<Response & { sentAt: number }> {
    const req = this.start(method, target, {
      'content-type': 'application/octet-stream',
      ...headers,
      'content-length': String(range.end - range.start + 1),
    });
    const response = new Promise<Response>((resolve, reject) => {
      req.once('error', reject);
      req.once('response', (res) => collect(res).then(resolve, reject));
    });
    let sentAt = NaN;
    // A server that answers before reading the whole body ends the upload early: report its answer.
    const sent = pipeline(
      createReadStream(range.file, { start: range.start, end: range.end, highWaterMark: fileReadSize }),
      req,
    ).then(() => {
      sentAt = performance.now();
    });
    const [sendResult, res] = await Promise.allSettled([sent, response]);
    if (res.status === 'fulfilled')
      return { ...res.value, sentAt: Number.isNaN(sentAt) ? performance.now() : sentAt };
    if (sendResult.status === 'rejected') throw sendResult.reason;
    throw res.reason;
  }

  /** GET whose body is counted and dropped; returns the status, headers and byte count. */
  download(target: string | URL, headers: http.OutgoingHttpHeaders = {}, onData?: (chunk: Buffer) => void) {
    return new Promise<{ status: number; headers: http.IncomingHttpHeaders; bytes: number }>(
      (resolve, reject) => {
        const req = this.start('GET', target, headers);
        req.once('error', reject);
        req.once('response', (res) => {
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            onData?.(chunk);
          });
          res.once('error', reject);
          res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }));
        });
        req.end();
      },
    );
  }

  close(): void {
    this.agent.destroy();
  }

  private start(method: string, target: string | URL, headers: http.OutgoingHttpHeaders): http.ClientRequest {
    const url = typeof target === 'string' ? this.url(target) : target;
    return http.request(url, { method, agent: this.agent, headers });
  }
}

async function collect(res: http.IncomingMessage): Promise<Response> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
}

export function header(res: { headers: http.IncomingHttpHeaders }, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Throws with what the server said when the status is not the expected one. */
export function expectStatus(what: string, res: Response, expected: number): void {
  if (res.status !== expected) {
    throw new Error(
      `${what}: expected HTTP ${expected}, got ${res.status}: ${res.body.toString('utf8').slice(0, 1_000)}`,
    );
  }
}
