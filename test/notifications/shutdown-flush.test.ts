// On shutdown, events still queued get a short flush: an endpoint that recovers as the registry stops still
// receives them all, and the registry stops even when an endpoint never answers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pushBlob } from '../registry/client.ts';
import { startReceiver } from './receiver.ts';
import { startNotifyingRegistry, waitForCount } from './registry.ts';

describe('shutdown with events queued', () => {
  it('delivers the queued events before the registry stops', async () => {
    const receiver = await startReceiver({ mode: 'fail' });
    const berth = await startNotifyingRegistry([
      { name: 'hook', url: `${receiver.url}/events`, threshold: 1, backoff: '100ms' },
    ]);
    try {
      const digests: string[] = [];
      for (let i = 0; i < 3; i++)
        digests.push(await pushBlob(berth.url, 'stop/app', Buffer.from(`stop ${i}`)));
      await waitForCount('refused deliveries', () => receiver.requests, 1);
      receiver.mode = 'accept';
      await berth.close();
      assert.deepEqual(
        receiver.events().map((e) => e.target.digest),
        digests,
      );
    } finally {
      await receiver.close();
    }
  });

  it('stops although an endpoint never answers', async () => {
    const receiver = await startReceiver({ mode: 'hang' });
    const berth = await startNotifyingRegistry([
      { name: 'hook', url: `${receiver.url}/events`, timeout: '1h' },
    ]);
    try {
      await pushBlob(berth.url, 'stop/hang', Buffer.from('never delivered'));
      await waitForCount('the hanging delivery', () => receiver.requests, 1);
      // Resolving at all is the property: the delivery in flight is cut once the flush time is up.
      await berth.close();
      assert.equal(receiver.events().length, 0);
    } finally {
      await receiver.close();
    }
  });
});
