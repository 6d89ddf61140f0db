// Manifest push/pull/delete, validation and content negotiation.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { errorCode, pushBlob, pushImage, putManifest, sha256 } from './client.ts';

const oci = 'application/vnd.oci.image.manifest.v1+json';
const ociIndex = 'application/vnd.oci.image.index.v1+json';
const docker = 'application/vnd.docker.distribution.manifest.v2+json';
const dockerList = 'application/vnd.docker.distribution.manifest.list.v2+json';

describe('manifests', () => {
  let registry: TestRegistry;
  let url: string;
  before(async () => {
    registry = await startTestRegistry();
    url = registry.url;
  });
  after(() => registry.close());

  it('pushes by tag and pulls by tag and digest with exact bytes and headers', async () => {
    const image = await pushImage(url, 'm/app', 'v1', [Buffer.from('a')]);
    for (const ref of ['v1', image.digest]) {
      const res = await fetch(`${url}/v2/m/app/manifests/${ref}`, { headers: { Accept: oci } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), oci);
      assert.equal(res.headers.get('docker-content-digest'), image.digest);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), image.manifest);
      const head = await fetch(`${url}/v2/m/app/manifests/${ref}`, {
        method: 'HEAD',
        headers: { Accept: oci },
      });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(image.manifest.length));
      assert.equal(head.headers.get('docker-content-digest'), image.digest);
    }
  });

  it('pushes by digest and refuses a body whose digest differs', async () => {
    const image = await pushImage(url, 'm/bydigest', null, [Buffer.from('b')]);
    assert.equal((await fetch(`${url}/v2/m/bydigest/manifests/${image.digest}`)).status, 200);
    const res = await putManifest(url, 'm/bydigest', sha256('other'), image.manifest);
    assert.equal(res.status, 400);
    assert.equal(await errorCode(res), 'DIGEST_INVALID');
  });

  it('refuses manifests whose blobs are not in the repository (MANIFEST_BLOB_UNKNOWN)', async () => {
    const layer = await pushBlob(url, 'm/elsewhere', Buffer.from('elsewhere'));
    const config = await pushBlob(url, 'm/missing', Buffer.from('{}'));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: oci,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 2 },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: 9 }],
      }),
    );
    const res = await putManifest(url, 'm/missing', 'latest', manifest);
    assert.equal(res.status, 400);
    const body = (await res.json()) as { errors: { code: string; detail: { digests: string[] } }[] };
    assert.equal(body.errors[0]?.code, 'MANIFEST_BLOB_UNKNOWN');
    assert.deepEqual(body.errors[0]?.detail.digests, [layer]);
  });

  it('refuses schema1, invalid JSON, mismatched mediaType and bad tags', async () => {
    const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }));
    const r1 = await putManifest(
      url,
      'm/bad',
      'v1',
      schema1,
      'application/vnd.docker.distribution.manifest.v1+prettyjws',
    );
    assert.equal(r1.status, 400);
    assert.equal(await errorCode(r1), 'MANIFEST_INVALID');
    const r2 = await putManifest(url, 'm/bad', 'v1', Buffer.from('{not json'));
    assert.equal(await errorCode(r2), 'MANIFEST_INVALID');
    const image = await pushImage(url, 'm/bad', 'ok', [Buffer.from('c')]);
    const r3 = await putManifest(url, 'm/bad', 'v2', image.manifest, docker);
    assert.equal(r3.status, 400);
    assert.equal(await errorCode(r3), 'MANIFEST_INVALID');
    const r4 = await putManifest(url, 'm/bad', '-badtag', image.manifest);
    assert.equal(r4.status, 400);
    assert.equal(await errorCode(r4), 'TAG_INVALID');
    const r5 = await putManifest(
      url,
      'm/bad',
      'v3',
      Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: oci, config: { digest: 'nope' }, layers: [] }),
      ),
    );
    const body = (await r5.json()) as { errors: { code: string; detail: { field: string }[] }[] };
    assert.equal(body.errors[0]?.code, 'MANIFEST_INVALID');
    assert.ok(
      body.errors[0]?.detail.some((d) => d.field.startsWith('config')),
      'the detail names the bad field',
    );
  });

  it('refuses manifests over 4 MiB with 413', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const res = await putManifest(url, 'm/big', 'v1', big);
    assert.equal(res.status, 413);
    assert.equal(await errorCode(res), 'MANIFEST_INVALID');
  });

  it('negotiates like Distribution v3: OCI only to OCI-accepting clients, lists fall back to linux/amd64', async () => {
    const image = await pushImage(url, 'm/neg', 'oci', [Buffer.from('d')]);
    const dockerOnly = await fetch(`${url}/v2/m/neg/manifests/oci`, { headers: { Accept: docker } });
    assert.equal(dockerOnly.status, 404);
    assert.equal(await errorCode(dockerOnly), 'MANIFEST_UNKNOWN');
    const noAccept = await fetch(`${url}/v2/m/neg/manifests/oci`);
    assert.equal(noAccept.status, 200);

    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: dockerList,
        manifests: [
          {
            mediaType: oci,
            digest: image.digest,
            size: image.manifest.length,
            platform: { os: 'linux', architecture: 'amd64' },
          },
        ],
      }),
    );
    assert.equal((await putManifest(url, 'm/neg', 'list', list, dockerList)).status, 201);
    const asList = await fetch(`${url}/v2/m/neg/manifests/list`, {
      headers: { Accept: `${dockerList}, ${oci}` },
    });
    assert.equal(asList.headers.get('content-type'), dockerList);
    const fallback = await fetch(`${url}/v2/m/neg/manifests/list`, { headers: { Accept: oci } });
    assert.equal(fallback.status, 200);
    assert.equal(fallback.headers.get('docker-content-digest'), image.digest);
  });

  it('stores an OCI index whose children are present, and refuses one with missing children', async () => {
    const a = await pushImage(url, 'm/index', null, [Buffer.from('amd64')]);
    const index = (digests: string[]) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: ociIndex,
          manifests: digests.map((digest) => ({ mediaType: oci, digest, size: 100 })),
        }),
      );
    assert.equal((await putManifest(url, 'm/index', 'multi', index([a.digest]), ociIndex)).status, 201);
    const missing = await putManifest(
      url,
      'm/index',
      'broken',
      index([a.digest, sha256('absent')]),
      ociIndex,
    );
    assert.equal(missing.status, 400);
    assert.equal(await errorCode(missing), 'MANIFEST_BLOB_UNKNOWN');
  });

  it('deletes by tag (untag only) and by digest (manifest and its tags)', async () => {
    const image = await pushImage(url, 'm/del', 'one', [Buffer.from('e')]);
    await putManifest(url, 'm/del', 'two', image.manifest);
    assert.equal((await fetch(`${url}/v2/m/del/manifests/one`, { method: 'DELETE' })).status, 202);
    assert.equal((await fetch(`${url}/v2/m/del/manifests/one`)).status, 404);
    assert.equal((await fetch(`${url}/v2/m/del/manifests/${image.digest}`)).status, 200);
    assert.equal(
      (await fetch(`${url}/v2/m/del/manifests/${image.digest}`, { method: 'DELETE' })).status,
      202,
    );
    assert.equal((await fetch(`${url}/v2/m/del/manifests/two`)).status, 404);
    const again = await fetch(`${url}/v2/m/del/manifests/${image.digest}`, { method: 'DELETE' });
    assert.equal(again.status, 404);
    assert.equal(await errorCode(again), 'MANIFEST_UNKNOWN');
  });
});
