// Storage usage against known pushed sizes, on the filesystem and on S3 (a real MinIO): each repository's
// distinct blob bytes (layers, config, manifest), a layer shared by two repositories counted in both and once
// in the deduplicated total, the counts, and the scan's stated cost.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import {
  getRegistryUsage,
  getRepositoryUsage,
  pushUsageFixture,
  stores,
  type Store,
} from './usage-scenario.ts';

const step = { timeout: 180_000 };

for (const [driverName, start] of Object.entries(stores)) {
  describe(`storage usage on ${driverName}`, () => {
    let store: Store | undefined;
    let registry: TestRegistry | undefined;
    after(async () => {
      await registry?.close();
      await store?.stop();
    });

    it('counts each repository’s distinct blobs and the shared layer once in the total', step, async () => {
      store = await start();
      registry = await startTestRegistry({ driver: store.driver, usage: { intervalMs: 3_600_000 } });
      const fixture = await pushUsageFixture(registry.url);
      const snapshot = await registry.usage?.scanNow();
      assert.ok(snapshot);

      const a = await getRepositoryUsage(registry.url, 'team/a');
      assert.deepEqual(
        { name: a.name, bytes: a.bytes, blobs: a.blobs, manifests: a.manifests, layers: a.layers },
        { name: 'team/a', bytes: fixture.expectedA, blobs: 4, manifests: 1, layers: 3 },
      );
      assert.equal(a.missingBlobs, 0);
      const b = await getRepositoryUsage(registry.url, 'team/b');
      assert.equal(b.bytes, fixture.expectedB);
      assert.ok(fixture.expectedB > fixture.expectedA, 'b has the larger own layer');

      const all = await getRegistryUsage(registry.url);
      assert.equal(all.totalBytes, fixture.expectedTotal);
      assert.equal(all.sumBytes, fixture.expectedA + fixture.expectedB);
      assert.equal(
        all.sumBytes - all.totalBytes,
        1000 + fixture.configSize,
        'the shared layer and config counted once',
      );
      assert.equal(all.blobs, 6, 'shared, only a, only b, one config, two manifests');
      assert.deepEqual(
        all.repositories.map((r) => [r.name, r.bytes]),
        [
          ['team/b', fixture.expectedB],
          ['team/a', fixture.expectedA],
        ],
        'largest first',
      );
      assert.deepEqual(
        (await getRegistryUsage(registry.url, '?n=1')).repositories.map((r) => r.name),
        ['team/b'],
      );

      // The cost is stated, and is what these two repositories need: a few listings and a stat per blob.
      const { scan } = all;
      assert.equal(scan.scannedAt, snapshot.scannedAt.toISOString());
      assert.equal(a.scan.scannedAt, scan.scannedAt);
      assert.equal(scan.repositories, 2);
      assert.ok(scan.stats >= 6, `a stat per distinct blob: ${scan.stats}`);
      assert.ok(scan.storageCalls >= scan.stats && scan.storageCalls < 60, `calls: ${scan.storageCalls}`);
      assert.ok(scan.entriesListed > 0 && scan.entriesListed < 100, `entries: ${scan.entriesListed}`);
      console.log(`scan cost on ${driverName}: ${JSON.stringify(scan)}`);
    });
  });
}
