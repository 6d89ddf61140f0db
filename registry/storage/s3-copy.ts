// The S3 driver's fast path for serving an object into a socket (`copyTo`): one GET of a presigned URL over a
// minimal HTTP/1.1 client on a raw TCP/TLS socket. node:http (and so the SDK's body stream) costs a parser pass,
// a fresh Buffer and a stream event per 64 KiB read; here the socket reads into one fixed buffer (`onread`,
// up to readBufferSize per read) and the bytes are copied into a few larger buffers that go to the destination
// whole and are reused once it has taken them. On the 2-core bench machine that is ~4× less CPU per byte.
//
// Only the plain case is handled here: a 200/206 with a Content-Length. Anything else (an error status, a
// redirect, chunked encoding, a connection that fails) is reported back with the number of bytes already
// sent, and the driver continues from there with the SDK, which has the retries and the error mapping.
//
// Memory per copy: one read buffer per socket (idle sockets keep theirs) plus at most `outBuffers` ×
// `outBufferSize` in flight to the destination; reading pauses while all of them are.
import net from 'node:net';
import tls from 'node:tls';
import type { Readable, Writable } from 'node:stream';

const KiB = 1024;
/** What one socket read may return at most. */
export const readBufferSize = 512 * KiB;
/** The size of the buffers handed to the destination (smaller at the end of an object). */
export const outBufferSize = 512 * KiB;
/** Buffers in flight to the destination per copy. */
export const outBuffers = 4;
/** Largest response head accepted. */
const maxHeadSize = 64 * KiB;
const connectTimeoutMs = 10_000;
/** Idle keep-alive sockets kept per origin, and for how long. */
const maxIdlePerOrigin = 8;
const idleTimeoutMs = 10_000;

export interface RawGetRequest {
  /** A presigned GET URL (http: or https:). */
  url: string;
  /** First byte (inclusive). */
  offset: number;
  /** Last byte (inclusive), or to the end of the object. */
  end: number | undefined;
  destination: Writable;
  /** Verify the server's TLS certificate (https only). */
  rejectUnauthorized: boolean;
  /** Waits for the request-rate limiter, if any, before the request is sent. */
  acquire?: () => Promise<void>;
}

export type RawGetResult =
  /** Everything from offset to end (or the object's end) was written and the destination took it. */
  | { status: 'complete'; sent: number }
  /** The destination closed or failed; stop. */
  | { status: 'destination-closed'; sent: number; error: Error }
  /** Something this client does not handle: continue from offset + sent another way. */
  | { status: 'fallback'; sent: number; reason: string };

type Consumer = (data: Buffer) => boolean;

/** One keep-alive connection; its onread callback feeds whichever exchange currently owns it. */
class RawConnection {
  readonly socket: net.Socket;
  readonly origin: string;
  consumer: Consumer | undefined;
  /** The socket ended, failed or was destroyed. */
  closed = false;
  onClose: ((error: Error) => void) | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  /** Exchanges done on this socket. */
  uses = 0;

  constructor(url: URL, origin: string, rejectUnauthorized: boolean) {
    this.origin = origin;
    const readBuffer = Buffer.allocUnsafe(readBufferSize);
    const onread = {
      buffer: readBuffer,
      callback: (bytes: number, buffer: Uint8Array): boolean => {
        const consumer = this.consumer;
        if (!consumer) {
          // Bytes nobody asked for (an idle socket): the connection is out of step, drop it.
          this.socket.destroy();
          return false;
        }
        return consumer(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
      },
    };
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    // tls.connect takes onread as net.connect does (its types leave it out).
    this.socket =
      url.protocol === 'https:'
        ? tls.connect({
            host,
            port,
            ...(net.isIP(host) ? {} : { servername: host }),
            rejectUnauthorized,
            onread,
          } as tls.ConnectionOptions)
        : net.connect({ host, port, onread });
    this.socket.setNoDelay(true);
    const close = (error: Error) => {
      if (this.closed) return;
      this.closed = true;
      this.socket.destroy();
      this.onClose?.(error);
    };
    this.socket.on('error', (err) => close(err));
    this.socket.on('end', () => close(new Error('connection closed by the server')));
    this.socket.on('close', () => close(new Error('connection closed')));
  }

  destroy(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.closed = true;
    this.socket.destroy();
  }
}

/** Idle keep-alive connections by origin; used by every driver in the process. */
export class RawConnectionPool {
  private readonly idle = new Map<string, RawConnection[]>();

  take(url: URL, rejectUnauthorized: boolean): { connection: RawConnection; reused: boolean } {
    const origin = `${url.protocol}//${url.host}#${rejectUnauthorized ? 1 : 0}`;
    const list = this.idle.get(origin);
    for (let c = list?.pop(); c !== undefined; c = list?.pop()) {
      if (c.idleTimer) clearTimeout(c.idleTimer);
      c.idleTimer = undefined;
      if (!c.closed) return { connection: c, reused: true };
    }
    return { connection: new RawConnection(url, origin, rejectUnauthorized), reused: false };
  }

