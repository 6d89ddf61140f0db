// The Azure driver against a real Blob service (Azurite): the shared StorageDriver contract, then what only
// Azure has — the blob layout Distribution uses, block-blob writers resumed by other processes without copying,
// blobs other registries left (Put Blob, append blobs), SAS redirects, retries and the config keys.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
import { parseConfig } from '../../registry/config/load.ts';
import { AzureDriver, type AzureDriverOptions } from '../../registry/storage/azure.ts';
import { PathNotFoundError, StorageDriverError, type StorageDriver } from '../../registry/storage/driver.ts';
import { createStorageDriver } from '../../registry/storage/factory.ts';
import { startAzurite, type Azurite } from '../harness/azurite.ts';
import { readAll, storageDriverContract } from '../unit/storage-driver-contract.ts';
import { startS3Proxy, type S3Proxy } from './s3-proxy.ts';

const MiB = 1024 * 1024;
const containerName = 'berth-driver-tests';
const run = randomBytes(3).toString('hex');
let azurite: Azurite | undefined;
let prefixes = 0;
const proxies: S3Proxy[] = [];

function server(): Azurite {
  assert.ok(azurite, 'Azurite did not start');
  return azurite;
}

/** Options for a driver over a fresh root directory in the test container. */
function options(extra: Partial<AzureDriverOptions> = {}): AzureDriverOptions {
  const a = server();
  return {
    accountName: a.accountName,
    accountKey: a.accountKey,
    serviceURL: a.endpoint,
    container: containerName,
    rootDirectory: `/${run}-${++prefixes}`,
    ...extra,
  };
}

function driver(extra: Partial<AzureDriverOptions> = {}): AzureDriver {
  return new AzureDriver(options(extra));
}

function rawContainer(): ContainerClient {
  const a = server();
  return new BlobServiceClient(
    a.endpoint,
    new StorageSharedKeyCredential(a.accountName, a.accountKey),
  ).getContainerClient(containerName);
}

