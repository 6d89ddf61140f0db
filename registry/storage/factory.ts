// Builds the storage driver named in the `storage` section of the config.
import { resolve } from 'node:path';
import type { RegistryConfig } from '../config/schema.ts';
import type { StorageDriver } from './driver.ts';
import { FilesystemDriver } from './filesystem.ts';
import { InMemoryDriver } from './inmemory.ts';

export function createStorageDriver(storage: RegistryConfig['storage']): StorageDriver {
  if (storage.filesystem) {
    // A relative root (the embedded default uses ./data) is relative to the working directory.
    return new FilesystemDriver({ rootDirectory: resolve(storage.filesystem.rootdirectory) });
  }
  if (storage.inmemory) return new InMemoryDriver();
  const named = Object.keys(storage).find((key) => ['s3', 'gcs', 'azure'].includes(key));
  throw new Error(`storage.${named ?? '?'}: this storage driver is not available in this build yet`);
}
