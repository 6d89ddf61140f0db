// Registries on S3 (MinIO), end to end with real clients:
// - CNCF Distribution 2.8 (Debian's docker-registry) and Berth serve the same bucket: what either pushes
//   (skopeo), the other serves byte for byte and pulls.
// - The Docker engine pushes to and pulls from Berth on S3, with layers large enough for multipart uploads.
// - Blob reads are redirected (307) to presigned URLs of the backend, and skopeo and docker follow them: a
//   recording proxy in front of MinIO sees the presigned GETs coming from the clients.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { request as httpRequest } from 'node:http';
import { after, afterEach, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { buildScratchImage, removeClientState, skopeo, type ScratchImage } from '../harness/clients.ts';
import { startBerth } from '../harness/berth.ts';
import { startDistribution } from '../harness/distribution.ts';
import { startDockerd, type Dockerd } from '../harness/dockerd.ts';
import { startMinio, type Minio } from '../harness/minio.ts';
import {
  buildImage,
  buildTwoPlatformIndex,
  writeOciLayout,
  type BuiltImage,
  type BuiltIndex,
} from '../harness/oci-image.ts';
import { catalog, listTags } from '../harness/registry-api.ts';
import type { ConfigObject, RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { waitFor } from '../harness/wait.ts';
import { errorCode, pushBlob, sha256 } from '../registry/client.ts';
import { assertPulls, assertServes } from '../harness/verify.ts';
import { startS3Proxy, type ProxiedRequest, type S3Proxy } from './s3-proxy.ts';

const step = { timeout: 300_000 };
const cmd = { timeoutMs: 120_000 };
const bucket = 'berth-registries';
const id = randomBytes(3).toString('hex');

/** Distribution's `storage` section for the bucket, through the proxy; the filesystem default is dropped. */
function s3Storage(minio: Minio, proxy: S3Proxy, rootdirectory: string): ConfigObject {
  return {
    filesystem: undefined,
    s3: {
      region: minio.region,
      regionendpoint: proxy.endpoint,
      forcepathstyle: true,
      secure: false,
      v4auth: true,
      bucket,
      accesskey: minio.accessKey,
      secretkey: minio.secretKey,
      rootdirectory,
      chunksize: 5 * 1024 * 1024,
    },
  };
}

/** Requests that clients sent to the backend with a presigned URL (the registry itself signs in headers). */
function presignedGets(requests: ProxiedRequest[]): ProxiedRequest[] {
  return requests.filter((r) => r.method === 'GET' && r.url.includes('X-Amz-Signature=') && !r.injected);
}

async function openUploads(minio: Minio, prefix: string): Promise<number> {
  const client = new S3Client({
    region: minio.region,
    endpoint: minio.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey },
  });
  try {
    const res = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return res.Uploads?.length ?? 0;
  } finally {
    client.destroy();
  }
}

interface Pushed {
  repo: string;
  tag: string;
  content: BuiltImage | BuiltIndex;
}

/** Pushes an OCI image (one layer above the multipart part size) and a two-platform index with skopeo. */
async function push(registry: RunningRegistry, prefix: string, workDir: string): Promise<Pushed[]> {
  const layout = path.join(workDir, `layout-${prefix.replace(/\W/g, '-')}`);
  const image = buildImage({ layerBytes: 7 * 1024 * 1024, gzipLevel: 0 });
  const index = buildTwoPlatformIndex({ layerBytes: 64 * 1024 });
  await writeOciLayout(layout, { image, index });
  const copy = (ref: string, dest: string): Promise<unknown> =>
    skopeo([
      'copy',
      '--all',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `oci:${layout}:${ref}`,
      `docker://${registry.host}/${dest}`,
    ]);
  await copy('image', `${prefix}/image:v1`);
  await copy('index', `${prefix}/multi:v1`);
  return [
    { repo: `${prefix}/image`, tag: 'v1', content: image },
    { repo: `${prefix}/multi`, tag: 'v1', content: index },
  ];
}

async function assertServesAndPulls(registry: RunningRegistry, pushed: Pushed[]): Promise<void> {
  for (const p of pushed) {
    await assertServes(registry, p.repo, p.tag, p.content);
    assert.deepEqual(await listTags(registry.url, p.repo), [p.tag], `${registry.kind}: tags of ${p.repo}`);
  }
  const listed = await catalog(registry.url);
  for (const p of pushed)
    assert.ok(listed.includes(p.repo), `${registry.kind}: ${p.repo} not in the catalog`);
  const pullDir = await makeTempDir('s3-pull');
  try {
    for (const [i, p] of pushed.entries()) {
      await assertPulls(registry, p.repo, p.tag, path.join(pullDir, String(i)));
    }
  } finally {
    await removeTempDir(pullDir);
  }
}

describe('Berth and Distribution serving one MinIO bucket', () => {
  let minio: Minio | undefined;
  let proxy: S3Proxy | undefined;
  let distribution: RunningRegistry | undefined;
  let berth: RunningRegistry | undefined;
  let workDir = '';
  const root = `/shared-${id}`;

  before(async () => {
    minio = await startMinio();
    await minio.createBucket(bucket);
    proxy = await startS3Proxy(minio.endpoint);
    workDir = await makeTempDir('s3-interop');
    const storage = s3Storage(minio, proxy, root);
    [distribution, berth] = await Promise.all([
      // Distribution's Go SDK fails to start with AWS_CA_BUNDLE set (its HTTP transport is wrapped); the
      // backend here is plain HTTP anyway.
      startDistribution({ config: { storage }, env: { AWS_CA_BUNDLE: undefined } }),
      startBerth({ config: { storage } }),
    ]);
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ distribution, berth, minio });
    await Promise.allSettled([distribution?.stop(), berth?.stop()]);
    await removeClientState();
    await proxy?.stop();
    await minio?.stop();
    if (workDir !== '') await removeTempDir(workDir);
  });

  function env(): { minio: Minio; proxy: S3Proxy; distribution: RunningRegistry; berth: RunningRegistry } {
    assert.ok(minio && proxy && distribution && berth, 'set-up failed');
    return { minio, proxy, distribution, berth };
  }

  it('Berth serves and pulls images Distribution pushed to the bucket', step, async () => {
    const { distribution, berth } = env();
    const pushed = await push(distribution, `s3/from-distribution-${id}`, workDir);
    await assertServesAndPulls(berth, pushed);
  });

  it('Distribution serves and pulls images Berth pushed to the bucket', step, async () => {
    const { distribution, berth, minio } = env();
    const pushed = await push(berth, `s3/from-berth-${id}`, workDir);
    await assertServesAndPulls(distribution, pushed);
    assert.equal(await openUploads(minio, root.slice(1)), 0, 'a multipart upload was left open');
  });

  it('redirects blob reads to presigned backend URLs, which skopeo follows', step, async () => {
    const { berth, proxy } = env();
    const [image] = await push(berth, `s3/redirect-${id}`, workDir);
    assert.ok(image && image.content.kind === 'image');
    const layer = image.content.layers[0];
    assert.ok(layer);
    const res = await fetch(`${berth.url}/v2/${image.repo}/blobs/${layer.digest}`, { redirect: 'manual' });
    await res.body?.cancel();
    assert.equal(res.status, 307);
    const location = res.headers.get('location') ?? '';
    assert.ok(
      location.startsWith(`${proxy.endpoint}/${bucket}${root}/docker/registry/v2/blobs/sha256/`),
      location,
    );
    const head = await fetch(`${berth.url}/v2/${image.repo}/blobs/${layer.digest}`, {
      method: 'HEAD',
      redirect: 'manual',
    });
    assert.equal(head.status, 307);

    proxy.requests.length = 0;
    const dir = await makeTempDir('s3-redirect-pull');
    try {
      await assertPulls(berth, image.repo, image.tag, dir);
    } finally {
      await removeTempDir(dir);
    }
    const fetched = presignedGets(proxy.requests);
    const config = image.content.config;
    for (const blob of [config, layer]) {
      assert.ok(
        fetched.some((r) => r.url.includes(blob.digest.slice('sha256:'.length)) && r.status === 200),
        `skopeo did not fetch ${blob.digest} from the backend: ${fetched.map((r) => r.url.split('?')[0]).join(', ')}`,
      );
    }
  });

  it(
    'writes a whole-blob push straight to its key, publishing nothing unless the digest matches',
    step,
    async () => {
      const { minio, proxy, berth } = env();
      const content = randomBytes(12 * 1024 * 1024 + 17);
      const digest = sha256(content);
      const blobKey = `blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;
      proxy.requests.length = 0;
      assert.equal(await pushBlob(berth.url, 'staged/app', content), digest);
      // Straight to the key as a multipart upload: no server-side copy from the upload into the blob store.
      const copies = proxy.requests.filter((r) => r.headers['x-amz-copy-source'] !== undefined);
      assert.deepEqual(
        copies.map((r) => r.url),
        [],
        'a server-side copy',
      );
      assert.ok(
        proxy.requests.some(
          (r) => r.method === 'PUT' && r.url.includes(blobKey) && r.url.includes('partNumber='),
        ),
        'parts uploaded to the blob key',
      );
      const served = await fetch(`${berth.url}/v2/staged/app/blobs/${digest}`, { redirect: 'manual' });
      await served.body?.cancel();
      assert.equal(served.status, 307);
      const direct = await fetch(served.headers.get('location') ?? '');
      assert.ok(Buffer.from(await direct.arrayBuffer()).equals(content), 'the stored blob is the pushed one');

      // A wrong digest: 400 DIGEST_INVALID and nothing under the digest it claimed.
      const claimed = sha256(Buffer.from('something else'));
      const wrong = await fetch(`${berth.url}/v2/staged/app/blobs/uploads/?digest=${claimed}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: content,
      });
      assert.equal(wrong.status, 400);
      assert.equal(await errorCode(wrong), 'DIGEST_INVALID');
      const missing = await fetch(`${berth.url}/v2/staged/app/blobs/${claimed}`, { method: 'HEAD' });
      assert.equal(missing.status, 404);

      // A push of the same blob cut off half way leaves the stored copy as it was.
      const { hostname, port } = new URL(berth.url);
      await new Promise<void>((resolve) => {
        const req = httpRequest({
          hostname,
          port,
          method: 'POST',
          path: `/v2/staged/app/blobs/uploads/?digest=${digest}`,
          headers: { 'Content-Length': String(content.length), 'Content-Type': 'application/octet-stream' },
        });
        req.on('error', () => resolve());
        req.write(content.subarray(0, 6 * 1024 * 1024), () => {
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 300);
        });
      });
      await waitFor('the cut-off push to abort its multipart upload', async () =>
        (await openUploads(minio, root.slice(1))) === 0 ? true : undefined,
      );
      const again = await fetch(`${berth.url}/v2/staged/app/blobs/${digest}`, { redirect: 'manual' });
      await again.body?.cancel();
      assert.equal(again.status, 307);
      const still = await fetch(again.headers.get('location') ?? '');
      assert.ok(Buffer.from(await still.arrayBuffer()).equals(content), 'the stored copy survived');
    },
  );
});

