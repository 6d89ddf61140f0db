// Mark and sweep over a storage root in CNCF Distribution's layout, through the StorageDriver interface only
// (so it runs on every driver). See mark.ts for what is kept and sweep.ts for the order of deletions.
//
// The caller must make sure no registry writes to the storage while this runs (see guard.ts): a blob pushed
// after the mark phase and not yet referenced by a manifest would be swept.
import type { StorageDriver } from '../storage/driver.ts';
import { GcError } from './errors.ts';
import { Limiter, forEachConcurrent } from './limit.ts';
import type { Candidate } from './mark.ts';
import { MarkSet } from './mark-set.ts';
import { ProgressTracker, type GcDeletion, type GcProgress, type GcSummary } from './summary.ts';
import { localTasks, type GcTasks } from './tasks.ts';
import { listBlobPrefixes, walkRepositories } from './walk.ts';

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
  /**
   * Where the units of work run (default: this thread, on `driver`). The caller keeps ownership: it is not
   * closed here. `driver` is still used for the listings that hand out the work.
   */
  tasks?: GcTasks;
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
  const tasks = options.tasks ?? localTasks(driver, concurrency, io);
  const inFlight = tasks.parallelism;
  const progress = new ProgressTracker(options.onProgress, options.progressIntervalMs ?? 5000);
  const { counts } = progress;
  const marked = new Set<string>();
  const candidates = new Map<string, Candidate[]>();
  const layerRepositories: string[] = [];
  const record = (deleted: readonly GcDeletion[]): void => {
    for (const item of deleted) {
      if (item.kind === 'manifest') counts.manifestsDeleted++;
      else if (item.kind === 'layerLink') counts.layerLinksDeleted++;
      else {
        counts.blobsDeleted++;
        counts.bytesFreed += item.size;
      }
      options.onDelete?.(item);
    }
  };

  try {
    progress.enter('mark');
    await walkRepositories(driver, io, inFlight, async (repo) => {
      if (repo.hasLayers) layerRepositories.push(repo.name);
      if (!repo.hasManifests) return;
      const outcome = await tasks.markRepository(repo.name, deleteUntagged);
      for (const digest of outcome.marked) marked.add(digest);
      counts.manifestsMarked += outcome.kept;
      counts.repositories++;
      counts.blobsMarked = marked.size;
      if (outcome.candidates.length > 0) candidates.set(repo.name, outcome.candidates);
    });
    counts.blobsMarked = marked.size;

    if (!dryRun) await options.beforeSweep?.();
    // The compact form from here on (shared with the workers as it is); the strings can go.
    const markSet = MarkSet.from(marked);
    marked.clear();
    await tasks.useMarked(markSet);

    progress.enter('delete-manifests');
    await forEachConcurrent(candidates, inFlight, async ([repository, doomed]) => {
      record(await tasks.deleteManifests(repository, doomed, dryRun));
    });
    progress.enter('delete-layer-links');
    await forEachConcurrent(layerRepositories, inFlight, async (repository) => {
      record(await tasks.deleteLayerLinks(repository, dryRun));
    });
    progress.enter('sweep-blobs');
    await forEachConcurrent(await listBlobPrefixes(driver, io), inFlight, async (prefix) => {
      const outcome = await tasks.sweepBlobPrefix(prefix, dryRun);
      counts.blobsScanned += outcome.scanned;
      record(outcome.deleted);
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
    if (!options.tasks) await tasks.close();
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
