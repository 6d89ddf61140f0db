// What the registry reconciler renders while (and after) a storage migration: which storage section, and
// whether read-only. Kept apart from the state machine so the reconciler imports only this.
import type { StorageSpec } from '../../api/index.ts';
import { sameLocation, withLocation } from '../../render/storage-location.ts';
import { operationType, type MigrationOperation } from './types.ts';

function asMigration(operation: unknown): MigrationOperation | undefined {
  if (typeof operation !== 'object' || operation === null) return undefined;
  return (operation as { type?: unknown }).type === operationType
    ? (operation as MigrationOperation)
    : undefined;
}

/** True while the registry's config must say read-only because of a migration. */
export function maintenanceReadOnly(operation: unknown): boolean {
  const phase = asMigration(operation)?.phase;
  return (
    phase === 'EnteringReadOnly' ||
    phase === 'FinalSync' ||
    phase === 'Switching' ||
    phase === 'SwitchingBack'
  );
}

/** Whether the operation has the registry on the target (from Switching until it ends successfully). */
function onTarget(op: MigrationOperation): boolean {
  return op.phase === 'Switching' || (op.phase === 'LeavingReadOnly' && op.outcome?.result === 'Succeeded');
}

/**
 * The storage section the registry reconciler renders: the source until Switching, the target from Switching
 * on, the source again once a run is undone; with no migration, status.storage (`served`) unless spec.storage
 * names the same location. The registry-wide keys (delete, redirect, ...) always come from the spec.
 */
export function storageInUse(operation: unknown, spec: StorageSpec, served?: StorageSpec): StorageSpec {
  const op = asMigration(operation);
  const from = op !== undefined ? (onTarget(op) ? op.target.storage : op.source.storage) : served;
  return from === undefined || sameLocation(spec, from) ? spec : withLocation(spec, from);
}

/** Where a running migration moves the data (undefined: none runs). */
export function migrationTarget(operation: unknown): StorageSpec | undefined {
  return asMigration(operation)?.target.storage;
}
