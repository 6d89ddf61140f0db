// Chunked upload sessions under hostile Content-Range: random sequences of chunks, each with a correct, absent,
// misplaced, mis-sized or malformed Content-Range, checked against a model of what the upload must hold. A refused
// chunk (416 RANGE_INVALID) changes nothing; the blob finally committed is exactly the accepted chunks, and a
// wrong final digest (DIGEST_INVALID) discards the session.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import { sha256 } from '../registry/client.ts';
import { rawRequest, type RawResponse } from './raw-http.ts';
import { assertSpecResponse, specErrorCodes } from './spec-response.ts';

const seed = Number(process.env['FUZZ_SEED'] ?? 20_261_203);
const scale = Number(process.env['FUZZ_RUNS'] ?? 1);

type Mode = 'none' | 'exact' | 'wrongStart' | 'wrongLength' | 'garbage';

const chunkArb = fc.record({
  content: fc.uint8Array({ minLength: 1, maxLength: 300 }),
  mode: fc.constantFrom<Mode>('none', 'exact', 'exact', 'wrongStart', 'wrongLength', 'garbage'),
  offset: fc.integer({ min: 1, max: 1000 }),
  negative: fc.boolean(),
  garbage: fc.constantFrom('abc', '5-2', '-1', '0-', '1--2', 'bytes=0-1', '0-1-2', ''),
});
type Chunk = typeof chunkArb extends fc.Arbitrary<infer T> ? T : never;

/** The Content-Range a chunk sends given the upload's size, or undefined for none. */
function contentRange(chunk: Chunk, size: number): string | undefined {
  const length = chunk.content.length;
  switch (chunk.mode) {
    case 'none':
      return undefined;
    case 'exact':
      return `${size}-${size + length - 1}`;
    case 'wrongStart': {
      const start = chunk.negative ? Math.max(0, size - chunk.offset) : size + chunk.offset;
      const shifted = start === size ? size + chunk.offset : start;
      return `${shifted}-${shifted + length - 1}`;
    }
    case 'wrongLength': {
      const end = size + length - 1 + (chunk.negative ? -Math.min(chunk.offset, length - 1) : chunk.offset);
      // A shorter range for a one-byte chunk cannot exist: make it longer instead.
      return `${size}-${end === size + length - 1 ? end + 1 : end}`;
    }
    case 'garbage':
      return chunk.garbage;
  }
}

function rangeHeader(size: number): string {
  return size > 0 ? `0-${size - 1}` : '0-0';
}

describe('chunked upload sessions with hostile Content-Range', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(() => registry.close());

  const send = (method: string, path: string, headers: Record<string, string> = {}, body?: Uint8Array) =>
    rawRequest(registry.url, { method, path, headers, ...(body ? { body } : {}) });

  function check(res: RawResponse, what: string, status: number, code?: string) {
    assertSpecResponse(res, what, 'GET');
    assert.equal(res.status, status, `${what}: ${res.status} ${res.body.slice(0, 200)}`);
    if (code) assert.deepEqual(specErrorCodes(res), [code], what);
  }

  it('keeps exactly the accepted chunks, whatever the refused ones claimed', async () => {
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(chunkArb, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (chunks, rightDigest) => {
          const started = await send('POST', '/v2/hostile/chunks/blobs/uploads/');
          check(started, 'start', 202);
          const location = String(started.headers['location']);
          const accepted: Uint8Array[] = [];
          let size = 0;
          for (const [i, chunk] of chunks.entries()) {
            const range = contentRange(chunk, size);
            const what = `chunk ${i} (${chunk.mode}, Content-Range ${JSON.stringify(range)}, size ${size})`;
            const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
            if (range !== undefined) headers['Content-Range'] = range;
            const res = await send('PATCH', location, headers, chunk.content);
            requests++;
            if (chunk.mode === 'none' || chunk.mode === 'exact') {
              check(res, what, 202);
              accepted.push(chunk.content);
              size += chunk.content.length;
            } else {
              check(res, what, 416, 'RANGE_INVALID');
            }
            assert.equal(res.headers['range'], rangeHeader(size), `${what}: Range`);
          }
          const status = await send('GET', location);
          check(status, 'status', 204);
          assert.equal(status.headers['range'], rangeHeader(size));
          const content = Buffer.concat(accepted);
          const digest = rightDigest ? sha256(content) : sha256(Buffer.concat([content, Buffer.from('x')]));
          const separator = location.includes('?') ? '&' : '?';
          const done = await send('PUT', `${location}${separator}digest=${digest}`);
          requests += 3;
          if (!rightDigest) {
            check(done, 'final PUT with a wrong digest', 400, 'DIGEST_INVALID');
            check(await send('GET', location), 'status after DIGEST_INVALID', 404, 'BLOB_UPLOAD_UNKNOWN');
            return;
          }
          check(done, 'final PUT', 201);
          const blob = await send('GET', `/v2/hostile/chunks/blobs/${digest}`);
          check(blob, 'blob', 200);
          assert.ok(blob.rawBody.equals(content), 'the blob is exactly the accepted chunks');
        },
      ),
      { seed, numRuns: Math.round(150 * scale), endOnFailure: true },
    );
    console.log(`upload sessions: ${Math.round(150 * scale)} sessions, ${requests} requests`);
  });
});
