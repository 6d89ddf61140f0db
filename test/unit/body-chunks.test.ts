// freeBodyChunk: a chunk that is the whole of its ArrayBuffer has its memory freed at once, without a GC; a view
// into shared memory is left alone; and the chunks Node's HTTP parser hands a request body are of the first kind.
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { freeBodyChunk } from '../../registry/body-chunks.ts';

const mib = 1 << 20;

test('frees the memory of chunks that own their whole ArrayBuffer, without a garbage collection', () => {
  const chunks = Array.from({ length: 256 }, (_, i) => Buffer.alloc(64 * 1024, i));
  const held = process.memoryUsage().arrayBuffers;
  let freed = 0;
  for (const chunk of chunks) if (freeBodyChunk(chunk)) freed++;
  assert.equal(freed, chunks.length);
  const released = held - process.memoryUsage().arrayBuffers;
  assert.ok(released >= 15 * mib, `16 MiB freed at once (${released} bytes)`);
  assert.ok(chunks.every((chunk) => chunk.byteLength === 0 && chunk.buffer.detached));
  assert.equal(freeBodyChunk(chunks[0] as Buffer), false, 'a chunk is freed once');
});

test('leaves views into shared memory alone', () => {
  const pooled = Buffer.from('a short chunk from Buffer\u2019s pool');
  assert.ok(pooled.buffer.byteLength > pooled.byteLength, 'the fixture is a pool slice');
  assert.equal(freeBodyChunk(pooled), false);
  assert.equal(pooled.toString(), 'a short chunk from Buffer\u2019s pool');

  const whole = Buffer.alloc(128 * 1024, 9);
  const head = whole.subarray(0, 64 * 1024);
  assert.equal(freeBodyChunk(head), false, 'the first half of a larger store');
  assert.equal(head.byteLength, 64 * 1024);
  assert.equal(whole.readUInt8(whole.length - 1), 9);

  assert.equal(freeBodyChunk(new Uint8Array(0)), false, 'nothing to free');
});

test("the chunks of a request body from Node's HTTP parser can all be freed", async (t) => {
  let chunks = 0;
  let notFreed = 0;
  let bytes = 0;
  const server = createServer(async (req, res) => {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      chunks++;
      bytes += chunk.byteLength;
      if (!freeBodyChunk(chunk)) notFreed++;
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  const size = 32 * mib;
  await new Promise<void>((resolve, reject) => {
    const req = request({ port, method: 'PUT', headers: { 'content-length': String(size) } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    const block = Buffer.alloc(mib, 1);
    for (let i = 0; i < size / mib; i++) req.write(block);
    req.end();
  });
  assert.equal(bytes, size);
  assert.ok(chunks >= 32, `${chunks} chunks`);
  assert.equal(notFreed, 0, `${notFreed} of ${chunks} body chunks shared their memory`);
});
