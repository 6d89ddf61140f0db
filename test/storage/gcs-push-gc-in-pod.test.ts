// A large push into a registry on GCS (fake-gcs-server) with its pod's heap limit runs no string of full
// mark-compacts, and the object in the bucket is the pushed blob. The GCS writer used to copy every body
// chunk for the client library's upload stream, which held the copies until each chunk's request ended; V8
// counts such Buffers against the old generation's limit, and a 256 MiB push ran 20–25 mark-compacts. It now
// sends its own chunk requests and fills the same two chunks of memory throughout
// (registry/storage/gcs-resumable.ts, gcs-writer.ts). Each body chunk is freed once copied into a chunk
// (registry/body-chunks.ts): 14 scavenges per push, 33 when BodyGarbage had to free them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { berthPodHeapFlag } from '../../bench/registries.ts';
import { startBerth } from '../harness/berth.ts';
import { startFakeGcs, type FakeGcs } from '../harness/fake-gcs.ts';
import { gcCounts } from '../harness/prometheus.ts';
import { pushRepeatedBlock } from '../harness/repeated-block-push.ts';

const bucket = 'berth-push-gc';
const pushMiB = 128;
let gcs: FakeGcs | undefined;

before(async () => {
  gcs = await startFakeGcs();
  await gcs.createBucket(bucket);
});
after(() => gcs?.stop());

test(`a ${pushMiB} MiB push to GCS with the pod's heap limit runs at most 3 mark-compacts`, async () => {
  assert.ok(gcs, 'fake-gcs-server did not start');
  const registry = await startBerth({
    // The default chunksize (5 MiB): the push is 26 chunk requests.
    config: { storage: { filesystem: undefined, gcs: { bucket, rootdirectory: '/pod' } } },
    env: { NODE_OPTIONS: berthPodHeapFlag, STORAGE_EMULATOR_HOST: gcs.endpoint.replace('http://', '') },
  });
  try {
    const before = await gcCounts(registry.url);
    const digest = await pushRepeatedBlock(registry.url, 'gc/pod', pushMiB);
    // GC observations reach prom-client through a PerformanceObserver, a tick or so after the collection.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await gcCounts(registry.url);
    const minor = after.minor - before.minor;
    assert.ok(minor >= 1, `the count is real: ${minor} scavenges during the push`);
    assert.ok(
      minor < pushMiB / 4 - 8,
      `${minor} scavenges during the push: BodyGarbage's one per 4 MiB (${pushMiB / 4}) ran, so body chunks were not freed`,
    );
    const major = after.major - before.major;
    assert.ok(
      major <= 3,
      `${major} mark-compacts during the push (10–12 when the writer copied every chunk)`,
    );

    // The stored object, read from the bucket itself, is the blob.
    const hex = digest.slice('sha256:'.length);
    const key = `pod/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
    const res = await fetch(`${gcs.endpoint}/storage/v1/b/${bucket}/o/${encodeURIComponent(key)}?alt=media`);
    assert.equal(res.status, 200);
    const hash = createHash('sha256');
    let size = 0;
    for await (const part of res.body as AsyncIterable<Uint8Array>) {
      hash.update(part);
      size += part.byteLength;
    }
    assert.equal(size, pushMiB << 20);
    assert.equal(`sha256:${hash.digest('hex')}`, digest);
  } finally {
    await registry.stop();
  }
});
