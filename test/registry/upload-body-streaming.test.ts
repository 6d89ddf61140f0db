// Request bodies larger than the filesystem writer's buffers, sent in odd-sized pieces with pauses, against a
// real loopback server: the bytes stored are exactly the bytes sent, a wrong digest still leaves nothing
// behind, and a body cut off mid-way publishes no blob and does not stop the next push of it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { sha256 } from './client.ts';

/** Sends `body` in pieces of varying size, pausing now and then; `stopAt` cuts the connection there. */
function send(
  url: string,
  method: string,
  body: Buffer,
  opts: { stopAt?: number } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
    });
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.once('error', reject);
    void (async () => {
      const sizes = [1, 4095, 65_537, 700_000, 13, 1_500_000];
      const end = opts.stopAt ?? body.length;
      for (let offset = 0, i = 0; offset < end; i++) {
        const n = Math.min(sizes[i % sizes.length] as number, end - offset);
        if (!req.write(body.subarray(offset, offset + n))) await new Promise((r) => req.once('drain', r));
        offset += n;
        if (i % 4 === 3) await sleep(5);
      }
      if (opts.stopAt === undefined) {
        req.end();
        return;
      }
      await sleep(50);
      req.destroy();
      resolve({ status: 0, text: 'cut' });
    })().catch(reject);
  });
}

describe('upload bodies streamed in pieces', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(() => registry.close());

  const blobFile = (digest: string): string => {
    const hex = digest.slice('sha256:'.length);
    return join(registry.root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  };
  const uploadsOf = async (name: string): Promise<string[]> => {
    const dir = join(registry.root, 'docker/registry/v2/repositories', name, '_uploads');
    return existsSync(dir) ? readdir(dir) : [];
  };

  it('stores a multi-MiB monolithic push byte for byte', async () => {
    const content = randomBytes(5 * 1024 * 1024 + 333);
    const digest = sha256(content);
    const res = await send(`${registry.url}/v2/stream/mono/blobs/uploads/?digest=${digest}`, 'POST', content);
    assert.equal(res.status, 201, res.text);
    const got = await fetch(`${registry.url}/v2/stream/mono/blobs/${digest}`);
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), content);
  });

  it('refuses a multi-MiB body with the wrong digest and keeps nothing of it', async () => {
    const content = randomBytes(3 * 1024 * 1024 + 7);
    const wrong = sha256('not this');
    const res = await send(`${registry.url}/v2/stream/wrong/blobs/uploads/?digest=${wrong}`, 'POST', content);
    assert.equal(res.status, 400);
    assert.equal((JSON.parse(res.text) as { errors: { code: string }[] }).errors[0]?.code, 'DIGEST_INVALID');
    assert.equal(existsSync(blobFile(wrong)), false);
    assert.equal(existsSync(blobFile(sha256(content))), false);
    assert.deepEqual(await uploadsOf('stream/wrong'), []);
  });

  it('publishes nothing when the body is cut off, and takes the same blob again afterwards', async () => {
    const content = randomBytes(4 * 1024 * 1024);
    const digest = sha256(content);
    const target = `${registry.url}/v2/stream/cut/blobs/uploads/?digest=${digest}`;
    await send(target, 'POST', content, { stopAt: 2 * 1024 * 1024 + 5 });
    // The server notices the cut asynchronously.
    await sleep(200);
    assert.equal(existsSync(blobFile(digest)), false);
    const head = await fetch(`${registry.url}/v2/stream/cut/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    const again = await send(target, 'POST', content);
    assert.equal(again.status, 201, again.text);
    const got = await fetch(`${registry.url}/v2/stream/cut/blobs/${digest}`);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), content);
  });

  it('appends chunked PATCHes of odd sizes and finishes with the right digest', async () => {
    const content = randomBytes(2 * 1024 * 1024 + 99);
    const digest = sha256(content);
    const start = await fetch(`${registry.url}/v2/stream/chunked/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    let location = start.headers.get('location') ?? '';
    const cut = 1_234_567;
    for (const [from, to] of [
      [0, cut],
      [cut, content.length],
    ] as const) {
      const res = await fetch(`${registry.url}${location}`, {
        method: 'PATCH',
        headers: { 'content-range': `${from}-${to - 1}`, 'content-type': 'application/octet-stream' },
        body: content.subarray(from, to),
      });
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('range'), `0-${to - 1}`);
      location = res.headers.get('location') ?? '';
    }
    const done = await fetch(
      `${registry.url}${location}${location.includes('?') ? '&' : '?'}digest=${digest}`,
      {
        method: 'PUT',
      },
    );
    assert.equal(done.status, 201);
    const got = await fetch(`${registry.url}/v2/stream/chunked/blobs/${digest}`);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), content);
  });
});
