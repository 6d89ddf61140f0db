// Blob GET/HEAD/DELETE: ranges, headers, repository scoping, delete gating.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { errorCode, pushBlob, sha256 } from './client.ts';

describe('blob reads and deletes', () => {
  let registry: TestRegistry;
  let url: string;
  let digest: string;
  const content = Buffer.from('0123456789abcdefghij');
  before(async () => {
    registry = await startTestRegistry();
    url = registry.url;
    digest = await pushBlob(url, 'reads/app', content);
  });
  after(() => registry.close());

  it('HEAD returns length and digest without a body', async () => {
    const res = await fetch(`${url}/v2/reads/app/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(content.length));
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('serves a byte range with 206 and Content-Range', async () => {
    const res = await fetch(`${url}/v2/reads/app/blobs/${digest}`, { headers: { Range: 'bytes=5-9' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-range'), `bytes 5-9/${content.length}`);
    assert.equal(await res.text(), '56789');
    const suffix = await fetch(`${url}/v2/reads/app/blobs/${digest}`, { headers: { Range: 'bytes=-3' } });
    assert.equal(suffix.status, 206);
    assert.equal(await suffix.text(), 'hij');
    const open = await fetch(`${url}/v2/reads/app/blobs/${digest}`, { headers: { Range: 'bytes=18-' } });
    assert.equal(await open.text(), 'ij');
  });

  it('answers an unsatisfiable range with 416', async () => {
    const res = await fetch(`${url}/v2/reads/app/blobs/${digest}`, { headers: { Range: 'bytes=100-200' } });
    assert.equal(res.status, 416);
    assert.equal(res.headers.get('content-range'), `bytes */${content.length}`);
  });

  it('reports unknown blobs and blobs of other repositories as BLOB_UNKNOWN', async () => {
    const unknown = await fetch(`${url}/v2/reads/app/blobs/${sha256('nope')}`);
    assert.equal(unknown.status, 404);
    assert.equal(await errorCode(unknown), 'BLOB_UNKNOWN');
    const otherRepo = await fetch(`${url}/v2/reads/other/blobs/${digest}`);
    assert.equal(otherRepo.status, 404);
    assert.equal(await errorCode(otherRepo), 'BLOB_UNKNOWN');
  });

  it('deletes a blob link (202) and then 404s; refuses with 405 when deletes are disabled', async () => {
    const victim = await pushBlob(url, 'reads/delete', Buffer.from('to delete'));
    registry.settings.deleteEnabled = false;
    const refused = await fetch(`${url}/v2/reads/delete/blobs/${victim}`, { method: 'DELETE' });
    assert.equal(refused.status, 405);
    assert.equal(await errorCode(refused), 'UNSUPPORTED');
    registry.settings.deleteEnabled = true;
    const del = await fetch(`${url}/v2/reads/delete/blobs/${victim}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    assert.equal((await fetch(`${url}/v2/reads/delete/blobs/${victim}`, { method: 'HEAD' })).status, 404);
  });
});
