// A Content-Type that is no media type (found by the HTTP fuzzer: it was a 500) is judged by the registry, as
// Distribution does: a blob upload ignores it, a manifest PUT is MANIFEST_INVALID.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import { pushImage, sha256 } from '../registry/client.ts';
import { rawRequest } from './raw-http.ts';
import { specErrorCodes } from './spec-response.ts';

const unparsable = ['\t"! ', 'text/', '/json', 'a b', ';', '"'];

describe('unparsable Content-Type', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(() => registry.close());

  for (const type of unparsable) {
    it(`${JSON.stringify(type)}: a blob upload goes through`, async () => {
      const content = Buffer.from(`blob with content type ${type}`);
      const digest = sha256(content);
      const res = await rawRequest(registry.url, {
        method: 'POST',
        path: `/v2/ct/blobs/uploads/?digest=${digest}`,
        headers: { 'Content-Type': type },
        body: content,
      });
      assert.equal(res.status, 201, res.body);
      assert.equal(res.headers['docker-content-digest'], digest);
    });

    // `;` names no type at all: like an absent Content-Type, the body's mediaType decides.
    if (type === ';') continue;
    it(`${JSON.stringify(type)}: a manifest PUT is MANIFEST_INVALID`, async () => {
      const image = await pushImage(registry.url, 'ct', null, [Buffer.from('layer')]);
      const res = await rawRequest(registry.url, {
        method: 'PUT',
        path: '/v2/ct/manifests/bad',
        headers: { 'Content-Type': type },
        body: image.manifest,
      });
      assert.equal(res.status, 400, res.body);
      assert.deepEqual(specErrorCodes(res), ['MANIFEST_INVALID']);
    });
  }

  it('an upload PATCH and DELETE with such a Content-Type still answer as the spec says', async () => {
    const start = await rawRequest(registry.url, { method: 'POST', path: '/v2/ct/blobs/uploads/' });
    assert.equal(start.status, 202);
    const location = String(start.headers['location']);
    const patch = await rawRequest(registry.url, {
      method: 'PATCH',
      path: location,
      headers: { 'Content-Type': 'a b' },
      body: Buffer.from('chunk'),
    });
    assert.equal(patch.status, 202, patch.body);
    const del = await rawRequest(registry.url, {
      method: 'DELETE',
      path: location,
      headers: { 'Content-Type': ';' },
    });
    assert.equal(del.status, 204, del.body);
  });
});
