// Load: 100 clients push images at once for a bounded time, the way docker does (HEAD each blob, POST, PATCH
// the body in chunks with Content-Range, PUT ?digest=, then the config and the manifest by tag), against the
// real registry process on filesystem storage. Every image has a layer of its own and one of five layers all
// clients share, so many uploads of one digest race. Afterwards every tag resolves to its manifest and every
// blob is read back and hashed: 0 errors and 0 corrupt blobs; the p50/p99 image-push latency is printed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { startBerth } from '../harness/berth.ts';
import type { RunningRegistry } from '../harness/registry.ts';
import { blobOf, call, ociManifest, unreadable, type Blob, type PushedImage } from './pushed-images.ts';

const pushers = 100;
const durationMs = Number(process.env['BERTH_LOAD_MS'] ?? 10_000);
const chunkBytes = 64 * 1024;
const ociConfig = 'application/vnd.oci.image.config.v1+json';
const ociLayer = 'application/vnd.oci.image.layer.v1.tar';

let registry: RunningRegistry;

function expect(what: string, res: { status: number; data: Buffer }, status: number): void {
  if (res.status !== status) {
    throw new Error(`${what}: HTTP ${String(res.status)} ${res.data.toString('utf8').slice(0, 300)}`);
  }
}

/** docker's blob push: HEAD, then POST, PATCH per chunk (Content-Range), PUT ?digest= without a body. */
async function pushBlob(repo: string, blob: Blob): Promise<void> {
  const base = `${registry.url}/v2/${repo}/blobs`;
  if ((await call('HEAD', `${base}/${blob.digest}`)).status === 200) return;
  const started = await call('POST', `${base}/uploads/`);
  expect('POST upload', started, 202);
  let location = new URL(started.headers.get('location') ?? '', registry.url).toString();
  for (let offset = 0; offset < blob.bytes.length; offset += chunkBytes) {
    const chunk = blob.bytes.subarray(offset, offset + chunkBytes);
    const patched = await call(
      'PATCH',
      location,
      {
        'content-type': 'application/octet-stream',
        'content-range': `${String(offset)}-${String(offset + chunk.length - 1)}`,
      },
      chunk,
    );
    expect('PATCH chunk', patched, 202);
    location = new URL(patched.headers.get('location') ?? '', registry.url).toString();
  }
  const url = new URL(location);
  url.searchParams.set('digest', blob.digest);
  expect('PUT ?digest=', await call('PUT', url.toString()), 201);
}

async function pushImage(repo: string, tag: string, shared: Blob): Promise<PushedImage> {
  const own = blobOf(randomBytes(64 * 1024 + Math.floor(Math.random() * 192 * 1024)));
  const config = blobOf(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [shared.digest, own.digest] },
      }),
    ),
  );
  for (const b of [shared, own, config]) await pushBlob(repo, b);
  const descriptor = (b: Blob, mediaType: string) => ({ mediaType, digest: b.digest, size: b.bytes.length });
  const manifest = blobOf(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: ociManifest,
        config: descriptor(config, ociConfig),
        layers: [descriptor(shared, ociLayer), descriptor(own, ociLayer)],
      }),
    ),
  );
  const put = await call(
    'PUT',
    `${registry.url}/v2/${repo}/manifests/${tag}`,
    { 'content-type': ociManifest },
    manifest.bytes,
  );
  expect('PUT manifest', put, 201);
  assert.equal(put.headers.get('docker-content-digest'), manifest.digest);
  return { repo, tag, manifest, blobs: [shared, own, config] };
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

describe('100 concurrent docker-protocol pushers', () => {
  before(async () => {
    registry = await startBerth();
  });
  after(async () => {
    await registry?.stop();
  });

  test('for a bounded time: 0 errors, 0 corrupt blobs, every tag resolves; p99 reported', async () => {
    const sharedLayers = Array.from({ length: 5 }, () => blobOf(randomBytes(256 * 1024)));
    const pushed: PushedImage[] = [];
    const errors: string[] = [];
    const latencies: number[] = [];
    const deadline = performance.now() + durationMs;
    await Promise.all(
      Array.from({ length: pushers }, async (_, p) => {
        // Ten repositories, so uploads also race within one repository's links.
        const repo = `load/app-${String(p % 10)}`;
        for (let n = 0; performance.now() < deadline; n++) {
          const t0 = performance.now();
          try {
            pushed.push(
              await pushImage(repo, `p${String(p)}-${String(n)}`, sharedLayers[(p + n) % 5] as Blob),
            );
            latencies.push(performance.now() - t0);
          } catch (err) {
            errors.push(String(err));
          }
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    console.log(
      `${String(pushed.length)} images pushed by ${String(pushers)} clients in ${String(durationMs / 1000)} s; ` +
        `push latency p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, ` +
        `max ${(latencies.at(-1) ?? 0).toFixed(0)} ms; ${String(errors.length)} errors`,
    );
    assert.deepEqual(errors.slice(0, 5), [], `${String(errors.length)} pushes failed`);
    assert.ok(pushed.length >= pushers, `every client pushed at least once (${String(pushed.length)})`);

    // Every tag names its manifest, and every blob reads back with its digest's content.
    const { wrong, blobsRead } = await unreadable(registry.url, pushed);
    console.log(`re-verified ${String(pushed.length)} manifests and ${String(blobsRead)} blobs`);
    assert.deepEqual(wrong, []);
  });
});
