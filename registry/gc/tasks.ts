// The collector's units of work — mark one repository, delete one repository's untagged manifests or stale
// layer links, sweep one blob-store prefix — behind one interface, so gc.ts can run them in this thread
// (`localTasks`) or spread over worker threads (`workerTasks` in worker-tasks.ts) without knowing which.
//
// Results come back as plain data (digests, deletions), never as callbacks, so they can cross a thread.
import type { StorageDriver } from '../storage/driver.ts';
import { Limiter } from './limit.ts';
import { markRepository, type Candidate } from './mark.ts';
import { MarkSet } from './mark-set.ts';
import { deleteLayerLinks, deleteManifests, sweepBlobPrefix, type SweepContext } from './sweep.ts';
import type { GcDeletion } from './summary.ts';
import type { BlobPrefix } from './walk.ts';

export interface MarkOutcome {
  /** Digests this repository keeps in the blob store (duplicates possible). */
  marked: string[];
  /** Manifest revisions kept. */
  kept: number;
  /** Untagged revisions nothing kept references (empty without deleteUntagged). */
  candidates: Candidate[];
}

export interface SweepOutcome {
  deleted: GcDeletion[];
  /** Blob directories looked at. */
  scanned: number;
}

export interface GcTasks {
  markRepository(repository: string, deleteUntagged: boolean): Promise<MarkOutcome>;
  /** Hands over the final mark set; the sweep tasks below need it. */
  useMarked(marked: MarkSet): Promise<void>;
  deleteManifests(repository: string, candidates: Candidate[], dryRun: boolean): Promise<GcDeletion[]>;
  deleteLayerLinks(repository: string, dryRun: boolean): Promise<GcDeletion[]>;
  sweepBlobPrefix(prefix: BlobPrefix, dryRun: boolean): Promise<SweepOutcome>;
  /** How many tasks are worth keeping in flight. */
  readonly parallelism: number;
  close(): Promise<void>;
}

/**
 * The tasks on `driver` in this thread, with at most `concurrency` storage operations in flight (counted by
 * `io`, which the caller may share with its own listings).
 */
export function localTasks(
  driver: StorageDriver,
  concurrency: number,
  io: Limiter = new Limiter(concurrency),
): GcTasks {
  let marked: MarkSet = MarkSet.from([]);
  const sweepContext = (dryRun: boolean, deleted: GcDeletion[]): SweepContext => ({
    driver,
    io,
    concurrency,
    dryRun,
    marked,
    onDelete: (item) => deleted.push(item),
  });

  return {
    parallelism: concurrency,
    async markRepository(repository, deleteUntagged) {
      const repoMarked = new Set<string>();
      let kept = 0;
      const candidates = await markRepository(
        {
          driver,
          io,
          concurrency,
          deleteUntagged,
          marked: repoMarked,
          onKept: () => {
            kept++;
          },
        },
        repository,
      );
      return { marked: [...repoMarked], kept, candidates };
    },
    useMarked(set) {
      marked = set;
      return Promise.resolve();
    },
    async deleteManifests(repository, candidates, dryRun) {
      const deleted: GcDeletion[] = [];
      await deleteManifests(sweepContext(dryRun, deleted), repository, candidates);
      return deleted;
    },
    async deleteLayerLinks(repository, dryRun) {
      const deleted: GcDeletion[] = [];
      await deleteLayerLinks(sweepContext(dryRun, deleted), repository);
      return deleted;
    },
    async sweepBlobPrefix(prefix, dryRun) {
      const deleted: GcDeletion[] = [];
      const scanned = await sweepBlobPrefix(sweepContext(dryRun, deleted), prefix);
      return { deleted, scanned };
    },
    close: () => Promise.resolve(),
  };
}
