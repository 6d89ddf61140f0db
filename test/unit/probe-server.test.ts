// operator/runtime/server.ts: the operator's node:http probe server on a real loopback socket — /healthz,
// /readyz (200 or 503 as readiness changes), /metrics (Prometheus text and content type), HEAD for each,
// fastify-compatible 404 and 500 bodies, query strings ignored, and close() with a keep-alive client.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { buildProbeServer, parseListenAddress, type ProbeServer } from '../../operator/runtime/server.ts';

describe('operator probe server', () => {
  const registry = new Registry();
  new Counter({ name: 'probe_test_total', help: 'A test counter.', registers: [registry] }).inc(3);
  let ready = false;
  let server: ProbeServer;
  let base: string;

  before(async () => {
    server = buildProbeServer({
      ready: () => ready,
      info: () => ({ leader: false, identity: 'pod-a_1234' }),
      registry,
    });
    base = await server.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => server.close());

  it('listens and reports its address as a URL', () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('/healthz is 200 with the info', async () => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(await res.json(), { status: 'ok', leader: false, identity: 'pod-a_1234' });
  });

  it('/readyz is 503 until ready, then 200', async () => {
    ready = false;
    const notReady = await fetch(`${base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), { status: 'not ready', leader: false, identity: 'pod-a_1234' });
    ready = true;
    const isReady = await fetch(`${base}/readyz`);
    assert.equal(isReady.status, 200);
    assert.deepEqual(await isReady.json(), { status: 'ready', leader: false, identity: 'pod-a_1234' });
  });

  it('/metrics serves the registry in its content type', async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), registry.contentType);
    const body = await res.text();
    assert.equal(body, await registry.metrics());
    assert.match(body, /^probe_test_total 3$/m);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const get = await fetch(`${base}/metrics`);
    const getBody = await get.text();
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), registry.contentType);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(getBody)));
    assert.equal(await head.text(), '');
  });

  it('ignores the query string', async () => {
    assert.equal((await fetch(`${base}/healthz?verbose=1`)).status, 200);
  });

  it('is 404 with a JSON body for unknown paths and other methods', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/healthz/'],
      ['POST', '/healthz'],
      ['DELETE', '/metrics'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(await res.json(), {
        message: `Route ${method}:${path} not found`,
        error: 'Not Found',
        statusCode: 404,
      });
    }
  });

  it('is 500 with a JSON body when collecting metrics fails', async () => {
    const failing = new Registry();
    new Counter({
      name: 'probe_failing_total',
      help: 'Its collect throws.',
      registers: [failing],
      collect() {
        throw new Error('collect failed');
      },
    });
    const other = buildProbeServer({ ready: () => true, registry: failing });
    const url = await other.listen({ host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(`${url}/metrics`);
      assert.equal(res.status, 500);
      const body = (await res.json()) as { statusCode: number; message: string };
      assert.equal(body.statusCode, 500);
      assert.match(body.message, /collect failed/);
    } finally {
      await other.close();
    }
  });

  it('close() returns with an idle keep-alive connection open', async () => {
    const other = buildProbeServer({ ready: () => true, registry });
    const url = await other.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`${url}/healthz`, { headers: { connection: 'keep-alive' } });
    await res.text();
    await other.close();
    await assert.rejects(fetch(`${url}/healthz`));
  });
});

describe('parseListenAddress', () => {
  it('reads host:port, [v6]:port and :port', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseListenAddress('[::1]:9'), { host: '::1', port: 9 });
    assert.deepEqual(parseListenAddress(':8080'), { host: '::', port: 8080 });
    assert.throws(() => parseListenAddress('8080'), /not \[host\]:port/);
    assert.throws(() => parseListenAddress(':70000'), /not \[host\]:port/);
  });
});