describe('docker engine against Berth on S3', () => {
  let minio: Minio | undefined;
  let proxy: S3Proxy | undefined;
  let dockerd: Dockerd | undefined;
  let berth: RunningRegistry | undefined;
  let image: ScratchImage | undefined;
  let repo = '';
  let digest = '';
  const root = `/docker-${id}`;

  before(async () => {
    minio = await startMinio();
    await minio.createBucket(bucket);
    proxy = await startS3Proxy(minio.endpoint);
    const storage = s3Storage(minio, proxy, root);
    [dockerd, berth] = await Promise.all([startDockerd(), startBerth({ config: { storage } })]);
    repo = `${berth.host}/e2e/s3-docker-${id}`;
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ berth, dockerd, minio });
    await Promise.allSettled([dockerd?.stop(), berth?.stop()]);
    await proxy?.stop();
    await minio?.stop();
  });

  function env(): { dockerd: Dockerd; berth: RunningRegistry; proxy: S3Proxy; minio: Minio } {
    assert.ok(dockerd && berth && proxy && minio, 'set-up failed');
    return { dockerd, berth, proxy, minio };
  }

  it('pushes an image whose layers span several multipart parts', step, async () => {
    const { dockerd, minio } = env();
    // 6 MiB, 9 MiB and 12 MiB layers: one part and a tail, then several parts.
    image = await buildScratchImage(dockerd.docker, `${repo}:v1`, 3, { layerBytes: 6 * 1024 * 1024 });
    const { stdout } = await dockerd.docker(['push', image.tag], cmd);
    const m = /: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(stdout);
    assert.ok(m?.[1], stdout);
    digest = m[1];
    assert.equal(await openUploads(minio, root.slice(1)), 0, 'a multipart upload was left open');
  });

  it('pulls it back through presigned redirects to the backend', step, async () => {
    const { dockerd, proxy } = env();
    assert.ok(image, 'the push failed');
    await dockerd.docker(['rmi', image.tag], cmd);
    proxy.requests.length = 0;
    const { stdout } = await dockerd.docker(['pull', image.tag], cmd);
    assert.match(stdout, new RegExp(`Digest: ${digest}`));
    const inspect = await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', image.tag], cmd);
    assert.equal(inspect.stdout.trim(), image.imageId, 'the pulled image differs from the pushed one');
    const fetched = presignedGets(proxy.requests).filter((r) => r.status === 200);
    // Config and three layers came from the backend, not through the registry.
    assert.ok(fetched.length >= image.layers + 1, `only ${fetched.length} presigned GETs during docker pull`);
  });

  it('re-pushes without uploading any layer', step, async () => {
    const { dockerd } = env();
    assert.ok(image, 'the push failed');
    const { stdout } = await dockerd.docker(['push', image.tag], cmd);
    const exists = stdout.split('\n').filter((l) => /: Layer already exists$/.test(l.trim()));
    assert.equal(exists.length, image.layers, stdout);
  });
});
