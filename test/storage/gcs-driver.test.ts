// The GCS driver against a real GCS API server (fake-gcs-server): the shared StorageDriver contract, then what
// only GCS has — the key layout Distribution uses, writers resumed (composed) by other driver instances, large
// resumable uploads in several chunks, signed redirect URLs, STORAGE_EMULATOR_HOST and the config keys.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../registry/config/load.ts';
import { PathNotFoundError, StorageDriverError, type StorageDriver } from '../../registry/storage/driver.ts';
import { createStorageDriver } from '../../registry/storage/factory.ts';
import { GcsDriver, gcsEndpoint, type GcsDriverOptions } from '../../registry/storage/gcs.ts';
import { startFakeGcs, type FakeGcs } from '../harness/fake-gcs.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { readAll, storageDriverContract } from '../unit/storage-driver-contract.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const bucket = 'berth-driver-tests';
const run = randomBytes(3).toString('hex');
let gcs: FakeGcs | undefined;
let prefixes = 0;

function server(): FakeGcs {
  assert.ok(gcs, 'fake-gcs-server did not start');
  return gcs;
}

/** Options for a driver over a fresh root directory in the test bucket. */
function options(extra: Partial<GcsDriverOptions> = {}): GcsDriverOptions {
  return {
    bucket,
    endpoint: server().endpoint,
    rootDirectory: `/${run}-${++prefixes}`,
    chunkSize: 256 * KiB,
    ...extra,
  };
}

function driver(extra: Partial<GcsDriverOptions> = {}): GcsDriver {
  return new GcsDriver(options(extra));
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every object name under a prefix, straight from the server's JSON API. */
async function objectNames(prefix: string): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const url = new URL(`${server().endpoint}/storage/v1/b/${bucket}/o`);
    url.searchParams.set('prefix', prefix);
    if (token !== undefined) url.searchParams.set('pageToken', token);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { items?: { name: string }[]; nextPageToken?: string };
    for (const item of body.items ?? []) names.push(item.name);
    token = body.nextPageToken || undefined;
  } while (token !== undefined);
  return names.sort();
}

/** A service-account key like Google's JSON key files, with a fresh RSA key. */
function serviceAccountKey(): Record<string, string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    type: 'service_account',
    project_id: 'berth-test',
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: 'registry@berth-test.iam.gserviceaccount.com',
    client_id: '1234567890',
    token_uri: 'https://oauth2.googleapis.com/token',
  };
}

before(async () => {
  gcs = await startFakeGcs();
  await gcs.createBucket(bucket);
});

after(async () => {
  await gcs?.stop();
});

storageDriverContract('gcs (fake-gcs-server)', {
  create: async () => driver(),
  destroy: async (d: StorageDriver) => {
    await d.delete('/').catch((err: unknown) => {
      if (!(err instanceof PathNotFoundError)) throw err;
    });
  },
});

