// A large push into a registry with its pod's heap limit runs no string of full mark-compacts. V8 (Node 24)
// counts every Buffer allocated since its last mark-compact against the old generation's limit, and with the
// heap a 1 GiB pod gives (a ~1.4× growing factor) the live and dead body chunks of a push used to cross it
// every ~100 ms: 24 mark-compacts per 512 MiB. The filesystem writer's queue and BodyGarbage's interval keep
// them under it (registry/storage/filesystem.ts, registry/body-garbage.ts).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { berthPodHeapFlag } from '../../bench/registries.ts';
import { startBerth } from '../harness/berth.ts';
import { metricSample } from '../harness/prometheus.ts';

const mib = 1 << 20;
const pushMiB = 256;

interface GcCounts {
  major: number;
  minor: number;
}

/** The registry's GC counts from one read of its /metrics; a kind appears once it has run. */
async function gcCounts(url: string): Promise<GcCounts> {
  const text = await (await fetch(`${url}/metrics`)).text();
  assert.match(
    text,
    /^# TYPE registry_process_nodejs_gc_duration_seconds histogram$/m,
    'GCs are in /metrics',
  );
  const count = (kind: string): number =>
    metricSample(text, `registry_process_nodejs_gc_duration_seconds_count{kind="${kind}"}`) ?? 0;
  return { major: count('major'), minor: count('minor') };
}

test(`a ${pushMiB} MiB push with the pod's heap limit runs at most 3 mark-compacts`, async () => {
  const registry = await startBerth({ env: { NODE_OPTIONS: berthPodHeapFlag } });
  try {
    // One random MiB sent over and over: the server still gets a fresh Buffer for every chunk it reads.
    const block = randomBytes(mib);
    const hash = createHash('sha256');
    for (let i = 0; i < pushMiB; i++) hash.update(block);
    const digest = `sha256:${hash.digest('hex')}`;
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < pushMiB; i++) yield block;
      })(),
    );

    const before = await gcCounts(registry.url);
    const res = await fetch(`${registry.url}/v2/gc/pod/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(pushMiB * mib) },
      body: Readable.toWeb(body) as ReadableStream<Uint8Array>,
      duplex: 'half',
    });
    assert.equal(res.status, 201, await res.text());
    // GC observations reach prom-client through a PerformanceObserver, a tick or so after the collection.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await gcCounts(registry.url);
    const minor = after.minor - before.minor;
    assert.ok(minor >= 32, `the count is real: ${minor} scavenges during the push (BodyGarbage runs ≥ 32)`);
    const major = after.major - before.major;
    assert.ok(
      major <= 3,
      `${major} mark-compacts during the push (~12 with the old 4 MiB write queue and 8 MiB GC interval)`,
    );
  } finally {
    await registry.stop();
  }
});
