// The referrers API: artifacts with a subject, artifactType filtering, OCI-Subject on push.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { pushBlob, pushImage, putManifest, sha256 } from './client.ts';

const ociIndex = 'application/vnd.oci.image.index.v1+json';
const emptyConfig = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256('{}'), size: 2 };

interface Index {
  manifests: {
    digest: string;
    artifactType?: string;
    annotations?: Record<string, string>;
    mediaType: string;
  }[];
}

describe('referrers', () => {
  let registry: TestRegistry;
  let url: string;
  let subject: string;
  const artifacts: Record<string, string> = {};
  before(async () => {
    registry = await startTestRegistry();
    url = registry.url;
    const image = await pushImage(url, 'ref/app', 'v1', [Buffer.from('base')]);
    subject = image.digest;
    await pushBlob(url, 'ref/app', Buffer.from('{}'));
    for (const type of ['application/vnd.example.sbom', 'application/vnd.example.signature']) {
      const layer = await pushBlob(url, 'ref/app', Buffer.from(type));
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: type,
          config: emptyConfig,
          layers: [{ mediaType: 'application/octet-stream', digest: layer, size: type.length }],
          subject: {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: subject,
            size: image.manifest.length,
          },
          annotations: { 'org.example.kind': type },
        }),
      );
      const res = await putManifest(url, 'ref/app', sha256(manifest), manifest);
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('oci-subject'), subject);
      artifacts[type] = sha256(manifest);
    }
  });
  after(() => registry.close());

  it('lists every referrer as an OCI index with artifactType and annotations', async () => {
    const res = await fetch(`${url}/v2/ref/app/referrers/${subject}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), ociIndex);
    const index = (await res.json()) as Index;
    assert.deepEqual(index.manifests.map((m) => m.digest).sort(), Object.values(artifacts).sort());
    const sbom = index.manifests.find((m) => m.artifactType === 'application/vnd.example.sbom');
    assert.equal(sbom?.annotations?.['org.example.kind'], 'application/vnd.example.sbom');
  });

  it('filters by artifactType and says so in OCI-Filters-Applied', async () => {
    const res = await fetch(
      `${url}/v2/ref/app/referrers/${subject}?artifactType=application/vnd.example.signature`,
    );
    assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
    const index = (await res.json()) as Index;
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [artifacts['application/vnd.example.signature']],
    );
  });

  it('returns an empty index for a subject without referrers, and drops deleted referrers', async () => {
    const none = (await (await fetch(`${url}/v2/ref/app/referrers/${sha256('nothing')}`)).json()) as Index;
    assert.deepEqual(none.manifests, []);
    const sig = artifacts['application/vnd.example.signature'] ?? '';
    assert.equal((await fetch(`${url}/v2/ref/app/manifests/${sig}`, { method: 'DELETE' })).status, 202);
    const index = (await (await fetch(`${url}/v2/ref/app/referrers/${subject}`)).json()) as Index;
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [artifacts['application/vnd.example.sbom']],
    );
  });
});
