// BodyGarbage: a minor GC after every `interval` body bytes, counted over all uploads; V8's minor GC really frees
// dead body-sized Buffers; the serving upload store frees the chunks it can and reports the other bytes to it.
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

test('the upload store frees body chunks once written, and reports only the bytes it could not free', async () => {
  let collected = 0;
  const garbage = new BodyGarbage({ interval: mib, collect: () => collected++ });
  const driver = new InMemoryDriver();
  const uploads = new TrackedUploadStore(driver, new BlobStore(driver), garbage);
  // Fresh chunks own their memory, as the HTTP parser's do; halves of a larger store do not.
  const chunk = (kind: 'owned' | 'shared', fill: number): Buffer =>
    kind === 'owned'
      ? Buffer.alloc(256 * 1024, fill)
      : Buffer.alloc(512 * 1024, fill).subarray(0, 256 * 1024);
  const requests = [
    { kind: 'owned', count: 8 },
    { kind: 'shared', count: 3 },
    { kind: 'shared', count: 5 },
  ] as const;
  const expected = createHash('sha256');
  for (const { kind, count } of requests) for (let i = 0; i < count; i++) expected.update(chunk(kind, i));
  const digest = `sha256:${expected.digest('hex')}`;
  const handedIn: Buffer[] = [];
  async function* body(kind: 'owned' | 'shared', count: number) {
    for (let i = 0; i < count; i++) {
      const next = chunk(kind, i);
      handedIn.push(next);
      yield next;
    }
  }

  const upload = await uploads.create('garbage/test');
  await uploads.append('garbage/test', upload.id, body('owned', 8));
  assert.equal(collected, 0, '2 MiB of owned chunks: freed, nothing left for the garbage collector');
  assert.ok(
    handedIn.every((c) => c.byteLength === 0),
    'every owned chunk was freed',
  );
  await uploads.append('garbage/test', upload.id, body('shared', 3));
  assert.equal(collected, 0, '768 KiB of shared chunks');
  await uploads.complete('garbage/test', upload.id, digest, 'sha256', body('shared', 5));
  assert.equal(collected, 2, '2 MiB of shared chunks in all: two collections');

  const hex = digest.slice('sha256:'.length);
  const stored = await driver.getContent(`/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`);
  assert.equal(`sha256:${createHash('sha256').update(stored).digest('hex')}`, digest, 'the blob is intact');
});
