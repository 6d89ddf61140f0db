// Enumerating storage the way CNCF Distribution does, through `StorageDriver.list` only (one call per
// directory: cheap on object stores, where a recursive walk would list every link of every repository).
//
// Repositories: every directory under `repositories/` that holds a `_manifests` directory is a repository
// (Distribution's catalog rule); directories whose name starts with `_` are never descended into, so a
// repository's own `_layers`, `_uploads` and Berth's `_referrers` are not mistaken for nested repositories,
// while nested names (`team/app` under `team`) are still found.
//
// Blobs: `blobs/<algorithm>/<first two hex>/<hex>/data`. Only directories whose name is a valid digest of
// that algorithm and that sit under the right two-character prefix are blobs; anything else is left alone.
import { isPathNotFound, type StorageDriver } from '../storage/driver.ts';
import * as paths from '../storage/paths.ts';
import { listNames } from '../store/links.ts';
import { isDigest } from '../digest.ts';
import type { Limiter } from './limit.ts';

export interface RepositoryDir {
  /** The repository name, e.g. `team/app`. */
  name: string;
  hasManifests: boolean;
  hasLayers: boolean;
  hasUploads: boolean;
}

/** Lists a directory's children's names through the I/O limiter; a missing directory is empty. */
export function listDir(driver: StorageDriver, io: Limiter, path: string): Promise<string[]> {
  return io.run(() => listNames(driver, path));
}

/**
 * Visits every directory of the repositories tree that holds `_manifests`, `_layers` or `_uploads`, with at
 * most `concurrency` directories (and visits) in progress. Resolves when everything was visited; on the
 * first error stops starting new work and rejects once the work in progress has settled.
 */
export function walkRepositories(
  driver: StorageDriver,
  io: Limiter,
  concurrency: number,
  visit: (repo: RepositoryDir) => Promise<void>,
): Promise<void> {
  const pending: string[] = [''];
  let active = 0;
  let error: { err: unknown } | undefined;

  const handle = async (name: string): Promise<void> => {
    const dir = name === '' ? paths.repositoriesRoot : paths.repositoryPath(name);
    const children = await listDir(driver, io, dir);
    const repo: RepositoryDir = { name, hasManifests: false, hasLayers: false, hasUploads: false };
    for (const child of children) {
      if (child === '_manifests') repo.hasManifests = true;
      else if (child === '_layers') repo.hasLayers = true;
      else if (child === '_uploads') repo.hasUploads = true;
      else if (!child.startsWith('_')) pending.push(name === '' ? child : `${name}/${child}`);
    }
    if (name !== '' && (repo.hasManifests || repo.hasLayers || repo.hasUploads)) await visit(repo);
  };

  return new Promise((resolve, reject) => {
    const pump = (): void => {
      if (error) {
        if (active === 0) reject(error.err);
        return;
      }
      while (active < concurrency && pending.length > 0) {
        // Depth first (pop) keeps the pending list short on deep or wide trees.
        const name = pending.pop() ?? '';
        active++;
        handle(name).then(
          () => {
            active--;
            pump();
          },
          (err: unknown) => {
            active--;
            error ??= { err };
            pump();
          },
        );
      }
      if (active === 0 && pending.length === 0) resolve();
    };
    pump();
  });
}

/** Digests stored under `<root>/<algorithm>/<hex>` (revision links, layer links, tag index entries). */
export async function listLinkDigests(driver: StorageDriver, io: Limiter, root: string): Promise<string[]> {
  const result: string[] = [];
  for (const algorithm of await listDir(driver, io, root)) {
    for (const hex of await listDir(driver, io, `${root}/${algorithm}`)) {
      const digest = `${algorithm}:${hex}`;
      if (isDigest(digest)) result.push(digest);
    }
  }
  return result;
}

/**
 * The digests of the `<dir>/<algorithm>/<hex>/link` files, from one flat walk (for drivers with `flatWalk`):
 * the link files themselves are seen, so a directory whose link was deleted (Distribution's manifest delete
 * leaves it) is not listed.
 */
export async function linkFileDigests(driver: StorageDriver, io: Limiter, dir: string): Promise<string[]> {
  const digests: string[] = [];
  for (const link of await filesNamed(driver, io, dir, 'link')) {
    const [algorithm, hex, ...rest] = link.dir.split('/');
    const digest = `${algorithm ?? ''}:${hex ?? ''}`;
    if (rest.length === 0 && isDigest(digest)) digests.push(digest);
  }
  return digests;
}

/**
 * The files named `name` below `dir`, from one flat walk (for drivers with `flatWalk`): each one's directory
 * relative to `dir` (`a/b` for `<dir>/a/b/<name>`) and its size. A missing `dir` holds none.
 */
export async function filesNamed(
  driver: StorageDriver,
  io: Limiter,
  dir: string,
  name: string,
): Promise<{ dir: string; size: number }[]> {
  const suffix = `/${name}`;
  const files: { dir: string; size: number }[] = [];
  try {
    await io.run(() =>
      driver.walk(dir, (info) => {
        if (!info.isDir && info.path.endsWith(suffix)) {
          files.push({ dir: info.path.slice(dir.length + 1, -suffix.length), size: info.size });
        }
      }),
    );
  } catch (err) {
    if (!isPathNotFound(err)) throw err;
  }
  return files;
}

/** A two-character directory of the blob store (`blobs/<algorithm>/<prefix>`): the sweep's unit of work. */
export interface BlobPrefix {
  algorithm: string;
  prefix: string;
}

/** Every prefix directory of the blob store. */
export async function listBlobPrefixes(driver: StorageDriver, io: Limiter): Promise<BlobPrefix[]> {
  const prefixes: BlobPrefix[] = [];
  for (const algorithm of await listDir(driver, io, paths.blobsRoot)) {
    for (const prefix of await listDir(driver, io, `${paths.blobsRoot}/${algorithm}`)) {
      prefixes.push({ algorithm, prefix });
    }
  }
  return prefixes;
}

/** The digests of the blob directories under one prefix (names that are not such digests are left alone). */
export async function listPrefixBlobs(
  driver: StorageDriver,
  io: Limiter,
  { algorithm, prefix }: BlobPrefix,
): Promise<string[]> {
  const digests: string[] = [];
  for (const hex of await listDir(driver, io, `${paths.blobsRoot}/${algorithm}/${prefix}`)) {
    const digest = `${algorithm}:${hex}`;
    if (hex.startsWith(prefix) && isDigest(digest)) digests.push(digest);
  }
  return digests;
}
