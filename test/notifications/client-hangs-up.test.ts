// A client that hangs up as soon as it has the last byte of a blob (docker does) still gets a pull event naming
// its address: node forgets a closed socket's peer unless it was read before.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { pushBlob } from '../registry/client.ts';
import { startReceiver, type Receiver } from './receiver.ts';
import { startNotifyingRegistry, waitForCount, type NotifyingRegistry } from './registry.ts';

describe('a client that hangs up on the last byte', () => {
  let receiver: Receiver;
  let berth: NotifyingRegistry;
  before(async () => {
    receiver = await startReceiver();
    berth = await startNotifyingRegistry([{ name: 'hook', url: `${receiver.url}/events` }]);
  });
  after(async () => {
    await berth.close();
    await receiver.close();
  });

  it('gets pull events that carry its address', async () => {
    const digest = await pushBlob(berth.url, 'hangs/up', Buffer.alloc(4 * 1024 * 1024, 7));
    const { hostname, port } = new URL(berth.url);
    const size = 4 * 1024 * 1024;
    const pulls = 40;
    for (let i = 0; i < pulls; i++) {
      // The whole blob is read, and the socket destroyed on its last byte: the registry publishes the pull
      // event after its last write, by when the peer may be gone.
      await new Promise<void>((resolve) => {
        let received = 0;
        const socket = connect(Number(port), hostname, () => {
          socket.write(`GET /v2/hangs/up/blobs/${digest} HTTP/1.1\r\nHost: ${berth.url.slice(7)}\r\n\r\n`);
        });
        socket.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received >= size) socket.destroy();
        });
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
      });
    }
    const pullEvents = () => receiver.events().filter((e) => e.action === 'pull');
    await waitForCount('pull events', () => pullEvents().length, pulls);
    for (const event of pullEvents()) assert.match(event.request.addr, /^127\.0\.0\.1:\d+$/);
  });
});
