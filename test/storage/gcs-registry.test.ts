// Berth serving from GCS (fake-gcs-server), end to end with real clients:
// - The Docker engine pushes layers larger than the upload chunk size and pulls them back; blob GETs are
//   redirected (307) to V4 signed URLs of the backend (signed with a service-account key from the config),
//   which the clients follow (fake-gcs-server serves them without checking the signature).
// - skopeo copies an OCI image and a two-platform index in and out.
// - Garbage collection on the GCS driver: push two images, delete one by tag, collect; the swept blobs are gone
//   from the bucket and the kept image still pulls.
// The emulator's address reaches the registry as STORAGE_EMULATOR_HOST, as it would reach Distribution.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { parseConfig } from '../../registry/config/load.ts';
import { garbageCollect } from '../../registry/gc/gc.ts';
import { PathNotFoundError } from '../../registry/storage/driver.ts';
import { createStorageDriver } from '../../registry/storage/factory.ts';
import { blobDataPath } from '../../registry/storage/paths.ts';
import { startBerth } from '../harness/berth.ts';
import { buildScratchImage, removeClientState, skopeo } from '../harness/clients.ts';
import { startDockerd, type Dockerd } from '../harness/dockerd.ts';
import { startFakeGcs, type FakeGcs } from '../harness/fake-gcs.ts';
import { buildImage, buildTwoPlatformIndex, writeOciLayout, type BuiltImage } from '../harness/oci-image.ts';
import { listTags } from '../harness/registry-api.ts';
import type { ConfigObject, RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { assertPulls, assertServes } from '../harness/verify.ts';

const step = { timeout: 300_000 };
const cmd = { timeoutMs: 120_000 };
const bucket = 'berth-registry';
const id = randomBytes(3).toString('hex');
const root = `/registry-${id}`;
const chunksize = 1024 * 1024;

function serviceAccountKey(): Record<string, string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    type: 'service_account',
    project_id: 'berth-test',
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: 'registry@berth-test.iam.gserviceaccount.com',
    token_uri: 'https://oauth2.googleapis.com/token',
  };
}

/** Every object name under a prefix, from the server's JSON API. */
async function objectNames(gcs: FakeGcs, prefix: string): Promise<string[]> {
  const names: string[] = [];
  let token = '';
  do {
    const url = new URL(`${gcs.endpoint}/storage/v1/b/${bucket}/o`);
    url.searchParams.set('prefix', prefix);
    if (token !== '') url.searchParams.set('pageToken', token);
    const body = (await (await fetch(url)).json()) as { items?: { name: string }[]; nextPageToken?: string };
    for (const item of body.items ?? []) names.push(item.name);
    token = body.nextPageToken ?? '';
  } while (token !== '');
  return names;
}

/** Distribution's `storage` section for the bucket; the harness's filesystem default is dropped. */
function gcsStorage(credentials: Record<string, string>): ConfigObject {
  return {
    filesystem: undefined,
    delete: { enabled: true },
    gcs: { bucket, rootdirectory: root, chunksize, credentials },
  };
}

