// Read-only maintenance mode: writes refused with 405 + Allow, reads go on, the mode is reported.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { pushImage, putManifest, sha256 } from './client.ts';

describe('read-only mode', () => {
  let registry: TestRegistry;
  let url: string;
  let image: Awaited<ReturnType<typeof pushImage>>;
  before(async () => {
    registry = await startTestRegistry();
    url = registry.url;
    image = await pushImage(url, 'ro/app', 'v1', [Buffer.from('layer')]);
    registry.settings.readOnly = true;
  });
  after(() => registry.close());

  it('refuses every write with 405, Allow: GET, HEAD and an UNSUPPORTED body that says why', async () => {
    const writes: [string, string, string | Buffer | undefined][] = [
      ['POST', '/v2/ro/app/blobs/uploads/', undefined],
      ['POST', `/v2/ro/app/blobs/uploads/?digest=${sha256('x')}`, 'x'],
      ['PUT', '/v2/ro/app/manifests/v2', image.manifest],
      ['DELETE', `/v2/ro/app/manifests/${image.digest}`, undefined],
      ['DELETE', `/v2/ro/app/blobs/${image.layers[0]}`, undefined],
      ['PATCH', '/v2/ro/app/blobs/uploads/00000000-0000-4000-8000-000000000000', 'x'],
    ];
    for (const [method, path, body] of writes) {
      const res = await fetch(`${url}${path}`, { method, ...(body !== undefined ? { body } : {}) });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), 'GET, HEAD');
      const json = (await res.json()) as { errors: { code: string; message: string }[] };
      assert.equal(json.errors[0]?.code, 'UNSUPPORTED');
      assert.match(json.errors[0]?.message ?? '', /read-only/);
    }
  });

  it('keeps serving reads', async () => {
    assert.equal((await fetch(`${url}/v2/ro/app/manifests/v1`)).status, 200);
    assert.equal((await fetch(`${url}/v2/ro/app/blobs/${image.layers[0]}`)).status, 200);
    assert.equal((await fetch(`${url}/v2/ro/app/tags/list`)).status, 200);
    assert.equal((await fetch(`${url}/v2/_catalog`)).status, 200);
  });

  it('reports the mode and config revision, and switches back without a restart', async () => {
    const state = (await (await fetch(`${url}/berth/v1/maintenance`)).json()) as {
      readOnly: boolean;
      configRevision: string;
    };
    assert.deepEqual([state.readOnly, state.configRevision], [true, 'test']);
    registry.settings.readOnly = false;
    const after = (await (await fetch(`${url}/berth/v1/maintenance`)).json()) as { readOnly: boolean };
    assert.equal(after.readOnly, false);
    assert.equal((await putManifest(url, 'ro/app', 'v2', image.manifest)).status, 201);
  });
});
