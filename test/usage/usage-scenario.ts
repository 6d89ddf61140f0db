// Two repositories with layers of known sizes, one layer shared, pushed over the real HTTP API; the usage
// each must show; and the stores (filesystem, S3 on a real MinIO) the usage tests run on.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { StorageDriver } from '../../registry/storage/driver.ts';
import { FilesystemDriver } from '../../registry/storage/filesystem.ts';
import { S3Driver } from '../../registry/storage/s3.ts';
import {
  registryUsageResponseSchema,
  repositoryUsageResponseSchema,
  type RegistryUsageResponse,
  type RepositoryUsageResponse,
} from '../../registry/http/usage-api.ts';
import { startMinio } from '../harness/minio.ts';
import { pushImage, type PushedImage } from '../registry/client.ts';

export interface Store {
  driver: StorageDriver;
  stop(): Promise<void>;
}

export const stores: Record<string, () => Promise<Store>> = {
  filesystem: async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-usage-'));
    return {
      driver: new FilesystemDriver({ rootDirectory: root }),
      stop: () => rm(root, { recursive: true, force: true }),
    };
  },
  's3 (MinIO)': async () => {
    const minio = await startMinio();
    const bucket = 'berth-usage';
    await minio.createBucket(bucket);
    const driver = new S3Driver({
      bucket,
      region: minio.region,
      regionEndpoint: minio.endpoint,
      forcePathStyle: true,
      accessKey: minio.accessKey,
      secretKey: minio.secretKey,
      rootDirectory: `/usage-${randomBytes(3).toString('hex')}`,
    });
    return { driver, stop: () => minio.stop() };
  },
};

/** `size` bytes that no other layer of the tests has. */
export function layer(size: number, seed: string): Buffer {
  const bytes = Buffer.alloc(size, seed);
  bytes.write(seed);
  return bytes;
}

export const sizes = { shared: 1000, onlyA: 2000, onlyB: 3000 };

export interface UsageFixture {
  a: PushedImage;
  b: PushedImage;
  /** The config both images share (pushImage writes the same one). */
  configSize: number;
  expectedA: number;
  expectedB: number;
  expectedTotal: number;
}

/** `team/a` holds shared + onlyA, `team/b` holds shared + onlyB; both hold the same config. */
export async function pushUsageFixture(url: string): Promise<UsageFixture> {
  const shared = layer(sizes.shared, 'shared');
  const a = await pushImage(url, 'team/a', 'v1', [shared, layer(sizes.onlyA, 'only a')]);
  const b = await pushImage(url, 'team/b', 'v1', [shared, layer(sizes.onlyB, 'only b')]);
  const configSize = configLength(a);
  assert.equal(configLength(b), configSize);
  const expectedA = sizes.shared + sizes.onlyA + configSize + a.manifest.length;
  const expectedB = sizes.shared + sizes.onlyB + configSize + b.manifest.length;
  const expectedTotal =
    sizes.shared + sizes.onlyA + sizes.onlyB + configSize + a.manifest.length + b.manifest.length;
  return { a, b, configSize, expectedA, expectedB, expectedTotal };
}

function configLength(image: PushedImage): number {
  const manifest = JSON.parse(image.manifest.toString('utf8')) as { config: { size: number } };
  return manifest.config.size;
}

export async function getRepositoryUsage(
  url: string,
  name: string,
  headers: Record<string, string> = {},
): Promise<RepositoryUsageResponse> {
  const res = await fetch(`${url}/berth/v1/repositories/${name}/usage`, { headers });
  assert.equal(res.status, 200, await res.clone().text());
  return repositoryUsageResponseSchema.parse(await res.json());
}

export async function getRegistryUsage(
  url: string,
  query = '',
  headers: Record<string, string> = {},
): Promise<RegistryUsageResponse> {
  const res = await fetch(`${url}/berth/v1/usage${query}`, { headers });
  assert.equal(res.status, 200, await res.clone().text());
  return registryUsageResponseSchema.parse(await res.json());
}
