// What a migration did (the JSON line the operator parses) and how it reports progress while it runs.

export interface MigrateSummary {
  /** Objects written to the target (or, in a dry run, that would be). */
  objectsCopied: number;
  bytesCopied: number;
  /** Objects already identical on the target. */
  objectsSkipped: number;
  /** Target objects absent from the source removed with --delete (or that would be). */
  objectsDeleted: number;
  bytesDeleted: number;
  /** Target objects absent from the source left in place (no --delete). */
  objectsExtra: number;
  /** Objects listed on the source that were gone when their turn came (deleted while the registry ran). */
  objectsVanished: number;
  /** What the source listing held (uploads and heartbeats excluded). */
  sourceObjects: number;
  sourceBytes: number;
  durationMs: number;
  dryRun: boolean;
  /** Objects (and their bytes) found on the target with the source's size after the copy; 0 in a dry run. */
  verified: { objects: number; bytes: number };
}

export type MigratePhase = 'list' | 'copy' | 'delete' | 'verify' | 'done';

export interface MigrateProgress {
  phase: MigratePhase;
  /** The kind of object being copied or deleted (blobs, layer links, ... tags). */
  step: string;
  objectsListed: number;
  objectsCopied: number;
  bytesCopied: number;
  objectsSkipped: number;
  objectsDeleted: number;
  /** Objects to look at in the copy (the source listing). */
  objectsTotal: number;
  elapsedMs: number;
}

export function emptySummary(dryRun: boolean): MigrateSummary {
  return {
    objectsCopied: 0,
    bytesCopied: 0,
    objectsSkipped: 0,
    objectsDeleted: 0,
    bytesDeleted: 0,
    objectsExtra: 0,
    objectsVanished: 0,
    sourceObjects: 0,
    sourceBytes: 0,
    durationMs: 0,
    dryRun,
    verified: { objects: 0, bytes: 0 },
  };
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** A one-line human summary of a progress report, for stderr. */
export function formatProgress(p: MigrateProgress): string {
  const seconds = (p.elapsedMs / 1000).toFixed(1);
  switch (p.phase) {
    case 'list':
      return `migrate: listing ${p.step}: ${p.objectsListed} objects so far (${seconds}s)`;
    case 'copy': {
      const done = p.objectsCopied + p.objectsSkipped;
      return (
        `migrate: copying ${p.step}: ${done}/${p.objectsTotal} objects looked at, ${p.objectsCopied} copied ` +
        `(${mib(p.bytesCopied)}), ${p.objectsSkipped} already identical (${seconds}s)`
      );
    }
    case 'delete':
      return `migrate: deleting ${p.step} absent from the source: ${p.objectsDeleted} so far (${seconds}s)`;
    case 'verify':
      return `migrate: verifying the target (${seconds}s)`;
    case 'done':
      return `migrate: done in ${seconds}s`;
  }
}
