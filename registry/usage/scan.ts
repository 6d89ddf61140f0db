// One usage scan: which blobs each repository holds and how many bytes they take, read from storage in
// CNCF Distribution's layout, so it works on every driver and on roots Distribution wrote.
//
// A repository holds the blobs its links name: `_layers/<alg>/<hex>/link` (layers and configs, linked when
// pushed or mounted) and `_manifests/revisions/<alg>/<hex>/link` (its manifests). Each blob counts once per
// repository whatever references it; the registry-wide total counts each blob once however many repositories
// hold it. A link whose blob is not in the blob store counts nothing (it is reported as missing).
//
// So a deleted manifest's own bytes stop counting at once (its revision link goes with the delete), while its
// layers and config stay linked, and counted, until garbage collection removes their `_layers` links; untagging
// changes nothing (the manifest is still stored and pullable by digest).
//
// Cost: per repository one listing of its directory, of `_layers` and of `_manifests/revisions` (two levels
// each; on object stores one flat walk each instead); a stat per link on drivers without flat walks (the link
// may be gone from a directory Distribution left behind); then one stat per distinct blob.
import type { StorageDriver } from '../storage/driver.ts';
import * as paths from '../storage/paths.ts';
import { BlobStore } from '../store/blob-store.ts';
import { exists } from '../store/links.ts';
import { Limiter, forEachConcurrent } from '../gc/limit.ts';
import { linkFileDigests, listLinkDigests, walkRepositories } from '../gc/walk.ts';
import { countingDriver, type StorageCost } from './counting-driver.ts';

export interface RepositoryUsage {
  name: string;
  /** Bytes of the distinct blobs the repository links to (layers, configs, manifests). */
  bytes: number;
  /** Distinct blobs counted. */
  blobs: number;
  /** Manifest revisions linked. */
  manifests: number;
  /** Layer links (layers and configs). */
  layers: number;
  /** Links whose blob is not in the blob store (counted as nothing). */
  missingBlobs: number;
}

export interface ScanCost extends StorageCost {
  durationMs: number;
  repositories: number;
}

export interface UsageSnapshot {
  /** When the scan finished. */
  scannedAt: Date;
  /** Largest first, then by name. */
  repositories: RepositoryUsage[];
  /** Each blob once, however many repositories hold it. */
  totalBytes: number;
  /** The repositories' bytes added up (a shared blob counts once per repository). */
  sumBytes: number;
  /** Distinct blobs in the total. */
  blobs: number;
  cost: ScanCost;
}

export interface ScanOptions {
  /** Storage operations in flight at once (default 4: the scan runs beside live traffic). */
  concurrency?: number;
  /** Stops the scan (the registry shutting down): it rejects with the signal's reason. */
  signal?: AbortSignal;
  now?: () => number;
}

interface RepositoryLinks {
  name: string;
  layers: string[];
  manifests: string[];
}

/** The digests of the links under `root` whose `link` file is really there. */
async function linkedDigests(
  driver: StorageDriver,
  io: Limiter,
  concurrency: number,
  root: string,
): Promise<string[]> {
  if (driver.flatWalk) return linkFileDigests(driver, io, root);
  const present: string[] = [];
  await forEachConcurrent(await listLinkDigests(driver, io, root), concurrency, async (digest) => {
    const { algorithm, hex } = paths.splitDigest(digest);
    if (await io.run(() => exists(driver, `${root}/${algorithm}/${hex}/link`))) present.push(digest);
  });
  return present;
}

export async function scanUsage(storage: StorageDriver, options: ScanOptions = {}): Promise<UsageSnapshot> {
  const now = options.now ?? Date.now;
  const concurrency = options.concurrency ?? 4;
  const started = now();
  const { driver, cost } = countingDriver(storage);
  const io = new Limiter(concurrency);

  const links: RepositoryLinks[] = [];
  const signal = options.signal;
  await walkRepositories(driver, io, concurrency, async (repo) => {
    signal?.throwIfAborted();
    if (!repo.hasLayers && !repo.hasManifests) return;
    const [layers, manifests] = await Promise.all([
      repo.hasLayers ? linkedDigests(driver, io, concurrency, paths.layersRoot(repo.name)) : [],
      repo.hasManifests ? linkedDigests(driver, io, concurrency, paths.manifestRevisionsRoot(repo.name)) : [],
    ]);
    links.push({ name: repo.name, layers, manifests });
  });

  const sizes = new Map<string, number | null>();
  for (const repo of links) for (const digest of [...repo.layers, ...repo.manifests]) sizes.set(digest, null);
  const blobs = new BlobStore(driver);
  await forEachConcurrent([...sizes.keys()], concurrency, async (digest) => {
    signal?.throwIfAborted();
    sizes.set(digest, await io.run(() => blobs.size(digest)));
  });

  const repositories = links.map((repo) => repositoryUsage(repo, sizes));
  repositories.sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let totalBytes = 0;
  let stored = 0;
  for (const size of sizes.values()) {
    if (size === null) continue;
    totalBytes += size;
    stored++;
  }
  const finished = now();
  return {
    scannedAt: new Date(finished),
    repositories,
    totalBytes,
    sumBytes: repositories.reduce((sum, repo) => sum + repo.bytes, 0),
    blobs: stored,
    cost: { ...cost, durationMs: finished - started, repositories: repositories.length },
  };
}

function repositoryUsage(repo: RepositoryLinks, sizes: Map<string, number | null>): RepositoryUsage {
  const distinct = new Set([...repo.layers, ...repo.manifests]);
  let bytes = 0;
  let counted = 0;
  for (const digest of distinct) {
    const size = sizes.get(digest) ?? null;
    if (size === null) continue;
    bytes += size;
    counted++;
  }
  return {
    name: repo.name,
    bytes,
    blobs: counted,
    manifests: repo.manifests.length,
    layers: repo.layers.length,
    missingBlobs: distinct.size - counted,
  };
}
