// A real receiver gets exactly Distribution's events for a push, a pull, a mount and deletes, in order, one
// event per POST, with the events media type and the endpoint's configured headers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pushBlob, pushImage, sha256 } from '../registry/client.ts';
import { eventsMediaType } from '../../registry/notifications/envelope.ts';
import { startReceiver, type Receiver, type ReceivedEvent } from './receiver.ts';
import { startNotifyingRegistry, waitForCount, type NotifyingRegistry } from './registry.ts';

const ociManifest = 'application/vnd.oci.image.manifest.v1+json';

/** The parts of an event a test can predict (id, timestamp and request ids are checked separately). */
function summary(event: ReceivedEvent) {
  return { action: event.action, method: event.request.method, ...event.target };
}

describe('notification events', () => {
  let receiver: Receiver;
  let berth: NotifyingRegistry;
  before(async () => {
    receiver = await startReceiver();
    berth = await startNotifyingRegistry([
      {
        name: 'hook',
        url: `${receiver.url}/events`,
        headers: { Authorization: ['Bearer receiver-secret'] },
        timeout: '2s',
        backoff: '50ms',
      },
    ]);
  });
  after(async () => {
    await berth.close();
    await receiver.close();
  });

  it('sends push, pull, mount and delete events in order, in Distribution envelopes', async () => {
    const base = berth.url;
    const layer = Buffer.from('layer one');
    const image = await pushImage(base, 'team/app', 'v1', [layer]);
    const layerDigest = sha256(layer);
    const configSize = (
      await fetch(`${base}/v2/team/app/blobs/${image.config}`, { method: 'HEAD' })
    ).headers.get('content-length');

    // A pull: HEAD requests (existence checks) send nothing; GETs of the manifest by tag and of a blob do.
    await (await fetch(`${base}/v2/team/app/manifests/v1`, { method: 'HEAD' })).arrayBuffer();
    await (await fetch(`${base}/v2/team/app/blobs/${image.layers[0]}`, { method: 'HEAD' })).arrayBuffer();
    const pulled = await fetch(`${base}/v2/team/app/manifests/v1`, { headers: { Accept: ociManifest } });
    assert.equal(pulled.status, 200);
    await pulled.arrayBuffer();
    const blob = await fetch(`${base}/v2/team/app/blobs/${image.layers[0]}`, {
      headers: { 'User-Agent': 'notify-test/1.0' },
    });
    assert.deepEqual(Buffer.from(await blob.arrayBuffer()), layer);

    const mounted = await fetch(
      `${base}/v2/other/app/blobs/uploads/?mount=${image.layers[0]}&from=team/app`,
      {
        method: 'POST',
      },
    );
    assert.equal(mounted.status, 201);

    assert.equal((await fetch(`${base}/v2/team/app/manifests/v1`, { method: 'DELETE' })).status, 202);
    assert.equal(
      (await fetch(`${base}/v2/team/app/manifests/${image.digest}`, { method: 'DELETE' })).status,
      202,
    );
    assert.equal(
      (await fetch(`${base}/v2/team/app/blobs/${image.layers[0]}`, { method: 'DELETE' })).status,
      202,
    );

    // Delivery is first in, first out: an unexpected event would arrive before this marker.
    const marker = await pushBlob(base, 'marker/repo', Buffer.from('marker'));
    await waitForCount('events received', () => receiver.events().length, 10);
    assert.equal(receiver.events().pop()?.target.digest, marker);
    const host = new URL(base).host;
    const blobURL = (repo: string, digest: string) => `${base}/v2/${repo}/blobs/${digest}`;
    const octet = 'application/octet-stream';
    assert.deepEqual(receiver.events().slice(0, -1).map(summary), [
      {
        action: 'push',
        method: 'POST',
        mediaType: octet,
        digest: image.config,
        size: Number(configSize),
        length: Number(configSize),
        repository: 'team/app',
        url: blobURL('team/app', image.config),
      },
      {
        action: 'push',
        method: 'POST',
        mediaType: octet,
        digest: image.layers[0],
        size: layer.length,
        length: layer.length,
        repository: 'team/app',
        url: blobURL('team/app', layerDigest),
      },
      {
        action: 'push',
        method: 'PUT',
        mediaType: ociManifest,
        digest: image.digest,
        size: image.manifest.length,
        length: image.manifest.length,
        repository: 'team/app',
        url: `${base}/v2/team/app/manifests/${image.digest}`,
        tag: 'v1',
      },
      {
        action: 'pull',
        method: 'GET',
        mediaType: ociManifest,
        digest: image.digest,
        size: image.manifest.length,
        length: image.manifest.length,
        repository: 'team/app',
        url: `${base}/v2/team/app/manifests/${image.digest}`,
        tag: 'v1',
      },
      {
        action: 'pull',
        method: 'GET',
        mediaType: octet,
        digest: image.layers[0],
        size: layer.length,
        length: layer.length,
        repository: 'team/app',
        url: blobURL('team/app', layerDigest),
      },
      {
        action: 'mount',
        method: 'POST',
        mediaType: octet,
        digest: image.layers[0],
        size: layer.length,
        length: layer.length,
        repository: 'other/app',
        fromRepository: 'team/app',
        url: blobURL('other/app', layerDigest),
      },
      { action: 'delete', method: 'DELETE', repository: 'team/app', tag: 'v1' },
      { action: 'delete', method: 'DELETE', repository: 'team/app', digest: image.digest },
      { action: 'delete', method: 'DELETE', repository: 'team/app', digest: image.layers[0] },
    ]);

    for (const delivery of receiver.deliveries) {
      assert.equal(delivery.path, '/events');
      assert.equal(delivery.contentType, eventsMediaType);
      assert.equal(delivery.headers.authorization, 'Bearer receiver-secret');
      assert.equal(delivery.events.length, 1, 'one event per POST, as Distribution');
    }
    const events = receiver.events();
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'every event has its own id');
    const [first] = events;
    assert.equal(first?.request.host, host);
    assert.match(first?.request.addr ?? '', /^127\.0\.0\.1:\d+$/);
    assert.equal(events[4]?.request.useragent, 'notify-test/1.0');
    assert.deepEqual(first?.actor, {}, 'open access has no actor');
    assert.ok(events.every((e) => e.source.instanceID === first?.source.instanceID));
    assert.match(first?.source.addr ?? '', new RegExp(`:${new URL(base).port}$`));

    assert.equal(await berth.metric('registry_notifications_sent_total{endpoint="hook"}'), 10);
    assert.equal(await berth.metric('registry_notifications_pending{endpoint="hook"}'), 0);
  });

  it('names the token subject as the actor', async () => {
    const previous = berth.registry.services.authorizer;
    berth.registry.services.authorizer = {
      authorize: () => Promise.resolve({ subject: 'alice', allows: () => true }),
      close: () => Promise.resolve(),
    };
    try {
      const before = receiver.events().length;
      const digest = await pushBlob(berth.url, 'team/actor', Buffer.from('by alice'));
      await waitForCount('the actor event', () => receiver.events().length, before + 1);
      const event = receiver.events().at(-1);
      assert.equal(event?.target.digest, digest);
      assert.deepEqual(event?.actor, { name: 'alice' });
      assert.equal(sha256('by alice'), digest);
    } finally {
      berth.registry.services.authorizer = previous;
    }
  });
});
