// S3Driver.copyTo when its fast GET is refused and the SDK continues: like the fast path, it resolves only once
// the destination took every byte (each write's callback), so the caller may read, end or reuse the destination
// at once, and a destination that fails on the last bytes makes copyTo reject. A loopback server plays S3: it
// refuses the presigned GET with a 503 and answers the SDK's ranged GetObject with the whole body at once, so
// the source ends long before a slow destination has taken it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, it } from 'node:test';
import { S3Driver } from '../../registry/storage/s3.ts';

const object = randomBytes(1024 * 1024 + 5);
const offset = 7;
let server: Server;
let driver: S3Driver;

before(async () => {
  let refused = false;
  server = createServer((req, res) => {
    // Every copy starts with the fast path's presigned GET; refusing it sends the rest through the SDK.
    if (new URL(req.url ?? '/', 'http://x').searchParams.has('X-Amz-Signature')) {
      refused = true;
      const body = '<Error><Code>SlowDown</Code><Message>refused by the test</Message></Error>';
      res.writeHead(503, { 'Content-Type': 'application/xml', 'Content-Length': body.length });
      res.end(body);
      return;
    }
    assert.ok(refused, 'the SDK GET comes after the refused fast GET');
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(206, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': object.length - start,
      'Content-Range': `bytes ${start}-${object.length - 1}/${object.length}`,
    });
    res.end(object.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  driver = new S3Driver({
    bucket: 'bucket',
    region: 'us-east-1',
    regionEndpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    accessKey: 'key',
    secretKey: 'secret',
    maxAttempts: 1,
  });
});

after(async () => {
  driver.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A destination that never pushes back (a large highWaterMark) and takes each chunk a few ms later. */
function slowSink(failAfter = Infinity): Writable & { received: Buffer[] } {
  const received: Buffer[] = [];
  let taken = 0;
  const sink = new Writable({
    highWaterMark: 64 * 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      taken += chunk.length;
      if (taken > failAfter) {
        setTimeout(() => callback(new Error('client went away')), 2);
        return;
      }
      received.push(Buffer.from(chunk));
      setTimeout(callback, 2);
    },
  });
  sink.on('error', () => undefined);
  return Object.assign(sink, { received });
}

it('resolves only after the destination took every byte the SDK read', async () => {
  const sink = slowSink();
  await driver.copyTo('/blob', sink, { offset });
  assert.equal(sink.writableLength, 0, 'nothing is left queued in the destination');
  assert.ok(Buffer.concat(sink.received).equals(object.subarray(offset)));
});

it('rejects when the destination fails on bytes already read from the SDK', async () => {
  const sink = slowSink(object.length - 100_000);
  await assert.rejects(driver.copyTo('/blob', sink, { offset }), /client went away/);
});
