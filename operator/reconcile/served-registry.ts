// The registry as its pods must run now. spec.storage says where the data should be; while a storage migration
// moves it there (status.operation), or after one failed or was aborted (status.storage), the pods keep serving
// from where the data is. config.yml says read-only while a maintenance operation needs it. Everything the
// reconciler renders and reports is about this registry; the operations decide, this only reads their state.
import { storageSchema, type ContainerRegistry, type StorageSpec } from '../api/index.ts';
import { maintenanceReadOnly as collectionReadOnly } from '../operations/garbage-collection/state.ts';
import {
  maintenanceReadOnly as migrationReadOnly,
  migrationTarget,
  storageInUse,
} from '../operations/storage-migration/in-use.ts';
import type { RegistryObject } from './registry-api.ts';

export interface ServedRegistry {
  /** The parsed registry with spec.storage replaced by the storage in use. */
  registry: ContainerRegistry;
  /** Where a running migration moves the data. */
  migrationTarget?: StorageSpec;
  maintenanceReadOnly: boolean;
}

export function servedRegistry(raw: RegistryObject, cr: ContainerRegistry): ServedRegistry {
  const operation = raw.status?.operation;
  // Written by the migration controller from a parsed spec; a value that no longer parses is ignored.
  const recorded = storageSchema.safeParse(raw.status?.storage);
  const storage = storageInUse(operation, cr.spec.storage, recorded.success ? recorded.data : undefined);
  const target = migrationTarget(operation);
  return {
    registry: storage === cr.spec.storage ? cr : { ...cr, spec: { ...cr.spec, storage } },
    ...(target !== undefined ? { migrationTarget: target } : {}),
    maintenanceReadOnly: collectionReadOnly(operation) || migrationReadOnly(operation),
  };
}
