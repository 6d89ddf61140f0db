// Mark and sweep over a storage root in CNCF Distribution's layout, through the StorageDriver interface only
// (so it runs on every driver). See mark.ts for what is kept and sweep.ts for the order of deletions.
//
// The caller must make sure no registry writes to the storage while this runs (see guard.ts): a blob pushed
// after the mark phase and not yet referenced by a manifest would be swept.
import type { StorageDriver } from '../storage/driver.ts';
import { GcError } from './errors.ts';
import { Limiter, forEachConcurrent } from './limit.ts';
import { markRepository, type Candidate } from './mark.ts';
import { deleteLayerLinks, deleteManifests, sweepBlobs } from './sweep.ts';
import { ProgressTracker, type GcDeletion, type GcProgress, type GcSummary } from './summary.ts';
import { walkRepositories } from './walk.ts';

export interface GarbageCollectOptions {
  /** Also delete manifests no tag points at and nothing kept references (`--delete-untagged`). */
  deleteUntagged?: boolean;
  /** Report what would be deleted; delete nothing. */
  dryRun?: boolean;
  /** Storage operations in flight at once (default 16). */
  concurrency?: number;
  /** Called every `progressIntervalMs` and at each phase change. */
  onProgress?: (progress: GcProgress) => void;
  /** Default 5000. */
  progressIntervalMs?: number;
  /** Called for each thing deleted (or, in a dry run, that would be deleted). */
  onDelete?: (item: GcDeletion) => void;
  /**
   * Called after the mark phase and before the first deletion (not in a dry run); throwing aborts the run
   * with nothing deleted. The CLI re-checks here that no registry turned read-write during the mark phase.
   */
  beforeSweep?: () => Promise<void>;
}

export const defaultConcurrency = 16;

export async function garbageCollect(
  driver: StorageDriver,
  options: GarbageCollectOptions = {},
): Promise<GcSummary> {
  const deleteUntagged = options.deleteUntagged ?? false;
  const dryRun = options.dryRun ?? false;
  const concurrency = options.concurrency ?? defaultConcurrency;
  const io = new Limiter(concurrency);
  const progress = new ProgressTracker(options.onProgress, options.progressIntervalMs ?? 5000);
  const { counts } = progress;
  const marked = new Set<string>();
  const candidates = new Map<string, Candidate[]>();
  const layerRepositories: string[] = [];

  try {
    progress.enter('mark');
    await walkRepositories(driver, io, concurrency, async (repo) => {
      if (repo.hasLayers) layerRepositories.push(repo.name);
      if (!repo.hasManifests) return;
      const doomed = await markRepository(
        {
          driver,
          io,
          concurrency,
          deleteUntagged,
          marked,
          onKept: () => {
            counts.manifestsMarked++;
          },
        },
        repo.name,
      );
      counts.repositories++;
      counts.blobsMarked = marked.size;
      if (doomed.length > 0) candidates.set(repo.name, doomed);
    });
    counts.blobsMarked = marked.size;

    if (!dryRun) await options.beforeSweep?.();

    const sweep = {
      driver,
      io,
      concurrency,
      dryRun,
      marked,
      onDelete: (item: GcDeletion): void => {
        if (item.kind === 'manifest') counts.manifestsDeleted++;
        else if (item.kind === 'layerLink') counts.layerLinksDeleted++;
        else {
          counts.blobsDeleted++;
          counts.bytesFreed += item.size;
        }
        options.onDelete?.(item);
      },
    };
    progress.enter('delete-manifests');
    await forEachConcurrent(candidates, concurrency, ([repository, doomed]) =>
      deleteManifests(sweep, repository, doomed),
    );
    progress.enter('delete-layer-links');
    await forEachConcurrent(layerRepositories, concurrency, (repository) =>
      deleteLayerLinks(sweep, repository),
    );
    progress.enter('sweep-blobs');
    await sweepBlobs(sweep, () => {
      counts.blobsScanned++;
    });
    progress.enter('done');
  } catch (err) {
    // The counts so far go with the error: the CLI still prints them as its JSON line.
    const failure =
      err instanceof GcError
        ? err
        : new GcError('GC_FAILED', err instanceof Error ? err.message : String(err), { cause: err });
    failure.summary = summaryOf();
    throw failure;
  } finally {
    progress.stop();
  }
  return summaryOf();

  function summaryOf(): GcSummary {
    return {
      manifestsMarked: counts.manifestsMarked,
      blobsMarked: counts.blobsMarked,
      manifestsDeleted: counts.manifestsDeleted,
      blobsDeleted: counts.blobsDeleted,
      bytesFreed: counts.bytesFreed,
      layerLinksDeleted: counts.layerLinksDeleted,
      repositories: counts.repositories,
      durationMs: progress.elapsedMs,
      dryRun,
    };
  }
}
