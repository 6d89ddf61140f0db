// A large push into a registry with its pod's heap limit runs no string of full mark-compacts, and needs no
// forced minor GCs. V8 (Node 24) counts every Buffer allocated since its last mark-compact against the old
// generation's limit, and with the heap a 1 GiB pod gives (a ~1.4× growing factor) the live and dead body chunks
// of a push used to cross it every ~100 ms: 24 mark-compacts per 512 MiB. The filesystem writer's 1 MiB queue
// bounds the live chunks, and each chunk's memory is freed once written (registry/body-chunks.ts), so no dead
// ones pile up; BodyGarbage's minor GC every 4 MiB (registry/body-garbage.ts) is left for chunks that share
// their memory, which a push does not send.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { berthPodHeapFlag } from '../../bench/registries.ts';
import { startBerth } from '../harness/berth.ts';
import { gcCounts } from '../harness/prometheus.ts';
import { pushRepeatedBlock } from '../harness/repeated-block-push.ts';

const pushMiB = 256;

test(`a ${pushMiB} MiB push with the pod's heap limit runs at most 3 mark-compacts`, async () => {
  const registry = await startBerth({ env: { NODE_OPTIONS: berthPodHeapFlag } });
  try {
    const before = await gcCounts(registry.url);
    await pushRepeatedBlock(registry.url, 'gc/pod', pushMiB);
    // GC observations reach prom-client through a PerformanceObserver, a tick or so after the collection.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await gcCounts(registry.url);
    const minor = after.minor - before.minor;
    assert.ok(minor >= 1, `the count is real: ${minor} scavenges during the push`);
    assert.ok(
      minor < pushMiB / 4 - 16,
      `${minor} scavenges during the push: BodyGarbage's one per 4 MiB (${pushMiB / 4}) ran, so body chunks were not freed`,
    );
    const major = after.major - before.major;
    assert.ok(
      major <= 3,
      `${major} mark-compacts during the push (~12 with the old 4 MiB write queue and 8 MiB GC interval)`,
    );
  } finally {
    await registry.stop();
  }
});