  release(connection: RawConnection): void {
    if (connection.closed) return;
    connection.consumer = undefined;
    const list = this.idle.get(connection.origin) ?? [];
    if (list.length >= maxIdlePerOrigin) {
      connection.destroy();
      return;
    }
    list.push(connection);
    this.idle.set(connection.origin, list);
    const drop = (): void => {
      const at = list.indexOf(connection);
      if (at >= 0) list.splice(at, 1);
      connection.destroy();
    };
    connection.onClose = drop;
    connection.idleTimer = setTimeout(drop, idleTimeoutMs);
    connection.idleTimer.unref();
    connection.socket.unref();
    // Reading on, so that the server closing the connection is noticed.
    connection.socket.resume();
  }

  destroy(): void {
    for (const list of this.idle.values()) for (const c of list) c.destroy();
    this.idle.clear();
  }
}

interface Head {
  status: number;
  headers: Map<string, string>;
  keepAlive: boolean;
}

function parseHead(text: string): Head | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prior = headers.get(name);
    headers.set(name, prior === undefined ? value : `${prior}, ${value}`);
  }
  const connection = headers.get('connection')?.toLowerCase() ?? '';
  const keepAlive = m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
  return { status: Number(m[2]), headers, keepAlive };
}

/**
 * Copies one GET's body into `destination` (not ending it). Resolves, never rejects: the result says whether
 * the copy is complete, the destination went away, or the caller should continue from `offset + sent`.
 */
export async function rawGet(pool: RawConnectionPool, request: RawGetRequest): Promise<RawGetResult> {
  const url = new URL(request.url);
  // A reused socket the server closed meanwhile fails before any response byte: retry once on a fresh one.
  for (let attempt = 0; ; attempt++) {
    await request.acquire?.();
    const { connection, reused } = pool.take(url, request.rejectUnauthorized);
    const result = await exchange(pool, connection, url, request);
    if (result.status === 'fallback' && result.sent === 0 && reused && attempt === 0 && !headSeen(result)) {
      continue;
    }
    return result;
  }
}

const noResponse = 'no response';
function headSeen(result: RawGetResult): boolean {
  return !(result.status === 'fallback' && result.reason.startsWith(noResponse));
}

