// Copies a registry's storage from one driver to another: incremental, ordered, verified, resumable.
//
// A run (see layout.ts for what is copied and in which order):
//   1. lists the source, one walk per group of kinds (tags first, blobs last), then the target;
//   2. copies, kind by kind in dependency order, each object the target lacks or holds differently, with at
//      most `concurrency` copies in flight. "Identical" is decided cheaply: blob data and links filed under
//      their digest are identical when the sizes match (their content is fixed by their path); tags' current
//      links and unknown files are compared byte for byte;
//   3. with `deleteExtra`, removes target objects the source does not list, tags first and blobs last, and
//      then the directories that left empty (filesystem targets: an empty tag directory would still be
//      listed as a tag). The target's `_uploads` are never listed, so never deleted: they belong to
//      registries already running on the target;
//   4. lists the target again and checks that every source object is there with its size (and, with
//      `deleteExtra`, that nothing else is): any difference fails the run.
//
// Because step 2 skips what is already there, running it again continues where a killed run stopped, and
// running it repeatedly while the source registry is online leaves less and less for the final pass made
// while it is read-only. Objects deleted on the source between listing and copying are counted as vanished.
import { forEachConcurrent } from '../gc/limit.ts';
import { isPathNotFound, type StorageDriver } from '../storage/driver.ts';
import { rootPrefix } from '../storage/paths.ts';
import { MigrateError } from './errors.ts';
import { copyOrder, isContentAddressed, kindLabels, listGroups, type ObjectKind } from './layout.ts';
import { emptyListing, listKinds, type Listing } from './listing.ts';
import { ObjectCopier, sameContent } from './objects.ts';
import { emptySummary, type MigratePhase, type MigrateProgress, type MigrateSummary } from './summary.ts';

export const defaultConcurrency = 16;

export interface MigrateOptions {
  /** Remove target objects absent from the source (`--delete`). */
  deleteExtra?: boolean;
  /** Count what would be copied and deleted; write nothing. */
  dryRun?: boolean;
  /** Copies (and deletions) in flight at once. */
  concurrency?: number;
  onProgress?: (progress: MigrateProgress) => void;
  /** How often onProgress is called besides phase changes (default 5 s; 0: only at phase changes). */
  progressIntervalMs?: number;
  /** Test hook: runs after copying and deleting, before the target is verified. */
  beforeVerify?: () => Promise<void>;
}

/** Drivers without real directories: nothing to prune after deleting. */
const objectStores = new Set(['s3', 'gcs', 'azure']);
/** /docker/registry/v2/{blobs,repositories} and above are never removed. */
const minPrunableDepth = rootPrefix.split('/').length + 2;

class Progress {
  phase: MigratePhase = 'list';
  step = '';
  objectsListed = 0;
  objectsTotal = 0;
  private readonly started = performance.now();
  private readonly summary: MigrateSummary;
  private readonly onProgress: ((progress: MigrateProgress) => void) | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(summary: MigrateSummary, options: MigrateOptions) {
    this.summary = summary;
    this.onProgress = options.onProgress;
    const interval = options.progressIntervalMs ?? 5000;
    if (this.onProgress && interval > 0) {
      this.timer = setInterval(() => this.report(), interval);
      this.timer.unref();
    }
  }

  get elapsedMs(): number {
    return Math.round(performance.now() - this.started);
  }

  enter(phase: MigratePhase, step = ''): void {
    this.phase = phase;
    this.step = step;
    this.report();
  }