async function proxy(): Promise<S3Proxy> {
  const a = server();
  const p = await startS3Proxy(new URL(a.endpoint).origin);
  proxies.push(p);
  return p;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function committedBlocks(d: AzureDriver, path: string): Promise<number> {
  const list = await rawContainer().getBlockBlobClient(d.blobName(path)).getBlockList('all');
  assert.equal(list.uncommittedBlocks?.length ?? 0, 0, 'no uncommitted blocks are left behind');
  return list.committedBlocks?.length ?? 0;
}

before(async () => {
  azurite = await startAzurite();
  await azurite.createContainer(containerName);
});

after(async () => {
  await Promise.allSettled(proxies.map((p) => p.stop()));
  await azurite?.stop();
});

storageDriverContract('azure (Azurite)', {
  create: async () => driver(),
  destroy: async (d: StorageDriver) => {
    await d.delete('/').catch((err: unknown) => {
      if (!(err instanceof PathNotFoundError)) throw err;
    });
  },
});

describe('AzureDriver against Azurite', () => {
  it('stores blobs at rootdirectory + path without the leading slash, as Distribution does', async () => {
    const container = rawContainer();
    const root = `nested/${run}/root`;
    const d = driver({ rootDirectory: `/${root}/` });
    const link = '/docker/registry/v2/repositories/library/alpine/_layers/sha256/abc/link';
    await d.putContent(link, Buffer.from('sha256:abc'));
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: `${root}/` })) names.push(blob.name);
    assert.deepEqual(names, [`${root}${link}`]);
    // A blob another registry wrote is served as it is.
    await container
      .getBlockBlobClient(`${root}/docker/registry/v2/blobs/sha256/de/def/data`)
      .upload('layer bytes', 11);
    assert.equal(
      (await d.getContent('/docker/registry/v2/blobs/sha256/de/def/data')).toString(),
      'layer bytes',
    );
    // No root directory (or "/"): names are the paths themselves.
    for (const rootDirectory of ['', '/']) {
      const top = driver({ rootDirectory });
      const path = `/top-${run}/${rootDirectory === '' ? 'none' : 'slash'}`;
      await top.putContent(path, Buffer.from('x'));
      const props = await container.getBlobClient(path.slice(1)).getProperties();
      assert.equal(props.contentLength, 1);
      await top.delete(path);
    }
  });

  it('resumes a writer in new driver instances by extending the block list, without copying', async () => {
    const rootDirectory = `/${run}-resume`;
    const path = `/docker/registry/v2/repositories/r/_uploads/${randomUUID()}/data`;
    const sessions = [
      randomBytes(3 * MiB + 5),
      randomBytes(2 * MiB),
      randomBytes(3000),
      randomBytes(5 * MiB),
    ];
    let expected = 0;
    let blocks = 0;
    for (const [i, data] of sessions.entries()) {
      // A new driver (a new process or replica) for every session: nothing is carried in memory.
      const d = driver({ rootDirectory, chunkSize: MiB, blockConcurrency: 2 });
      const writer = await d.writer(path, true);
      assert.equal(writer.size, expected, `session ${i} resumes at the stored size`);
      // Uneven pieces, so blocks are cut across write() calls.
      for (let offset = 0; offset < data.length; offset += 300_007) {
        await writer.write(data.subarray(offset, offset + 300_007));
      }
      expected += data.length;
      blocks += Math.ceil(data.length / MiB);
      assert.equal(writer.size, expected);
      if (i < sessions.length - 1) {
        await writer.close();
        // Closed content is stat-able and readable at once (the upload store relies on both).
        assert.equal((await d.stat(path)).size, expected);
        const tail = await readAll(await d.reader(path, { offset: expected - 10 }));
        assert.deepEqual(tail, data.subarray(data.length - 10));
      } else {
        await writer.commit();
      }
      // Earlier blocks are kept as they are: each session adds only its own.
      assert.equal(await committedBlocks(d, path), blocks, `blocks after session ${i}`);
    }
    const d = driver({ rootDirectory });
    const stored = await readAll(await d.reader(path));
    assert.equal(stored.length, expected);
    assert.equal(sha256(stored), sha256(Buffer.concat(sessions)));
    // Appending nothing leaves the blob as it is.
    const idle = await d.writer(path, true);
    await idle.close();
    assert.equal((await d.stat(path)).size, expected);
  });

  it('writes a large blob in many blocks staged concurrently', async () => {
    const d = driver({ chunkSize: 4 * MiB, blockConcurrency: 4 });
    const path = '/large/data';
    const hash = createHash('sha256');
    const writer = await d.writer(path, false);
    const total = 48 * MiB + 12345;
    const started = performance.now();
    for (let written = 0; written < total;) {
      const piece = randomBytes(Math.min(1 * MiB + 7, total - written));
      hash.update(piece);
      await writer.write(piece);
      written += piece.length;
    }
    await writer.commit();
    const ms = performance.now() - started;
    assert.equal((await d.stat(path)).size, total);
    assert.equal(await committedBlocks(d, path), Math.ceil(total / (4 * MiB)));
    const read = createHash('sha256');
    for await (const chunk of await d.reader(path)) read.update(chunk as Buffer);
    assert.equal(read.digest('hex'), hash.digest('hex'));
    // A ranged read across a block boundary.
    const range = await readAll(await d.reader(path, { offset: 4 * MiB - 3, end: 4 * MiB + 2 }));
    assert.equal(range.length, 6);
    // Moving it is a server-side copy.
    await d.move(path, '/large/moved');
    assert.equal((await d.stat('/large/moved')).size, total);
    await assert.rejects(d.stat(path), PathNotFoundError);
    console.log(`# wrote ${(total / MiB).toFixed(1)} MiB in ${Math.round(ms)} ms`);
  });

  it('appends to blobs stored whole (Put Blob) by staging their content once', async () => {
    const d = driver({ chunkSize: MiB });
    const path = '/whole/data';
    const first = randomBytes(MiB + 77);
    await d.putContent(path, first);
    const w = await d.writer(path, true);
    assert.equal(w.size, first.length);
    const second = randomBytes(2000);
    await w.write(second);
    await w.close();
    assert.deepEqual(await d.getContent(path), Buffer.concat([first, second]));
    // From now on the block list is usable and later sessions only add blocks.
    const blocks = await committedBlocks(d, path);
    const w2 = await driver({ rootDirectory: d.rootPrefix, chunkSize: MiB }).writer(path, true);
    await w2.write(Buffer.from('tail'));
    await w2.commit();
    assert.equal(await committedBlocks(d, path), blocks + 1);
    assert.deepEqual(await d.getContent(path), Buffer.concat([first, second, Buffer.from('tail')]));
  });

  it('fails a session whose blob changed meanwhile instead of losing the other write', async () => {
    const d = driver();
    const path = '/race/data';
    const w0 = await d.writer(path, false);
    await w0.write(Buffer.from('base-'));
    await w0.close();
    const a = await d.writer(path, true);
    const b = await d.writer(path, true);
    await a.write(Buffer.from('from-a'));
    await b.write(Buffer.from('from-b'));
    await b.close();
    await assert.rejects(a.close(), /changed while a writer was appending/);
    assert.equal((await d.getContent(path)).toString(), 'base-from-b');
  });

  it('replaces append blobs Distribution 2.x left, and refuses to resume one', async () => {
    const d = driver();
    const container = rawContainer();
    const make = async (path: string): Promise<void> => {
      const blob = container.getAppendBlobClient(d.blobName(path));
      await blob.create();
      await blob.appendBlock('old append blob', 15);
    };
    await make('/append/link');
    await d.putContent('/append/link', Buffer.from('new'));
    assert.equal((await d.getContent('/append/link')).toString(), 'new');
    await make('/append/data');
    const w = await d.writer('/append/data', false);
    await w.write(Buffer.from('replaced'));
    await w.commit();
    assert.equal((await d.getContent('/append/data')).toString(), 'replaced');
    await make('/append/upload');
    await assert.rejects(d.writer('/append/upload', true), /cannot append to an AppendBlob/);
    // It still reads, moves and deletes like any other blob.
    await d.move('/append/upload', '/append/link');
    assert.equal((await d.getContent('/append/link')).toString(), 'old append blob');
  });

  it('cancel discards staged and committed blocks', async () => {
    const d = driver({ chunkSize: MiB });
    const path = '/cancel/data';
    const w = await d.writer(path, false);
    await w.write(randomBytes(3 * MiB));
    await w.cancel();
    await assert.rejects(d.stat(path), PathNotFoundError);
    const names: string[] = [];
    for await (const blob of rawContainer().listBlobsFlat({
      prefix: d.blobName('/cancel'),
      includeUncommitedBlobs: true,
    })) {
      names.push(blob.name);
    }
    assert.deepEqual(names, [], 'staged blocks of the cancelled writer are gone');
  });

  it('redirects reads to a read-only SAS URL that expires, unless redirect is disabled', async () => {
    const d = driver();
    const path = '/docker/registry/v2/blobs/sha256/ab/abc/data';
    const content = randomBytes(100_000);
    await d.putContent(path, content);
    const url = await d.redirectURL(path, 'GET');
    assert.ok(url);
    assert.ok(url.startsWith(`${server().endpoint}/${containerName}/${d.blobName(path)}?`), url);
    const params = new URL(url).searchParams;
    assert.equal(params.get('sp'), 'r');
    const expires = Date.parse(params.get('se') ?? '');
    assert.ok(
      expires > Date.now() + 15 * 60_000 && expires < Date.now() + 25 * 60_000,
      `expiry ${params.get('se')}`,
    );
    // Anyone holding the URL reads the blob (no Azure credentials), GET and HEAD alike.
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), content);
    const head = await fetch((await d.redirectURL(path, 'HEAD')) ?? '', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(content.length));
    // ... but cannot write with it, nor read another blob.
    const put = await fetch(url, {
      method: 'PUT',
      body: 'x',
      headers: { 'x-ms-blob-type': 'BlockBlob' },
    });
    await put.body?.cancel();
    assert.equal(put.status, 403);
    const other = await fetch(url.replace('/data?', '/other?'));
    await other.body?.cancel();
    assert.equal(other.status, 403);
    assert.equal(await driver({ redirect: false }).redirectURL(path, 'GET'), null);
  });

  it('walks listings of many pages and skips declined directories in the listing', async () => {
    const d = driver({ listPageSize: 3 });
    const files = ['/a/1', '/a/2', '/a.b', '/b/skip/1', '/b/skip/2', '/b/skip/3', '/b/skip/4', '/b/z', '/c'];
    for (const f of files) await d.putContent(f, Buffer.from(f));
    const seen: string[] = [];
    await d.walk('/', (info) => void seen.push(info.path), { descend: (dir) => dir.path !== '/b/skip' });
    assert.deepEqual(seen, ['/a', '/a/1', '/a/2', '/a.b', '/b', '/b/skip', '/b/z', '/c']);
    assert.deepEqual(await d.list('/b'), ['/b/skip', '/b/z']);
  });

  it('retries throttled and failed requests with backoff', async () => {
    const p = await proxy();
    const d = driver({ serviceURL: `${p.endpoint}/${server().accountName}`, retryDelayMs: 10 });
    let failures = 0;
    p.inject = () => (failures++ < 2 ? { status: 503, code: 'ServerBusy' } : undefined);
    await d.putContent('/retried', Buffer.from('ok'));
    assert.equal((await d.getContent('/retried')).toString(), 'ok');
    assert.ok(p.requests.filter((r) => r.injected).length === 2);
    const once = driver({ serviceURL: `${p.endpoint}/${server().accountName}`, maxRetries: 0 });
    p.inject = () => ({ status: 500, code: 'InternalError' });
    await assert.rejects(once.getContent('/retried'), StorageDriverError);
    p.inject = undefined;
  });

  it('trimlegacyrootprefix: false serves a container Distribution 2.x wrote (names with a leading "/")', async () => {
    const a = server();
    const container = rawContainer();
    const root = `${run}-legacy`;
    const data = '/docker/registry/v2/blobs/sha256/le/legacy/data';
    // What Distribution 2.x (and GitLab with its legacy prefix) left: every name begins with "/".
    await container.getBlockBlobClient(`/${root}${data}`).upload('legacy layer', 12);
    const yaml = (extra: string): string =>
      [
        'version: 0.1',
        'storage:',
        '  azure:',
        `    accountname: ${a.accountName}`,
        `    accountkey: "${a.accountKey}"`,
        `    container: ${containerName}`,
        `    serviceurl: ${a.endpoint}`,
        `    rootdirectory: /${root}`,
        extra,
      ].join('\n');
    const build = async (extra: string): Promise<StorageDriver> =>
      createStorageDriver(parseConfig(yaml(extra), {}).config.storage);

    // Unset (or true), as Distribution v3: the name without the slash, so the legacy blob is not there.
    for (const extra of ['', '    trimlegacyrootprefix: true']) {
      await assert.rejects((await build(extra)).getContent(data), PathNotFoundError, extra);
    }
    for (const extra of ['    trimlegacyrootprefix: false', '    legacyrootprefix: true']) {
      const legacy = await build(extra);
      assert.equal((await legacy.getContent(data)).toString(), 'legacy layer', extra);
      assert.deepEqual(await legacy.list('/docker/registry/v2/blobs/sha256'), [
        '/docker/registry/v2/blobs/sha256/le',
      ]);
      const walked: string[] = [];
      await legacy.walk('/docker', (info) => void walked.push(info.path));
      assert.ok(walked.includes(data), JSON.stringify(walked));
      const redirect = await legacy.redirectURL(data, 'GET');
      assert.ok(redirect);
      assert.equal(await (await fetch(redirect)).text(), 'legacy layer');
    }
    // New writes get the leading slash too, so Distribution 2.x could still read them.
    const legacy = await build('    trimlegacyrootprefix: false');
    await legacy.putContent('/docker/registry/v2/repositories/r/_layers/sha256/le/link', Buffer.from('x'));
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: `/${root}/` })) names.push(blob.name);
    assert.deepEqual(names.sort(), [
      `/${root}/docker/registry/v2/blobs/sha256/le/legacy/data`,
      `/${root}/docker/registry/v2/repositories/r/_layers/sha256/le/link`,
    ]);
    await legacy.delete('/docker');
    for await (const blob of container.listBlobsFlat({ prefix: `/${root}/` })) assert.fail(blob.name);
  });

  it('builds the driver from Distribution config keys', async () => {
    const a = server();
    const root = `/${run}-config`;
    const yaml = (extra: string): string =>
      [
        'version: 0.1',
        'storage:',
        '  azure:',
        `    accountname: ${a.accountName}`,
        `    accountkey: "${a.accountKey}"`,
        // A container that does not exist yet: the driver creates it, as Distribution does.
        `    container: berth-config-${run}`,
        `    serviceurl: ${a.endpoint}`,
        `    rootdirectory: ${root}`,
        '    max_retries: "3"',
        '    retry_delay: 50ms',
        '    copy_status_poll_max_retry: 10',
        '    copy_status_poll_delay: 20ms',
        extra,
      ].join('\n');
    const built = await createStorageDriver(parseConfig(yaml('')).config.storage);
    assert.ok(built instanceof AzureDriver);
    assert.equal(built.rootPrefix, root.slice(1));
    assert.equal(built.container.containerName, `berth-config-${run}`);
    await built.putContent('/configured', Buffer.from('ok'));
    assert.equal((await built.getContent('/configured')).toString(), 'ok');
    await built.move('/configured', '/moved');
    assert.equal((await built.getContent('/moved')).toString(), 'ok');
    assert.ok(await built.redirectURL('/moved', 'GET'));

    const noRedirect = await createStorageDriver(
      parseConfig(`${yaml('')}\n  redirect:\n    disable: true\n`).config.storage,
    );
    assert.equal(await noRedirect.redirectURL('/moved', 'GET'), null);

    // Without serviceurl, the account's public endpoint in the realm.
    const cloud = new AzureDriver({
      accountName: 'acct',
      accountKey: a.accountKey,
      container: 'c1x',
      realm: 'core.chinacloudapi.cn',
    });
    assert.equal(cloud.container.url, 'https://acct.blob.core.chinacloudapi.cn/c1x');
    assert.equal(
      new AzureDriver({ accountName: 'acct', accountKey: a.accountKey, container: 'c1x' }).container.url,
      'https://acct.blob.core.windows.net/c1x',
    );
    await assert.rejects(
      createStorageDriver(
        parseConfig(
          [
            'version: 0.1',
            'storage:',
            '  azure:',
            '    accountname: acct',
            '    container: c1x',
            '    credentials:',
            '      type: client_secret',
            '      clientid: x',
          ].join('\n'),
        ).config.storage,
      ),
      /client_secret needs clientid, tenantid and secret/,
    );
    await assert.rejects(
      createStorageDriver(
        parseConfig(
          [
            'version: 0.1',
            'storage:',
            '  azure:',
            '    accountname: acct',
            '    container: c1x',
            '    credentials:',
            '      type: shared_key',
          ].join('\n'),
        ).config.storage,
      ),
      /shared_key needs accountkey/,
    );
  });
});
