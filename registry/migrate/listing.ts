// Listing a registry tree: the files a migration looks at, with their sizes, per kind.
import { isPathNotFound, type StorageDriver } from '../storage/driver.ts';
import { rootPrefix } from '../storage/paths.ts';
import { classify, kindsBelow, type ObjectKind } from './layout.ts';

export interface Listing {
  /** path → size */
  readonly sizes: Map<string, number>;
  readonly byKind: Map<ObjectKind, string[]>;
  bytes: number;
}

export function emptyListing(): Listing {
  return { sizes: new Map(), byKind: new Map(), bytes: 0 };
}

function add(listing: Listing, path: string, size: number, kind: ObjectKind): void {
  if (listing.sizes.has(path)) return;
  listing.sizes.set(path, size);
  listing.bytes += size;
  let paths = listing.byKind.get(kind);
  if (paths === undefined) {
    paths = [];
    listing.byKind.set(kind, paths);
  }
  paths.push(path);
}

/**
 * Adds the files of the given kinds below the registry root to `listing` (a missing root is an empty registry).
 * Subtrees that cannot hold those kinds — `_uploads` always — are not descended into.
 */
export async function listKinds(
  driver: StorageDriver,
  kinds: readonly ObjectKind[],
  listing: Listing,
  onFile?: () => void,
): Promise<void> {
  const wanted = new Set(kinds);
  try {
    await driver.walk(
      rootPrefix,
      (info) => {
        if (info.isDir) return;
        const kind = classify(info.path);
        if (kind === undefined || !wanted.has(kind)) return;
        add(listing, info.path, info.size, kind);
        onFile?.();
      },
      { descend: (dir) => kindsBelow(dir.path).some((kind) => wanted.has(kind)) },
    );
  } catch (err) {
    if (!isPathNotFound(err)) throw err;
  }
}
