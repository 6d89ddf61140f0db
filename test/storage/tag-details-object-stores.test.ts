// GET /berth/v1/repositories/<name>/tags on the object stores: `tagWrittenAt` comes from each driver's own
// stat of the tag's link (S3 HeadObject, GCS object metadata, Azure blob properties), so the same fixture
// and checks as on the filesystem (test/registry/tag-details.test.ts) run against MinIO, fake-gcs-server and
// Azurite, with the registry in process.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { StorageDriver } from '../../registry/storage/driver.ts';
import { AzureDriver } from '../../registry/storage/azure.ts';
import { GcsDriver } from '../../registry/storage/gcs.ts';
import { S3Driver } from '../../registry/storage/s3.ts';
import { startAzurite } from '../harness/azurite.ts';
import { startFakeGcs } from '../harness/fake-gcs.ts';
import { startMinio } from '../harness/minio.ts';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import {
  checkRepushMovesTagWrittenAt,
  checkTagDetails,
  getTagDetails,
  pushTagDetailsFixture,
} from '../registry/tag-details-scenario.ts';

const step = { timeout: 180_000 };
const container = 'berth-tag-details';
const rootDirectory = `/tag-details-${randomBytes(3).toString('hex')}`;

interface Store {
  driver: StorageDriver;
  stop(): Promise<void>;
}

const stores: Record<string, () => Promise<Store>> = {
  's3 (MinIO)': async () => {
    const minio = await startMinio();
    await minio.createBucket(container);
    const driver = new S3Driver({
      bucket: container,
      region: minio.region,
      regionEndpoint: minio.endpoint,
      forcePathStyle: true,
      accessKey: minio.accessKey,
      secretKey: minio.secretKey,
      rootDirectory,
    });
    return { driver, stop: () => minio.stop() };
  },
  'gcs (fake-gcs-server)': async () => {
    const gcs = await startFakeGcs();
    await gcs.createBucket(container);
    const driver = new GcsDriver({ bucket: container, endpoint: gcs.endpoint, rootDirectory });
    return { driver, stop: () => gcs.stop() };
  },
  'azure (Azurite)': async () => {
    const azurite = await startAzurite();
    await azurite.createContainer(container);
    const driver = new AzureDriver({
      accountName: azurite.accountName,
      accountKey: azurite.accountKey,
      serviceURL: azurite.endpoint,
      container,
      rootDirectory,
    });
    return { driver, stop: () => azurite.stop() };
  },
};

for (const [name, start] of Object.entries(stores)) {
  describe(`tag details API on ${name}`, () => {
    let store: Store | undefined;
    let registry: TestRegistry | undefined;
    after(async () => {
      await registry?.close();
      await store?.stop();
    });

    it('gives every field, tagWrittenAt from the store, and pages like on the filesystem', step, async () => {
      store = await start();
      registry = await startTestRegistry({ driver: store.driver });
      const fixture = await pushTagDetailsFixture(registry.url, 'cleanup/app', store.driver);
      checkTagDetails(fixture, (await getTagDetails(registry.url, 'cleanup/app')).entries);

      const first = await getTagDetails(registry.url, 'cleanup/app', '?n=4');
      assert.equal(first.link, '</berth/v1/repositories/cleanup/app/tags?last=multi&n=4>; rel="next"');
      const rest = await getTagDetails(registry.url, 'cleanup/app', '?last=multi&n=4');
      assert.equal(rest.link, null);
      assert.deepEqual(
        [...first.entries, ...rest.entries].map((e) => e.name),
        [...fixture.expected.keys()].sort(),
      );

      await checkRepushMovesTagWrittenAt(registry.url, fixture);
    });
  });
}
