// Graceful stop of the registry's HTTP server: stop accepting, let the requests in flight finish within a bound,
// then cut the rest and say which they were. New requests on kept-alive connections get 503 meanwhile (fastify's
// return503OnClosing), and every response sent while closing says `Connection: close`, so a client's next
// request opens a connection to a replica that is still serving instead of holding this one open.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { requestPath } from './http/routes.ts';

interface InFlight {
  method: string;
  /** With the query string: the path is cut from it only for a request that is reported as cut. */
  url: string;
  startedAt: number;
}

export interface DrainOptions {
  /** How long requests in flight may take to finish; 0 cuts them at once. */
  graceMs: number;
  /** Cuts the wait short (a second Ctrl-C). */
  signal?: AbortSignal;
  log: Logger;
  /** Called just before the remaining requests are cut. */
  onCut?: () => void;
}

/** Resolves after `ms`, or sooner when `signal` aborts; `cancel` drops the timer and the listener. */
function expiry(ms: number, signal: AbortSignal | undefined): { done: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  const done = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    onAbort = () => resolve();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) resolve();
  });
  return {
    done,
    cancel: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

export class HttpDrain {
  readonly #app: FastifyInstance;
  readonly #inFlight = new Map<ServerResponse, InFlight>();
  #closing = false;

  /** Adds the hook that tracks requests; call before the app is ready. */
  constructor(app: FastifyInstance) {
    this.#app = app;
    const inFlight = this.#inFlight;
    // 'close' comes once per response: when it has been sent, or when the connection went away first. One
    // shared listener rather than a closure per request: this hook runs on every request the registry serves.
    function forget(this: ServerResponse): void {
      inFlight.delete(this);
    }
    app.addHook('onRequest', (request, reply, done) => {
      inFlight.set(reply.raw, { method: request.method, url: request.url, startedAt: Date.now() });
      reply.raw.on('close', forget);
      if (this.#closing) reply.header('Connection', 'close');
      done();
    });
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Closes the app; resolves with the number of requests that were cut. */
  async close(options: DrainOptions): Promise<number> {
    this.#closing = true;
    // Responses not yet started say `Connection: close` (node merges setHeader into fastify's writeHead);
    // requests that arrive from now on get it in the hook.
    for (const response of this.#inFlight.keys()) {
      if (!response.headersSent) response.setHeader('Connection', 'close');
    }
    const { log } = options;
    const waiting = this.#inFlight.size;
    if (!this.#app.server.listening) {
      // Never served (a failed start): nothing to drain or to report.
    } else if (waiting > 0) {
      log.info(
        { inFlight: waiting, waitSeconds: options.graceMs / 1000 },
        options.signal
          ? 'shutting down: waiting for the requests in flight (stop again to cut them now)'
          : 'shutting down: waiting for the requests in flight',
      );
    } else {
      log.info('shutting down');
    }
    const closed = this.#app.close();
    const timeout = expiry(options.graceMs, options.signal);
    const finished = await Promise.race([closed.then(() => true), timeout.done.then(() => false)]);
    timeout.cancel();
    if (finished) return 0;

    const now = Date.now();
    const cut = [...this.#inFlight.values()];
    for (const request of cut) {
      log.warn(
        { method: request.method, path: requestPath(request.url), elapsedMs: now - request.startedAt },
        'request cut by shutdown',
      );
    }
    options.onCut?.();
    this.#app.server.closeAllConnections();
    await closed;
    return cut.length;
  }
}
