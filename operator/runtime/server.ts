// The operator's HTTP endpoints: /healthz (the process is alive and its event loop turns), /readyz (every
// informer has synced; leader-agnostic, so a standby replica is ready too) and /metrics (Prometheus).
// A plain node:http server: three fixed routes do not need a framework, and fastify cost the operator ~8 MiB
// of RSS (bench/operator.ts, idle and peak). Responses match what fastify sent (JSON bodies, HEAD for every
// GET route, fastify's 404 and 500 bodies), so probes and scrapers see no difference.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createServer } from './node-http.ts';

export interface ProbeServerOptions {
  ready: () => boolean;
  /** Extra detail for /readyz and /healthz bodies. */
  info?: () => Record<string, unknown>;
  registry: Registry;
}

export interface ProbeServer {
  /** Starts listening; resolves to the address as a URL (`http://127.0.0.1:8080`). */
  listen(opts: { host: string; port: number }): Promise<string>;
  /** Stops accepting connections, closes idle keep-alive ones and waits for in-flight requests. */
  close(): Promise<void>;
}

interface Reply {
  status: number;
  contentType: string;
  body: string;
}

const jsonType = 'application/json; charset=utf-8';

function json(status: number, body: unknown): Reply {
  return { status, contentType: jsonType, body: JSON.stringify(body) };
}

/** The reply for one GET (or HEAD) of `path`; undefined for an unknown path. */
async function route(path: string, opts: ProbeServerOptions): Promise<Reply | undefined> {
  switch (path) {
    case '/healthz':
      return json(200, { status: 'ok', ...opts.info?.() });
    case '/readyz': {
      const ready = opts.ready();
      return json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', ...opts.info?.() });
    }
    case '/metrics':
      return { status: 200, contentType: opts.registry.contentType, body: await opts.registry.metrics() };
    default:
      return undefined;
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: ProbeServerOptions): Promise<void> {
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const path = url.split('?', 1)[0] ?? url;
  let reply: Reply | undefined;
  try {
    reply = method === 'GET' || method === 'HEAD' ? await route(path, opts) : undefined;
    reply ??= json(404, { message: `Route ${method}:${url} not found`, error: 'Not Found', statusCode: 404 });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    reply = json(500, { statusCode: 500, error: 'Internal Server Error', message });
  }
  res.writeHead(reply.status, {
    'content-type': reply.contentType,
    'content-length': Buffer.byteLength(reply.body),
  });
  res.end(method === 'HEAD' ? undefined : reply.body);
}

function formatAddress(addr: AddressInfo): string {
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${host}:${String(addr.port)}`;
}

export function buildProbeServer(opts: ProbeServerOptions): ProbeServer {
  const server = createServer((req, res) => void handle(req, res, opts));
  return {
    listen: ({ host, port }) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve(formatAddress(server.address() as AddressInfo));
        });
      }),
    close: () =>
      new Promise((resolve, reject) => {
        if (!server.listening) return resolve();
        // close() also ends idle keep-alive connections (Node >= 19); busy ones end after their response.
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** `[host]:port` → listen options; an empty host listens on every interface. */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`address ${JSON.stringify(addr)} is not [host]:port`);
  return { host: m[1] ?? (m[2] || '::'), port };
}