  report(): void {
    this.onProgress?.({
      phase: this.phase,
      step: this.step,
      objectsListed: this.objectsListed,
      objectsCopied: this.summary.objectsCopied,
      bytesCopied: this.summary.bytesCopied,
      objectsSkipped: this.summary.objectsSkipped,
      objectsDeleted: this.summary.objectsDeleted,
      objectsTotal: this.objectsTotal,
      elapsedMs: this.elapsedMs,
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function depth(path: string): number {
  return path.split('/').length;
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}

/** Runs a migration; resolves to its summary. Throws MigrateError (with the summary so far) on failure. */
export async function migrate(
  source: StorageDriver,
  target: StorageDriver,
  options: MigrateOptions = {},
): Promise<MigrateSummary> {
  const dryRun = options.dryRun ?? false;
  const concurrency = options.concurrency ?? defaultConcurrency;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be >= 1, got ${concurrency}`);
  }
  const summary = emptySummary(dryRun);
  const progress = new Progress(summary, options);
  const copier = new ObjectCopier(source, target);
  try {
    // 1. Listings.
    const listed = emptyListing();
    for (const group of listGroups) {
      progress.enter('list', `source ${group.map((kind) => kindLabels[kind]).join(', ')}`);
      await listKinds(source, group, listed, () => progress.objectsListed++);
    }
    summary.sourceObjects = listed.sizes.size;
    summary.sourceBytes = listed.bytes;
    progress.objectsTotal = listed.sizes.size;
    progress.enter('list', 'target');
    const before = emptyListing();
    await listKinds(target, copyOrder, before);

    // 2. Copy. `expected` is what the target must hold afterwards: the listing, minus what vanished from the
    // source meanwhile, with the sizes actually copied (a tag moved since the listing may differ).
    const expected = new Map(listed.sizes);
    const vanished = new Set<string>();
    for (const kind of copyOrder) {
      const paths = listed.byKind.get(kind) ?? [];
      if (paths.length === 0) continue;
      progress.enter('copy', kindLabels[kind]);
      await forEachConcurrent(paths, concurrency, async (path) => {
        const size = listed.sizes.get(path) ?? 0;
        const present = before.sizes.get(path);
        if (
          present === size &&
          (isContentAddressed(path, kind) || (await sameContent(source, target, path, size)))
        ) {
          summary.objectsSkipped++;
          return;
        }
        if (dryRun) {
          summary.objectsCopied++;
          summary.bytesCopied += size;
          return;
        }
        const copied = await copier.copy(path, size);
        if (copied === undefined) {
          vanished.add(path);
          expected.delete(path);
          summary.objectsVanished++;
          return;
        }
        if (kind === 'blob' && copied !== size) {
          throw new MigrateError(
            'MIGRATE_FAILED',
            `${path}: the source listed ${size} bytes but ${copied} were read (blob data must not change)`,
          );
        }
        expected.set(path, copied);
        summary.objectsCopied++;
        summary.bytesCopied += copied;
      });
    }

    // 3. What the target holds beyond the source.
    const extras = new Map<ObjectKind, string[]>();
    let extraCount = 0;
    for (const [kind, paths] of before.byKind) {
      const absent = paths.filter((path) => !listed.sizes.has(path));
      extras.set(kind, absent);
      extraCount += absent.length;
    }
    if (options.deleteExtra) {
      await deleteExtras(target, before, extras, { dryRun, concurrency, summary, progress });
    } else {
      summary.objectsExtra = extraCount;
    }

    // 4. Verification.
    if (!dryRun) {
      await options.beforeVerify?.();
      progress.enter('verify');
      const after = emptyListing();
      await listKinds(target, copyOrder, after);
      const problems: string[] = [];
      for (const [path, size] of expected) {
        const found = after.sizes.get(path);
        if (found === undefined) problems.push(`${path}: missing on the target`);
        else if (found !== size)
          problems.push(`${path}: ${found} bytes on the target, ${size} on the source`);
        else {
          summary.verified.objects++;
          summary.verified.bytes += size;
        }
      }
      if (options.deleteExtra) {
        for (const path of after.sizes.keys()) {
          if (!expected.has(path) && !vanished.has(path)) problems.push(`${path}: not on the source`);
        }
      }
      if (problems.length > 0) {
        const shown = problems.slice(0, 10).join('\n  ');
        const more = problems.length > 10 ? `\n  ... and ${problems.length - 10} more` : '';
        throw new MigrateError(
          'MIGRATE_VERIFY',
          `verification failed: ${problems.length} object(s) differ between source and target:\n  ${shown}${more}`,
        );
      }
    }
    summary.durationMs = progress.elapsedMs;
    progress.enter('done');
    return summary;
  } catch (err) {
    summary.durationMs = progress.elapsedMs;
    const error =
      err instanceof MigrateError
        ? err
        : new MigrateError('MIGRATE_FAILED', err instanceof Error ? err.message : String(err), {
            cause: err,
          });
    error.summary = summary;
    throw error;
  } finally {
    progress.stop();
    await copier.cleanUp().catch(() => undefined);
  }
}

interface DeleteContext {
  dryRun: boolean;
  concurrency: number;
  summary: MigrateSummary;
  progress: Progress;
}

async function deleteExtras(
  target: StorageDriver,
  before: Listing,
  extras: Map<ObjectKind, string[]>,
  { dryRun, concurrency, summary, progress }: DeleteContext,
): Promise<void> {
  const emptied = new Set<string>();
  for (const kind of [...copyOrder].reverse()) {
    const paths = extras.get(kind) ?? [];
    if (paths.length === 0) continue;
    progress.enter('delete', kindLabels[kind]);
    await forEachConcurrent(paths, concurrency, async (path) => {
      if (!dryRun) {
        try {
          await target.delete(path);
        } catch (err) {
          if (!isPathNotFound(err)) throw err;
        }
        emptied.add(parentOf(path));
      }
      summary.objectsDeleted++;
      summary.bytesDeleted += before.sizes.get(path) ?? 0;
    });
  }
  if (!dryRun && !objectStores.has(target.name)) await pruneEmptyDirectories(target, emptied, concurrency);
}

/**
 * Removes directories left empty by deletions, deepest first, climbing while they stay empty. Directories at
 * one depth are disjoint, so each level runs concurrently; levels run one after another.
 */
async function pruneEmptyDirectories(
  target: StorageDriver,
  candidates: Set<string>,
  concurrency: number,
): Promise<void> {
  const byDepth = new Map<number, Set<string>>();
  const add = (dir: string): void => {
    const d = depth(dir);
    if (d < minPrunableDepth) return;
    let set = byDepth.get(d);
    if (set === undefined) {
      set = new Set();
      byDepth.set(d, set);
    }
    set.add(dir);
  };
  for (const dir of candidates) add(dir);
  for (let d = Math.max(0, ...byDepth.keys()); d >= minPrunableDepth; d--) {
    const dirs = byDepth.get(d);
    if (dirs === undefined) continue;
    await forEachConcurrent(dirs, concurrency, async (dir) => {
      try {
        await target.list(dir);
        return; // something is still there
      } catch (err) {
        if (!isPathNotFound(err)) throw err;
      }
      try {
        await target.delete(dir);
      } catch (err) {
        if (!isPathNotFound(err)) throw err;
      }
      add(parentOf(dir));
    });
  }
}
