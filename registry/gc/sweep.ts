// The sweep phases. Each deletion removes the references to a thing before the thing itself, so a run that
// stops half way leaves storage consistent and a re-run finishes the job:
//   1. untagged manifests (deleteUntagged only): their tag history entries (`tags/<tag>/index/...`) and
//      Berth `_referrers` entry first, the revision link last;
//   2. `_layers` links to blobs that are not marked;
//   3. the unmarked blobs themselves (`blobs/<alg>/<xx>/<hex>`, data and all).
// In a dry run every step reports what it would delete and deletes nothing.
import { isDigest } from '../digest.ts';
import { isPathNotFound, type StorageDriver } from '../storage/driver.ts';
import * as paths from '../storage/paths.ts';
import { deleteIfExists } from '../store/links.ts';
import { forEachConcurrent, type Limiter } from './limit.ts';
import type { MarkedDigests } from './mark-set.ts';
import type { Candidate } from './mark.ts';
import type { GcDeletion } from './summary.ts';
import { filesNamed, listDir, listLinkDigests, listPrefixBlobs, type BlobPrefix } from './walk.ts';

export interface SweepContext {
  driver: StorageDriver;
  io: Limiter;
  concurrency: number;
  dryRun: boolean;
  marked: MarkedDigests;
  onDelete: (item: GcDeletion) => void;
}

function remove(ctx: SweepContext, path: string): Promise<boolean> {
  return ctx.io.run(() => deleteIfExists(ctx.driver, path));
}

/**
 * Removes link or blob directories, given the one file in each (`.../link`, `.../data`): on an object store
 * with batch deletes the files go in a few requests (the directory is nothing more); elsewhere each directory
 * is removed whole, so nothing a writer might have added beside the file survives as an empty shell.
 */
async function removeEntries(ctx: SweepContext, files: readonly string[]): Promise<void> {
  if (ctx.dryRun || files.length === 0) return;
  const { driver } = ctx;
  if (driver.deleteFiles) {
    const deleteFiles = driver.deleteFiles.bind(driver);
    for (let i = 0; i < files.length; i += batchSize) {
      const batch = files.slice(i, i + batchSize);
      await ctx.io.run(() => deleteFiles(batch));
    }
    return;
  }
  await forEachConcurrent(files, ctx.concurrency, async (file) => {
    await remove(ctx, parentDir(file));
  });
}

/** S3's DeleteObjects limit. */
const batchSize = 1000;

function parentDir(file: string): string {
  return file.slice(0, file.lastIndexOf('/'));
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
    const references: string[] = [];
    const tags = await listDir(ctx.driver, ctx.io, paths.tagsRoot(repository));
    await forEachConcurrent(tags, ctx.concurrency, async (tag) => {
      const history = await listLinkDigests(ctx.driver, ctx.io, `${paths.tagDir(repository, tag)}/index`);
      for (const digest of history) {
        if (doomed.has(digest)) references.push(paths.tagIndexLinkPath(repository, tag, digest));
      }
    });
    for (const { digest, subject } of candidates) {
      if (subject !== undefined) references.push(paths.referrerLinkPath(repository, subject, digest));
    }
    // References first, the revision links last.
    await removeEntries(ctx, references);
    await removeEntries(
      ctx,
      candidates.map(({ digest }) => paths.manifestRevisionLinkPath(repository, digest)),
    );
  }
  for (const { digest } of candidates) ctx.onDelete({ kind: 'manifest', repository, digest });
}

/** Removes a repository's `_layers` links whose blob is not marked (it is about to be swept, or is gone). */
export async function deleteLayerLinks(ctx: SweepContext, repository: string): Promise<void> {
  const linked = await listLinkDigests(ctx.driver, ctx.io, paths.layersRoot(repository));
  const stale = linked.filter((digest) => !ctx.marked.has(digest));
  await removeEntries(
    ctx,
    stale.map((digest) => paths.layerLinkPath(repository, digest)),
  );
  for (const digest of stale) ctx.onDelete({ kind: 'layerLink', repository, digest });
}

/**
 * The unmarked blobs under one prefix directory, with their sizes: from one flat listing where the driver has
 * it, else a listing of the prefix and a stat of each unmarked blob's data. Also returns how many blobs there
 * were.
 */
async function unmarkedBlobs(
  ctx: SweepContext,
  prefix: BlobPrefix,
): Promise<{ doomed: { digest: string; size: number }[]; scanned: number }> {
  const doomed: { digest: string; size: number }[] = [];
  if (ctx.driver.flatWalk) {
    const dir = `${paths.blobsRoot}/${prefix.algorithm}/${prefix.prefix}`;
    let scanned = 0;
    for (const blob of await filesNamed(ctx.driver, ctx.io, dir, 'data')) {
      const digest = `${prefix.algorithm}:${blob.dir}`;
      if (!blob.dir.startsWith(prefix.prefix) || !isDigest(digest)) continue;
      scanned++;
      if (!ctx.marked.has(digest)) doomed.push({ digest, size: blob.size });
    }
    return { doomed, scanned };
  }
  const digests = await listPrefixBlobs(ctx.driver, ctx.io, prefix);
  await forEachConcurrent(digests, ctx.concurrency, async (digest) => {
    if (ctx.marked.has(digest)) return;
    try {
      const info = await ctx.io.run(() => ctx.driver.stat(paths.blobDataPath(digest)));
      // A directory without data is not a blob (Distribution does not enumerate it either).
      if (!info.isDir) doomed.push({ digest, size: info.size });
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
  });
  return { doomed, scanned: digests.length };
}

/** Deletes the blobs under one prefix directory that are not marked; returns how many blobs it looked at. */
export async function sweepBlobPrefix(ctx: SweepContext, prefix: BlobPrefix): Promise<number> {
  const { doomed, scanned } = await unmarkedBlobs(ctx, prefix);
  await removeEntries(
    ctx,
    doomed.map(({ digest }) => paths.blobDataPath(digest)),
  );
  for (const { digest, size } of doomed) ctx.onDelete({ kind: 'blob', digest, size });
  return scanned;
}