function exchange(
  pool: RawConnectionPool,
  connection: RawConnection,
  url: URL,
  request: RawGetRequest,
): Promise<RawGetResult> {
  const { destination, offset, end } = request;
  const ranged = offset > 0 || end !== undefined;
  const socket = connection.socket;
  return new Promise<RawGetResult>((resolve) => {
    let settled = false;
    let headChunks: Buffer[] | undefined = [];
    let headLength = 0;
    /** Body bytes still to come; -1 before the head. */
    let remaining = -1;
    let sent = 0;
    let keepAlive = false;
    // Buffers for the destination: `current` is being filled; the others are free or in flight.
    const free: Buffer[] = [];
    let allocated = 0;
    let current: Buffer | undefined;
    let filled = 0;
    let inFlight = 0;
    let timer: NodeJS.Timeout | undefined = setTimeout(
      () => finish({ status: 'fallback', sent, reason: `${noResponse} within ${connectTimeoutMs} ms` }),
      connectTimeoutMs,
    );

    const cleanup = (): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      destination.off('close', onDestinationClose);
      destination.off('error', onDestinationError);
      connection.onClose = undefined;
      connection.consumer = undefined;
    };
    const finish = (result: RawGetResult, reuse = false): void => {
      if (settled) return;
      settled = true;
      cleanup();
      if (reuse && keepAlive) pool.release(connection);
      else connection.destroy();
      resolve(result);
    };
    const onDestinationClose = (): void =>
      finish({
        status: 'destination-closed',
        sent,
        error: new Error('destination closed before the content was sent'),
      });
    const onDestinationError = (err: Error): void =>
      finish({ status: 'destination-closed', sent, error: err });
    destination.once('close', onDestinationClose);
    destination.once('error', onDestinationError);
    connection.onClose = (error) =>
      finish({
        status: 'fallback',
        sent,
        reason: `${remaining < 0 && headLength === 0 ? `${noResponse}: ` : ''}${error.message}`,
      });

    /** A buffer for the destination can be had without waiting. */
    const canTake = (): boolean => free.length > 0 || allocated < outBuffers;
    const flush = (): void => {
      const buffer = current as Buffer;
      const length = filled;
      current = undefined;
      filled = 0;
      inFlight++;
      // Counted when handed over: a fallback continues after everything already queued on the destination.
      sent += length;
      destination.write(length === buffer.length ? buffer : buffer.subarray(0, length), (err) => {
        inFlight--;
        if (settled) return;
        if (err) {
          finish({ status: 'destination-closed', sent, error: err });
          return;
        }
        free.push(buffer);
        if (remaining === 0) {
          if (current !== undefined) flush();
          else if (inFlight === 0) finish({ status: 'complete', sent }, true);
          return;
        }
        // Keep the destination busy: a partly filled buffer goes as soon as it has nothing else to send.
        if (current !== undefined && inFlight === 0) flush();
        if (paused && canTake()) {
          paused = false;
          socket.resume();
        }
      });
    };

    const body = (data: Buffer): boolean => {
      if (data.length > remaining) {
        // More than the Content-Length: the connection is out of step; keep what was promised.
        keepAlive = false;
        data = data.subarray(0, remaining);
      }
      let at = 0;
      while (at < data.length) {
        if (current === undefined) {
          const size = Math.min(outBufferSize, remaining);
          const reusable = free.pop();
          if (reusable !== undefined) current = reusable;
          else {
            // Never reached while reading pauses on !canTake(); an extra buffer keeps it correct regardless.
            current = Buffer.allocUnsafe(size);
            allocated++;
          }
        }
        const copied = data.copy(current, filled, at);
        at += copied;
        filled += copied;
        remaining -= copied;
        if (filled === current.length || remaining === 0) flush();
      }
      if (current !== undefined && inFlight === 0) flush();
      return remaining > 0 && canTake();
    };

    const head = (data: Buffer): boolean => {
      (headChunks as Buffer[]).push(Buffer.from(data)); // the read buffer is reused after this call
      headLength += data.length;
      const all = Buffer.concat(headChunks as Buffer[], headLength);
      const at = all.indexOf('\r\n\r\n');
      if (at < 0) {
        if (headLength > maxHeadSize) finish({ status: 'fallback', sent, reason: 'response head too large' });
        return true;
      }
      headChunks = undefined;
      if (timer) clearTimeout(timer);
      timer = undefined;
      const parsed = parseHead(all.subarray(0, at).toString('latin1'));
      const reason = parsed ? unusable(parsed, ranged, offset) : 'malformed response head';
      if (reason !== undefined || parsed === undefined) {
        finish({ status: 'fallback', sent, reason: reason ?? 'malformed response head' });
        return false;
      }
      keepAlive = parsed.keepAlive;
      remaining = Number(parsed.headers.get('content-length'));
      if (remaining === 0) {
        finish({ status: 'complete', sent }, true);
        return false;
      }
      const rest = all.subarray(at + 4);
      return rest.length === 0 ? true : body(rest);
    };

    let paused = false;
    connection.consumer = (data) => {
      if (settled) return false;
      const more = headChunks !== undefined ? head(data) : body(data);
      paused = !more;
      return more;
    };

    const range = ranged ? `Range: bytes=${offset}-${end ?? ''}\r\n` : '';
    socket.ref();
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n${range}` +
        'Accept-Encoding: identity\r\nUser-Agent: berth\r\n\r\n',
    );
    socket.resume();
  });
}

/** Why a response head is not a plain body this client can copy, or undefined if it is. */
function unusable(head: Head, ranged: boolean, offset: number): string | undefined {
  if (head.status !== (ranged ? 206 : 200)) return `HTTP ${head.status}`;
  if (head.headers.has('transfer-encoding')) return 'transfer-encoding';
  const length = head.headers.get('content-length');
  if (length === undefined || !/^\d+$/.test(length)) return 'no content-length';
  if (ranged) {
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(head.headers.get('content-range') ?? '');
    if (!m || Number(m[1]) !== offset) return 'unexpected content-range';
  }
  return undefined;
}

/**
 * Writes `source` into `destination` (not ending it) and resolves once the destination took the last byte, as
 * rawGet's 'complete' does: copyTo's SDK fallback. stream.pipeline with `end: false` resolves when the source
 * ends, while its last chunks may still wait in the destination's buffer: a caller reading or ending the
 * destination at once would miss them, and a failure to write them would go unreported.
 */
export async function writeAll(source: Readable, destination: Writable): Promise<void> {
  let failure: Error | undefined;
  let pending = 0;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const fail = (err: Error): void => {
    failure ??= err;
    source.destroy(); // stop reading at once, as pipeline would
    signal();
  };
  const onClose = (): void => fail(new Error('destination closed before the content was sent'));
  /** Waits for a write callback, a drain or a failure. */
  const next = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  destination.once('close', onClose);
  destination.once('error', fail);
  destination.on('drain', signal);
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (failure) break;
      pending++;
      // Callbacks run in write order: when none is pending, the destination took everything.
      const more = destination.write(chunk, (err) => {
        pending--;
        if (err) fail(err);
        else signal();
      });
      if (!more) while (destination.writableNeedDrain && !failure) await next();
    }
    while (pending > 0 && !failure) await next();
  } catch (err) {
    // The source destroyed by a failure of the destination ends the loop with a premature-close error.
    throw failure ?? err;
  } finally {
    destination.off('close', onClose);
    destination.off('error', fail);
    destination.off('drain', signal);
  }
  if (failure) throw failure;
}
