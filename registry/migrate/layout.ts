// Which objects of a registry's storage a migration copies, and in what order.
//
// Everything under /docker/registry/v2 is copied except repositories' `_uploads` (upload sessions belong to
// the registry processes on the source; a client resumes or restarts them). Nothing outside that tree is
// copied either: /berth/instances holds the source registries' heartbeats, which would make a registry on
// the target look live to garbage collection.
//
// Objects fall into kinds by where they live. A push writes them in dependency order — blob data, then the
// repository's layer links, then the manifest's revision link (and referrer link), then the tag's index link,
// then its current link — and a registry serves a tag only through that chain. The migration keeps the same
// order twice over:
//   - it LISTS the source in the reverse order (tags first, blobs last), one walk per group, so that every
//     link it lists names objects that already existed when their own (later) walk ran, even while pushes go on;
//   - it COPIES in dependency order (blobs first, current tag links last), finishing each kind before starting
//     the next, so a registry pointed at a partly migrated target never finds a tag whose manifest, layer links
//     or blobs are not there yet;
//   - it DELETES (--delete) in the reverse order, tags first, so nothing left on the target points at an
//     object already gone.
import { rootPrefix } from '../storage/paths.ts';

export type ObjectKind = 'blob' | 'layer' | 'other' | 'revision' | 'referrer' | 'tagIndex' | 'tag';

/** The order objects are copied in; each kind is finished before the next starts. */
export const copyOrder: readonly ObjectKind[] = [
  'blob',
  'layer',
  'other',
  'revision',
  'referrer',
  'tagIndex',
  'tag',
];

/** The source is listed in these groups, in this order (the reverse of the copy order). */
export const listGroups: readonly (readonly ObjectKind[])[] = [
  ['tag', 'tagIndex'],
  ['referrer'],
  ['revision'],
  ['layer', 'other'],
  ['blob'],
];

export const kindLabels: Record<ObjectKind, string> = {
  blob: 'blobs',
  layer: 'layer links',
  other: 'other objects',
  revision: 'manifest revision links',
  referrer: 'referrer links',
  tagIndex: 'tag history links',
  tag: 'tag links',
};

const allKinds: readonly ObjectKind[] = copyOrder;
const repositoryKinds: readonly ObjectKind[] = allKinds.filter((kind) => kind !== 'blob');

function segmentsBelowRoot(path: string): string[] | undefined {
  if (path === rootPrefix) return [];
  if (!path.startsWith(`${rootPrefix}/`)) return undefined;
  return path.slice(rootPrefix.length + 1).split('/');
}

/** The first `_`-prefixed segment below `repositories/` (repository names never start with `_`). */
function markerIndex(segments: readonly string[]): number {
  return segments.findIndex((segment, i) => i > 0 && segment.startsWith('_'));
}

/** The kind of a file, or undefined when the migration leaves it out (uploads, anything outside the tree). */
export function classify(path: string): ObjectKind | undefined {
  const segments = segmentsBelowRoot(path);
  if (segments === undefined || segments.length === 0) return undefined;
  if (segments[0] === 'blobs') return 'blob';
  if (segments[0] !== 'repositories') return 'other';
  const i = markerIndex(segments);
  if (i < 0) return 'other';
  switch (segments[i]) {
    case '_uploads':
      return undefined;
    case '_layers':
      return 'layer';
    case '_referrers':
      return 'referrer';
    case '_manifests':
      if (segments[i + 1] === 'revisions') return 'revision';
      if (segments[i + 1] === 'tags') {
        // tags/<tag>/current/link is the tag itself; everything else below a tag is its history.
        return segments.length === i + 5 && segments[i + 3] === 'current' ? 'tag' : 'tagIndex';
      }
      return 'other';
    default:
      return 'other';
  }
}

/** The kinds of files that may lie below a directory ([] for an `_uploads` directory or one outside the tree). */
export function kindsBelow(dir: string): readonly ObjectKind[] {
  const segments = segmentsBelowRoot(dir);
  if (segments === undefined) return [];
  if (segments.length === 0) return allKinds;
  if (segments[0] === 'blobs') return ['blob'];
  if (segments[0] !== 'repositories') return ['other'];
  const i = markerIndex(segments);
  if (i < 0) return repositoryKinds;
  switch (segments[i]) {
    case '_uploads':
      return [];
    case '_layers':
      return ['layer'];
    case '_referrers':
      return ['referrer'];
    case '_manifests':
      if (segments.length === i + 1) return ['revision', 'tag', 'tagIndex', 'other'];
      if (segments[i + 1] === 'revisions') return ['revision'];
      if (segments[i + 1] === 'tags') {
        return segments.length < i + 4 || segments[i + 3] === 'current' ? ['tag', 'tagIndex'] : ['tagIndex'];
      }
      return ['other'];
    default:
      return ['other'];
  }
}

const blobDataPattern = /\/blobs\/[a-z0-9]+(?:[+._-][a-z0-9]+)*\/([0-9a-f]{2})\/([0-9a-f]{32,})\/data$/;
const digestLinkPattern = /\/[a-z0-9]+(?:[+._-][a-z0-9]+)*\/[0-9a-f]{32,}\/link$/;

/**
 * Whether the object's content is fixed by its path, so that an object of the same size on the target is the
 * same object: blob data (its directory is its digest) and the links filed under the digest they hold (layer,
 * revision, referrer and tag history links). Only tags' current links (and unknown files) change in place.
 */
export function isContentAddressed(path: string, kind: ObjectKind): boolean {
  switch (kind) {
    case 'blob': {
      const m = blobDataPattern.exec(path);
      return m?.[1] !== undefined && m[2]?.startsWith(m[1]) === true;
    }
    case 'layer':
    case 'revision':
    case 'referrer':
    case 'tagIndex':
      return digestLinkPattern.test(path);
    case 'tag':
    case 'other':
      return false;
  }
}
