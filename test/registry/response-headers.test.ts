// `http.headers`: the configured headers are on every response the registry API sends, successes and errors,
// buffered and streamed, as Distribution adds them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { pushImage } from './client.ts';

const headers = { 'X-Content-Type-Options': ['nosniff'], 'X-Berth-Test': ['first', 'second'] };

describe('http.headers on responses', () => {
  let registry: TestRegistry;
  let layerDigest: string;
  before(async () => {
    registry = await startTestRegistry({ headers });
    const pushed = await pushImage(registry.url, 'headers/app', 'v1', [Buffer.from('layer bytes')]);
    layerDigest = pushed.layers[0] ?? '';
  });
  after(() => registry.close());

  const cases: [string, string, number][] = [
    ['the base endpoint', '/v2/', 200],
    ['a manifest GET', '/v2/headers/app/manifests/v1', 200],
    ['a MANIFEST_UNKNOWN error', '/v2/headers/app/manifests/missing', 404],
    ['a NAME_INVALID error', '/v2/Bad_Name/manifests/v1', 400],
  ];
  for (const [what, path, status] of cases) {
    it(`are on ${what}`, async () => {
      const res = await fetch(`${registry.url}${path}`, {
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      await res.arrayBuffer();
      assert.equal(res.status, status);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('x-berth-test'), 'first, second');
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    });
  }

  it('are on a streamed blob GET', async () => {
    const res = await fetch(`${registry.url}/v2/headers/app/blobs/${layerDigest}`);
    assert.equal(res.status, 200);
    assert.equal(Buffer.from(await res.arrayBuffer()).toString(), 'layer bytes');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-berth-test'), 'first, second');
  });
});
