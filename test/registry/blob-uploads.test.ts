// Blob upload flows of the OCI Distribution Spec against a real loopback server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { errorCode, pushBlob, sha256 } from './client.ts';

describe('blob uploads', () => {
  let registry: TestRegistry;
  let url: string;
  before(async () => {
    registry = await startTestRegistry();
    url = registry.url;
  });
  after(() => registry.close());

  async function startUpload(name: string): Promise<string> {
    const res = await fetch(`${url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('range'), '0-0');
    const location = res.headers.get('location') ?? '';
    assert.ok(location.startsWith(`/v2/${name}/blobs/uploads/`));
    assert.equal(res.headers.get('docker-upload-uuid'), location.split('/').pop());
    return location;
  }

  async function blobBody(name: string, digest: string): Promise<Buffer> {
    const res = await fetch(`${url}/v2/${name}/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    return Buffer.from(await res.arrayBuffer());
  }

  it('accepts a monolithic POST ?digest= upload (201, Location, Docker-Content-Digest)', async () => {
    const content = randomBytes(4096);
    const digest = sha256(content);
    const res = await fetch(`${url}/v2/mono/app/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: content,
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('location'), `/v2/mono/app/blobs/${digest}`);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.deepEqual(await blobBody('mono/app', digest), content);
  });

  it('accepts POST then a single PUT with the body', async () => {
    const content = randomBytes(1000);
    const digest = sha256(content);
    const location = await startUpload('postput');
    const res = await fetch(`${url}${location}?digest=${digest}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(content.length) },
      body: content,
    });
    assert.equal(res.status, 201);
    assert.deepEqual(await blobBody('postput', digest), content);
  });

  it('accepts a streamed PATCH without Content-Range, then PUT without body', async () => {
    const content = randomBytes(3 * 1024 * 1024);
    const digest = sha256(content);
    const location = await startUpload('streamed');
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < content.length; i += 65536) controller.enqueue(content.subarray(i, i + 65536));
        controller.close();
      },
    });
    const patch = await fetch(`${url}${location}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(patch.status, 202);
    assert.equal(patch.headers.get('range'), `0-${content.length - 1}`);
    const put = await fetch(`${url}${patch.headers.get('location')}?digest=${digest}`, { method: 'PUT' });
    assert.equal(put.status, 201);
    assert.deepEqual(await blobBody('streamed', digest), content);
  });

  it('accepts chunks in order with Content-Range and reports status', async () => {
    const content = randomBytes(10_000);
    const digest = sha256(content);
    let location = await startUpload('chunked');
    for (let offset = 0; offset < content.length; offset += 3000) {
      const chunk = content.subarray(offset, offset + 3000);
      const res = await fetch(`${url}${location}`, {
        method: 'PATCH',
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `${offset}-${offset + chunk.length - 1}`,
          'Content-Length': String(chunk.length),
        },
        body: chunk,
      });
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('range'), `0-${offset + chunk.length - 1}`);
      location = res.headers.get('location') ?? '';
      const status = await fetch(`${url}${location}`);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), `0-${offset + chunk.length - 1}`);
      assert.equal(status.headers.get('location'), location);
    }
    const put = await fetch(`${url}${location}?digest=${digest}`, { method: 'PUT' });
    assert.equal(put.status, 201);
    assert.deepEqual(await blobBody('chunked', digest), content);
  });

  it('refuses an out-of-order chunk with 416 and the current Range', async () => {
    const location = await startUpload('outoforder');
    const first = await fetch(`${url}${location}`, {
      method: 'PATCH',
      headers: { 'Content-Range': '0-9', 'Content-Length': '10', 'Content-Type': 'application/octet-stream' },
      body: Buffer.alloc(10, 1),
    });
    assert.equal(first.status, 202);
    const skipped = await fetch(`${url}${location}`, {
      method: 'PATCH',
      headers: {
        'Content-Range': '20-29',
        'Content-Length': '10',
        'Content-Type': 'application/octet-stream',
      },
      body: Buffer.alloc(10, 2),
    });
    assert.equal(skipped.status, 416);
    assert.equal(skipped.headers.get('range'), '0-9');
    assert.equal(await errorCode(skipped), 'RANGE_INVALID');
    const status = await fetch(`${url}${location}`);
    assert.equal(status.headers.get('range'), '0-9', 'the refused chunk wrote nothing');
  });

  it('cancels an upload (204) and then reports it unknown', async () => {
    const location = await startUpload('cancelled');
    const del = await fetch(`${url}${location}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    const status = await fetch(`${url}${location}`);
    assert.equal(status.status, 404);
    assert.equal(await errorCode(status), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('refuses a digest mismatch and leaves no blob behind', async () => {
    const content = Buffer.from('the real content');
    const wrong = sha256('something else');
    const res = await fetch(`${url}/v2/mismatch/blobs/uploads/?digest=${wrong}`, {
      method: 'POST',
      body: content,
    });
    assert.equal(res.status, 400);
    assert.equal(await errorCode(res), 'DIGEST_INVALID');
    const head = await fetch(`${url}/v2/mismatch/blobs/${wrong}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    for (const digest of [wrong, sha256(content)]) {
      const hex = digest.slice(7);
      assert.equal(
        existsSync(join(registry.root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex)),
        false,
      );
    }
    const uploads = join(registry.root, 'docker/registry/v2/repositories/mismatch/_uploads');
    assert.deepEqual(
      existsSync(uploads) ? await readdir(uploads) : [],
      [],
      'the failed upload was discarded',
    );
  });

  it('verifies sha512 digests', async () => {
    const content = Buffer.from('sha512 content');
    const digest = `sha512:${createHash('sha512').update(content).digest('hex')}`;
    const res = await fetch(`${url}/v2/sha512/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: content,
    });
    assert.equal(res.status, 201);
    assert.deepEqual(await blobBody('sha512', digest), content);
  });

  it('stores an empty blob', async () => {
    const digest = await pushBlob(url, 'empty', new Uint8Array(0));
    const head = await fetch(`${url}/v2/empty/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '0');
  });

  it('mounts a blob from another repository (201), and falls back to an upload when it is absent (202)', async () => {
    const digest = await pushBlob(url, 'source/repo', Buffer.from('shared layer'));
    const mount = await fetch(`${url}/v2/target/repo/blobs/uploads/?mount=${digest}&from=source/repo`, {
      method: 'POST',
    });
    assert.equal(mount.status, 201);
    assert.equal(mount.headers.get('docker-content-digest'), digest);
    assert.equal(mount.headers.get('location'), `/v2/target/repo/blobs/${digest}`);
    assert.equal((await fetch(`${url}/v2/target/repo/blobs/${digest}`, { method: 'HEAD' })).status, 200);

    const missing = sha256('not pushed anywhere');
    const fallback = await fetch(`${url}/v2/target/repo/blobs/uploads/?mount=${missing}&from=source/repo`, {
      method: 'POST',
    });
    assert.equal(fallback.status, 202);
    assert.match(fallback.headers.get('location') ?? '', /\/v2\/target\/repo\/blobs\/uploads\//);
  });

  it('resumes a chunked upload on another server instance (hash rebuilt from storage)', async () => {
    const content = randomBytes(200_000);
    const digest = sha256(content);
    const location = await startUpload('resume');
    const first = await fetch(`${url}${location}`, {
      method: 'PATCH',
      headers: {
        'Content-Range': '0-99999',
        'Content-Length': '100000',
        'Content-Type': 'application/octet-stream',
      },
      body: content.subarray(0, 100_000),
    });
    assert.equal(first.status, 202);
    // A second replica over the same storage has no in-memory hash state for this upload.
    const other = await startTestRegistry({ root: registry.root });
    try {
      const second = await fetch(`${other.url}${location}`, {
        method: 'PATCH',
        headers: {
          'Content-Range': '100000-199999',
          'Content-Length': '100000',
          'Content-Type': 'application/octet-stream',
        },
        body: content.subarray(100_000),
      });
      assert.equal(second.status, 202);
      const put = await fetch(`${other.url}${location}?digest=${digest}`, { method: 'PUT' });
      assert.equal(put.status, 201);
    } finally {
      await other.close();
    }
    assert.deepEqual(await blobBody('resume', digest), content);
  });
});
