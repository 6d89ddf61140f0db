// BodyGarbage: a minor GC after every `interval` body bytes, counted over all uploads; V8's minor GC really frees
// dead body-sized Buffers; the serving upload store reports every body byte to it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { BodyGarbage, v8MinorGc } from '../../registry/body-garbage.ts';
import { InMemoryDriver } from '../../registry/storage/inmemory.ts';
import { BlobStore } from '../../registry/store/blob-store.ts';
import { TrackedUploadStore } from '../../registry/upload-writes.ts';

const mib = 1 << 20;

test('collects once per interval of body bytes, whichever uploads they came from', () => {
  let collected = 0;
  const garbage = new BodyGarbage({ interval: 8 * mib, collect: () => collected++ });
  garbage.received(3 * mib);
  garbage.received(3 * mib);
  assert.equal(collected, 0, '6 MiB: below the interval');
  garbage.received(3 * mib);
  assert.equal(collected, 1, '9 MiB: one collection');
  for (let i = 0; i < 8; i++) garbage.received(mib - 1);
  assert.equal(collected, 1, 'the count starts again after a collection');
  garbage.received(8);
  assert.equal(collected, 2, 'exactly 8 MiB since the last one');
  assert.equal(garbage.collections, 2);
});

test("V8's minor GC frees dead 64 KiB body chunks", async () => {
  const gc = v8MinorGc();
  gc();
  const before = process.memoryUsage().arrayBuffers;
  // The chunks die when this returns: nothing else holds them.
  const allocateChunks = (): number => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < 256; i++) chunks.push(Buffer.alloc(64 * 1024, i));
    return process.memoryUsage().arrayBuffers - before;
  };
  const held = allocateChunks();
  assert.ok(held >= 16 * mib, `16 MiB of chunks allocated (${held} bytes counted)`);
  gc();
  // Array buffers are swept concurrently after the scavenge: give the sweeper a moment.
  let left = Infinity;
  for (let tries = 0; tries < 50 && left >= 4 * mib; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    left = process.memoryUsage().arrayBuffers - before;
  }
  assert.ok(left < 4 * mib, `dead chunks freed: ${left} bytes of the 16 MiB left`);
});

test('the upload store reports every body byte of appends and completes', async () => {
  let collected = 0;
  const garbage = new BodyGarbage({ interval: mib, collect: () => collected++ });
  const driver = new InMemoryDriver();
  const uploads = new TrackedUploadStore(driver, new BlobStore(driver), garbage);
  const chunk = Buffer.alloc(256 * 1024, 7);
  async function* body(count: number) {
    for (let i = 0; i < count; i++) yield chunk;
  }
  const first = await uploads.create('garbage/test');
  await uploads.append('garbage/test', first.id, body(3));
  assert.equal(collected, 0, '768 KiB');
  const hash = createHash('sha256');
  for (let i = 0; i < 8; i++) hash.update(chunk);
  await uploads.complete('garbage/test', first.id, `sha256:${hash.digest('hex')}`, 'sha256', body(5));
  assert.equal(collected, 2, '2 MiB of body in all: two collections');
});
