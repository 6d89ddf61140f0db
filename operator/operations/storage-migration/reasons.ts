// The storage migration's condition reasons, results and Event reasons: one place, so a controller can move
// them into operator/api/reasons.ts (users and tools match on them: they are part of the API).
import type { ReasonOf } from '../../api/index.ts';

/** Reasons of the Migrating condition (to move into operator/api/reasons.ts). */
export const MigratingReason = {
  /** spec.storage is the storage in use; nothing to move. */
  Idle: 'Idle',
  /** spec.storage names a new location, but another operation (garbage collection) runs. */
  Waiting: 'Waiting',
  /** spec.storage names a new location that cannot be used yet (its credentials Secret is missing). */
  TargetUnavailable: 'TargetUnavailable',
  /** Migration Jobs copy online, pass after pass, while the registry serves from the source. */
  Syncing: 'Syncing',
  /** Switching the fleet to read-only and waiting until every pod reports it. */
  EnteringReadOnly: 'EnteringReadOnly',
  /** The final pass (with --delete, verified) runs while the fleet is read-only. */
  FinalSync: 'FinalSync',
  /** The config names the target; waiting until every pod runs it. */
  Switching: 'Switching',
  /** Aborted after the switch began: waiting until every pod runs the source again. */
  SwitchingBack: 'SwitchingBack',
  /** Switching the fleet back to read-write and waiting until every pod reports it. */
  LeavingReadOnly: 'LeavingReadOnly',
  /** The last migration to spec.storage failed; the registry serves from the source; not retried by itself. */
  Failed: 'Failed',
} as const;

/** status.lastMigration.result (and the Event reasons StorageMigration<result>). */
export const MigrationResult = {
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  Aborted: 'Aborted',
} as const;

/** Event reasons the machine emits (besides StorageMigration<result>). */
export const MigrationEventReason = {
  Started: 'StorageMigrationStarted',
  PassFailed: 'StorageMigrationPassFailed',
  ReadOnlyGivenUp: 'StorageMigrationReadOnlyGivenUp',
  Switched: 'StorageMigrationSwitched',
} as const;

export type MigrationResultValue = ReasonOf<typeof MigrationResult>;
