// The S3 driver against a real S3 server (MinIO): the shared StorageDriver contract, then what only S3 has —
// the key layout Distribution uses, multipart writers resumed by other processes, presigned redirects, the
// request-rate bound, retries, encryption, storage classes, TLS and the config keys.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { parseConfig } from '../../registry/config/load.ts';
import {
  InvalidOffsetError,
  PathNotFoundError,
  StorageDriverError,
  type StorageDriver,
} from '../../registry/storage/driver.ts';
import { createStorageDriver } from '../../registry/storage/factory.ts';
import { S3Driver, type S3DriverOptions } from '../../registry/storage/s3.ts';
import { startMinio, type Minio } from '../harness/minio.ts';
import { readAll, storageDriverContract } from '../unit/storage-driver-contract.ts';
import { startS3Proxy, type S3Proxy } from './s3-proxy.ts';

const MiB = 1024 * 1024;
const bucket = 'berth-driver-tests';
const run = randomBytes(3).toString('hex');
let minio: Minio | undefined;
let prefixes = 0;
const drivers: S3Driver[] = [];
const proxies: S3Proxy[] = [];

function server(): Minio {
  assert.ok(minio, 'MinIO did not start');
  return minio;
}

/** Options for a driver over a fresh root directory in the test bucket. */
function options(extra: Partial<S3DriverOptions> = {}): S3DriverOptions {
  const m = server();
  return {
    bucket,
    region: m.region,
    regionEndpoint: m.endpoint,
    forcePathStyle: true,
    accessKey: m.accessKey,
    secretKey: m.secretKey,
    rootDirectory: `/${run}-${++prefixes}`,
    chunkSize: 5 * MiB,
    ...extra,
  };
}

function driver(extra: Partial<S3DriverOptions> = {}): S3Driver {
  const d = new S3Driver(options(extra));
  drivers.push(d);
  return d;
}

function rawClient(): S3Client {
  const m = server();
  return new S3Client({
    region: m.region,
    endpoint: m.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: m.accessKey, secretAccessKey: m.secretKey },
  });
}

