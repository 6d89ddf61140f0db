// ChunkBuffer, the part collector of the object-store writers: parts come out whole and in order, and a sent
// part's memory is filled again by a later part instead of a fresh `chunksize` Buffer per part.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChunkBuffer } from '../../registry/storage/object-writer.ts';

const chunk = 256 * 1024;

function filled(buffer: ChunkBuffer, bytes: Buffer): void {
  let offset = 0;
  while (offset < bytes.length) offset += buffer.fill(bytes, offset);
}

test('cuts written bytes into whole chunks, in order', () => {
  const buffer = new ChunkBuffer(chunk);
  const data = Buffer.alloc(chunk * 2 + 10, 0);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < data.length) {
    offset += buffer.fill(data, offset);
    if (buffer.full) parts.push(Buffer.from(buffer.take(false)));
  }
  parts.push(Buffer.from(buffer.take(true)));
  assert.deepEqual(
    parts.map((p) => p.length),
    [chunk, chunk, 10],
  );
  assert.deepEqual(Buffer.concat(parts), data);
});

test('a whole chunk given back is the memory a later chunk fills', () => {
  const buffer = new ChunkBuffer(chunk);
  filled(buffer, Buffer.alloc(chunk, 1));
  const first = buffer.take(false);
  filled(buffer, Buffer.alloc(chunk, 2));
  const second = buffer.take(false);
  assert.ok(second.buffer !== first.buffer, 'the first is still being sent: the second has its own memory');

  buffer.reuse(first);
  // take() had already set aside fresh memory for the third chunk; the fourth gets the first one's.
  filled(buffer, Buffer.alloc(chunk, 3));
  const third = buffer.take(false);
  filled(buffer, Buffer.alloc(chunk, 4));
  const fourth = buffer.take(false);
  assert.ok(third.buffer !== first.buffer);
  assert.ok(fourth.buffer === first.buffer, 'the fourth chunk was written into the first one’s memory');
  assert.equal(fourth[0], 4);
  assert.equal(fourth[chunk - 1], 4);
  assert.equal(second[0], 2, 'a chunk not given back is untouched');
  assert.equal(third[0], 3);
});

test('keeps no partial chunk, no foreign buffer and nothing after release', () => {
  const buffer = new ChunkBuffer(chunk);
  filled(buffer, Buffer.alloc(100, 1));
  const tail = buffer.take(false);
  buffer.reuse(tail);
  const foreignWhole = Buffer.alloc(chunk * 2).subarray(0, chunk);
  buffer.reuse(foreignWhole);
  filled(buffer, Buffer.alloc(chunk, 4));
  const next = buffer.take(false);
  filled(buffer, Buffer.alloc(chunk, 5));
  const after = buffer.take(false);
  for (const taken of [next, after]) {
    assert.ok(taken.buffer !== tail.buffer, 'a partial chunk is not reused');
    assert.ok(taken.buffer !== foreignWhole.buffer, 'a view into a larger buffer is not reused');
  }

  buffer.reuse(after);
  buffer.release();
  filled(buffer, Buffer.alloc(chunk, 6));
  buffer.take(false);
  filled(buffer, Buffer.alloc(chunk, 7));
  assert.ok(buffer.take(false).buffer !== after.buffer, 'release drops the spare chunks');
});
