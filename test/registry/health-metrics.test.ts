// /debug/health and Prometheus /metrics.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm, symlink } from 'node:fs/promises';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { pushImage } from './client.ts';
import { requireMetricSample } from '../harness/prometheus.ts';

describe('health and metrics', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(() => registry.close());

  it('reports a healthy storage driver as 200 {}', async () => {
    const res = await fetch(`${registry.url}/debug/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
  });

  it('exports registry_http_* metrics labelled by route, method and code', async () => {
    await pushImage(registry.url, 'metrics/app', 'v1', [Buffer.from('m')]);
    await fetch(`${registry.url}/v2/metrics/app/manifests/missing`);
    const text = await (await fetch(`${registry.url}/metrics`)).text();
    assert.match(text, /registry_http_requests_total\{method="PUT",route="manifest",code="201"\} 1/);
    assert.match(text, /registry_http_requests_total\{method="GET",route="manifest",code="404"\} 1/);
    assert.match(
      text,
      /registry_http_request_duration_seconds_bucket\{le="[^"]+",method="POST",route="uploads"\}/,
    );
    assert.match(text, /registry_http_in_flight_requests 1/);
  });

  it("exports the filesystem driver's small-file reads: a GET by tag reads its two links", async () => {
    const read = async (): Promise<{ blocking: number; pooled: number; pauses: number }> => {
      const text = await (await fetch(`${registry.url}/metrics`)).text();
      return {
        blocking: requireMetricSample(text, 'berth_storage_small_file_reads_total{mode="blocking"}'),
        pooled: requireMetricSample(text, 'berth_storage_small_file_reads_total{mode="pooled"}'),
        pauses: requireMetricSample(text, 'berth_storage_small_file_read_pauses_total'),
      };
    };
    await pushImage(registry.url, 'metrics/links', 'v1', [Buffer.from('l')]);
    const before = await read();
    const res = await fetch(`${registry.url}/v2/metrics/links/manifests/v1`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(res.status, 200);
    const after = await read();
    assert.equal(
      after.blocking + after.pooled,
      before.blocking + before.pooled + 2,
      'the tag and revision links',
    );
    // Blocking, unless a slow read on a loaded machine paused the blocking path (then it is counted).
    if (after.pauses === 0) assert.equal(after.blocking, before.blocking + 2);
  });
});

describe('health with a broken storage root', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(() => registry.close());

  it('answers 503 naming the failing driver check', async () => {
    // Tests run as root, which permissions cannot stop: turn the root into a symlink loop (ELOOP) instead.
    await rm(registry.root, { recursive: true, force: true });
    await symlink(registry.root, registry.root);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const res = await fetch(`${registry.url}/debug/health`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as Record<string, string>;
    assert.ok(
      Object.keys(body).some((key) => key.startsWith('storagedriver_')),
      JSON.stringify(body),
    );
    await rm(registry.root, { force: true });
  });
});
