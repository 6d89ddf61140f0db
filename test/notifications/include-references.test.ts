// `notifications.events.includereferences`: manifest events list the manifest's config and layers (an index's
// manifests), as Distribution's Manifest.References(); blob events never do.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pushImage, putManifest, sha256 } from '../registry/client.ts';
import { startReceiver, type Receiver } from './receiver.ts';
import { startNotifyingRegistry, waitForCount, type NotifyingRegistry } from './registry.ts';

const ociManifest = 'application/vnd.oci.image.manifest.v1+json';
const ociIndex = 'application/vnd.oci.image.index.v1+json';

describe('events with includereferences', () => {
  let receiver: Receiver;
  let berth: NotifyingRegistry;
  before(async () => {
    receiver = await startReceiver();
    berth = await startNotifyingRegistry([{ name: 'hook', url: `${receiver.url}/events` }], {
      includereferences: true,
    });
  });
  after(async () => {
    await berth.close();
    await receiver.close();
  });

  it('lists what an image manifest and an index reference', async () => {
    const layers = [Buffer.from('first layer'), Buffer.from('second layer')];
    const image = await pushImage(berth.url, 'refs/app', 'v1', layers);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: ociIndex,
        manifests: [{ mediaType: ociManifest, digest: image.digest, size: image.manifest.length }],
      }),
    );
    assert.equal((await putManifest(berth.url, 'refs/app', 'multi', index, ociIndex)).status, 201);

    await waitForCount('events received', () => receiver.events().length, 5);
    const [config, layer1, layer2, manifest, list] = receiver.events();
    for (const blob of [config, layer1, layer2]) assert.equal(blob?.target.references, undefined);
    const configSize = JSON.parse(image.manifest.toString('utf8')).config.size as number;
    assert.deepEqual(manifest?.target.references, [
      { mediaType: 'application/vnd.oci.image.config.v1+json', digest: image.config, size: configSize },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layers[0] ?? ''), size: 11 },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layers[1] ?? ''), size: 12 },
    ]);
    assert.equal(list?.target.mediaType, ociIndex);
    assert.deepEqual(list.target.references, [
      { mediaType: ociManifest, digest: image.digest, size: image.manifest.length },
    ]);
  });
});
