// The operator's HTTP endpoints: /healthz (the process is alive and its event loop turns), /readyz (every
// informer has synced; leader-agnostic, so a standby replica is ready too) and /metrics (Prometheus).
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface ProbeServerOptions {
  ready: () => boolean;
  /** Extra detail for /readyz and /healthz bodies. */
  info?: () => Record<string, unknown>;
  registry: Registry;
}

export function buildProbeServer(opts: ProbeServerOptions): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok', ...opts.info?.() }));
  app.get('/readyz', async (_req, reply) => {
    const ready = opts.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', ...opts.info?.() });
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await opts.registry.metrics();
    return reply.header('content-type', opts.registry.contentType).send(text);
  });
  return app;
}

/** `[host]:port` → listen options; an empty host listens on every interface. */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`address ${JSON.stringify(addr)} is not [host]:port`);
  return { host: m[1] ?? (m[2] || '::'), port };
}
