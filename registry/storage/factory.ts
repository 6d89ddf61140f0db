// Builds the storage driver named in the `storage` section of the config. Object-store drivers are loaded
// on demand: the AWS SDK alone would add ~70 MiB to every filesystem registry's memory.
import { resolve } from 'node:path';
import type { RegistryConfig } from '../config/schema.ts';
import type { StorageDriver } from './driver.ts';
import { FilesystemDriver } from './filesystem.ts';
import { InMemoryDriver } from './inmemory.ts';

export interface DriverUse {
  /** For a maintenance process: local drivers may block (see FilesystemDriverOptions.blocking). */
  blocking?: boolean;
}

export async function createStorageDriver(
  storage: RegistryConfig['storage'],
  use: DriverUse = {},
): Promise<StorageDriver> {
  if (storage.filesystem) {
    // A relative root (the embedded default uses ./data) is relative to the working directory.
    return new FilesystemDriver({
      rootDirectory: resolve(storage.filesystem.rootdirectory),
      blocking: use.blocking ?? false,
    });
  }
  if (storage.inmemory) return new InMemoryDriver();
  if (storage.s3) {
    const [{ S3Driver }, { s3OptionsFromConfig }] = await Promise.all([
      import('./s3.ts'),
      import('./s3-config.ts'),
    ]);
    return new S3Driver(s3OptionsFromConfig(storage.s3, storage.redirect));
  }
  if (storage.gcs) {
    const [{ GcsDriver }, { gcsOptionsFromConfig }] = await Promise.all([
      import('./gcs.ts'),
      import('./gcs-config.ts'),
    ]);
    return new GcsDriver(gcsOptionsFromConfig(storage.gcs, storage.redirect));
  }
  if (storage.azure) {
    const { createAzureDriver } = await import('./azure-config.ts');
    return createAzureDriver(storage.azure, storage.redirect);
  }
  const named = Object.keys(storage).find((key) => ['gcs', 'azure'].includes(key));
  throw new Error(`storage.${named ?? '?'}: this storage driver is not available in this build yet`);
}