describe('GcsDriver against fake-gcs-server', () => {
  it('stores objects at rootdirectory + path without the leading slash, as Distribution does', async () => {
    const root = `nested/${run}/root`;
    const d = driver({ rootDirectory: `/${root}/` });
    const link = '/docker/registry/v2/repositories/library/alpine/_layers/sha256/abc/link';
    await d.putContent(link, Buffer.from('sha256:abc'));
    assert.deepEqual(await objectNames(`${root}/`), [`${root}${link}`]);
    // An object another registry wrote is served as it is.
    const other = `${root}/docker/registry/v2/blobs/sha256/de/def/data`;
    const res = await fetch(
      `${server().endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(other)}`,
      { method: 'POST', body: 'layer bytes', headers: { 'content-type': 'application/octet-stream' } },
    );
    assert.equal(res.status, 200, await res.text());
    assert.equal(
      (await d.getContent('/docker/registry/v2/blobs/sha256/de/def/data')).toString(),
      'layer bytes',
    );
    // No root directory (or "/"): names are the paths themselves.
    for (const rootDirectory of ['', '/']) {
      const top = driver({ rootDirectory });
      const p = `/top-${run}/${rootDirectory === '' ? 'none' : 'slash'}`;
      await top.putContent(p, Buffer.from('x'));
      assert.deepEqual(await objectNames(p.slice(1)), [p.slice(1)]);
      await top.delete(p);
    }
  });

  it('appends across new driver instances: each close leaves the whole content readable, then commit', async () => {
    const rootDirectory = `/${run}-append`;
    const p = `/docker/registry/v2/repositories/r/_uploads/${randomUUID()}/data`;
    // Empty first (POST), a small PATCH, one larger than a chunk, an empty session, and a small tail.
    const sessions = [
      Buffer.alloc(0),
      randomBytes(1000),
      randomBytes(700 * KiB + 3),
      Buffer.alloc(0),
      randomBytes(77),
    ];
    const expected: Buffer[] = [];
    for (const [i, bytes] of sessions.entries()) {
      // A new driver per session: nothing is carried over but what is in the bucket.
      const d = driver({ rootDirectory });
      const w = await d.writer(p, i > 0);
      assert.equal(w.size, Buffer.concat(expected).length);
      // Written in uneven pieces, to cross the chunk boundary mid-write.
      for (let off = 0; off < bytes.length; off += 100_003) await w.write(bytes.subarray(off, off + 100_003));
      expected.push(bytes);
      const all = Buffer.concat(expected);
      assert.equal(w.size, all.length);
      if (i === sessions.length - 1) await w.commit();
      else await w.close();
      const fresh = driver({ rootDirectory });
      assert.equal((await fresh.stat(p)).size, all.length, `size after session ${i}`);
      assert.equal(sha256(await readAll(await fresh.reader(p))), sha256(all), `content after session ${i}`);
    }
    // No component object is left next to the data.
    const key = `${rootDirectory.slice(1)}${p}`;
    assert.deepEqual(await objectNames(key), [key]);
  });

  it('writes a large object in many resumable-upload chunks and reads ranges across chunk borders', async () => {
    const d = driver({ chunkSize: 1 * MiB });
    const data = randomBytes(9 * MiB + 12345);
    const w = await d.writer('/big/data', false);
    for (let off = 0; off < data.length; off += 300 * KiB) await w.write(data.subarray(off, off + 300 * KiB));
    await w.commit();
    assert.equal((await d.stat('/big/data')).size, data.length);
    assert.equal(sha256(await readAll(await d.reader('/big/data'))), sha256(data));
    const start = 1 * MiB - 10;
    const end = 3 * MiB + 10;
    assert.deepEqual(
      await readAll(await d.reader('/big/data', { offset: start, end })),
      data.subarray(start, end + 1),
    );
    // Appending a large session onto a large object (compose), then moving it (rewrite) and deleting.
    const more = randomBytes(2 * MiB + 1);
    const w2 = await driver({ rootDirectory: d.rootPrefix, chunkSize: 1 * MiB }).writer('/big/data', true);
    await w2.write(more);
    await w2.commit();
    const all = Buffer.concat([data, more]);
    assert.equal(sha256(await d.getContent('/big/data')), sha256(all));
    await d.move('/big/data', '/moved/data');
    await assert.rejects(d.stat('/big/data'), PathNotFoundError);
    assert.equal(sha256(await d.getContent('/moved/data')), sha256(all));
    await d.delete('/moved');
    await assert.rejects(d.stat('/moved/data'), PathNotFoundError);
  });

  it('fails an append whose object changed since the writer opened, keeping the other content', async () => {
    const d = driver();
    await d.putContent('/c/data', Buffer.from('first'));
    const w = await d.writer('/c/data', true);
    await w.write(Buffer.from('-appended'));
    await d.putContent('/c/data', Buffer.from('replaced'));
    await assert.rejects(w.close(), (err: unknown) => {
      assert.ok(err instanceof StorageDriverError);
      assert.match(err.message, /changed/);
      return true;
    });
    assert.equal((await d.getContent('/c/data')).toString(), 'replaced');
    assert.deepEqual(await objectNames(d.key('/c/')), [d.key('/c/data')]);
  });

  it('cancel removes the object and this session’s component', async () => {
    const d = driver();
    await d.putContent('/x/data', Buffer.from('kept so far'));
    const w = await d.writer('/x/data', true);
    await w.write(randomBytes(600 * KiB));
    await w.cancel();
    await assert.rejects(d.stat('/x/data'), PathNotFoundError);
    assert.deepEqual(await objectNames(d.key('/x/')), []);
  });

  it('returns no redirect without a private key, and for HEAD', async () => {
    const d = driver();
    await d.putContent('/r/blob', Buffer.from('blob'));
    assert.equal(await d.redirectURL('/r/blob', 'GET'), null);
    const signed = driver({ credentials: serviceAccountKey() });
    assert.equal(await signed.redirectURL('/r/blob', 'HEAD'), null);
    assert.equal(
      await driver({ credentials: serviceAccountKey(), redirect: false }).redirectURL('/r/blob', 'GET'),
      null,
    );
  });

  it('signs V4 GET URLs with a service-account key; fake-gcs-server serves them', async () => {
    const d = driver({ credentials: serviceAccountKey() });
    const content = randomBytes(4096);
    await d.putContent('/docker/registry/v2/blobs/sha256/ab/abc/data', content);
    const url = await d.redirectURL('/docker/registry/v2/blobs/sha256/ab/abc/data', 'GET');
    assert.ok(url);
    const parsed = new URL(url);
    assert.equal(parsed.origin, server().endpoint);
    assert.equal(parsed.pathname, `/${bucket}/${d.rootPrefix}/docker/registry/v2/blobs/sha256/ab/abc/data`);
    assert.equal(parsed.searchParams.get('X-Goog-Algorithm'), 'GOOG4-RSA-SHA256');
    assert.match(
      parsed.searchParams.get('X-Goog-Credential') ?? '',
      /^registry@berth-test\.iam\.gserviceaccount\.com\//,
    );
    assert.equal(parsed.searchParams.get('X-Goog-Expires'), String(20 * 60));
    assert.match(parsed.searchParams.get('X-Goog-Signature') ?? '', /^[0-9a-f]{512}$/);
    // fake-gcs-server does not verify the signature, but serves the object at the URL.
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), content);
  });

  it('honours STORAGE_EMULATOR_HOST (host:port or URL) when no endpoint is given', async () => {
    assert.equal(gcsEndpoint('127.0.0.1:4443'), 'http://127.0.0.1:4443');
    assert.equal(gcsEndpoint('https://gcs.example:8443/'), 'https://gcs.example:8443');
    assert.equal(gcsEndpoint(''), undefined);
    const saved = process.env['STORAGE_EMULATOR_HOST'];
    try {
      for (const value of [server().endpoint.replace('http://', ''), server().endpoint]) {
        process.env['STORAGE_EMULATOR_HOST'] = value;
        const { endpoint: _unused, ...rest } = options();
        const d = new GcsDriver(rest);
        assert.equal(d.endpoint, server().endpoint);
        await d.putContent('/env/file', Buffer.from(value));
        assert.equal((await d.getContent('/env/file')).toString(), value);
      }
    } finally {
      if (saved === undefined) delete process.env['STORAGE_EMULATOR_HOST'];
      else process.env['STORAGE_EMULATOR_HOST'] = saved;
    }
  });

  it('builds the driver from Distribution config keys (strings as Distribution accepts them)', async () => {
    const dir = await makeTempDir('gcs-config');
    try {
      const key = serviceAccountKey();
      const keyfile = path.join(dir, 'key.json');
      await writeFile(keyfile, JSON.stringify(key));
      const root = `/${run}-config`;
      const yaml = (extra: string[]): string =>
        [
          'version: 0.1',
          'storage:',
          '  gcs:',
          `    bucket: ${bucket}`,
          `    rootdirectory: ${root}`,
          ...extra,
        ].join('\n');
      const env = { STORAGE_EMULATOR_HOST: server().endpoint.replace('http://', '') };
      const saved = process.env['STORAGE_EMULATOR_HOST'];
      process.env['STORAGE_EMULATOR_HOST'] = env.STORAGE_EMULATOR_HOST;
      try {
        const built = await createStorageDriver(
          parseConfig(yaml([`    keyfile: ${keyfile}`, '    chunksize: "524288"']), env).config.storage,
        );
        assert.ok(built instanceof GcsDriver);
        assert.equal(built.chunkSize, 512 * KiB);
        assert.equal(built.rootPrefix, root.slice(1));
        await built.putContent('/configured', Buffer.from('ok'));
        assert.equal((await built.getContent('/configured')).toString(), 'ok');
        assert.deepEqual(await objectNames(`${root.slice(1)}/`), [`${root.slice(1)}/configured`]);
        assert.match((await built.redirectURL('/configured', 'GET')) ?? '', /X-Goog-Signature=/);

        // Inline credentials (a map in YAML) sign too; the default chunk size is Distribution's 5 MiB.
        const inline = await createStorageDriver(
          parseConfig(
            yaml([
              '    credentials:',
              ...Object.entries(key).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`),
            ]),
            env,
          ).config.storage,
        );
        assert.ok(inline instanceof GcsDriver);
        assert.equal(inline.chunkSize, 5 * MiB);
        assert.match((await inline.redirectURL('/configured', 'GET')) ?? '', /X-Goog-Signature=/);

        const noRedirect = await createStorageDriver(
          parseConfig(`${yaml([`    keyfile: ${keyfile}`])}\n  redirect:\n    disable: true\n`, env).config
            .storage,
        );
        assert.equal(await noRedirect.redirectURL('/configured', 'GET'), null);
        // No key at all: application default credentials, which cannot sign here: no redirect.
        const adc = await createStorageDriver(parseConfig(yaml([]), env).config.storage);
        assert.equal(await adc.redirectURL('/configured', 'GET'), null);
        assert.equal((await adc.getContent('/configured')).toString(), 'ok');

        assert.throws(() => parseConfig(yaml(['    chunksize: 1000']), env), /chunksize/);
        await assert.rejects(
          createStorageDriver(
            parseConfig(yaml([`    keyfile: ${path.join(dir, 'missing.json')}`]), env).config.storage,
          ),
          /keyfile/,
        );
      } finally {
        if (saved === undefined) delete process.env['STORAGE_EMULATOR_HOST'];
        else process.env['STORAGE_EMULATOR_HOST'] = saved;
      }
    } finally {
      await removeTempDir(dir);
    }
  });
});
