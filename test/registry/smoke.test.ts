import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { pushImage, sha256 } from './client.ts';

describe('registry smoke', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(() => registry.close());

  it('answers /v2/ with the API version header', async () => {
    const res = await fetch(`${registry.url}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  it('pushes and pulls an image', async () => {
    const image = await pushImage(registry.url, 'team/app', 'v1', [
      Buffer.from('layer one'),
      Buffer.from('layer two'),
    ]);
    const res = await fetch(`${registry.url}/v2/team/app/manifests/v1`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), image.digest);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), image.manifest);
    const blob = await fetch(`${registry.url}/v2/team/app/blobs/${image.layers[0]}`);
    assert.equal(await blob.text(), 'layer one');
    assert.equal(sha256('layer one'), image.layers[0]);
  });
});