async function proxy(): Promise<S3Proxy> {
  const p = await startS3Proxy(server().endpoint);
  proxies.push(p);
  return p;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function openUploads(client: S3Client, prefix: string): Promise<number> {
  const res = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return res.Uploads?.length ?? 0;
}

before(async () => {
  minio = await startMinio();
  await minio.createBucket(bucket);
});

after(async () => {
  for (const d of drivers) d.destroy();
  await Promise.allSettled(proxies.map((p) => p.stop()));
  await minio?.stop();
});

storageDriverContract('s3 (MinIO)', {
  create: async () => driver(),
  destroy: async (d: StorageDriver) => {
    await d.delete('/').catch((err: unknown) => {
      if (!(err instanceof PathNotFoundError)) throw err;
    });
  },
});

describe('S3Driver against MinIO', () => {
  const raw = (): S3Client => rawClient();

  it('stores objects at rootdirectory + path without the leading slash, as Distribution does', async () => {
    const client = raw();
    try {
      const root = `nested/${run}/root`;
      const d = driver({ rootDirectory: `/${root}/` });
      const link = '/docker/registry/v2/repositories/library/alpine/_layers/sha256/abc/link';
      await d.putContent(link, Buffer.from('sha256:abc'));
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${root}/` }));
      assert.deepEqual(
        listed.Contents?.map((o) => o.Key),
        [`${root}${link}`],
      );
      // An object another registry wrote is served as it is.
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${root}/docker/registry/v2/blobs/sha256/de/def/data`,
          Body: 'layer bytes',
        }),
      );
      assert.equal(
        (await d.getContent('/docker/registry/v2/blobs/sha256/de/def/data')).toString(),
        'layer bytes',
      );
      // No root directory (or "/"): keys are the paths themselves.
      for (const rootDirectory of [undefined, '/']) {
        const top = driver(rootDirectory === undefined ? { rootDirectory: '' } : { rootDirectory });
        const path = `/top-${run}/${rootDirectory === undefined ? 'none' : 'slash'}`;
        await top.putContent(path, Buffer.from('x'));
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: path.slice(1) }));
        assert.equal(head.ContentLength, 1);
        await top.delete(path);
      }
    } finally {
      client.destroy();
    }
  });

  it('resumes a multipart upload in new driver instances: large parts, a small tail, then commit', async () => {
    const client = raw();
    try {
      const rootDirectory = `/${run}-multipart`;
      const path = `/docker/registry/v2/repositories/r/_uploads/${randomUUID()}/data`;
      const sessions = [
        randomBytes(7 * MiB),
        randomBytes(6 * MiB + 123),
        randomBytes(3000),
        randomBytes(11 * MiB),
      ];
      let expected = 0;
      for (const [i, data] of sessions.entries()) {
        // A new driver (a new process or replica) for every session: nothing is carried in memory.
        const d = driver({ rootDirectory });
        const writer = await d.writer(path, true);
        assert.equal(writer.size, expected, `session ${i} resumes at the stored size`);
        // Uneven pieces, so parts are cut across write() calls.
        for (let offset = 0; offset < data.length; offset += 700_001) {
          await writer.write(data.subarray(offset, offset + 700_001));
        }
        expected += data.length;
        assert.equal(writer.size, expected);
        if (i < sessions.length - 1) {
          await writer.close();
          // Closed content is stat-able and readable at once (the upload store relies on both).
          assert.equal((await d.stat(path)).size, expected);
          const head = await readAll(await d.reader(path, { offset: expected - 10 }));
          assert.deepEqual(head, data.subarray(data.length - 10));
        } else {
          await writer.commit();
        }
      }
      const d = driver({ rootDirectory });
      const stored = await readAll(await d.reader(path));
      assert.equal(stored.length, expected);
      assert.equal(sha256(stored), sha256(Buffer.concat(sessions)));
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: d.key(path) }));
      assert.match(head.ETag ?? '', /-\d+"$/, 'the object was assembled by a multipart upload');
      assert.equal(await openUploads(client, d.key('/')), 0, 'no multipart upload is left open');
    } finally {
      client.destroy();
    }
  });

  it('writes a blob in many parts, several in flight, and stores every byte (part memory is reused)', async () => {
    const d = driver({ partConcurrency: 3 });
    const path = '/uploads/many-parts/data';
    const total = 7 * 5 * MiB + 4321;
    const hash = createHash('sha256');
    const writer = await d.writer(path, false);
    // Fresh random pieces across part boundaries: a part whose memory were reused while it was still being
    // sent would store bytes of a later part, and the digest below would differ.
    for (let written = 0; written < total;) {
      const piece = randomBytes(Math.min(MiB + 333, total - written));
      hash.update(piece);
      await writer.write(piece);
      written += piece.length;
    }
    await writer.commit();
    const stored = createHash('sha256');
    for await (const chunk of await d.reader(path)) stored.update(chunk as Buffer);
    assert.equal(stored.digest('hex'), hash.digest('hex'));
    const client = raw();
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: d.key(path) }));
      assert.equal(head.ContentLength, total);
      assert.match(head.ETag ?? '', /-8"$/, 'eight parts: seven whole ones and the tail');
    } finally {
      client.destroy();
    }
  });

  it('sends content below the part minimum again with the next part, and leaves it alone when nothing is added', async () => {
    const rootDirectory = `/${run}-small-tail`;
    const path = '/uploads/small/data';
    const first = randomBytes(1 * MiB);
    const second = randomBytes(5 * MiB + 17);
    const a = driver({ rootDirectory });
    const w1 = await a.writer(path, true);
    await w1.write(first);
    await w1.close();
    const b = driver({ rootDirectory });
    const w2 = await b.writer(path, true);
    await w2.write(second);
    await w2.close();
    const before = await b.stat(path);
    assert.equal(before.size, first.length + second.length);
    assert.equal(sha256(await b.getContent(path)), sha256(Buffer.concat([first, second])));
    // A final session without data (the PUT that ends an upload) changes nothing.
    const c = driver({ rootDirectory });
    const w3 = await c.writer(path, true);
    await w3.commit();
    const client = rawClient();
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: c.key(path) }));
      assert.equal(head.ContentLength, before.size);
    } finally {
      client.destroy();
    }
  });

  it('fails an appending session whose object changed meanwhile, keeping the other write', async () => {
    const client = raw();
    try {
      for (const baseSize of [6 * MiB, 100]) {
        const d = driver();
        const path = '/race/data';
        await d.putContent(path, randomBytes(baseSize));
        const writer = await d.writer(path, true);
        await d.putContent(path, Buffer.from('replaced'));
        const appended = (async () => {
          await writer.write(randomBytes(6 * MiB));
          await writer.commit();
        })();
        await assert.rejects(appended, /changed while a writer was appending/);
        assert.equal((await d.getContent(path)).toString(), 'replaced');
        assert.equal(await openUploads(client, d.key('/')), 0);
      }
    } finally {
      client.destroy();
    }
  });

  it('moves large objects with a multipart copy and small ones with one copy', async () => {
    const client = raw();
    try {
      const d = driver({ multipartCopyThresholdSize: 5 * MiB, multipartCopyChunkSize: 5 * MiB });
      const big = randomBytes(12 * MiB + 5);
      const writer = await d.writer('/m/big', false);
      await writer.write(big);
      await writer.commit();
      await d.move('/m/big', '/blobs/big/data');
      assert.equal(sha256(await d.getContent('/blobs/big/data')), sha256(big));
      await assert.rejects(d.stat('/m/big'), PathNotFoundError);
      const bigHead = await client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: d.key('/blobs/big/data') }),
      );
      assert.match(bigHead.ETag ?? '', /-3"$/, 'copied in three parts');

      await d.putContent('/m/small', Buffer.from('small'));
      await d.move('/m/small', '/blobs/small/data');
      const smallHead = await client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: d.key('/blobs/small/data') }),
      );
      assert.doesNotMatch(smallHead.ETag ?? '', /-\d+"$/);
      assert.equal((await d.getContent('/blobs/small/data')).toString(), 'small');
    } finally {
      client.destroy();
    }
  });

  it('lists, walks and deletes more than one page of objects', async () => {
    const d = driver();
    const count = 1010;
    const names = Array.from({ length: count }, (_, i) => `f${String(i).padStart(4, '0')}`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < count; i = next++) await d.putContent(`/many/${names[i]}`, Buffer.from('x'));
      }),
    );
    await d.putContent('/many.txt', Buffer.from('sibling'));
    const listed = await d.list('/many');
    assert.equal(listed.length, count);
    assert.equal(listed[0], '/many/f0000');
    let files = 0;
    await d.walk('/', (info) => {
      if (!info.isDir) files++;
    });
    assert.equal(files, count + 1);
    await d.delete('/many');
    await assert.rejects(d.list('/many'), PathNotFoundError);
    assert.deepEqual(await d.list('/'), ['/many.txt'], 'a sibling sharing the name as a prefix is kept');
  });

  describe('copyTo', () => {
    /** A socket-like sink that takes its time (so reading has to pause) and keeps copies of what it got. */
    const sink = (): Writable & { received: Buffer[] } => {
      const received: Buffer[] = [];
      const w = new Writable({
        highWaterMark: 64 * 1024,
        write(chunk: Buffer, _encoding, callback) {
          received.push(Buffer.from(chunk)); // copy: the driver reuses its buffers once the write is done
          setImmediate(callback);
        },
      });
      return Object.assign(w, { received });
    };
    const copy = async (d: S3Driver, path: string, options?: { offset?: number; end?: number }) => {
      const w = sink();
      await d.copyTo(path, w, options);
      assert.ok(!w.writableEnded, 'copyTo does not end the destination');
      return Buffer.concat(w.received);
    };
    const content = randomBytes(3 * MiB + 123);

    it('copies whole objects and byte ranges with one GET each', async () => {
      const p = await proxy();
      const d = driver({ regionEndpoint: p.endpoint });
      await d.putContent('/c/blob', content);
      await d.putContent('/c/empty', Buffer.alloc(0));
      p.requests.length = 0;
      assert.ok((await copy(d, '/c/blob')).equals(content));
      assert.ok((await copy(d, '/c/blob', { offset: 1_000_000 })).equals(content.subarray(1_000_000)));
      assert.ok(
        (await copy(d, '/c/blob', { offset: 10, end: 2_000_000 })).equals(content.subarray(10, 2_000_001)),
      );
      const last = content.length - 1;
      assert.ok((await copy(d, '/c/blob', { end: last })).equals(content));
      assert.ok((await copy(d, '/c/blob', { offset: last, end: last })).equals(content.subarray(last)));
      assert.ok((await copy(d, '/c/blob', { offset: 5, end: last + 1000 })).equals(content.subarray(5)));
      assert.equal((await copy(d, '/c/empty')).length, 0);
      assert.equal(
        p.requests.filter((r) => r.method === 'GET').length,
        7,
        'one GET per copy, nothing retried through the SDK',
      );
      assert.deepEqual(
        p.requests.map((r) => r.headers.range),
        [
          undefined,
          'bytes=1000000-',
          'bytes=10-2000000',
          `bytes=0-${last}`,
          `bytes=${last}-${last}`,
          `bytes=5-${last + 1000}`,
          undefined,
        ],
      );
      // Many copies in a row reuse a few keep-alive connections and leave none busy.
      const results = await Promise.all(
        Array.from({ length: 12 }, () => copy(d, '/c/blob', { offset: 3 * MiB })),
      );
      for (const r of results) assert.ok(r.equals(content.subarray(3 * MiB)));
    });

    it('reads nothing at or past the end, and throws for offsets beyond it or missing objects', async () => {
      const d = driver();
      await d.putContent('/c/blob', content);
      await d.putContent('/c/empty', Buffer.alloc(0));
      assert.equal((await copy(d, '/c/blob', { offset: content.length })).length, 0);
      assert.equal((await copy(d, '/c/blob', { offset: 20, end: 10 })).length, 0);
      assert.equal((await copy(d, '/c/empty', { offset: 0 })).length, 0);
      await assert.rejects(copy(d, '/c/blob', { offset: content.length + 1 }), (err) => {
        assert.ok(err instanceof InvalidOffsetError);
        assert.equal(err.offset, content.length + 1);
        return true;
      });
      await assert.rejects(copy(d, '/c/blob', { offset: -1 }), InvalidOffsetError);
      await assert.rejects(copy(d, '/c/missing'), PathNotFoundError);
      await assert.rejects(copy(d, '/c/missing', { offset: 10, end: 20 }), PathNotFoundError);
      await assert.rejects(copy(d, '/c/missing', { offset: 20, end: 10 }), PathNotFoundError);
    });

    it('stops when the destination closes mid-copy, and keeps working', async () => {
      const d = driver();
      const big = randomBytes(24 * MiB);
      await d.putContent('/c/big', big);
      for (const how of ['destroy', 'error'] as const) {
        let written = 0;
        const closing = new Writable({
          write(chunk: Buffer, _encoding, callback) {
            written += chunk.length;
            if (written > 2 * MiB) {
              if (how === 'destroy') {
                this.destroy();
                callback();
              } else callback(new Error('client went away'));
            } else setImmediate(callback);
          },
        });
        closing.on('error', () => undefined);
        await assert.rejects(d.copyTo('/c/big', closing));
        assert.ok(written < 8 * MiB, `stopped reading soon (${written} bytes written)`);
      }
      assert.ok((await copy(d, '/c/big', { offset: 20 * MiB })).equals(big.subarray(20 * MiB)));
    });

    it('continues through the SDK when the fast GET fails, and passes the rate limiter', async () => {
      const p = await proxy();
      const d = driver({ regionEndpoint: p.endpoint, maxRequestsPerSecond: 10 });
      await d.putContent('/c/blob', content);
      let faults = 1;
      p.inject = (req) =>
        req.method === 'GET' && faults-- > 0 ? { status: 503, code: 'SlowDown' } : undefined;
      p.requests.length = 0;
      assert.ok((await copy(d, '/c/blob', { offset: 7 })).equals(content.subarray(7)));
      assert.deepEqual(
        p.requests.map((r) => r.status),
        [503, 206],
      );
      p.inject = undefined;
      p.requests.length = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 12 }, () => copy(d, '/c/blob', { offset: 3 * MiB })));
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(p.requests.length, 12);
      assert.ok(seconds > 0.9, `12 GETs at 10/s took ${seconds.toFixed(2)} s`);
    });
  });

  it('redirects to presigned GET and HEAD URLs that expire, unless disabled', async () => {
    const d = driver();
    const content = randomBytes(4096);
    const path = '/docker/registry/v2/blobs/sha256/ab/abc/data';
    await d.putContent(path, content);

    const getURL = await d.redirectURL(path, 'GET');
    assert.ok(getURL);
    assert.ok(getURL.startsWith(`${server().endpoint}/${bucket}/${d.key(path)}?`), getURL);
    assert.equal(new URL(getURL).searchParams.get('X-Amz-Expires'), '1200', 'expires after 20 minutes');
    const got = await fetch(getURL);
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), content);

    const headURL = await d.redirectURL(path, 'HEAD');
    assert.ok(headURL);
    const head = await fetch(headURL, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(content.length));
    // Each URL is signed for its method only.
    const wrongMethod = await fetch(headURL);
    await wrongMethod.body?.cancel();
    assert.equal(wrongMethod.status, 403);

    const shortLived = driver({ rootDirectory: options().rootDirectory, redirectExpirySeconds: 1 });
    await shortLived.putContent(path, content);
    const expiring = await shortLived.redirectURL(path, 'GET');
    assert.ok(expiring);
    await sleep(2100);
    const expired = await fetch(expiring);
    await expired.body?.cancel();
    assert.equal(expired.status, 403, 'an expired URL is refused');

    assert.equal(await driver({ redirect: false }).redirectURL(path, 'GET'), null);
  });

  it('keeps the request rate to the backend under maxrequestspersecond', { timeout: 60_000 }, async () => {
    const limit = 20;
    /** Runs a burst of 70 requests (35 puts, then 35 stats, all at once) and returns when each was sent. */
    const burst = async (d: S3Driver): Promise<number[]> => {
      const sent: number[] = [];
      // Added after the driver's limiter at the same place (innermost), so it runs as each attempt goes to the
      // wire: after the limiter, the retry loop and signing.
      d.client.middlewareStack.add(
        (next) => async (args) => {
          sent.push(performance.now());
          return next(args);
        },
        { step: 'deserialize', priority: 'low', name: 'testRequestClock' },
      );
      const paths = Array.from({ length: 35 }, (_, i) => `/rate/${i}`);
      await Promise.all(paths.map((p) => d.putContent(p, Buffer.from(p))));
      await Promise.all(paths.map((p) => d.stat(p)));
      return sent;
    };
    const busiestSecond = (times: number[]): number => {
      let most = 0;
      for (const [i, t] of times.entries()) {
        let n = 0;
        for (let j = i; j < times.length && (times[j] ?? Infinity) < t + 1000; j++) n++;
        most = Math.max(most, n);
      }
      return most;
    };

    const unlimited = await burst(driver());
    assert.ok(
      busiestSecond(unlimited) > limit,
      `without a limit the burst reaches ${busiestSecond(unlimited)} requests in a second (the test needs > ${limit})`,
    );

    const limited = await burst(driver({ maxRequestsPerSecond: limit }));
    assert.equal(limited.length, 70);
    const first = limited[0] ?? 0;
    const last = limited[limited.length - 1] ?? 0;
    const meanRate = (limited.length - 1) / ((last - first) / 1000);
    assert.ok(meanRate <= limit, `mean rate ${meanRate.toFixed(2)}/s exceeds ${limit}/s`);
    const most = busiestSecond(limited);
    assert.ok(most <= limit, `${most} requests within one second with maxrequestspersecond=${limit}`);
  });

  it('retries throttling and server errors with backoff, and gives up after maxAttempts', async () => {
    const p = await proxy();
    const d = driver({ regionEndpoint: p.endpoint, maxAttempts: 5 });
    const faults = [
      { status: 503, code: 'SlowDown' },
      { status: 503, code: 'SlowDown' },
      { status: 500, code: 'InternalError' },
    ];
    let injected = 0;
    p.inject = (req) => (req.method === 'PUT' && injected < faults.length ? faults[injected++] : undefined);
    await d.putContent('/retried', Buffer.from('made it'));
    const puts = p.requests.filter((r) => r.method === 'PUT');
    assert.deepEqual(
      puts.map((r) => r.status),
      [503, 503, 500, 200],
    );
    assert.equal((await d.getContent('/retried')).toString(), 'made it');

    // Reads are retried too.
    let getFaults = 2;
    p.inject = (req) =>
      req.method === 'GET' && getFaults-- > 0 ? { status: 503, code: 'SlowDown' } : undefined;
    assert.equal((await d.getContent('/retried')).toString(), 'made it');

    // A backend that keeps refusing: maxAttempts attempts, then a driver error naming the cause.
    const impatient = driver({ regionEndpoint: p.endpoint, maxAttempts: 3 });
    p.requests.length = 0;
    p.inject = (req) => (req.method === 'PUT' ? { status: 503, code: 'SlowDown' } : undefined);
    await assert.rejects(impatient.putContent('/refused', Buffer.from('x')), (err) => {
      assert.ok(err instanceof StorageDriverError);
      assert.match(err.message, /SlowDown/);
      return true;
    });
    assert.equal(p.requests.filter((r) => r.method === 'PUT').length, 3);
    const gaps = p.requests.slice(1).map((r, i) => r.at - (p.requests[i]?.at ?? 0));
    assert.ok(
      gaps.reduce((a, b) => a + b, 0) > 50,
      `retries were not spaced out: ${gaps.map((g) => g.toFixed(1)).join(', ')} ms`,
    );
    p.inject = undefined;
  });

  it('encrypts new, multipart and moved objects with SSE-S3 or SSE-KMS', async () => {
    const client = raw();
    try {
      for (const keyId of [undefined, server().kmsKeyId]) {
        const d = driver({ encrypt: true, ...(keyId ? { keyId } : {}) });
        await d.putContent('/enc/small', Buffer.from('secret'));
        const writer = await d.writer('/enc/upload', true);
        const big = randomBytes(6 * MiB);
        await writer.write(big);
        await writer.commit();
        await d.move('/enc/upload', '/enc/moved');
        for (const path of ['/enc/small', '/enc/moved']) {
          const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: d.key(path) }));
          assert.equal(head.ServerSideEncryption, keyId ? 'aws:kms' : 'AES256', path);
          if (keyId) assert.match(head.SSEKMSKeyId ?? '', new RegExp(keyId));
        }
        assert.equal((await d.getContent('/enc/small')).toString(), 'secret');
        assert.equal(sha256(await d.getContent('/enc/moved')), sha256(big));
      }
    } finally {
      client.destroy();
    }
  });

  it('sends the storage class (STANDARD by default, none with NONE)', async () => {
    const p = await proxy();
    const classOf = async (storageClass: string | undefined): Promise<string | undefined> => {
      p.requests.length = 0;
      const d = driver({ regionEndpoint: p.endpoint, ...(storageClass ? { storageClass } : {}) });
      await d.putContent('/class', Buffer.from('x'));
      const put = p.requests.find((r) => r.method === 'PUT');
      const value = put?.headers['x-amz-storage-class'];
      return Array.isArray(value) ? value[0] : value;
    };
    assert.equal(await classOf(undefined), 'STANDARD');
    assert.equal(await classOf('reduced_redundancy'), 'REDUCED_REDUNDANCY');
    assert.equal(await classOf('NONE'), undefined);
    assert.throws(() => driver({ storageClass: 'DEEP_ARCHIVE' }), /storageclass/);
  });

  it('uses the default credential chain when no keys are configured', async () => {
    const saved = { ...process.env };
    try {
      for (const k of Object.keys(process.env))
        if (k.startsWith('AWS_')) Reflect.deleteProperty(process.env, k);
      process.env['AWS_ACCESS_KEY_ID'] = server().accessKey;
      process.env['AWS_SECRET_ACCESS_KEY'] = server().secretKey;
      const { accessKey: _a, secretKey: _s, ...rest } = options();
      const d = driver(rest);
      await d.putContent('/chain', Buffer.from('from env'));
      assert.equal((await d.getContent('/chain')).toString(), 'from env');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) Reflect.deleteProperty(process.env, k);
      Object.assign(process.env, saved);
    }
  });

  it('builds the driver from Distribution config keys (strings as Distribution accepts them)', async () => {
    const m = server();
    const root = `/${run}-config`;
    const yaml = (extra: string, v4auth = true): string =>
      [
        'version: 0.1',
        'storage:',
        '  s3:',
        `    region: ${m.region}`,
        `    regionendpoint: ${m.endpoint.replace('http://', '')}`,
        `    bucket: ${bucket}`,
        `    accesskey: ${m.accessKey}`,
        `    secretkey: ${m.secretKey}`,
        `    rootdirectory: ${root}`,
        '    secure: "false"',
        // No forcepathstyle: with a regionendpoint, path style is the default (as in Distribution 2.8).
        `    v4auth: ${v4auth}`,
        '    chunksize: "5242880"',
        '    maxrequestspersecond: 1000',
        extra,
      ].join('\n');
    const built = await createStorageDriver(parseConfig(yaml('')).config.storage);
    assert.ok(built instanceof S3Driver);
    drivers.push(built);
    assert.equal(built.chunkSize, 5 * MiB);
    assert.equal(built.rootPrefix, root.slice(1));
    assert.equal(built.limiter?.perSecond, 1000);
    await built.putContent('/configured', Buffer.from('ok'));
    assert.equal((await built.getContent('/configured')).toString(), 'ok');
    assert.ok(await built.redirectURL('/configured', 'GET'));

    const noRedirect = (await createStorageDriver(
      parseConfig(`${yaml('')}\n  redirect:\n    disable: true\n`).config.storage,
    )) as S3Driver;
    drivers.push(noRedirect);
    assert.equal(await noRedirect.redirectURL('/configured', 'GET'), null);

    await assert.rejects(createStorageDriver(parseConfig(yaml('', false)).config.storage), /v4auth/);
    // The config schema refuses an unknown storage class at load, naming the key.
    assert.throws(
      () => parseConfig(yaml('    storageclass: COLD')),
      /storage\.s3\.storageclass: expected one of/,
    );
  });
});

