// GcsResumableUpload against a loopback server that keeps a resumable session as GCS does: 308 with the
// persisted `Range`, a status query (`bytes */…`), 200 with the object on the last chunk. The server can keep
// less than a request carried, fail a request with a 503 or drop the connection, and the upload must still end
// with every byte once, in order. (The driver's tests run the real protocol against fake-gcs-server.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { GcsResumableUpload, ResumableUploadError } from '../../registry/storage/gcs-resumable.ts';

const KiB = 1024;

interface Session {
  bytes: Buffer[];
  persisted: number;
  completed: boolean;
  /** What the next PUTs do instead of the usual: keep only part, answer 503, or hang up. */
  faults: ('keep-half' | '503' | 'reset' | '404')[];
  requests: string[];
  authorization: string[];
}

let server: Server;
let uri: string;
let session: Session;

function read(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (p: Buffer) => parts.push(p));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await read(req);
  const range = req.headers['content-range'] ?? '';
  session.requests.push(`${req.method} ${range} ${body.length}`);
  session.authorization.push(req.headers.authorization ?? '');
  if (req.method === 'DELETE') {
    res.writeHead(499).end();
    return;
  }
  const fault = session.faults.shift();
  if (fault === 'reset') {
    req.socket.destroy();
    return;
  }
  if (fault === '503') {
    res.writeHead(503).end('backend unavailable');
    return;
  }
  if (fault === '404') {
    res.writeHead(404).end('no such upload');
    return;
  }
  const m = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(range);
  assert.ok(m, `a valid Content-Range: ${range}`);
  if (m[1] !== undefined) {
    const start = Number(m[1]);
    assert.equal(start, session.persisted, 'each PUT starts where the persisted bytes end');
    assert.equal(Number(m[2]) - start + 1, body.length, 'the range covers the body');
    const kept = fault === 'keep-half' ? body.subarray(0, body.length / 2) : body;
    session.bytes.push(Buffer.from(kept));
    session.persisted += kept.length;
  }
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (total !== undefined && session.persisted === total) {
    session.completed = true;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ size: String(total) }));
    return;
  }
  res.writeHead(308, session.persisted > 0 ? { range: `bytes=0-${session.persisted - 1}` } : {}).end();
}

function upload(): GcsResumableUpload {
  return new GcsResumableUpload({
    uri,
    headers: () => Promise.resolve({ authorization: 'Bearer t' }),
    retryDelayMs: 1,
  });
}

describe('GcsResumableUpload', () => {
  before(async () => {
    server = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload/session-1`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    session = { bytes: [], persisted: 0, completed: false, faults: [], requests: [], authorization: [] };
  });

  it('sends whole chunks, then the last with the size, and every request is authorized', async () => {
    const [a, b, c] = [randomBytes(256 * KiB), randomBytes(256 * KiB), randomBytes(100)];
    const up = upload();
    await up.send(a);
    assert.equal(up.persisted, 256 * KiB);
    await up.send(b);
    await up.send(c, 512 * KiB + 100);
    assert.ok(session.completed);
    assert.deepEqual(Buffer.concat(session.bytes), Buffer.concat([a, b, c]));
    assert.deepEqual(session.requests, [
      `PUT bytes 0-262143/* ${256 * KiB}`,
      `PUT bytes 262144-524287/* ${256 * KiB}`,
      `PUT bytes 524288-524387/524388 100`,
    ]);
    assert.deepEqual(new Set(session.authorization), new Set(['Bearer t']));
  });

  it('completes with an empty last chunk when the size is a multiple of the chunk', async () => {
    const chunk = randomBytes(256 * KiB);
    const up = upload();
    await up.send(chunk);
    await up.send(Buffer.alloc(0), 256 * KiB);
    assert.ok(session.completed);
    assert.equal(session.requests.at(-1), `PUT bytes */${256 * KiB} 0`);
  });

  it('sends again what the server did not keep of a chunk', async () => {
    const chunk = randomBytes(512 * KiB);
    session.faults = ['keep-half'];
    const up = upload();
    await up.send(chunk);
    assert.equal(up.persisted, 512 * KiB);
    assert.deepEqual(Buffer.concat(session.bytes), chunk);
    assert.deepEqual(session.requests, [
      `PUT bytes 0-524287/* ${512 * KiB}`,
      `PUT bytes 262144-524287/* ${256 * KiB}`,
    ]);
  });

  it('after a 503 or a dropped connection asks what arrived and goes on from there', async () => {
    const [a, b, c] = [randomBytes(256 * KiB), randomBytes(256 * KiB), randomBytes(10)];
    const up = upload();
    session.faults = ['503'];
    await up.send(a);
    session.faults = ['reset'];
    await up.send(b);
    session.faults = ['503', '503'];
    await up.send(c, 512 * KiB + 10);
    assert.ok(session.completed);
    assert.deepEqual(Buffer.concat(session.bytes), Buffer.concat([a, b, c]));
    assert.deepEqual(session.requests.slice(0, 3), [
      `PUT bytes 0-262143/* ${256 * KiB}`,
      'PUT bytes */* 0',
      `PUT bytes 0-262143/* ${256 * KiB}`,
    ]);
    assert.ok(
      session.requests.includes(`PUT bytes */${512 * KiB + 10} 0`),
      'the last chunk queries with its size',
    );
  });

  it('fails with the status on an answer that is not retried, and after too many failures', async () => {
    session.faults = ['404'];
    await assert.rejects(upload().send(randomBytes(256 * KiB)), (err: unknown) => {
      assert.ok(err instanceof ResumableUploadError);
      assert.equal(err.status, 404);
      assert.match(err.message, /404 no such upload/);
      return true;
    });
    session.faults = ['503', '503', '503', '503', '503', '503'];
    await assert.rejects(upload().send(randomBytes(256 * KiB)), /503 backend unavailable/);
    assert.equal(session.requests.length, 1 + 5, 'the 404 once, then the first PUT and four retries');
  });

  it('refuses a last chunk that does not end at the size', async () => {
    await assert.rejects(upload().send(randomBytes(10), 11), /ends at byte 10, not at the object's size 11/);
    assert.equal(session.requests.length, 0);
  });
});
