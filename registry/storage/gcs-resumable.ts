// A GCS resumable upload sent chunk by chunk (JSON API, "Perform a resumable upload", chunked): one PUT per
// whole chunk, and `send` resolves only once GCS has persisted every byte of it, so the writer can fill the same
// memory again. The client library's upload stream holds each written Buffer until its request ends and gives
// no sign of when that is, so a writer had to hand it a fresh copy of every body chunk; in a pod those copies
// crossed V8's old-generation limit every few MiB (bench/README.md, "Push on GCS in a pod").
//
// - A PUT answered 308 says how much is persisted in its `Range` header; what is missing of the chunk is sent
//   again (GCS may keep less than a request carried).
// - A failed PUT (no answer, 408, 429, 5xx) is retried after a back-off: first a status query (an empty PUT
//   with `Content-Range: bytes */…`) learns what GCS kept, then the rest is sent. Any other answer fails the
//   upload with its status and the start of its body.
// - Plain node:http(s): it sends a Buffer body as it is, where fetch copies every BufferSource body, and the
//   undici package compiles its WebAssembly HTTP parser on first use (a one-time ~20 MiB spike in a pod).
import type { Agent, IncomingHttpHeaders, RequestOptions } from 'node:http';
import { http } from '../node-http.ts';

export interface ResumableUploadOptions {
  /** The session URI (the `Location` of the initiating POST). */
  uri: string;
  /** Headers every request carries (authorization); none for an emulator. */
  headers: () => Promise<Record<string, string>>;
  /** Keep-alive agent for the URI's protocol (none: Node's global agent). */
  agent?: Agent;
  /** Milliseconds without progress on one request before it counts as failed. */
  timeoutMs?: number;
  /** Attempts after a failed PUT before the upload fails. */
  retries?: number;
  /** The first back-off; it doubles per attempt. */
  retryDelayMs?: number;
}

/** An upload failure; `status` is the HTTP status when there was an answer. */
export class ResumableUploadError extends Error {
  readonly status: number | undefined;

  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ResumableUploadError';
    this.status = status;
  }
}

interface Answer {
  status: number;
  /** Bytes persisted, from a 308's `Range: bytes=0-N` (0 without one). */
  persisted: number;
  body: string;
}

const resumeIncomplete = 308;

function isRetryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export class GcsResumableUpload {
  readonly #uri: string;
  readonly #headers: () => Promise<Record<string, string>>;
  readonly #agent: Agent | undefined;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  /** Bytes GCS has persisted; every chunk so far has been persisted whole. */
  #persisted = 0;
  #done = false;

  constructor(options: ResumableUploadOptions) {
    this.#uri = options.uri;
    this.#headers = options.headers;
    this.#agent = options.agent;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#retries = options.retries ?? 4;
    this.#retryDelayMs = options.retryDelayMs ?? 250;
  }

  /** Bytes persisted so far. */
  get persisted(): number {
    return this.#persisted;
  }

  /**
   * Sends the next chunk and resolves when GCS has all of it. Every chunk but the last must be a multiple of
   * 256 KiB; the last passes `total` (the object's size; the chunk may then be empty) and completes the object.
   */
  async send(chunk: Buffer, total?: number): Promise<void> {
    if (this.#done) throw new ResumableUploadError('the upload is already complete');
    const start = this.#persisted;
    const end = start + chunk.byteLength;
    if (total !== undefined && total !== end) {
      throw new ResumableUploadError(`the last chunk ends at byte ${end}, not at the object's size ${total}`);
    }
    let failures = 0;
    let mustQuery = false;
    for (;;) {
      let answer: Answer;
      try {
        answer = mustQuery
          ? await this.#put(Buffer.alloc(0), `bytes */${total ?? '*'}`)
          : await this.#put(chunk.subarray(this.#persisted - start), this.#range(end, total));
      } catch (err) {
        // No answer (a reset connection, a timeout): ask what arrived, after a pause.
        if (++failures > this.#retries)
          throw new ResumableUploadError(`upload failed: ${message(err)}`, undefined, { cause: err });
        await this.#pause(failures);
        mustQuery = true;
        continue;
      }
      if (answer.status === resumeIncomplete) {
        if (answer.persisted < start || answer.persisted > end) {
          throw new ResumableUploadError(
            `GCS reports ${answer.persisted} bytes persisted, outside this chunk's ${start}-${end}`,
          );
        }
        const progressed = answer.persisted > this.#persisted;
        this.#persisted = answer.persisted;
        mustQuery = false;
        if (this.#persisted === end && total === undefined) return;
        // Short of the chunk: send the rest (a lost byte range counts as a failure unless it moved forward).
        if (!progressed && ++failures > this.#retries) {
          throw new ResumableUploadError(`GCS keeps no more of the chunk at byte ${this.#persisted}`);
        }
        continue;
      }
      if (answer.status === 200 || answer.status === 201) {
        if (total === undefined) {
          throw new ResumableUploadError(`GCS completed the object (${answer.status}) before its last chunk`);
        }
        this.#persisted = end;
        this.#done = true;
        return;
      }
      if (isRetryable(answer.status) && ++failures <= this.#retries) {
        await this.#pause(failures);
        mustQuery = true;
        continue;
      }
      throw new ResumableUploadError(
        `upload failed: ${answer.status} ${answer.body.slice(0, 200)}`.trim(),
        answer.status,
      );
    }
  }

  /** Cancels the session (GCS answers 499); an upload that cannot be cancelled expires by itself. */
  async cancel(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await this.#request('DELETE', {}, Buffer.alloc(0));
    } catch {
      // best effort
    }
  }

  #range(end: number, total: number | undefined): string {
    const from = this.#persisted;
    if (from === end) return `bytes */${total ?? '*'}`;
    return `bytes ${from}-${end - 1}/${total ?? '*'}`;
  }

  async #put(body: Buffer, contentRange: string): Promise<Answer> {
    const res = await this.#request('PUT', { 'content-range': contentRange }, body);
    const range = res.headers['range'];
    const persisted = typeof range === 'string' ? persistedFromRange(range) : 0;
    return { status: res.status, persisted, body: res.body };
  }

  async #request(
    method: string,
    headers: Record<string, string>,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
    const url = new URL(this.#uri);
    const options: RequestOptions = {
      method,
      headers: { ...(await this.#headers()), ...headers, 'content-length': String(body.byteLength) },
      timeout: this.#timeoutMs,
      ...(this.#agent ? { agent: this.#agent } : {}),
    };
    const send = url.protocol === 'https:' ? process.getBuiltinModule('node:https').request : http.request;
    return new Promise((resolve, reject) => {
      const req = send(url, options, (res) => {
        // The answer's body is small (an error, or the object's metadata at the end); more is not read.
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (part: string) => {
          if (text.length < 4096) text += part;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no progress for ${this.#timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  #pause(failures: number): Promise<void> {
    const ms = this.#retryDelayMs * 2 ** (failures - 1);
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/** `bytes=0-N` → N + 1. */
function persistedFromRange(range: string): number {
  const m = /^bytes=0-(\d+)$/.exec(range.trim());
  if (!m?.[1]) throw new ResumableUploadError(`GCS sent an unreadable Range header: ${range}`);
  return Number(m[1]) + 1;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
