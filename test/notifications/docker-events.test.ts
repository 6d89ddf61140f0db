// The real Docker engine pushes to and pulls from Berth: the receiver gets a push event for every blob and then
// the manifest (tagged), and on pull one pull event per blob and the manifest, nothing for docker's HEAD checks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startDockerd, type Dockerd } from '../harness/dockerd.ts';
import { buildScratchImage } from '../harness/clients.ts';
import { Repository } from '../../registry/store/repository.ts';
import { pushBlob } from '../registry/client.ts';
import { startReceiver, type Receiver, type ReceivedEvent } from './receiver.ts';
import { startNotifyingRegistry, waitForCount, type NotifyingRegistry } from './registry.ts';

const cmd = { timeoutMs: 120_000 };
const manifestTypes = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
];

describe('events of a docker push and pull', () => {
  let dockerd: Dockerd | undefined;
  let receiver: Receiver;
  let berth: NotifyingRegistry;
  before(async () => {
    receiver = await startReceiver();
    berth = await startNotifyingRegistry([{ name: 'hook', url: `${receiver.url}/events`, backoff: '50ms' }]);
    dockerd = await startDockerd();
  });
  after(async () => {
    await dockerd?.stop();
    await berth.close();
    await receiver.close();
  });

  /** Events up to a marker blob pushed now: delivery is in order, so nothing else is still on its way. */
  async function eventsSoFar(marker: string): Promise<ReceivedEvent[]> {
    const digest = await pushBlob(berth.url, 'marker/repo', Buffer.from(marker));
    await waitForCount(
      'the marker event',
      () => receiver.events().findIndex((e) => e.target.digest === digest) + 1,
      1,
    );
    const events = receiver.events();
    assert.equal(events.at(-1)?.target.digest, digest);
    return events.slice(0, -1);
  }

  it('sends the events of the push, then those of the pull', { timeout: 300_000 }, async () => {
    assert.ok(dockerd);
    const host = new URL(berth.url).host;
    const image = await buildScratchImage(dockerd.docker, `${host}/hooks/app:v1`, 2, {
      layerBytes: 64 * 1024,
    });
    const { stdout } = await dockerd.docker(['push', image.tag], cmd);
    const digest = /: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(stdout)?.[1];
    assert.ok(digest, stdout);

    const repo = new Repository(berth.registry.services.driver, 'hooks/app');
    const stored = await berth.registry.services.manifests.get(repo, digest);
    assert.ok(stored);
    const body = JSON.parse(stored.content.toString('utf8')) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    const blobs = [body.config.digest, ...body.layers.map((l) => l.digest)].sort();

    const pushed = await eventsSoFar('after push');
    const manifestPush = pushed.at(-1);
    assert.deepEqual(
      pushed.slice(0, -1).map((e) => [e.action, e.target.repository, e.target.mediaType]),
      blobs.map(() => ['push', 'hooks/app', 'application/octet-stream']),
      'a push event for each blob, before the manifest',
    );
    assert.deepEqual(
      pushed
        .slice(0, -1)
        .map((e) => e.target.digest)
        .sort(),
      blobs,
    );
    assert.equal(manifestPush?.action, 'push');
    assert.equal(manifestPush.target.digest, digest);
    assert.equal(manifestPush.target.tag, 'v1');
    assert.ok(manifestTypes.includes(manifestPush.target.mediaType ?? ''), manifestPush.target.mediaType);
    assert.match(manifestPush.request.useragent, /docker/i);

    await dockerd.docker(['rmi', image.tag], cmd);
    await dockerd.docker(['pull', image.tag], cmd);
    const pulled = (await eventsSoFar('after pull')).slice(pushed.length + 1);
    assert.ok(pulled.every((e) => e.action === 'pull' && e.target.repository === 'hooks/app'));
    const manifestPulls = pulled.filter((e) => e.target.digest === digest);
    assert.ok(manifestPulls.length >= 1, 'the manifest was pulled');
    assert.deepEqual(
      pulled
        .filter((e) => e.target.digest !== digest)
        .map((e) => e.target.digest)
        .sort(),
      blobs,
      'one pull event per blob',
    );
  });
});
