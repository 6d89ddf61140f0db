// The sweep phases. Each deletion removes the references to a thing before the thing itself, so a run that
// stops half way leaves storage consistent and a re-run finishes the job:
//   1. untagged manifests (deleteUntagged only): their tag history entries (`tags/<tag>/index/...`) and
//      Berth `_referrers` entry first, the revision link last;
//   2. `_layers` links to blobs that are not marked;
//   3. the unmarked blobs themselves (`blobs/<alg>/<xx>/<hex>`, data and all).
// In a dry run every step reports what it would delete and deletes nothing.
import { isPathNotFound, type StorageDriver } from '../storage/driver.ts';
import * as paths from '../storage/paths.ts';
import { deleteIfExists } from '../store/links.ts';
import { forEachConcurrent, type Limiter } from './limit.ts';
import type { Candidate } from './mark.ts';
import type { GcDeletion } from './summary.ts';
import { listDir, listLinkDigests, listPrefixBlobs, type BlobPrefix } from './walk.ts';

export interface SweepContext {
  driver: StorageDriver;
  io: Limiter;
  concurrency: number;
  dryRun: boolean;
  marked: ReadonlySet<string>;
  onDelete: (item: GcDeletion) => void;
}

function remove(ctx: SweepContext, path: string): Promise<boolean> {
  return ctx.io.run(() => deleteIfExists(ctx.driver, path));
}

/** Deletes one repository's untagged manifest revisions and the links that name them. */
export async function deleteManifests(
  ctx: SweepContext,
  repository: string,
  candidates: readonly Candidate[],
): Promise<void> {
  if (!ctx.dryRun) {
    // Tag history: one listing per tag rather than one probe per (tag, manifest) pair.
    const doomed = new Set(candidates.map((c) => c.digest));
    const tags = await listDir(ctx.driver, ctx.io, paths.tagsRoot(repository));
    await forEachConcurrent(tags, ctx.concurrency, async (tag) => {
      const history = await listLinkDigests(ctx.driver, ctx.io, `${paths.tagDir(repository, tag)}/index`);
      for (const digest of history) {
        if (!doomed.has(digest)) continue;
        const entry = paths.tagIndexLinkPath(repository, tag, digest).replace(/\/link$/, '');
        await remove(ctx, entry);
      }
    });
  }
  await forEachConcurrent(candidates, ctx.concurrency, async ({ digest, subject }) => {
    if (!ctx.dryRun) {
      if (subject !== undefined) {
        await remove(ctx, paths.referrerLinkPath(repository, subject, digest).replace(/\/link$/, ''));
      }
      await remove(ctx, paths.manifestRevisionDir(repository, digest));
    }
    ctx.onDelete({ kind: 'manifest', repository, digest });
  });
}

/** Removes a repository's `_layers` links whose blob is not marked (it is about to be swept, or is gone). */
export async function deleteLayerLinks(ctx: SweepContext, repository: string): Promise<void> {
  const linked = await listLinkDigests(ctx.driver, ctx.io, paths.layersRoot(repository));
  await forEachConcurrent(linked, ctx.concurrency, async (digest) => {
    if (ctx.marked.has(digest)) return;
    if (!ctx.dryRun) await remove(ctx, paths.layerLinkPath(repository, digest).replace(/\/link$/, ''));
    ctx.onDelete({ kind: 'layerLink', repository, digest });
  });
}

/** Deletes the blobs under one prefix directory that are not marked; returns how many blobs it looked at. */
export async function sweepBlobPrefix(ctx: SweepContext, prefix: BlobPrefix): Promise<number> {
  const digests = await listPrefixBlobs(ctx.driver, ctx.io, prefix);
  await forEachConcurrent(digests, ctx.concurrency, async (digest) => {
    if (ctx.marked.has(digest)) return;
    let size: number;
    try {
      const info = await ctx.io.run(() => ctx.driver.stat(paths.blobDataPath(digest)));
      if (info.isDir) return;
      size = info.size;
    } catch (err) {
      // A directory without data is not a blob (Distribution does not enumerate it either).
      if (isPathNotFound(err)) return;
      throw err;
    }
    if (!ctx.dryRun) await remove(ctx, paths.blobDir(digest));
    ctx.onDelete({ kind: 'blob', digest, size });
  });
  return digests.length;
}
