// An endpoint that is down for a while (connection refused, then answering 500) receives the queued events,
// in order, once it is up; pushes meanwhile succeed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pushBlob } from '../registry/client.ts';
import { freePort } from '../harness/ports.ts';
import { startReceiver, type Receiver } from './receiver.ts';
import { startNotifyingRegistry, waitForCount, type NotifyingRegistry } from './registry.ts';

const endpointSettings = { timeout: '2s', threshold: 2, backoff: '20ms' };
const failed = 'registry_notifications_failed_total{endpoint="hook"}';
const pending = 'registry_notifications_pending{endpoint="hook"}';

describe('an endpoint that refuses connections, then comes up', () => {
  let port: number;
  let berth: NotifyingRegistry;
  let receiver: Receiver | undefined;
  before(async () => {
    port = await freePort();
    berth = await startNotifyingRegistry([
      { name: 'hook', url: `http://127.0.0.1:${port}/events`, ...endpointSettings },
    ]);
  });
  after(async () => {
    await berth.close();
    await receiver?.close();
  });

  it('gets every queued event in order', async () => {
    const digests: string[] = [];
    for (let i = 0; i < 5; i++) digests.push(await pushBlob(berth.url, 'down/app', Buffer.from(`blob ${i}`)));
    await waitForCount('failed attempts', () => berth.metric(failed), 3);
    assert.equal(await berth.metric(pending), 5, 'nothing is lost while the endpoint is down');

    receiver = await startReceiver({ port });
    const up = receiver;
    await waitForCount('events received', () => up.events().length, 5);
    assert.deepEqual(
      up.events().map((e) => [e.action, e.target.digest]),
      digests.map((d) => ['push', d]),
    );
    assert.equal(await berth.metric(pending), 0);
    assert.equal(await berth.metric('registry_notifications_sent_total{endpoint="hook"}'), 5);
  });
});

describe('an endpoint that answers 500, then 200', () => {
  let receiver: Receiver;
  let berth: NotifyingRegistry;
  before(async () => {
    receiver = await startReceiver({ mode: 'fail' });
    berth = await startNotifyingRegistry([
      { name: 'hook', url: `${receiver.url}/events`, ...endpointSettings },
    ]);
  });
  after(async () => {
    await berth.close();
    await receiver.close();
  });

  it('gets the events it refused, in order, once it accepts them', async () => {
    const digests: string[] = [];
    for (let i = 0; i < 3; i++)
      digests.push(await pushBlob(berth.url, 'flaky/app', Buffer.from(`flaky ${i}`)));
    await waitForCount('requests answered 500', () => receiver.requests, 3);
    assert.equal(receiver.events().length, 0);
    assert.ok((await berth.metric(failed)) >= 3);

    receiver.mode = 'accept';
    await waitForCount('events received', () => receiver.events().length, 3);
    assert.deepEqual(
      receiver.events().map((e) => e.target.digest),
      digests,
    );
    assert.equal(
      await berth.metric('registry_notifications_dropped_total{endpoint="hook",reason="retries"}'),
      0,
    );
  });
});
