// `http.debug` (Distribution's debug listener): a plain-HTTP server on its own address, so probes and Prometheus
// need not share the registry's port (or its TLS and Ingress). It answers `/debug/health` (the same storage
// check as the main port) and, with `http.debug.prometheus.enabled`, the main port's metrics at
// `http.debug.prometheus.path` — as Distribution does (its pprof and expvar pages have no counterpart here).
//
// It follows the app's life: it listens when the app gets ready (so an address in use fails start-up, as it
// stops Distribution) and closes after the app has closed, so health stays answerable while requests drain.
import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { RegistryConfig } from './config/schema.ts';
import { StorageHealthCheck } from './http/health.ts';
import { http } from './node-http.ts';
import type { StorageDriver } from './storage/driver.ts';

export type DebugConfig = NonNullable<RegistryConfig['http']['debug']>;

export interface DebugServices {
  /** The main app's metrics registry: both ports serve the same numbers. */
  metrics: MetricsRegistry;
  driver: StorageDriver;
  log: Logger;
}

/** Host and port of an address in `http.addr`'s forms (`:5001`, `localhost:5001`, `[::1]:5001`). */
function listenAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`http.debug.addr: expected host:port, got ${JSON.stringify(addr)}`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '::' : host, port: Number(m[3]) };
}

/** The debug server's request handling, without listening (for tests and for attachDebugServer). */
export function createDebugServer(debug: DebugConfig, services: DebugServices): Server {
  const health = new StorageHealthCheck(services.driver);
  const metricsPath = debug.prometheus.enabled ? debug.prometheus.path : undefined;
  return http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string): void => {
      response.writeHead(status, { 'Content-Type': type }).end(request.method === 'HEAD' ? undefined : body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      reply(405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    const answer = async (): Promise<void> => {
      if (path === '/debug/health') {
        const failures = await health.check();
        const status = Object.keys(failures).length === 0 ? 200 : 503;
        reply(status, 'application/json; charset=utf-8', JSON.stringify(failures));
      } else if (path === metricsPath) {
        reply(200, services.metrics.contentType, await services.metrics.metrics());
      } else {
        reply(404, 'text/plain; charset=utf-8', '404 page not found\n');
      }
    };
    answer().catch((err: unknown) => {
      services.log.warn({ err, path }, 'debug server request failed');
      if (!response.headersSent) reply(500, 'text/plain; charset=utf-8', 'internal error\n');
      else response.destroy();
    });
  });
}

/** Serves `http.debug` (when configured) for as long as `app` runs. */
export function attachDebugServer(
  app: FastifyInstance,
  debug: DebugConfig | undefined,
  services: DebugServices,
): void {
  if (debug === undefined) return;
  let server: Server | undefined;
  app.addHook('onReady', async () => {
    const { host, port } = listenAddress(debug.addr);
    const starting = createDebugServer(debug, services);
    await new Promise<void>((resolve, reject) => {
      // Named for this key: an EADDRINUSE as such would be reported as a clash on http.addr.
      const failed = (err: Error): void =>
        reject(
          new Error(`http.debug.addr: cannot listen on ${debug.addr}: ${err.message}; set a free port`, {
            cause: err,
          }),
        );
      starting.once('error', failed);
      starting.listen({ host, port }, () => {
        starting.off('error', failed);
        resolve();
      });
    });
    server = starting;
    services.log.info(
      { address: debug.addr, metrics: debug.prometheus.enabled ? debug.prometheus.path : false },
      'debug server listening',
    );
  });
  app.addHook('onClose', async () => {
    const running = server;
    server = undefined;
    if (running === undefined) return;
    await new Promise<void>((resolve) => running.close(() => resolve()));
  });
}