describe('S3Driver over TLS (MinIO with a self-signed certificate)', () => {
  let tls: Minio | undefined;

  before(async () => {
    tls = await startMinio({ tls: true });
    await tls.createBucket(bucket);
  });

  after(async () => {
    await tls?.stop();
  });

  it('connects with secure and skipverify, and refuses the certificate without skipverify', async () => {
    assert.ok(tls);
    const base = {
      bucket,
      region: tls.region,
      // No scheme: `secure` chooses https.
      regionEndpoint: tls.endpoint.replace('https://', ''),
      forcePathStyle: true,
      accessKey: tls.accessKey,
      secretKey: tls.secretKey,
      rootDirectory: `/${run}-tls`,
      secure: true,
      maxAttempts: 1,
    };
    const trusting = new S3Driver({ ...base, skipVerify: true });
    drivers.push(trusting);
    await trusting.putContent('/over-tls', Buffer.from('tls'));
    assert.equal((await trusting.getContent('/over-tls')).toString(), 'tls');
    assert.ok((await trusting.redirectURL('/over-tls', 'GET'))?.startsWith(`${tls.endpoint}/`));

    // copyTo's own client speaks TLS too, and verifies the certificate as the SDK does.
    const large = randomBytes(2 * MiB + 5);
    await trusting.putContent('/over-tls-large', large);
    const received: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received.push(Buffer.from(chunk));
        callback();
      },
    });
    await trusting.copyTo('/over-tls-large', sink, { offset: 3 });
    assert.ok(Buffer.concat(received).equals(large.subarray(3)));

    const verifying = new S3Driver(base);
    drivers.push(verifying);
    await assert.rejects(verifying.getContent('/over-tls'), /certificate/i);
    await assert.rejects(verifying.copyTo('/over-tls-large', sink), /certificate/i);
  });
});
