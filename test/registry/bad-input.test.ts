// Bad input gets the spec's error code, writes nothing outside the storage root and leaves no partial blob.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { sha256 } from './client.ts';

/** Sends a request with the path exactly as given (fetch would normalise `..` and `//`). */
function rawRequest(url: string, method: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function codeOf(body: string): string | undefined {
  return (JSON.parse(body) as { errors: { code: string }[] }).errors[0]?.code;
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

describe('bad input', () => {
  let parent: string;
  let registry: TestRegistry;
  let url: string;
  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'berth-bad-'));
    await mkdir(join(parent, 'root'));
    registry = await startTestRegistry({ root: join(parent, 'root') });
    url = registry.url;
  });
  after(async () => {
    await registry.close();
    await rm(parent, { recursive: true, force: true });
  });

  const badNames = [
    '../x',
    '..',
    '%2e%2e/x',
    'a//b',
    'Upper/case',
    'a/../../b',
    'a%2F..%2F..%2Fb',
    '-lead',
    'x'.repeat(256),
  ];

  for (const name of badNames) {
    it(`refuses repository name ${JSON.stringify(name.length > 40 ? `${name.slice(0, 10)}…(${name.length})` : name)} with NAME_INVALID`, async () => {
      for (const [method, suffix] of [
        ['GET', '/tags/list'],
        ['POST', '/blobs/uploads/'],
        ['PUT', '/manifests/latest'],
        ['GET', `/blobs/${sha256('x')}`],
      ] as const) {
        const res = await rawRequest(url, method, `/v2/${name}${suffix}`);
        assert.equal(res.status, 400, `${method} ${suffix}`);
        assert.equal(codeOf(res.body), 'NAME_INVALID', `${method} ${suffix}`);
      }
    });
  }

  it('refuses invalid digests with DIGEST_INVALID', async () => {
    for (const digest of [
      'sha256:xyz',
      'md5:d41d8cd98f00b204e9800998ecf8427e',
      'sha256:' + 'A'.repeat(64),
      'sha256',
    ]) {
      const blob = await rawRequest(url, 'GET', `/v2/ok/blobs/${digest}`);
      assert.equal(blob.status, 400, digest);
      assert.equal(codeOf(blob.body), 'DIGEST_INVALID');
    }
    const res = await fetch(`${url}/v2/ok/blobs/uploads/?digest=sha256:1234`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 400);
    assert.equal(codeOf(await res.text()), 'DIGEST_INVALID');
  });

  it('answers paths whose escapes are no UTF-8 with the plain 404 of an unknown path', async () => {
    // Overlong `.` (%c0%ae), a lone continuation byte, a truncated sequence: fastify's router cannot decode them.
    for (const path of ['/v2/%c0%ae%c0%ae/tags/list', '/v2/a%ff/manifests/x', '/v2/%e0%80%ae/referrers/x']) {
      const res = await rawRequest(url, 'GET', path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body, '404 page not found\n', path);
    }
  });

  it('wrote nothing outside the storage root', async () => {
    assert.deepEqual(await readdir(parent), ['root']);
    const tree = await listTree(join(parent, 'root'));
    assert.ok(
      // Content lives under docker/; the driver's (empty) scratch directory is the only other entry.
      tree.every((entry) => entry.startsWith('docker') || entry === '.tmp-scratch'),
      tree.join('\n'),
    );
  });

  it('leaves no partial blob when a client disconnects mid-upload, and the push can be retried', async () => {
    const content = randomBytes(4 * 1024 * 1024);
    const digest = sha256(content);
    const { hostname, port } = new URL(url);
    await new Promise<void>((resolve) => {
      const req = request({
        hostname,
        port,
        method: 'POST',
        path: `/v2/disconnect/blobs/uploads/?digest=${digest}`,
        headers: { 'Content-Length': String(content.length), 'Content-Type': 'application/octet-stream' },
      });
      req.on('error', () => resolve());
      req.write(content.subarray(0, 1024 * 1024), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 100);
      });
    });
    await sleep(300);
    const head = await fetch(`${url}/v2/disconnect/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    const tree = await listTree(join(parent, 'root'));
    assert.ok(
      !tree.some((entry) => entry.includes(digest.slice(7))),
      'no blob data for the interrupted digest',
    );
    assert.ok(
      !tree.some(
        (entry) =>
          entry.startsWith('docker/registry/v2/repositories/disconnect/_uploads/') && entry.endsWith('data'),
      ),
      'the interrupted monolithic upload was discarded',
    );
    const retry = await fetch(`${url}/v2/disconnect/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: content,
    });
    assert.equal(retry.status, 201);
  });
});
