// An endpoint's `ignoredmediatypes`, `ignore.mediatypes` and `ignore.actions` filter what it receives, and a
// `disabled` endpoint receives nothing and has no queue.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pushBlob, pushImage } from '../registry/client.ts';
import { startReceiver, type Receiver } from './receiver.ts';
import { startNotifyingRegistry, waitForCount, type NotifyingRegistry } from './registry.ts';

const ociManifest = 'application/vnd.oci.image.manifest.v1+json';

describe('ignore rules and disabled endpoints', () => {
  let receiver: Receiver;
  let berth: NotifyingRegistry;
  before(async () => {
    receiver = await startReceiver();
    const endpoint = (name: string, rules: Record<string, unknown>) => ({
      name,
      url: `${receiver.url}/${name}`,
      backoff: '20ms',
      ...rules,
    });
    berth = await startNotifyingRegistry([
      endpoint('all', {}),
      endpoint('no-pulls', { ignore: { actions: ['pull'] } }),
      endpoint('no-manifests', { ignoredmediatypes: [ociManifest] }),
      endpoint('no-blobs', { ignore: { mediatypes: ['application/octet-stream'] } }),
      endpoint('off', { disabled: true }),
    ]);
  });
  after(async () => {
    await berth.close();
    await receiver.close();
  });

  it('sends each endpoint only the events its rules let through', async () => {
    const image = await pushImage(berth.url, 'rules/app', 'v1', [Buffer.from('layer')]);
    await (
      await fetch(`${berth.url}/v2/rules/app/manifests/v1`, { headers: { Accept: ociManifest } })
    ).arrayBuffer();
    await (await fetch(`${berth.url}/v2/rules/app/blobs/${image.config}`)).arrayBuffer();
    // A marker every enabled endpoint but no-blobs receives last: anything else for them arrived before it.
    await fetch(`${berth.url}/v2/rules/app/manifests/v1`, { method: 'DELETE' });
    await pushBlob(berth.url, 'rules/marker', Buffer.from('marker'));

    const seen = (path: string) =>
      receiver.events(path).map((e) => `${e.action} ${e.target.mediaType ?? e.target.tag}`);
    await waitForCount('events on /all', () => receiver.events('/all').length, 7);
    await waitForCount('events on /no-pulls', () => receiver.events('/no-pulls').length, 5);
    await waitForCount('events on /no-manifests', () => receiver.events('/no-manifests').length, 5);
    await waitForCount('events on /no-blobs', () => receiver.events('/no-blobs').length, 3);

    const blob = 'application/octet-stream';
    assert.deepEqual(seen('/all'), [
      `push ${blob}`,
      `push ${blob}`,
      `push ${ociManifest}`,
      `pull ${ociManifest}`,
      `pull ${blob}`,
      'delete v1',
      `push ${blob}`,
    ]);
    assert.deepEqual(seen('/no-pulls'), [
      `push ${blob}`,
      `push ${blob}`,
      `push ${ociManifest}`,
      'delete v1',
      `push ${blob}`,
    ]);
    assert.deepEqual(seen('/no-manifests'), [
      `push ${blob}`,
      `push ${blob}`,
      `pull ${blob}`,
      'delete v1',
      `push ${blob}`,
    ]);
    // A tag delete has no media type, so media type rules never filter it.
    assert.deepEqual(seen('/no-blobs'), [`push ${ociManifest}`, `pull ${ociManifest}`, 'delete v1']);

    assert.equal(receiver.events('/off').length, 0);
    const metrics = await (await fetch(`${berth.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /endpoint="off"/, 'a disabled endpoint has no queue');
    assert.match(metrics, /registry_notifications_sent_total\{endpoint="all"\} 7/);
  });
});
