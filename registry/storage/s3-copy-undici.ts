// copyTo's presigned GET through undici (an Agent per driver, keep-alive), with the same contract as
// s3-copy.ts's rawGet: the bytes go straight from undici's body callbacks into the destination, reading pauses
// while the destination pushes back, and anything but a plain 200/206 (an error status, a failed connection)
// is handed back with the number of bytes already sent, for the driver to continue through the SDK.
import { Agent, type Dispatcher } from 'undici';
import type { RawGetRequest, RawGetResult } from './s3-copy.ts';

/** Idle keep-alive sockets are closed after this long (the server's own hint wins when shorter). */
const keepAliveTimeoutMs = 10_000;
const headersTimeoutMs = 10_000;

export function undiciAgent(rejectUnauthorized: boolean): Agent {
  return new Agent({
    keepAliveTimeout: keepAliveTimeoutMs,
    headersTimeout: headersTimeoutMs,
    connect: { rejectUnauthorized },
  });
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Copies one GET's body into `request.destination` (not ending it). Resolves, never rejects. */
export async function undiciGet(
  agent: Dispatcher,
  request: Omit<RawGetRequest, 'rejectUnauthorized'>,
): Promise<RawGetResult> {
  const { destination, offset, end } = request;
  const url = new URL(request.url);
  const ranged = offset > 0 || end !== undefined;
  await request.acquire?.();
  return new Promise<RawGetResult>((resolve) => {
    let settled = false;
    let sent = 0;
    let pending = 0;
    let ended = false;
    let controller: Dispatcher.DispatchController | undefined;
    const finish = (result: RawGetResult): void => {
      if (settled) return;
      settled = true;
      destination.off('close', onDestinationClose);
      destination.off('error', onDestinationError);
      destination.off('drain', onDrain);
      if (result.status !== 'complete' && controller && !controller.aborted) {
        controller.abort(new Error('copy stopped'));
      }
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
    const onDrain = (): void => {
      if (!settled && controller?.paused) controller.resume();
    };
    destination.once('close', onDestinationClose);
    destination.once('error', onDestinationError);
    destination.on('drain', onDrain);

    const written = (err?: Error | null): void => {
      pending--;
      if (settled) return;
      if (err) finish({ status: 'destination-closed', sent, error: err });
      else if (ended && pending === 0) finish({ status: 'complete', sent });
    };

    agent.dispatch(
      {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: {
          'accept-encoding': 'identity',
          'user-agent': 'berth',
          ...(ranged ? { range: `bytes=${offset}-${end ?? ''}` } : {}),
        },
      },
      {
        onRequestStart(c) {
          controller = c;
          if (settled) c.abort(new Error('copy stopped'));
        },
        onResponseStart(c, statusCode, headers) {
          if (statusCode < 200) return;
          const reason = unusable(statusCode, headers, ranged, offset);
          if (reason !== undefined) finish({ status: 'fallback', sent, reason });
        },
        onResponseData(c, chunk) {
          if (settled) return;
          pending++;
          sent += chunk.length;
          if (!destination.write(chunk, written)) c.pause();
        },
        onResponseEnd() {
          ended = true;
          if (!settled && pending === 0) finish({ status: 'complete', sent });
        },
        onResponseError(_c, error) {
          finish({ status: 'fallback', sent, reason: error.message });
        },
      },
    );
  });
}

/** Why a response is not a plain body to copy, or undefined if it is. */
function unusable(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  ranged: boolean,
  offset: number,
): string | undefined {
  if (status !== (ranged ? 206 : 200)) return `HTTP ${status}`;
  if (ranged) {
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header(headers, 'content-range') ?? '');
    if (!m || Number(m[1]) !== offset) return 'unexpected content-range';
  }
  return undefined;
}