describe('Berth on GCS (fake-gcs-server)', () => {
  let gcs: FakeGcs | undefined;
  let dockerd: Dockerd | undefined;
  let berth: RunningRegistry | undefined;
  let workDir = '';
  const credentials = serviceAccountKey();
  const storage = gcsStorage(credentials);

  before(async () => {
    gcs = await startFakeGcs();
    await gcs.createBucket(bucket);
    workDir = await makeTempDir('gcs-registry');
    [dockerd, berth] = await Promise.all([
      startDockerd(),
      startBerth({
        config: { storage },
        env: { STORAGE_EMULATOR_HOST: gcs.endpoint.replace('http://', '') },
      }),
    ]);
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ berth, dockerd, gcs });
    await Promise.allSettled([dockerd?.stop(), berth?.stop()]);
    await removeClientState();
    await gcs?.stop();
    if (workDir !== '') await removeTempDir(workDir);
  });

  function env(): { gcs: FakeGcs; dockerd: Dockerd; berth: RunningRegistry } {
    assert.ok(gcs && dockerd && berth, 'set-up failed');
    return { gcs, dockerd, berth };
  }

  /** The driver the registry uses, built from the same config (for GC and to look into the bucket). */
  async function driver(gcsEndpoint: string) {
    const config = parseConfig(
      JSON.stringify({ version: 0.1, storage: { gcs: { bucket, rootdirectory: root, credentials } } }),
      { STORAGE_EMULATOR_HOST: gcsEndpoint },
    );
    const saved = process.env['STORAGE_EMULATOR_HOST'];
    process.env['STORAGE_EMULATOR_HOST'] = gcsEndpoint;
    try {
      return await createStorageDriver(config.config.storage);
    } finally {
      if (saved === undefined) delete process.env['STORAGE_EMULATOR_HOST'];
      else process.env['STORAGE_EMULATOR_HOST'] = saved;
    }
  }

  it('docker pushes layers of several upload chunks and pulls them back', step, async () => {
    const { dockerd, berth, gcs } = env();
    const repo = `${berth.host}/e2e/gcs-docker-${id}`;
    // 1.5, 2.25 and 3 MiB layers: each spans several resumable-upload chunks of 1 MiB.
    const image = await buildScratchImage(dockerd.docker, `${repo}:v1`, 3, { layerBytes: 1536 * 1024 });
    const pushed = await dockerd.docker(['push', image.tag], cmd);
    const m = /: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(pushed.stdout);
    assert.ok(m?.[1], pushed.stdout);
    const digest = m[1];
    // No writer component (`<key>~<session>`) is left in the bucket.
    const names = await objectNames(gcs, root.slice(1));
    assert.ok(names.length > 0);
    assert.deepEqual(
      names.filter((n) => n.includes('~')),
      [],
    );

    // Blob GETs redirect to signed URLs on the backend; HEAD is answered by the registry.
    const manifest = (await (
      await fetch(`${berth.url}/v2/e2e/gcs-docker-${id}/manifests/v1`, {
        headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      })
    ).json()) as { layers: { digest: string; size: number }[] };
    const layer = manifest.layers[0];
    assert.ok(layer);
    const res = await fetch(`${berth.url}/v2/e2e/gcs-docker-${id}/blobs/${layer.digest}`, {
      redirect: 'manual',
    });
    await res.body?.cancel();
    assert.equal(res.status, 307);
    const location = res.headers.get('location') ?? '';
    assert.ok(
      location.startsWith(`${gcs.endpoint}/${bucket}${root}/docker/registry/v2/blobs/sha256/`),
      location,
    );
    assert.match(location, /X-Goog-Signature=[0-9a-f]+/);
    const followed = await fetch(location);
    assert.equal(followed.status, 200);
    assert.equal((await followed.arrayBuffer()).byteLength, layer.size);
    const head = await fetch(`${berth.url}/v2/e2e/gcs-docker-${id}/blobs/${layer.digest}`, {
      method: 'HEAD',
      redirect: 'manual',
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), layer.digest);

    await dockerd.docker(['rmi', image.tag], cmd);
    const mark = gcs.output().length;
    const pulled = await dockerd.docker(['pull', image.tag], cmd);
    // The config and the three layers came from the backend through signed URLs, not through the registry.
    const signed = gcs
      .requests(mark)
      .filter((r) => r.method === 'GET' && r.status === 200 && r.url.includes('X-Goog-Signature='))
      .filter((r) => r.url.startsWith(`/${bucket}${root}/docker/registry/v2/blobs/sha256/`));
    assert.ok(signed.length >= image.layers + 1, `only ${signed.length} signed GETs during docker pull`);
    assert.match(pulled.stdout, new RegExp(`Digest: ${digest}`));
    const inspect = await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', image.tag], cmd);
    assert.equal(inspect.stdout.trim(), image.imageId, 'the pulled image differs from the pushed one');

    const again = await dockerd.docker(['push', image.tag], cmd);
    const exists = again.stdout.split('\n').filter((l) => /: Layer already exists$/.test(l.trim()));
    assert.equal(exists.length, image.layers, again.stdout);
  });

  it('a chunked upload whose PATCHes alternate between two replicas completes', step, async () => {
    const { berth, gcs } = env();
    const other = await startBerth({
      config: { storage },
      env: { STORAGE_EMULATOR_HOST: gcs.endpoint.replace('http://', '') },
    });
    try {
      const repo = `gcs/chunked-${id}`;
      const content = randomBytes(3 * chunksize + 12_345);
      const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
      const started = await fetch(`${berth.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      assert.equal(started.status, 202);
      let location = started.headers.get('location') ?? '';
      // Four chunks of uneven size over A, B, A, B: every PATCH after the first appends in a new process.
      const cuts = [0, 1_000_003, 2_000_000, 3_100_000, content.length];
      for (let i = 0; i + 1 < cuts.length; i++) {
        const [from, to] = [cuts[i] ?? 0, cuts[i + 1] ?? 0];
        const replica = i % 2 === 0 ? berth : other;
        const url = new URL(location, replica.url);
        const res = await fetch(new URL(url.pathname + url.search, replica.url), {
          method: 'PATCH',
          headers: {
            'content-range': `${from}-${to - 1}`,
            'content-length': String(to - from),
            'content-type': 'application/octet-stream',
          },
          body: content.subarray(from, to),
        });
        assert.equal(res.status, 202, await res.text());
        assert.equal(res.headers.get('range'), `0-${to - 1}`);
        location = res.headers.get('location') ?? '';
      }
      const url = new URL(location, other.url);
      url.searchParams.set('digest', digest);
      const put = await fetch(new URL(url.pathname + url.search, other.url), { method: 'PUT' });
      assert.equal(put.status, 201, await put.text());
      // Read back through the registry and its redirect.
      const got = await fetch(`${berth.url}/v2/${repo}/blobs/${digest}`);
      assert.equal(got.status, 200);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), content);
      assert.deepEqual(
        (await objectNames(gcs, root.slice(1))).filter((n) => n.includes('~') || n.includes('/_uploads/')),
        [],
      );
    } finally {
      await other.stop();
    }
  });

  it('skopeo copies an OCI image and a two-platform index in and out', step, async () => {
    const { berth } = env();
    const layout = path.join(workDir, 'layout');
    const image = buildImage({ layerBytes: 3 * 1024 * 1024, gzipLevel: 0 });
    const index = buildTwoPlatformIndex({ layerBytes: 64 * 1024 });
    await writeOciLayout(layout, { image, index });
    const pushed = [
      { ref: 'image', repo: `gcs/skopeo-${id}/image`, content: image },
      { ref: 'index', repo: `gcs/skopeo-${id}/multi`, content: index },
    ];
    for (const p of pushed) {
      await skopeo([
        'copy',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${layout}:${p.ref}`,
        `docker://${berth.host}/${p.repo}:v1`,
      ]);
    }
    for (const [i, p] of pushed.entries()) {
      await assertServes(berth, p.repo, 'v1', p.content);
      assert.deepEqual(await listTags(berth.url, p.repo), ['v1']);
      await assertPulls(berth, p.repo, 'v1', path.join(workDir, `pull-${i}`));
    }
  });

  it(
    'garbage collection on the GCS driver sweeps a deleted tag’s blobs; the kept image still pulls',
    step,
    async () => {
      const { berth, gcs } = env();
      const repo = `gcs/gc-${id}`;
      const layout = path.join(workDir, 'gc-layout');
      const keep = buildImage({ layerBytes: 256 * 1024 });
      const drop = buildImage({ layerBytes: 300 * 1024 });
      await writeOciLayout(layout, { keep, drop });
      for (const tag of ['keep', 'drop']) {
        await skopeo([
          'copy',
          '--preserve-digests',
          '--dest-tls-verify=false',
          `oci:${layout}:${tag}`,
          `docker://${berth.host}/${repo}:${tag}`,
        ]);
      }
      const del = await fetch(`${berth.url}/v2/${repo}/manifests/drop`, { method: 'DELETE' });
      assert.equal(del.status, 202, await del.text());
      assert.deepEqual(await listTags(berth.url, repo), ['keep']);

      const d = await driver(gcs.endpoint.replace('http://', ''));
      const dropped: BuiltImage = drop;
      const sweptBlobs = [
        dropped.manifest.digest,
        dropped.config.digest,
        ...dropped.layers.map((l) => l.digest),
      ];
      for (const digest of sweptBlobs) assert.ok((await d.stat(blobDataPath(digest))).size > 0);

      const summary = await garbageCollect(d, { deleteUntagged: true });
      assert.ok(summary.blobsDeleted >= 3, JSON.stringify(summary));
      assert.equal(summary.manifestsDeleted, 1, JSON.stringify(summary));
      for (const digest of sweptBlobs) {
        await assert.rejects(d.stat(blobDataPath(digest)), PathNotFoundError, `swept blob ${digest}`);
      }
      const kept: BuiltImage = keep;
      for (const digest of [kept.manifest.digest, kept.config.digest, ...kept.layers.map((l) => l.digest)]) {
        assert.ok((await d.stat(blobDataPath(digest))).size > 0, `kept blob ${digest}`);
      }
      await assertServes(berth, repo, 'keep', keep);
      await assertPulls(berth, repo, 'keep', path.join(workDir, 'gc-pull'));
      // Everything else on the bucket (the docker and skopeo images above) is untouched.
      assert.deepEqual(await listTags(berth.url, `gcs/skopeo-${id}/image`), ['v1']);
    },
  );
});
