// What stops counting when, on the filesystem and on S3 (MinIO): deleting a manifest removes its own bytes
// from the repository at once (its revision link goes); its layers stay linked, and counted, until garbage
// collection removes the links to blobs nothing references; untagging changes nothing (the manifest is still
// stored and pullable by digest).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { garbageCollect } from '../../registry/gc/gc.ts';
import { pushImage } from '../registry/client.ts';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import {
  getRegistryUsage,
  getRepositoryUsage,
  layer,
  pushUsageFixture,
  sizes,
  stores,
  type Store,
} from './usage-scenario.ts';

const step = { timeout: 180_000 };

async function deleteManifest(url: string, name: string, reference: string): Promise<void> {
  const res = await fetch(`${url}/v2/${name}/manifests/${reference}`, { method: 'DELETE' });
  assert.equal(res.status, 202, await res.text());
}

for (const [driverName, start] of Object.entries(stores)) {
  describe(`storage usage after deletes and GC on ${driverName}`, () => {
    let store: Store | undefined;
    let registry: TestRegistry | undefined;
    after(async () => {
      await registry?.close();
      await store?.stop();
    });

    it(
      'drops a deleted manifest at once and its layers after GC; untagging drops nothing',
      step,
      async () => {
        store = await start();
        registry = await startTestRegistry({ driver: store.driver, usage: { intervalMs: 3_600_000 } });
        const { url } = registry;
        const scan = async (): Promise<void> => {
          await registry?.usage?.scanNow();
        };
        const fixture = await pushUsageFixture(url);
        const extra = 4000;
        const v2 = await pushImage(url, 'team/a', 'v2', [
          layer(sizes.shared, 'shared'),
          layer(extra, 'v2 only'),
        ]);
        await scan();
        assert.equal(
          (await getRepositoryUsage(url, 'team/a')).bytes,
          fixture.expectedA + extra + v2.manifest.length,
        );

        await deleteManifest(url, 'team/a', v2.digest);
        await scan();
        const deleted = await getRepositoryUsage(url, 'team/a');
        assert.equal(
          deleted.bytes,
          fixture.expectedA + extra,
          'the manifest is gone, its layer still linked',
        );
        assert.equal(deleted.manifests, 1);

        const res = await fetch(`${url}/v2/team/b/manifests/v1`, { method: 'DELETE' });
        assert.equal(res.status, 202, await res.text());
        await scan();
        assert.equal(
          (await getRepositoryUsage(url, 'team/b')).bytes,
          fixture.expectedB,
          'untagged, still stored',
        );

        const summary = await garbageCollect(store.driver, { concurrency: 4 });
        assert.equal(summary.blobsDeleted, 2, 'the v2 layer and the v2 manifest');
        await scan();
        const a = await getRepositoryUsage(url, 'team/a');
        assert.equal(a.bytes, fixture.expectedA);
        assert.equal(a.layers, 3);
        const all = await getRegistryUsage(url);
        assert.equal(all.totalBytes, fixture.expectedTotal);
        assert.equal(all.sumBytes, fixture.expectedA + fixture.expectedB);
      },
    );
  });
}
