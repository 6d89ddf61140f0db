// `http.debug`: Distribution's debug listener on its own port, here on a real `berth-registry serve` process.
// It answers /debug/health and, with prometheus enabled, the same metrics registry as the main port's /metrics.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startBerth } from '../harness/berth.ts';
import { freePort } from '../harness/ports.ts';
import { metricSample as sample } from '../harness/prometheus.ts';
import type { RunningRegistry } from '../harness/registry.ts';

const baseRequests = 'registry_http_requests_total{method="GET",route="base",code="200"}';

describe('http.debug on a real registry', () => {
  let registry: RunningRegistry | undefined;
  let debugUrl = '';

  before(async () => {
    const port = await freePort();
    debugUrl = `http://127.0.0.1:${port}`;
    registry = await startBerth({
      config: {
        log: { level: 'info' },
        http: { debug: { addr: `127.0.0.1:${port}`, prometheus: { enabled: true, path: '/prom' } } },
      },
    });
  });
  after(async () => {
    await registry?.stop();
  });

  function main(): RunningRegistry {
    assert.ok(registry, 'the registry did not start');
    return registry;
  }

  it("serves the main port's metrics at prometheus.path: both ports show the same counts", async () => {
    const scrape = async (url: string): Promise<string> => (await fetch(url)).text();
    const before = sample(await scrape(`${debugUrl}/prom`), baseRequests) ?? 0;
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${main().url}/v2/`)).status, 200);
    const viaMain = await scrape(`${main().url}/metrics`);
    const debug = await fetch(`${debugUrl}/prom`);
    assert.equal(debug.status, 200);
    assert.match(debug.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const viaDebug = await debug.text();
    assert.equal(sample(viaDebug, baseRequests), before + 3, 'requests to the main port are counted');
    assert.equal(sample(viaMain, baseRequests), before + 3, 'the same prom-client registry on both ports');
    assert.match(viaDebug, /^registry_process_process_resident_memory_bytes \d+/m);
    // Scrapes of the debug port are not requests to the registry.
    assert.equal(
      sample(viaDebug, 'registry_http_requests_total{method="GET",route="metrics",code="200"}'),
      1,
    );
  });

  it('answers /debug/health with the storage check, and nothing else', async () => {
    const health = await fetch(`${debugUrl}/debug/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), {});
    assert.equal((await fetch(`${debugUrl}/metrics`)).status, 404, 'metrics are at prometheus.path only');
    assert.equal((await fetch(`${debugUrl}/v2/`)).status, 404, 'the registry API is not on the debug port');
    const post = await fetch(`${debugUrl}/debug/health`, { method: 'POST' });
    assert.equal(post.status, 405);
    await post.body?.cancel();
    assert.match(main().output(), /debug server listening/);
  });
});

describe('http.debug without prometheus', () => {
  it('serves /debug/health only, as Distribution does with prometheus disabled', async () => {
    const port = await freePort();
    const registry = await startBerth({ config: { http: { debug: { addr: `127.0.0.1:${port}` } } } });
    try {
      assert.equal((await fetch(`http://127.0.0.1:${port}/debug/health`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404);
      // The main port keeps its own /metrics.
      assert.equal((await fetch(`${registry.url}/metrics`)).status, 200);
    } finally {
      await registry.stop();
    }
  });

  it('an address already in use stops start-up, naming the debug server', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    assert.ok(address !== null && typeof address === 'object');
    try {
      await assert.rejects(
        startBerth({ config: { http: { debug: { addr: `127.0.0.1:${address.port}` } } } }),
        /exited during start-up[\s\S]*http\.debug\.addr: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/,
      );
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
