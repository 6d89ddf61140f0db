// A large monolithic push (POST with ?digest=) whose body is one random MiB sent over and over: cheap for the
// test to make, while the server still gets a fresh Buffer for every chunk it reads.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const mib = 1 << 20;

/** Pushes `sizeMiB` MiB into `repository`, asserts the 201 and returns the blob's digest. */
export async function pushRepeatedBlock(url: string, repository: string, sizeMiB: number): Promise<string> {
  const block = randomBytes(mib);
  const hash = createHash('sha256');
  for (let i = 0; i < sizeMiB; i++) hash.update(block);
  const digest = `sha256:${hash.digest('hex')}`;
  const body = Readable.from(
    (function* () {
      for (let i = 0; i < sizeMiB; i++) yield block;
    })(),
  );
  const res = await fetch(`${url}/v2/${repository}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(sizeMiB * mib) },
    body: Readable.toWeb(body) as ReadableStream<Uint8Array>,
    duplex: 'half',
  });
  assert.equal(res.status, 201, await res.text());
  return digest;
}
