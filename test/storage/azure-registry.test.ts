// Berth serving from Azure Blob storage (Azurite), end to end with real clients:
// - The Docker engine pushes images whose layers span several blocks, and pulls them back.
// - skopeo copies an OCI image and a two-platform index in and out.
// - Blob reads are redirected (307) to read-only SAS URLs of the backend, and docker and skopeo follow them: a
//   recording proxy in front of Azurite sees the SAS-signed GETs coming from the clients.
// - Garbage collection runs on the Azure driver: after a tag is deleted, the collector sweeps its blobs from the
//   container and the kept images still pull.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { garbageCollect } from '../../registry/gc/gc.ts';
import { AzureDriver } from '../../registry/storage/azure.ts';
import { PathNotFoundError } from '../../registry/storage/driver.ts';
import { startAzurite, type Azurite } from '../harness/azurite.ts';
import { buildScratchImage, removeClientState, skopeo, type ScratchImage } from '../harness/clients.ts';
import { startBerth } from '../harness/berth.ts';
import { startDockerd, type Dockerd } from '../harness/dockerd.ts';
import { buildImage, buildTwoPlatformIndex, writeOciLayout } from '../harness/oci-image.ts';
import { listTags, startUpload } from '../harness/registry-api.ts';
import type { ConfigObject, RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { assertPulls, assertServes } from '../harness/verify.ts';
import { startS3Proxy, type ProxiedRequest, type S3Proxy } from './s3-proxy.ts';

const step = { timeout: 300_000 };
const cmd = { timeoutMs: 120_000 };
const containerName = 'berth-registry';
const id = randomBytes(3).toString('hex');
const root = `/berth-${id}`;
const manifestAccept = 'application/vnd.docker.distribution.manifest.v2+json';

/** Distribution's `storage` section for the container, through the proxy; the filesystem default is dropped. */
function azureStorage(azurite: Azurite, proxy: S3Proxy): ConfigObject {
  return {
    filesystem: undefined,
    azure: {
      accountname: azurite.accountName,
      accountkey: azurite.accountKey,
      container: containerName,
      serviceurl: `${proxy.endpoint}/${azurite.accountName}`,
      rootdirectory: root,
    },
  };
}

/** Requests that clients sent to the backend with a SAS URL (the registry itself signs in headers). */
function sasGets(requests: ProxiedRequest[]): ProxiedRequest[] {
  return requests.filter((r) => r.method === 'GET' && /[?&]sig=/.test(r.url) && !r.injected);
}

interface Manifest {
  config: { digest: string };
  layers: { digest: string }[];
}

describe('Berth on Azure (Azurite) with docker and skopeo', () => {
  let azurite: Azurite | undefined;
  let proxy: S3Proxy | undefined;
  let dockerd: Dockerd | undefined;
  let berth: RunningRegistry | undefined;
  /** A second registry over the same container (another replica). */
  let replica: RunningRegistry | undefined;
  let driver: AzureDriver | undefined;
  let workDir = '';
  let image: ScratchImage | undefined;
  let digest = '';

  before(async () => {
    azurite = await startAzurite();
    await azurite.createContainer(containerName);
    proxy = await startS3Proxy(new URL(azurite.endpoint).origin);
    workDir = await makeTempDir('azure-registry');
    // Replicas share http.secret, as a Deployment's do (upload state tokens are signed with it).
    const config = {
      storage: azureStorage(azurite, proxy),
      http: { secret: randomBytes(16).toString('hex') },
    };
    [dockerd, berth, replica] = await Promise.all([
      startDockerd(),
      startBerth({ config }),
      startBerth({ config }),
    ]);
    // The collector's view of the same storage, straight to Azurite.
    driver = new AzureDriver({
      accountName: azurite.accountName,
      accountKey: azurite.accountKey,
      serviceURL: azurite.endpoint,
      container: containerName,
      rootDirectory: root,
    });
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ berth, replica, dockerd, azurite });
    await Promise.allSettled([dockerd?.stop(), berth?.stop(), replica?.stop()]);
    await removeClientState();
    await proxy?.stop();
    await azurite?.stop();
    if (workDir !== '') await removeTempDir(workDir);
  });

  function env(): {
    azurite: Azurite;
    proxy: S3Proxy;
    dockerd: Dockerd;
    berth: RunningRegistry;
    replica: RunningRegistry;
    driver: AzureDriver;
  } {
    assert.ok(azurite && proxy && dockerd && berth && replica && driver, 'set-up failed');
    return { azurite, proxy, dockerd, berth, replica, driver };
  }

  async function manifest(repo: string, reference: string): Promise<{ digest: string; body: Manifest }> {
    const { berth } = env();
    const res = await fetch(`${berth.url}/v2/${repo}/manifests/${reference}`, {
      headers: { Accept: manifestAccept },
    });
    assert.equal(res.status, 200, `GET manifest ${repo}:${reference}`);
    return { digest: res.headers.get('docker-content-digest') ?? '', body: (await res.json()) as Manifest };
  }

  /** Every blob under the root is committed: no writer left staged blocks behind. */
  async function assertNoStagedBlocks(): Promise<void> {
    const { azurite } = env();
    const container = new BlobServiceClient(
      azurite.endpoint,
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
    ).getContainerClient(containerName);
    const committed: string[] = [];
    const all: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: root.slice(1) })) committed.push(b.name);
    for await (const b of container.listBlobsFlat({ prefix: root.slice(1), includeUncommitedBlobs: true })) {
      all.push(b.name);
    }
    assert.deepEqual(all, committed, 'blobs with only staged blocks are left');
    assert.ok(!committed.some((n) => n.includes('/_uploads/')), 'an upload was left behind');
  }

  it('docker pushes an image whose layers span several blocks', step, async () => {
    const { dockerd, berth } = env();
    // 6 MiB, 9 MiB and 12 MiB layers: 4 MiB blocks, staged several at a time.
    image = await buildScratchImage(dockerd.docker, `${berth.host}/e2e/azure-docker-${id}:v1`, 3, {
      layerBytes: 6 * 1024 * 1024,
    });
    const { stdout } = await dockerd.docker(['push', image.tag], cmd);
    const m = /: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(stdout);
    assert.ok(m?.[1], stdout);
    digest = m[1];
    await assertNoStagedBlocks();
  });

  it('docker pulls it back through SAS redirects to the backend', step, async () => {
    const { dockerd, proxy } = env();
    assert.ok(image, 'the push failed');
    await dockerd.docker(['rmi', image.tag], cmd);
    proxy.requests.length = 0;
    const { stdout } = await dockerd.docker(['pull', image.tag], cmd);
    assert.match(stdout, new RegExp(`Digest: ${digest}`));
    const inspect = await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', image.tag], cmd);
    assert.equal(inspect.stdout.trim(), image.imageId, 'the pulled image differs from the pushed one');
    const fetched = sasGets(proxy.requests).filter((r) => r.status === 200 || r.status === 206);
    // Config and three layers came from the backend, not through the registry.
    assert.ok(fetched.length >= image.layers + 1, `only ${fetched.length} SAS GETs during docker pull`);
  });

  it('docker re-pushes without uploading any layer', step, async () => {
    const { dockerd } = env();
    assert.ok(image, 'the push failed');
    const { stdout } = await dockerd.docker(['push', image.tag], cmd);
    const exists = stdout.split('\n').filter((l) => /: Layer already exists$/.test(l.trim()));
    assert.equal(exists.length, image.layers, stdout);
  });

  it('skopeo copies an image and an index in and out, following SAS redirects', step, async () => {
    const { berth, proxy } = env();
    const layout = path.join(workDir, 'layout');
    const oci = buildImage({ layerBytes: 5 * 1024 * 1024, gzipLevel: 0 });
    const index = buildTwoPlatformIndex({ layerBytes: 64 * 1024 });
    await writeOciLayout(layout, { image: oci, index });
    const repo = `e2e/azure-skopeo-${id}`;
    for (const ref of ['image', 'index']) {
      await skopeo([
        'copy',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${layout}:${ref}`,
        `docker://${berth.host}/${repo}/${ref}:v1`,
      ]);
    }
    await assertServes(berth, `${repo}/image`, 'v1', oci);
    await assertServes(berth, `${repo}/index`, 'v1', index);
    assert.deepEqual(await listTags(berth.url, `${repo}/index`), ['v1']);

    const layer = oci.layers[0];
    assert.ok(layer);
    const res = await fetch(`${berth.url}/v2/${repo}/image/blobs/${layer.digest}`, { redirect: 'manual' });
    await res.body?.cancel();
    assert.equal(res.status, 307);
    const location = res.headers.get('location') ?? '';
    assert.ok(
      location.startsWith(
        `${proxy.endpoint}/devstoreaccount1/${containerName}${root}/docker/registry/v2/blobs/sha256/`,
      ),
      location,
    );
    const head = await fetch(`${berth.url}/v2/${repo}/image/blobs/${layer.digest}`, {
      method: 'HEAD',
      redirect: 'manual',
    });
    assert.equal(head.status, 307);

    proxy.requests.length = 0;
    for (const ref of ['image', 'index']) {
      await assertPulls(berth, `${repo}/${ref}`, 'v1', path.join(workDir, `pull-${ref}`));
    }
    const fetched = sasGets(proxy.requests);
    for (const blob of [oci.config, layer]) {
      assert.ok(
        fetched.some((r) => r.url.includes(blob.digest.slice('sha256:'.length)) && r.status === 200),
        `skopeo did not fetch ${blob.digest} from the backend: ${fetched.map((r) => r.url.split('?')[0]).join(', ')}`,
      );
    }
    await assertNoStagedBlocks();
  });

  it('a chunked upload whose PATCHes alternate between replicas resumes the block list', step, async () => {
    const { azurite, berth, replica, driver } = env();
    const repo = `e2e/azure-chunked-${id}`;
    const chunks = [0, 1, 2].map(() => randomBytes(5 * 1024 * 1024 + 1234));
    const content = Buffer.concat(chunks);
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    let location = await startUpload(berth.url, repo);
    let offset = 0;
    for (const [i, chunk] of chunks.entries()) {
      // Replicas take turns: each PATCH is a new writer session in another process.
      const target = new URL(location);
      target.host = (i % 2 === 0 ? berth : replica).host;
      const res = await fetch(target, {
        method: 'PATCH',
        headers: {
          'Content-Range': `${offset}-${offset + chunk.length - 1}`,
          'Content-Length': String(chunk.length),
          'Content-Type': 'application/octet-stream',
        },
        body: chunk,
      });
      await res.body?.cancel();
      assert.equal(res.status, 202, `PATCH ${i}`);
      offset += chunk.length;
      location = new URL(res.headers.get('location') ?? '', target).toString();
    }
    // Each session added its own 4 MiB blocks; nothing stored earlier was copied or sent again.
    const uploads = await driver.list(`/docker/registry/v2/repositories/${repo}/_uploads`);
    assert.equal(uploads.length, 1);
    const data = `${uploads[0] ?? ''}/data`;
    assert.equal((await driver.stat(data)).size, content.length);
    const container = new BlobServiceClient(
      azurite.endpoint,
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
    ).getContainerClient(containerName);
    const blocks = await container.getBlockBlobClient(driver.blobName(data)).getBlockList('all');
    assert.equal(blocks.committedBlocks?.length, 6);
    assert.equal(blocks.uncommittedBlocks?.length ?? 0, 0);

    const put = new URL(location);
    put.host = berth.host;
    put.searchParams.set('digest', digest);
    const done = await fetch(put, { method: 'PUT' });
    await done.body?.cancel();
    assert.equal(done.status, 201);
    // Served by the other replica, through the SAS redirect.
    const res = await fetch(`${replica.url}/v2/${repo}/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.ok(res.url.includes('sig='), `not redirected: ${res.url}`);
    const served = Buffer.from(await res.arrayBuffer());
    assert.equal(createHash('sha256').update(served).digest('hex'), digest.slice(7));
    await assertNoStagedBlocks();
  });

  it(
    'garbage collection on the Azure driver sweeps a deleted tag; kept images still pull',
    step,
    async () => {
      const { dockerd, berth, driver } = env();
      const repo = `gc/azure-${id}`;
      for (const tag of ['keep', 'drop']) {
        const built = await buildScratchImage(dockerd.docker, `${berth.host}/${repo}:${tag}`, 2);
        await dockerd.docker(['push', built.tag], cmd);
      }
      const kept = (await manifest(repo, 'keep')).body;
      const dropped = (await manifest(repo, 'drop')).body;
      const del = await fetch(`${berth.url}/v2/${repo}/manifests/drop`, { method: 'DELETE' });
      await del.body?.cancel();
      assert.equal(del.status, 202);

      // No pushes run meanwhile, so the registry may stay up (the CLI would insist on read-only mode).
      const summary = await garbageCollect(driver, { deleteUntagged: true });
      assert.ok(summary.manifestsDeleted >= 1, JSON.stringify(summary));
      assert.ok(
        summary.blobsDeleted >= 3,
        `the dropped image's config and layers: ${JSON.stringify(summary)}`,
      );

      const blobPath = (d: string): string =>
        `/docker/registry/v2/blobs/sha256/${d.slice(7, 9)}/${d.slice(7)}/data`;
      for (const blob of [dropped.config.digest, ...dropped.layers.map((l) => l.digest)]) {
        await assert.rejects(
          driver.stat(blobPath(blob)),
          PathNotFoundError,
          `swept blob ${blob} is in the container`,
        );
        const head = await fetch(`${berth.url}/v2/${repo}/blobs/${blob}`, {
          method: 'HEAD',
          redirect: 'manual',
        });
        assert.equal(head.status, 404, `swept blob ${blob}`);
      }
      for (const blob of [kept.config.digest, ...kept.layers.map((l) => l.digest)]) {
        assert.ok((await driver.stat(blobPath(blob))).size > 0, `kept blob ${blob}`);
      }
      // Images the collection kept still pull, with both clients (and with the earlier repositories intact).
      const keep = `${berth.host}/${repo}:keep`;
      await dockerd.docker(['rmi', '--force', keep], cmd);
      await dockerd.docker(['pull', keep], cmd);
      await assertPulls(berth, repo, 'keep', path.join(workDir, 'pull-gc'));
      assert.ok(image, 'the first push failed');
      await dockerd.docker(['rmi', image.tag], cmd);
      await dockerd.docker(['pull', image.tag], cmd);
      assert.deepEqual(await listTags(berth.url, repo), ['keep']);
    },
  );
});
